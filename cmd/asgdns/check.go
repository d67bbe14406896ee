package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/cmd/asgdns/internal/check"
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
	var lo []func(*config.LoadOptions) error
	if opts.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.Region != "" {
		lo = append(lo, config.WithRegion(opts.Region))
	}
	if _, set := os.LookupEnv("AWS_MAX_ATTEMPTS"); !set {
		lo = append(lo, config.WithRetryMaxAttempts(6))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return check.Clients{}, err
	}
	if cfg.Region == "" {
		return check.Clients{}, errors.New("no AWS Region: set AWS_REGION, a region in the profile, or --region")
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
