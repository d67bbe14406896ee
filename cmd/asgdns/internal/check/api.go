// Package check is `asgdns check`: before the first launch, it reads the
// application stack's parameters (or the ones about to be deployed) and the
// Auto Scaling groups they name, and reports every problem the workflow
// would hit — hostnames and configuration resolved exactly as
// DescribeInstance resolves them, asgdns's lifecycle hooks and their
// heartbeat timeout, the domain controllers and the document in the
// shared-services account, and the cross-account role as the AssumeRole
// function itself assumes it.
//
// Everything here talks to AWS through the narrow interfaces below, which
// copy the SDK method signatures, so the command runs unchanged against
// AWS, against the local stack (AWS_ENDPOINT_URL) and against test fakes.
// Only lambda:Invoke of the AssumeRole function reaches beyond reading, and
// that function only assumes the role and returns the session's parameters.
package check

import (
	"context"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CloudFormation reads the application stack: its parameters, and the
// AssumeRole function it deployed.
type CloudFormation interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackResource(ctx context.Context, params *cloudformation.DescribeStackResourceInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceOutput, error)
}

// AutoScaling reads the groups and their lifecycle hooks.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeLifecycleHooks(ctx context.Context, params *autoscaling.DescribeLifecycleHooksInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error)
}

// Lambda invokes the deployed AssumeRole function.
type Lambda interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// STS says which account a set of credentials is in.
type STS interface {
	GetCallerIdentity(ctx context.Context, params *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// EC2 reads the domain controllers' tags (shared-services account).
type EC2 interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// SSM reads the domain controllers' agent status and the document
// (shared-services account).
type SSM interface {
	DescribeInstanceInformation(ctx context.Context, params *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
	DescribeDocument(ctx context.Context, params *ssm.DescribeDocumentInput, optFns ...func(*ssm.Options)) (*ssm.DescribeDocumentOutput, error)
}

var (
	_ CloudFormation = (*cloudformation.Client)(nil)
	_ AutoScaling    = (*autoscaling.Client)(nil)
	_ Lambda         = (*lambda.Client)(nil)
	_ STS            = (*sts.Client)(nil)
	_ EC2            = (*ec2.Client)(nil)
	_ SSM            = (*ssm.Client)(nil)
)

// Clients are the AWS clients of one account, in one region. The
// application account's are used for CloudFormation, Auto Scaling, Lambda
// and STS; the shared-services account's for STS, EC2 and SSM.
type Clients struct {
	// Region is the region the clients call.
	Region         string
	CloudFormation CloudFormation
	AutoScaling    AutoScaling
	Lambda         Lambda
	STS            STS
	EC2            EC2
	SSM            SSM
}

// ConnectOptions say how to reach AWS; empty means "as the standard AWS
// configuration says".
type ConnectOptions struct {
	Profile string
	Region  string
}

// Env is what the command needs from the process around it.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Connect builds the clients once the flags are valid, so a usage
	// error never needs credentials. It is called once for the
	// application account and, with --shared-services-profile, once more
	// for the shared-services account (in the application's region).
	Connect func(ctx context.Context, opts ConnectOptions) (Clients, error)
}

// Exit codes.
const (
	ExitOK       = 0 // no problem found (checks that could not run are listed as NOT CHECKED)
	ExitProblems = 1 // problems found, or a check failed to run
	ExitUsage    = 2 // bad usage
)
