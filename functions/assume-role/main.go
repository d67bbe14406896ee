// Command assume-role is the AssumeRole step: a pre-flight check of the
// cross-account trust. It assumes the shared-services role once, checks the
// session belongs to the expected role and account, and returns the
// session's parameters (never its credentials), so a broken trust policy or
// ExternalId fails here, by name, before any command is sent.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/functions/assume-role/assume"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.SessionResult], error) {
		session, err := config.LoadSession(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		h := &assume.Handler{Roles: crossaccount.New(sts.NewFromConfig(cfg), session), Log: log}
		return h.Handle, nil
	})
}
