// Command wait-for-command is the WaitForCommand step: it reads the DNS
// command's invocation on the DC, polling briefly, and reports whether it is
// done and how it ended.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

func main() {
	log := lambdacontext.NewLogger()
	session, err := config.LoadSession(os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	budget, err := LoadBudget(os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	cfg, err := workflow.AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	// The SSM client is built with the function's own credentials; each call
	// swaps in the shared-services session for its instance and execution.
	roles := crossaccount.New(sts.NewFromConfig(cfg), session)
	h := &Handler{
		SSM: ssm.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), Credentials: roles.For, Budget: budget,
		Now: time.Now, Sleep: Sleep, Log: log,
	}
	lambda.Start(workflow.Step[*workflow.InvocationResult](h.Handle))
}
