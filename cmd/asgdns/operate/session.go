package operate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
)

// stackOutput is the application stack's output naming the state machine
// (template.yaml, Outputs), unqualified; stackAliasOutput names its alias,
// which the EventBridge rule starts executions on.
const (
	stackOutput      = "StateMachineArn"
	stackAliasOutput = "StateMachineAliasArn"
)

// deployedAlias is template.yaml's AutoPublishAlias: the alias every
// deployment moves to the version it publishes.
const deployedAlias = "live"

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
	// startARN is what a restart starts on: the deployed alias (the live,
	// fixed definition), or the state machine itself when it has no alias.
	// Never a version: restarting on the version that failed would run
	// the old definition again.
	startARN string
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
	// Executions of every version live under the unqualified ARN: list by
	// it whatever the operator named.
	var qualifier string
	if common.stack != "" {
		if s.stateMachineARN, s.startARN, err = stateMachineFromStack(ctx, s.clients.CloudFormation, common.stack); err != nil {
			return nil, s.fail(err)
		}
	} else if s.stateMachineARN, qualifier, err = splitStateMachineARN(common.stateMachineARN); err != nil {
		return nil, s.fail(err) // checked already
	} else if qualifier != "" && !isVersion(qualifier) {
		s.startARN = common.stateMachineARN
	}
	// Only a replay starts executions; listing needs no alias (nor the
	// permission to list them).
	if s.startARN == "" && command == "replay" {
		if s.startARN, err = findAlias(ctx, s.clients.SFN, s.stateMachineARN); err != nil {
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

// findAlias is the alias restarts start on when the operator named the
// state machine (or a version) rather than the alias: the deployed alias,
// or the only one; the state machine itself if it has none (a stack
// deployed before versions).
func findAlias(ctx context.Context, api SFN, stateMachineARN string) (string, error) {
	out, err := api.ListStateMachineAliases(ctx, &sfn.ListStateMachineAliasesInput{StateMachineArn: aws.String(stateMachineARN)})
	if err != nil {
		return "", fmt.Errorf("list aliases of %s: %w", stateMachineARN, err)
	}
	var arns []string
	for _, a := range out.StateMachineAliases {
		arn := aws.ToString(a.StateMachineAliasArn)
		if arn == stateMachineARN+":"+deployedAlias {
			return arn, nil
		}
		arns = append(arns, arn)
	}
	switch {
	case len(arns) == 0:
		return stateMachineARN, nil
	case len(arns) == 1 && out.NextToken == nil:
		return arns[0], nil
	}
	return "", usagef("%s has several aliases and none is %q: give the one to restart on with --state-machine-arn", stateMachineARN, deployedAlias)
}

// stateMachineFromStack reads the state machine ARN and its alias's from
// the stack's outputs (alias "" for a stack without the alias output). A
// stack that does not exist, or is not the asgdns stack, is bad input and
// named as such.
func stateMachineFromStack(ctx context.Context, cfn CloudFormation, stack string) (arn, aliasARN string, err error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" {
			return "", "", usagef("--stack %q: %s", stack, apiErr.ErrorMessage())
		}
		return "", "", fmt.Errorf("--stack %q: describe stack: %w", stack, err)
	}
	for _, st := range out.Stacks {
		for _, o := range st.Outputs {
			v := aws.ToString(o.OutputValue)
			switch aws.ToString(o.OutputKey) {
			case stackOutput:
				if _, err := parseStateMachineARN(v); err != nil {
					return "", "", fmt.Errorf("--stack %q: output %s: %w", stack, stackOutput, err)
				}
				arn = v
			case stackAliasOutput:
				if _, q, err := splitStateMachineARN(v); err != nil || q == "" || isVersion(q) {
					return "", "", fmt.Errorf("--stack %q: output %s: %q is not a state machine alias ARN", stack, stackAliasOutput, v)
				}
				aliasARN = v
			}
		}
		if arn != "" {
			if aliasARN != "" && !strings.HasPrefix(aliasARN, arn+":") {
				return "", "", fmt.Errorf("--stack %q: output %s %s is not an alias of %s", stack, stackAliasOutput, aliasARN, arn)
			}
			return arn, aliasARN, nil
		}
	}
	return "", "", usagef("--stack %q has no %s output: is it the asgdns application stack (template.yaml)?", stack, stackOutput)
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
