package main

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/asgdns/asgdns/cmd/asgdns/internal/reconcile"
	"github.com/asgdns/asgdns/cmd/asgdns/operate"
)

// reconcileEnv is the environment of `asgdns reconcile` run for real: the
// process's stdout and stderr, the wall clock, and AWS clients from the
// standard configuration.
func reconcileEnv(stdout, stderr io.Writer) reconcile.Env {
	return reconcile.Env{
		Stdout: stdout, Stderr: stderr, StderrIsTerminal: operate.IsTerminal(stderr),
		Connect: connectReconcile, Now: time.Now,
	}
}

// connectReconcile loads the standard AWS configuration. AWS_ENDPOINT_URL
// is read by the SDK itself, which is all the local stack needs.
func connectReconcile(ctx context.Context, opts reconcile.ConnectOptions) (reconcile.Clients, error) {
	cfg, err := operate.LoadConfig(ctx, opts.Profile, opts.Region)
	if err != nil {
		return reconcile.Clients{}, err
	}
	return reconcile.Clients{CloudFormation: cloudformation.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg)}, nil
}
