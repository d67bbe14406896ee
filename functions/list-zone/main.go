// Command list-zone reads one page of the records this application account
// owns in one zone, on a DC of the shared-services account, for
// functions/reconcile (DESIGN §9): the reconciler's only function with the
// shared-services session.
package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/functions/list-zone/list"
	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*contract.ListResult], error) {
		h, err := setup(cfg, log, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}

// setup reads the shared-services role settings (a missing or invalid
// variable fails the init, naming it) and builds the handler. The SSM
// client is built with the function's own credentials; each call swaps in
// the shared-services session of the run.
func setup(cfg aws.Config, log *slog.Logger, env config.Lookup) (*list.Handler, error) {
	session, err := config.LoadSession(env)
	if err != nil {
		return nil, err
	}
	roles := crossaccount.New(sts.NewFromConfig(cfg), session)
	return &list.Handler{SSM: ssm.NewFromConfig(cfg), Credentials: roles.For, Now: time.Now, Sleep: workflow.Sleep, Log: log}, nil
}
