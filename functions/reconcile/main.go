// Command reconcile is the reconciler (DESIGN §9): on a schedule, or when
// an operator invokes it, it compares the configured ASGs' instances with
// the records this account owns, reports the difference, repairs it
// through the normal state machine (upsert, sync), and drains the
// dead-lettered lifecycle events. It reads the zones by invoking
// functions/list-zone and drains by invoking functions/drain-dead-letters.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/functions/reconcile/invoke"
	"github.com/asgdns/asgdns/functions/reconcile/run"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*run.Report], error) {
		h, err := setup(cfg, log, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}

// setup reads the configuration (a missing or invalid variable fails the
// init, naming it) and builds the handler.
func setup(cfg aws.Config, log *slog.Logger, env config.Lookup) (*run.Handler, error) {
	defaults, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	hooks, err := config.LoadHookNames(env)
	if err != nil {
		return nil, err
	}
	rc, err := config.LoadReconciler(env)
	if err != nil {
		return nil, err
	}
	return &run.Handler{
		AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg),
		Lambda: invoke.NewFromConfig(cfg), Defaults: defaults, Hooks: hooks, Config: rc, RunID: requestID,
		Now: time.Now, Log: log,
	}, nil
}

// requestID is the Lambda request id: the same on every retry of an
// asynchronous invocation (a schedule's), so the retried run names its
// executions as the first try did.
func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
