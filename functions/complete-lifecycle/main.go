// Command complete-lifecycle is the CompleteLifecycle step: it releases the
// instance the lifecycle hook holds, with CONTINUE when the DNS work
// succeeded and the configured policy when it failed.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

func main() {
	log := lambdacontext.NewLogger()
	onFailure, err := config.LoadOnFailure(os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	cfg, err := workflow.AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	h := &Handler{AutoScaling: autoscaling.NewFromConfig(cfg), OnFailure: onFailure, Log: log}
	lambda.Start(workflow.Step[*workflow.LifecycleResult](h.Handle))
}
