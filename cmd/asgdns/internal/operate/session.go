package operate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
)

// stackOutput is the application stack's output naming the state machine
// (template.yaml, Outputs).
const stackOutput = "StateMachineArn"

// readConcurrency bounds DescribeExecution/GetExecutionHistory calls in
// flight; the limiter bounds their rate.
const readConcurrency = 8

// session is a command ready to run: flags validated, clients built, state
// machine found.
type session struct {
	env             Env
	command         string
	flags           commonFlags
	query           query
	stateMachineARN string
	// executionPrefix is what the machine's execution ARNs start with.
	executionPrefix string
	clients         Clients
	reader          *reader
	progress        *progress
}

// open parses and validates args, then connects to AWS and finds the state
// machine. A non-negative code means the command is over (help, bad usage,
// no connection) and has said why.
func open(ctx context.Context, env Env, command string, fs *flag.FlagSet, common *commonFlags, args []string, validate func() error) (*session, int) {
	s := &session{env: env, command: command}
	fs.SetOutput(env.Stderr)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ExitOK
		}
		return nil, s.fail(err)
	}
	q, err := common.validate(env.Now())
	if err == nil && validate != nil {
		err = validate()
	}
	if err != nil {
		return nil, s.fail(err)
	}
	s.flags, s.query = *common, q

	s.clients, err = env.Connect(ctx, ConnectOptions{Profile: common.profile, Region: common.region})
	if err != nil {
		return nil, s.fail(fmt.Errorf("AWS configuration: %w", err))
	}
	s.stateMachineARN = common.stateMachineARN
	if common.stack != "" {
		if s.stateMachineARN, err = stateMachineFromStack(ctx, s.clients.CloudFormation, common.stack); err != nil {
			return nil, s.fail(err)
		}
	}
	if s.executionPrefix, err = parseStateMachineARN(s.stateMachineARN); err != nil {
		return nil, s.fail(err) // checked already; kept for the invariant
	}
	s.progress = newProgress(env.Stderr, env.StderrIsTerminal)
	s.reader = &reader{
		sfn: s.clients.SFN, limit: newLimiter(common.readRate), concurrency: readConcurrency,
		progress: s.progress, now: env.Now,
	}
	return s, -1
}

// fail reports err and returns its exit code: 2 for bad usage, 1 otherwise.
func (s *session) fail(err error) int {
	var usage *usageError
	if errors.As(err, &usage) {
		if usage.msg != "" {
			fmt.Fprintf(s.env.Stderr, "asgdns %s: %s\nRun 'asgdns %s -h' for usage.\n", s.command, usage.msg, s.command)
		}
		return ExitUsage
	}
	fmt.Fprintf(s.env.Stderr, "asgdns %s: %v\n", s.command, err)
	return ExitFailed
}

// stateMachineFromStack reads the state machine ARN from the stack's
// outputs. A stack that does not exist, or is not the asgdns stack, is bad
// input and named as such.
func stateMachineFromStack(ctx context.Context, cfn CloudFormation, stack string) (string, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" {
			return "", usagef("--stack %q: %s", stack, apiErr.ErrorMessage())
		}
		return "", fmt.Errorf("--stack %q: describe stack: %w", stack, err)
	}
	for _, st := range out.Stacks {
		for _, o := range st.Outputs {
			if aws.ToString(o.OutputKey) != stackOutput {
				continue
			}
			arn := aws.ToString(o.OutputValue)
			if _, err := parseStateMachineARN(arn); err != nil {
				return "", fmt.Errorf("--stack %q: output %s: %w", stack, stackOutput, err)
			}
			return arn, nil
		}
	}
	return "", usagef("--stack %q has no %s output: is it the asgdns application stack (template.yaml)?", stack, stackOutput)
}

// window describes the time window in words, for the report headers.
func (q query) window() string {
	switch {
	case q.Since.IsZero() && q.Until.IsZero():
		return "all retained executions"
	case q.Until.IsZero():
		return "started since " + q.Since.UTC().Format(time.RFC3339)
	case q.Since.IsZero():
		return "started until " + q.Until.UTC().Format(time.RFC3339)
	}
	return "started " + q.Since.UTC().Format(time.RFC3339) + " to " + q.Until.UTC().Format(time.RFC3339)
}

// timePtr is nil for the zero time (an open end of the window).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
