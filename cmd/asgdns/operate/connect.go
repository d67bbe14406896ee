package operate

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// AWSEnv is the environment of a command run for real: the process's
// stdout and stderr, the wall clock, and AWS clients from the standard
// configuration.
func AWSEnv(stdout, stderr io.Writer) Env {
	return Env{
		Stdout: stdout, Stderr: stderr, StderrIsTerminal: IsTerminal(stderr),
		Connect: connect, Now: time.Now,
	}
}

// connect loads the standard AWS configuration. AWS_ENDPOINT_URL (and
// AWS_ENDPOINT_URL_SFN / _CLOUDFORMATION) are read by the SDK itself, which
// is all the local stack needs.
func connect(ctx context.Context, opts ConnectOptions) (Clients, error) {
	cfg, err := LoadConfig(ctx, opts.Profile, opts.Region)
	if err != nil {
		return Clients{}, err
	}
	return Clients{SFN: sfn.NewFromConfig(cfg), CloudFormation: cloudformation.NewFromConfig(cfg)}, nil
}

// LoadConfig loads the standard AWS configuration for an operator command:
// a profile and region if given, and a region required.
func LoadConfig(ctx context.Context, profile, region string) (aws.Config, error) {
	var lo []func(*config.LoadOptions) error
	if profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		lo = append(lo, config.WithRegion(region))
	}
	// A listing of thousands may meet throttling despite the rate limits:
	// give the SDK's backoff a few more tries than its default three,
	// unless the operator chose.
	if _, set := os.LookupEnv("AWS_MAX_ATTEMPTS"); !set {
		lo = append(lo, config.WithRetryMaxAttempts(6))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS Region: set AWS_REGION, a region in the profile, or --region")
	}
	return cfg, nil
}

// IsTerminal reports whether w is a character device (a terminal), without
// a dependency for it.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
