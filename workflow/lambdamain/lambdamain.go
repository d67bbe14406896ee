// Package lambdamain runs an asgdns step as a Lambda function: the SDK
// configuration every function uses, and the adapter from a step's handler
// to aws-lambda-go. Only the functions' main packages import it, so the data
// contract (package workflow) stays free of the Lambda runtime.
package lambdamain

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// AWSConfig loads the standard SDK configuration (region, credentials,
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, profiles). It does no
// network I/O: credentials are resolved on first use.
//
// The SDK clients retry in adaptive mode (a client-side token bucket that
// slows every call of the function down when the service throttles, on top
// of the standard exponential backoff with jitter), bounded at SDKAttempts
// per call: a short burst of throttling is absorbed inside the Lambda,
// while sustained throttling or an outage surfaces as Throttled /
// Unavailable so the ASL's declared backoff and hold loop handle it where
// operators can see it. AWS_MAX_ATTEMPTS / AWS_RETRY_MODE still override.
// (aws-sdk-go-v2 aws/retry: NewAdaptiveMode, "adaptive" retry mode.)
func AWSConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	_, attemptsSet := os.LookupEnv("AWS_MAX_ATTEMPTS")
	_, modeSet := os.LookupEnv("AWS_RETRY_MODE")
	if !attemptsSet && !modeSet {
		opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(s *retry.StandardOptions) { s.MaxAttempts = SDKAttempts })
			})
		}))
	}
	return awsconfig.LoadDefaultConfig(ctx, opts...)
}

// SDKAttempts bounds the attempts of one AWS call inside a Lambda: enough
// to ride out a throttled second, few enough that the call ends well
// inside the function's timeout.
const SDKAttempts = 3

// Handler adapts a step's handler to aws-lambda-go's lambda.Handler, so the
// handler receives the raw payload: a malformed one becomes InvalidEvent
// instead of the runtime's own unmarshal error, which no Catch would name.
// Errors pass through unwrapped, keeping their type name.
type Handler[T any] func(ctx context.Context, payload []byte) (T, error)

// Invoke implements lambda.Handler.
func (s Handler[T]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := s(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Start runs a step as a Lambda function. At cold start it loads the AWS
// configuration and calls setup, which reads the function's own settings
// and builds its handler (no network I/O either way); if that fails the
// function logs why and exits, which Lambda reports as an init error
// (Runtime.ExitError) with the log line naming what to fix.
func Start[T any](setup func(cfg aws.Config, log *slog.Logger) (Handler[T], error)) {
	log := lambdacontext.NewLogger()
	cfg, err := AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	handler, err := setup(cfg, log)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	lambda.Start(handler)
}
