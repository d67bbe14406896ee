// Command describe-instance is the DescribeInstance step: it validates the
// lifecycle event, reads the instance from EC2, resolves the ASG's
// configuration and derives the DNS record.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

func main() {
	log := lambdacontext.NewLogger()
	defaults, err := config.Load(os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	cfg, err := workflow.AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	h := &Handler{EC2: ec2.NewFromConfig(cfg), Defaults: defaults, Log: log}
	lambda.Start(workflow.Step[*workflow.InstanceResult](h.Handle))
}
