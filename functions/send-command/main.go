// Command send-command is the SendCommand step: it runs the asgdns SSM
// Command document on a domain controller in the shared-services account,
// with credentials from the shared-services role.
package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/functions/send-command/send"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.CommandResult], error) {
		session, err := config.LoadSession(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		// The SSM client is built with the function's own credentials; each
		// call swaps in the shared-services session for its instance and
		// execution.
		roles := crossaccount.New(sts.NewFromConfig(cfg), session)
		h := &send.Handler{SSM: ssm.NewFromConfig(cfg), Credentials: roles.For, Now: time.Now, Log: log}
		return h.Handle, nil
	})
}
