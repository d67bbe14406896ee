package workflow

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"time"

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

// Headroom is kept back from the Lambda deadline so a slow AWS call ends as a
// routed Unavailable error rather than the runtime killing the function
// (which Step Functions would see as an opaque timeout).
const Headroom = 500 * time.Millisecond

// WithHeadroom returns ctx with its deadline moved Headroom earlier.
func WithHeadroom(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-Headroom))
	}
	return context.WithCancel(ctx)
}

// LogAttrs are the attributes every log line of an execution carries: the
// execution, and the instance and ASG from $.instance or, before
// DescribeInstance has run, from the event.
func (r Request) LogAttrs() []any {
	id, asg := "", ""
	if inst := r.State.Instance; inst != nil {
		id, asg = inst.InstanceID, inst.ASG
	} else {
		var d struct {
			ID  string `json:"EC2InstanceId"`
			ASG string `json:"AutoScalingGroupName"`
		}
		_ = json.Unmarshal(r.State.Detail, &d) // best effort: only for logs
		id, asg = d.ID, d.ASG
	}
	return []any{slog.String("execution", r.Execution), slog.String("instanceId", id), slog.String("asg", asg)}
}

// Step adapts a step's handler to aws-lambda-go's lambda.Handler, so the
// handler receives the raw payload: a malformed one becomes InvalidEvent
// instead of the runtime's own unmarshal error, which no Catch would name.
// Errors pass through unwrapped, keeping their type name.
type Step[T any] func(ctx context.Context, payload []byte) (T, error)

// Invoke implements lambda.Handler.
func (s Step[T]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
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
func Start[T any](setup func(cfg aws.Config, log *slog.Logger) (Step[T], error)) {
	log := lambdacontext.NewLogger()
	cfg, err := AWSConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		os.Exit(1)
	}
	step, err := setup(cfg, log)
	if err != nil {
		log.Error("invalid configuration", slog.Any("error", err))
		os.Exit(1)
	}
	lambda.Start(step)
}
