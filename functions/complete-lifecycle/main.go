// Command complete-lifecycle is the CompleteLifecycle step: it releases the
// instance the lifecycle hook holds, with CONTINUE when the DNS work
// succeeded and the configured policy when it failed.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/functions/complete-lifecycle/complete"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.LifecycleResult], error) {
		onFailure, err := config.LoadOnFailure(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		hooks, err := config.LoadHookNames(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		h := &complete.Handler{AutoScaling: autoscaling.NewFromConfig(cfg), OnFailure: onFailure, Hooks: hooks, Log: log}
		return h.Handle, nil
	})
}
