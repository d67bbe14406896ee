package main

import (
	"context"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/cmd/asgdns/internal/check"
	"github.com/asgdns/asgdns/cmd/asgdns/operate"
)

// checkEnv is the environment of `asgdns check` run for real: the
// process's stdout and stderr, and AWS clients from the standard
// configuration.
func checkEnv(stdout, stderr io.Writer) check.Env {
	return check.Env{Stdout: stdout, Stderr: stderr, Connect: connectCheck}
}

// connectCheck loads the standard AWS configuration (a profile, if given:
// the shared-services one is named by --shared-services-profile and used in
// the application's region). AWS_ENDPOINT_URL is read by the SDK itself,
// which is all the local stack needs.
func connectCheck(ctx context.Context, opts check.ConnectOptions) (check.Clients, error) {
	cfg, err := operate.LoadConfig(ctx, opts.Profile, opts.Region)
	if err != nil {
		return check.Clients{}, err
	}
	return check.Clients{
		Region:         cfg.Region,
		CloudFormation: cloudformation.NewFromConfig(cfg),
		AutoScaling:    autoscaling.NewFromConfig(cfg),
		Lambda:         lambda.NewFromConfig(cfg),
		STS:            sts.NewFromConfig(cfg),
		EC2:            ec2.NewFromConfig(cfg),
		SSM:            ssm.NewFromConfig(cfg),
	}, nil
}
