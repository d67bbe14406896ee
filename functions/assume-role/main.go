// Command assume-role is the AssumeRole step: a pre-flight check of the
// cross-account trust. It assumes the shared-services role once, checks the
// session belongs to the expected role and account, and returns the
// session's parameters (never its credentials), so a broken trust policy or
// ExternalId fails here, by name, before any command is sent.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
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
	cfg, err := workflow.AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	h := &Handler{Roles: crossaccount.New(sts.NewFromConfig(cfg), session), Log: log}
	lambda.Start(workflow.Step[*workflow.SessionResult](h.Handle))
}
