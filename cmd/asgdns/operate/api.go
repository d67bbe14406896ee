// Package operate holds the operator commands `asgdns executions` and
// `asgdns replay`: listing the executions of the asgdns state machine and
// replaying the ones that failed, timed out or were aborted.
//
// Everything here talks to AWS through the narrow interfaces below, which
// copy the SDK method signatures, so the commands run unchanged against
// AWS, against the local stack (AWS_ENDPOINT_URL) and against test fakes.
package operate

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/cmd/asgdns/cli"
)

// SFN is the part of the Step Functions API the commands use. Only
// RedriveExecution and StartExecution change anything.
type SFN interface {
	ListExecutions(ctx context.Context, params *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, params *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	RedriveExecution(ctx context.Context, params *sfn.RedriveExecutionInput, optFns ...func(*sfn.Options)) (*sfn.RedriveExecutionOutput, error)
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	// ListStateMachineAliases finds the alias restarts start on when the
	// operator names the state machine without it.
	ListStateMachineAliases(ctx context.Context, params *sfn.ListStateMachineAliasesInput, optFns ...func(*sfn.Options)) (*sfn.ListStateMachineAliasesOutput, error)
}

// CloudFormation is the one call that finds the state machine from the
// application stack's outputs.
type CloudFormation interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var (
	_ SFN            = (*sfn.Client)(nil)
	_ CloudFormation = (*cloudformation.Client)(nil)
)

// Clients are the AWS clients a command works with.
type Clients struct {
	SFN            SFN
	CloudFormation CloudFormation
}

// ConnectOptions are the AWS configuration flags common to the commands.
type ConnectOptions = cli.ConnectOptions

// Env is what a command needs from the process around it (with
// StderrIsTerminal, the progress bar is on).
type Env = cli.Env[Clients]

// Exit codes.
const (
	ExitOK     = cli.ExitOK     // done, including a dry run
	ExitFailed = cli.ExitFailed // some replays (or AWS calls) failed
	ExitUsage  = cli.ExitUsage  // bad usage: nothing was called
)
