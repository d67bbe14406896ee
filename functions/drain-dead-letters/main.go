// Command drain-dead-letters starts the state machine for each lifecycle
// event the EventBridge rule could not deliver (its dead-letter queue), for
// functions/reconcile (DESIGN §9).
package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/asgdns/asgdns/functions/drain-dead-letters/drain"
	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*contract.DeadLetters], error) {
		h, err := setup(cfg, log, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}

// setup reads the queue, the state machine and asgdns's hooks (a missing
// or invalid variable fails the init, naming it) and builds the handler.
func setup(cfg aws.Config, log *slog.Logger, env config.Lookup) (*drain.Handler, error) {
	c, err := config.LoadDrainer(env)
	if err != nil {
		return nil, err
	}
	hooks, err := config.LoadHookNames(env)
	if err != nil {
		return nil, err
	}
	return &drain.Handler{SQS: sqs.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg), Hooks: hooks, Config: c, Now: time.Now, Log: log}, nil
}
