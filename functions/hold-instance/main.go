// Command hold-instance is the HoldInstance step: while a transient failure
// is retried, it records a lifecycle heartbeat so the hook keeps holding
// the instance and chooses how long to back off, until the hold budget is
// spent.
package main

import (
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/functions/hold-instance/hold"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.HoldResult], error) {
		hooks, err := config.LoadHookNames(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		budget, err := hold.LoadBudget(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		h := &hold.Handler{AutoScaling: autoscaling.NewFromConfig(cfg), Hooks: hooks, Budget: budget,
			Now: time.Now, Rand: rand.Float64, Log: log}
		return h.Handle, nil
	})
}
