package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// fakeAccount is one account of a small fake AWS: what its APIs answer,
// and a log of what was asked of them.
type fakeAccount struct {
	account string

	// application account
	stacks    map[string]cftypes.Stack
	resources map[string]string // logical id → physical id
	groups    []astypes.AutoScalingGroup
	hooks     map[string][]astypes.LifecycleHook
	invoke    func(in *lambda.InvokeInput) (*lambda.InvokeOutput, error)

	// shared-services account
	nodes     []ssmtypes.InstanceInformation
	instances []ec2types.Instance
	documents map[string]ssmtypes.DocumentDescription
	ssmErr    error

	mu    sync.Mutex
	calls []string
	sent  []any // the inputs, in call order
}

func (f *fakeAccount) record(op string, in any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	f.sent = append(f.sent, in)
}

func (f *fakeAccount) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.record("cloudformation:DescribeStacks", in)
	st, ok := f.stacks[aws.ToString(in.StackName)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: fmt.Sprintf("Stack with id %s does not exist", aws.ToString(in.StackName))}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{st}}, nil
}

func (f *fakeAccount) DescribeStackResource(_ context.Context, in *cloudformation.DescribeStackResourceInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceOutput, error) {
	f.record("cloudformation:DescribeStackResource", in)
	id, ok := f.resources[aws.ToString(in.LogicalResourceId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Resource " + aws.ToString(in.LogicalResourceId) + " does not exist"}
	}
	return &cloudformation.DescribeStackResourceOutput{StackResourceDetail: &cftypes.StackResourceDetail{
		LogicalResourceId: in.LogicalResourceId, PhysicalResourceId: aws.String(id)}}, nil
}

func (f *fakeAccount) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.record("autoscaling:DescribeAutoScalingGroups", in)
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, g := range f.groups {
		if slices.Contains(in.AutoScalingGroupNames, aws.ToString(g.AutoScalingGroupName)) {
			out.AutoScalingGroups = append(out.AutoScalingGroups, g)
		}
	}
	return out, nil
}

func (f *fakeAccount) DescribeLifecycleHooks(_ context.Context, in *autoscaling.DescribeLifecycleHooksInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error) {
	f.record("autoscaling:DescribeLifecycleHooks", in)
	return &autoscaling.DescribeLifecycleHooksOutput{LifecycleHooks: f.hooks[aws.ToString(in.AutoScalingGroupName)]}, nil
}

func (f *fakeAccount) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.record("lambda:Invoke", in)
	if f.invoke == nil {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Function not found: " + aws.ToString(in.FunctionName)}
	}
	return f.invoke(in)
}

func (f *fakeAccount) GetCallerIdentity(_ context.Context, in *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.record("sts:GetCallerIdentity", in)
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account), Arn: aws.String("arn:aws:iam::" + f.account + ":user/operator")}, nil
}

func (f *fakeAccount) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.record("ec2:DescribeInstances", in)
	out := &ec2.DescribeInstancesOutput{}
	for _, inst := range f.instances {
		for _, flt := range in.Filters {
			if aws.ToString(flt.Name) == "instance-id" && slices.Contains(flt.Values, aws.ToString(inst.InstanceId)) {
				out.Reservations = append(out.Reservations, ec2types.Reservation{Instances: []ec2types.Instance{inst}})
			}
		}
	}
	return out, nil
}

func (f *fakeAccount) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	f.record("ssm:DescribeInstanceInformation", in)
	if f.ssmErr != nil {
		return nil, f.ssmErr
	}
	out := &ssm.DescribeInstanceInformationOutput{}
	for _, n := range f.nodes {
		for _, flt := range in.Filters {
			if aws.ToString(flt.Key) == "InstanceIds" && slices.Contains(flt.Values, aws.ToString(n.InstanceId)) {
				out.InstanceInformationList = append(out.InstanceInformationList, n)
			}
		}
	}
	return out, nil
}

func (f *fakeAccount) DescribeDocument(_ context.Context, in *ssm.DescribeDocumentInput, _ ...func(*ssm.Options)) (*ssm.DescribeDocumentOutput, error) {
	f.record("ssm:DescribeDocument", in)
	d, ok := f.documents[aws.ToString(in.Name)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidDocument", Message: "Document with name " + aws.ToString(in.Name) + " does not exist."}
	}
	return &ssm.DescribeDocumentOutput{Document: &d}, nil
}

func (f *fakeAccount) clients(region string) Clients {
	return Clients{Region: region, CloudFormation: f, AutoScaling: f, Lambda: f, STS: f, EC2: f, SSM: f}
}

func (f *fakeAccount) called(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

// --- building the world --------------------------------------------------------

const (
	appAccount    = "111111111111"
	sharedAcct    = "222222222222"
	region        = "eu-west-1"
	dc1           = "i-0dc00000000000001"
	dc2           = "i-0dc00000000000002"
	stackName     = "asgdns"
	assumeRoleFn  = "asgdns-AssumeRoleFunction-AbC123"
	documentName  = "asgdns-dns-record-" + appAccount
	sharedRoleARN = "arn:aws:iam::" + sharedAcct + ":role/asgdns-dns-registrar-" + appAccount
)

// stackParams are a deployment's parameters, as DescribeStacks lists them
// (every one, defaults included).
func stackParams(asgs string) map[string]string {
	return map[string]string{
		"AsgNames": asgs, "CreateLifecycleHooks": "true", "HookHeartbeatTimeout": "3600",
		"LaunchHookName": "asgdns-launch", "TerminateHookName": "asgdns-terminate",
		"SharedServicesAccountId": sharedAcct, "SharedRoleName": "asgdns-dns-registrar", "ExternalId": "****",
		"Zone": "corp.example.com", "HostnameTemplate": "{asg-label}-{short-id}", "HoldBudgetSeconds": "3600", "RecordTTL": "300", "CreatePtr": "false",
		"DcInstanceIds": dc1, "DcPlatform": "Linux", "DocumentName": "asgdns-dns-record", "OnFailure": "ABANDON",
		"AlarmEmail": "", "LogRetentionDays": "30",
	}
}

func stack(params map[string]string) cftypes.Stack {
	st := cftypes.Stack{
		StackName: aws.String(stackName),
		StackId:   aws.String("arn:aws:cloudformation:" + region + ":" + appAccount + ":stack/" + stackName + "/0a1b2c3d-0000-0000-0000-000000000000"),
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		st.Parameters = append(st.Parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(params[k])})
	}
	return st
}

type tagSpec struct {
	key, value string
	propagate  bool
}

func group(name string, tags ...tagSpec) astypes.AutoScalingGroup {
	g := astypes.AutoScalingGroup{
		AutoScalingGroupName: aws.String(name),
		AvailabilityZones:    []string{region + "a", region + "b"},
	}
	for _, t := range tags {
		g.Tags = append(g.Tags, astypes.TagDescription{Key: aws.String(t.key), Value: aws.String(t.value), PropagateAtLaunch: aws.Bool(t.propagate)})
	}
	return g
}

func hook(asg, name, transition string, heartbeat int32, metadata string) astypes.LifecycleHook {
	h := astypes.LifecycleHook{
		AutoScalingGroupName: aws.String(asg), LifecycleHookName: aws.String(name), LifecycleTransition: aws.String(transition),
		HeartbeatTimeout: aws.Int32(heartbeat), DefaultResult: aws.String("ABANDON"),
	}
	if metadata != "" {
		h.NotificationMetadata = aws.String(metadata)
	}
	return h
}

func standardHooks(asg, metadata string) []astypes.LifecycleHook {
	return []astypes.LifecycleHook{
		hook(asg, "asgdns-launch", transitionLaunching, 3600, metadata),
		hook(asg, "asgdns-terminate", transitionTerminating, 3600, metadata),
	}
}

func onlineNode(id, platform string) ssmtypes.InstanceInformation {
	return ssmtypes.InstanceInformation{InstanceId: aws.String(id), PingStatus: ssmtypes.PingStatusOnline, PlatformType: ssmtypes.PlatformType(platform)}
}

func dcInstance(id string, tags ...ec2types.Tag) ec2types.Instance {
	if tags == nil {
		tags = []ec2types.Tag{{Key: aws.String(DCTagKey), Value: aws.String(DCTagValue)}}
	}
	return ec2types.Instance{InstanceId: aws.String(id), Tags: tags}
}

func commandDocument() ssmtypes.DocumentDescription {
	return ssmtypes.DocumentDescription{
		Name: aws.String(documentName), DocumentType: ssmtypes.DocumentTypeCommand, Status: ssmtypes.DocumentStatusActive,
		PlatformTypes: []ssmtypes.PlatformType{ssmtypes.PlatformTypeWindows, ssmtypes.PlatformTypeLinux},
	}
}

// sessionInvoke answers like the AssumeRole function that assumed the role.
func sessionInvoke(in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	out, _ := json.Marshal(map[string]any{
		"roleArn": sharedRoleARN, "assumedRoleArn": "arn:aws:sts::" + sharedAcct + ":assumed-role/asgdns-dns-registrar-" + appAccount + "/asgdns-i-0123456789abcdef0-asgdns-check",
		"account": sharedAcct, "sessionName": "asgdns-i-0123456789abcdef0-asgdns-check", "sourceIdentity": "asgdns-i-0123456789abcdef0",
		"expires": "2026-01-01T00:15:00Z",
	})
	return &lambda.InvokeOutput{StatusCode: 200, Payload: out}, nil
}

// errorInvoke answers like a function that returned a routed error.
func errorInvoke(errorType, message string) func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	return func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		doc, _ := json.Marshal(map[string]string{"errorMessage": message, "errorType": errorType})
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: doc}, nil
	}
}

// world is a clean deployment: two groups with asgdns's hooks, one DC
// online and tagged, the document, a role the function can assume.
type world struct {
	app, shared *fakeAccount
}

func cleanWorld() *world {
	params := stackParams("web,api")
	app := &fakeAccount{
		account:   appAccount,
		stacks:    map[string]cftypes.Stack{stackName: stack(params)},
		resources: map[string]string{"AssumeRoleFunction": assumeRoleFn},
		groups: []astypes.AutoScalingGroup{
			group("web", tagSpec{"Name", "web", true}),
			group("api", tagSpec{"Name", "api", true}, tagSpec{"Team", "payments", true}),
		},
		hooks:  map[string][]astypes.LifecycleHook{"web": standardHooks("web", ""), "api": standardHooks("api", "")},
		invoke: sessionInvoke,
	}
	shared := &fakeAccount{
		account:   sharedAcct,
		nodes:     []ssmtypes.InstanceInformation{onlineNode(dc1, "Linux"), onlineNode(dc2, "Linux")},
		instances: []ec2types.Instance{dcInstance(dc1), dcInstance(dc2)},
		documents: map[string]ssmtypes.DocumentDescription{documentName: commandDocument()},
	}
	return &world{app: app, shared: shared}
}

// setParam changes a parameter of the deployed stack.
func (w *world) setParam(key, value string) {
	st := w.app.stacks[stackName]
	for i, p := range st.Parameters {
		if aws.ToString(p.ParameterKey) == key {
			st.Parameters[i].ParameterValue = aws.String(value)
			return
		}
	}
	st.Parameters = append(st.Parameters, cftypes.Parameter{ParameterKey: aws.String(key), ParameterValue: aws.String(value)})
	w.app.stacks[stackName] = st
}

// env connects the default profile to the application account and the
// profile "shared" to the shared-services account.
func (w *world) env(stdout, stderr *bytes.Buffer) Env {
	return Env{Stdout: stdout, Stderr: stderr, Connect: func(_ context.Context, o ConnectOptions) (Clients, error) {
		r := o.Region
		if r == "" {
			r = region
		}
		switch o.Profile {
		case "":
			return w.app.clients(r), nil
		case "shared":
			return w.shared.clients(r), nil
		case "app-again":
			return w.app.clients(r), nil
		}
		return Clients{}, fmt.Errorf("failed to get shared config profile, %s", o.Profile)
	}}
}
