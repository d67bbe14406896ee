// Package reconcile is `asgdns reconcile`: it runs one reconciliation on
// demand by invoking the deployed reconcile function (the application
// stack's ReconcileFunction) and prints its report — the plan, what it
// started, the dead letters it drained.
//
// The decision is the function's (workflow/reconcile decides, the function
// reads AWS and the DNS listing and starts the executions); this command
// only chooses the mode, says whether it is a dry run, and shows the report.
// Everything talks to AWS through the narrow interfaces below, which copy
// the SDK method signatures, so the command runs unchanged against AWS,
// against the local stack (AWS_ENDPOINT_URL) and against test fakes.
package reconcile

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/asgdns/asgdns/cmd/asgdns/cli"
)

// CloudFormation finds the reconcile function in the application stack.
type CloudFormation interface {
	DescribeStackResource(ctx context.Context, params *cloudformation.DescribeStackResourceInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceOutput, error)
}

// Lambda invokes the reconcile function: the one call that may change
// anything (in upsert or sync mode, with --yes).
type Lambda interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var (
	_ CloudFormation = (*cloudformation.Client)(nil)
	_ Lambda         = (*lambda.Client)(nil)
)

// Clients are the AWS clients of the application account.
type Clients struct {
	CloudFormation CloudFormation
	Lambda         Lambda
}

// ConnectOptions say how to reach AWS.
type ConnectOptions = cli.ConnectOptions

// Env is what the command needs from the process around it (with
// StderrIsTerminal, it says on stderr that the run is under way: it can
// take minutes; Now names the run, cli-<UTC time>).
type Env = cli.Env[Clients]

// Exit codes.
const (
	ExitOK     = cli.ExitOK     // the run succeeded, drift or not (a dry run included)
	ExitFailed = cli.ExitFailed // the function failed, or its report has errors
	ExitUsage  = cli.ExitUsage  // bad usage: nothing was called
)
