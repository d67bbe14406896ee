// Command describe-instance is the DescribeInstance step: it validates the
// lifecycle event, reads the instance from EC2, resolves the ASG's
// configuration and derives the DNS record.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/asgdns/asgdns/functions/describe-instance/describe"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

func main() {
	lambdamain.Start(func(cfg aws.Config, log *slog.Logger) (lambdamain.Handler[*workflow.InstanceResult], error) {
		defaults, err := config.Load(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		hooks, err := config.LoadHookNames(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		h := &describe.Handler{EC2: ec2.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), Defaults: defaults, Hooks: hooks, Log: log}
		return h.Handle, nil
	})
}
