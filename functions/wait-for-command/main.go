// Command wait-for-command is the WaitForCommand step: it reads the DNS
// command's invocation on the DC, polling briefly, and reports whether it is
// done and how it ended.
package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/functions/wait-for-command/wait"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.InvocationResult], error) {
		session, err := config.LoadSession(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		budget, err := wait.LoadBudget(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		hooks, err := config.LoadHookNames(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		// The SSM client is built with the function's own credentials; each
		// call swaps in the shared-services session for its instance and
		// execution. Heartbeats go to the application account's hook.
		roles := crossaccount.New(sts.NewFromConfig(cfg), session)
		h := &wait.Handler{
			SSM: ssm.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), Credentials: roles.For, Budget: budget, Hooks: hooks,
			Now: time.Now, Sleep: workflow.Sleep, Log: log,
		}
		return h.Handle, nil
	})
}
