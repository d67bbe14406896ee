package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/functions/drain-dead-letters/drain"
	"github.com/asgdns/asgdns/functions/list-zone/list"
	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/functions/reconcile/invoke"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdamain"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	account      = "111111111111"
	stateMachine = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns:live"
	queueURL     = "https://sqs.eu-west-1.amazonaws.com/111111111111/asgdns-dead-letters"
	dc1          = "i-0123456789abcdef0"
	dc2          = "i-0fedcba9876543210"
	corp         = "corp.example.com"
	apiZone      = "api.example.com"
	launchHook   = "asgdns-launch"
	termHook     = "asgdns-terminate"
	webARN       = "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:6a1e3f5c-2b7d-4c8e-9f10-1a2b3c4d5e6f:autoScalingGroupName/web-prod"
	runID        = "run-1"
	listFn       = "asgdns-ListZoneFunction-1A2B3C"
	drainFn      = "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-DrainFunction-4D5E6F"
)

// The instances of the fixture world.
const (
	iA = "i-0aaaaaaaaaaaaaaaa" // web-prod, InService, no record: missing
	iB = "i-0bbbbbbbbbbbbbbbb" // web-prod, InService, its record right
	iC = "i-0cccccccccccccccc" // gone (EC2 does not know it), its record stale
	iW = "i-0dddddddddddddddd" // web-prod's warm pool, keeps its record
	iP = "i-0eeeeeeeeeeeeeeee" // web-prod, Pending:Wait
	iX = "i-0ffffffffffffffff" // api-prod, InService
)

var hooks = workflow.HookNames{launchHook, termHook}

// testEnv is the stack configuration the run's tests use.
var testEnv = map[string]string{
	config.EnvZone:             corp,
	config.EnvDCInstanceIDs:    dc1 + "," + dc2,
	config.EnvDocumentName:     "asgdns-dns-record",
	config.EnvHookNames:        launchHook + "," + termHook,
	config.EnvRoleARN:          "arn:aws:iam::222222222222:role/asgdns-dns",
	config.EnvASGNames:         "web-prod,api-prod",
	config.EnvStateMachineARN:  stateMachine,
	config.EnvListZoneFunction: listFn,
}

func lookup(m map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func defaults(t testing.TB) config.Settings {
	t.Helper()
	s, err := config.Load(lookup(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reconcilerConfig(t testing.TB, kv ...string) config.Reconciler {
	t.Helper()
	env := map[string]string{}
	for k, v := range testEnv {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	c, err := config.LoadReconciler(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fqdn is the record the stack's template derives for an instance.
func fqdn(asg, id, zone string) string { return asg + "-" + id + "." + zone }

// owned is a record a zone holds for this account (or owner, when set).
type owned struct {
	fqdn, ip, owner string
	ttl             int
}

// pageFault makes one page's command end badly.
type pageFault struct {
	status ssmtypes.CommandInvocationStatus
	stdout string
}

// fakeAWS is the world a run reads and changes: both accounts' APIs,
// recording every call. It is safe for concurrent use (pages are read in
// parallel).
type fakeAWS struct {
	mu sync.Mutex
	// Application account.
	groups      map[string][]astypes.Instance
	hooks       map[string][]astypes.LifecycleHook
	instances   map[string]ec2types.Instance
	asInstances map[string]astypes.AutoScalingInstanceDetails
	asErr       error
	// Shared-services account: each zone's records, and its other
	// owners' names.
	zones      map[string][]owned
	otherOwner map[string]int
	pageFaults map[string]pageFault // "zone/page"
	offline    map[string]bool      // DCs SSM answers InvalidInstanceId for
	// Step Functions and the dead-letter queue.
	startErr   map[string]error // by execution name
	executions map[string]string
	queue      []sqstypes.Message
	deleteErr  error

	lambda   *fakeLambda
	calls    []string
	sent     []*ssm.SendCommandInput
	sendOpts [][]func(*ssm.Options)
	polls    map[string]int
	commands map[string][2]string // command id → zone, page
	started  []*sfn.StartExecutionInput
	deleted  []string
}

func newWorld() *fakeAWS {
	f := &fakeAWS{
		groups: map[string][]astypes.Instance{
			"web-prod": {asMember(iA, "InService"), asMember(iB, "InService")},
			"api-prod": {},
		},
		hooks: map[string][]astypes.LifecycleHook{
			"web-prod": {
				{LifecycleHookName: aws.String("other-team-launch"), LifecycleTransition: aws.String(hookLaunching), NotificationMetadata: aws.String(`{"team":"x"}`)},
				{LifecycleHookName: aws.String(launchHook), LifecycleTransition: aws.String(hookLaunching)},
				{LifecycleHookName: aws.String(termHook), LifecycleTransition: aws.String(hookTerminating)},
			},
		},
		instances: map[string]ec2types.Instance{
			iA: ec2Instance(iA, "10.0.0.1", "running", "web-prod"),
			iB: ec2Instance(iB, "10.0.0.2", "running", "web-prod"),
			iW: ec2Instance(iW, "10.0.0.4", "stopped", "web-prod"),
		},
		asInstances: map[string]astypes.AutoScalingInstanceDetails{
			iW: {InstanceId: aws.String(iW), AutoScalingGroupName: aws.String("web-prod"), LifecycleState: aws.String("Warmed:Stopped"),
				AvailabilityZone: aws.String("eu-west-1a")},
		},
		zones: map[string][]owned{
			corp: {
				{fqdn: fqdn("web-prod", iB, corp), ip: "10.0.0.2", ttl: 300},
				{fqdn: fqdn("web-prod", iC, corp), ip: "10.0.0.3", ttl: 300},
				{fqdn: fqdn("web-prod", iW, corp), ip: "10.0.0.4", ttl: 300},
			},
		},
		otherOwner: map[string]int{corp: 2},
		pageFaults: map[string]pageFault{}, offline: map[string]bool{}, startErr: map[string]error{},
		executions: map[string]string{}, polls: map[string]int{}, commands: map[string][2]string{},
	}
	return f
}

func asMember(id, state string) astypes.Instance {
	return astypes.Instance{InstanceId: aws.String(id), LifecycleState: astypes.LifecycleState(state), AvailabilityZone: aws.String("eu-west-1a")}
}

func ec2Instance(id, ip, state, asg string) ec2types.Instance {
	return ec2types.Instance{InstanceId: aws.String(id), PrivateIpAddress: aws.String(ip),
		State:     &ec2types.InstanceState{Name: ec2types.InstanceStateName(state)},
		Placement: &ec2types.Placement{AvailabilityZone: aws.String("eu-west-1a")},
		Tags:      []ec2types.Tag{{Key: aws.String(groupTag), Value: aws.String(asg)}, {Key: aws.String("Role"), Value: aws.String("web")}}}
}

func (f *fakeAWS) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// Calls lists the calls so far.
func (f *fakeAWS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeAWS) count(call string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeAWS) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.record("DescribeAutoScalingGroups")
	if f.asErr != nil {
		return nil, f.asErr
	}
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, name := range in.AutoScalingGroupNames {
		if members, ok := f.groups[name]; ok {
			arn := strings.Replace(webARN, "web-prod", name, 1)
			out.AutoScalingGroups = append(out.AutoScalingGroups, astypes.AutoScalingGroup{
				AutoScalingGroupName: aws.String(name), AutoScalingGroupARN: aws.String(arn), Instances: members})
		}
	}
	return out, nil
}

func (f *fakeAWS) DescribeLifecycleHooks(_ context.Context, in *autoscaling.DescribeLifecycleHooksInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error) {
	f.record("DescribeLifecycleHooks")
	return &autoscaling.DescribeLifecycleHooksOutput{LifecycleHooks: f.hooks[aws.ToString(in.AutoScalingGroupName)]}, nil
}

func (f *fakeAWS) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	f.record("DescribeAutoScalingInstances")
	if len(in.InstanceIds) > 50 {
		return nil, lambdatest.APIError("ValidationError", "at most 50 instance ids")
	}
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	for _, id := range in.InstanceIds {
		if d, ok := f.asInstances[id]; ok {
			out.AutoScalingInstances = append(out.AutoScalingInstances, d)
		}
		for name, members := range f.groups {
			for _, m := range members {
				if aws.ToString(m.InstanceId) == id {
					out.AutoScalingInstances = append(out.AutoScalingInstances, astypes.AutoScalingInstanceDetails{InstanceId: m.InstanceId,
						AutoScalingGroupName: aws.String(name), LifecycleState: aws.String(string(m.LifecycleState)), AvailabilityZone: m.AvailabilityZone})
				}
			}
		}
	}
	return out, nil
}

// DescribeInstances answers as EC2 does: one id it does not know fails the
// call, naming the unknown ids.
func (f *fakeAWS) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.record("DescribeInstances")
	var missing []string
	rsv := ec2types.Reservation{}
	for _, id := range in.InstanceIds {
		i, ok := f.instances[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		rsv.Instances = append(rsv.Instances, i)
	}
	if len(missing) > 0 {
		return nil, lambdatest.APIError("InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", ")))
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{rsv}}, nil
}

func (f *fakeAWS) SendCommand(_ context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	f.record("SendCommand")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, in)
	f.sendOpts = append(f.sendOpts, optFns)
	if f.offline[in.InstanceIds[0]] {
		return nil, lambdatest.APIError("InvalidInstanceId", "Instances [["+in.InstanceIds[0]+"]] not in a valid state for account")
	}
	id := fmt.Sprintf("cmd-%03d", len(f.sent))
	f.commands[id] = [2]string{in.Parameters[workflow.ParamZone][0], in.Parameters[workflow.ParamPage][0]}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(id)}}, nil
}

// GetCommandInvocation reports a command in progress on its first poll,
// then its page (or its fault).
func (f *fakeAWS) GetCommandInvocation(_ context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	f.record("GetCommandInvocation")
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.CommandId)
	f.polls[id]++
	if f.polls[id] == 1 {
		return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusInProgress}, nil
	}
	zp := f.commands[id]
	page, _ := strconv.Atoi(zp[1])
	if fault, ok := f.pageFaults[zp[0]+"/"+zp[1]]; ok {
		return &ssm.GetCommandInvocationOutput{Status: fault.status, StatusDetails: aws.String(string(fault.status)),
			ResponseCode: 20, StandardOutputContent: aws.String(fault.stdout)}, nil
	}
	return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusSuccess, StatusDetails: aws.String("Success"),
		StandardOutputContent: aws.String(listingPage(zp[0], page, f.zones[zp[0]], f.otherOwner[zp[0]]))}, nil
}

// listingPage prints one page of the list action's output, as the
// document does.
func listingPage(zone string, page int, records []owned, others int) string {
	sorted := slices.Clone(records)
	slices.SortFunc(sorted, func(a, b owned) int { return strings.Compare(a.fqdn, b.fqdn) })
	pages := (len(sorted) + workflow.ListPageSize - 1) / workflow.ListPageSize
	var b strings.Builder
	for _, o := range sorted[min(page*workflow.ListPageSize, len(sorted)):min((page+1)*workflow.ListPageSize, len(sorted))] {
		owner := o.owner
		if owner == "" {
			owner = account + "/" + ownerOf(o.fqdn)
		}
		line, _ := json.Marshal(map[string]any{"fqdn": o.fqdn, "ips": []string{o.ip}, "ttl": o.ttl, "owner": owner})
		b.Write(line)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, `{"asgdns":1,"outcome":"listed","zone":%q,"page":%d,"pages":%d,"owned":%d,"otherOwners":%d,"unmarked":3,"conflicts":0,"message":"page %d of %d"}`+"\n",
		zone, page, pages, len(sorted), others, page, pages)
	return b.String()
}

// ownerOf is the instance id in a name the stack's template derived.
func ownerOf(fqdn string) string {
	i := strings.LastIndex(fqdn, "-i-") + 1
	return fqdn[i : i+19]
}

func (f *fakeAWS) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.record("StartExecution")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, in)
	name := aws.ToString(in.Name)
	if err := f.startErr[name]; err != nil {
		return nil, err
	}
	if _, ok := f.executions[name]; ok {
		return nil, lambdatest.APIError("ExecutionAlreadyExists", "Execution Already Exists: '"+name+"'")
	}
	f.executions[name] = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(strings.Replace(stateMachine, "stateMachine", "execution", 1) + ":" + name),
		StartDate: aws.Time(clockStart.Add(time.Second))}, nil
}

// ReceiveMessage hands out what is in the queue, 10 at a time; a message
// handed out is invisible until the run ends.
func (f *fakeAWS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.record("ReceiveMessage")
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(int(in.MaxNumberOfMessages), len(f.queue))
	out := &sqs.ReceiveMessageOutput{Messages: f.queue[:n]}
	f.queue = f.queue[n:]
	return out, nil
}

func (f *fakeAWS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.record("DeleteMessage")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

// clock is the run's time: Sleep moves it on at once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

var clockStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// newHandler is a Handler over the world, logging JSON to logs. Its
// Lambda runs the real list-zone and drain-dead-letters handlers over the
// same world, as Lambda would: their results as JSON, their errors as the
// error payload with errorType, FunctionError set.
func newHandler(t testing.TB, f *fakeAWS, logs io.Writer, kv ...string) (*Handler, *lambdatest.Sessions) {
	t.Helper()
	c := &clock{now: clockStart}
	s := &lambdatest.Sessions{}
	log := lambdatest.JSONLogger(logs, slog.LevelDebug)
	fl := &fakeLambda{f: f, failures: map[string]error{},
		list: &list.Handler{SSM: f, Credentials: func(id, execution string) aws.CredentialsProvider {
			f.mu.Lock()
			defer f.mu.Unlock()
			return s.For(id, execution)
		}, Now: c.Now, Sleep: c.Sleep, Log: log},
		drain: &drain.Handler{SQS: f, SFN: f, Hooks: hooks, Now: c.Now, Log: log,
			Config: config.Drainer{StateMachineARN: stateMachine, DeadLetterQueueURL: queueURL}}}
	f.lambda = fl
	return &Handler{
		AutoScaling: f, EC2: f, SFN: f, Lambda: fl,
		Defaults: defaults(t), Hooks: hooks, Config: reconcilerConfig(t, kv...),
		RunID: func(context.Context) string { return "req-0d5c1f6e" },
		Now:   c.Now, Log: log,
	}, s
}

// fakeLambda invokes the functions the reconciler calls.
type fakeLambda struct {
	f     *fakeAWS
	list  *list.Handler
	drain *drain.Handler
	// failures are the Lambda service's own errors, by function.
	failures map[string]error

	mu                    sync.Mutex
	invoked               []*invoke.Input
	inFlight, maxInFlight int
}

func (l *fakeLambda) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	l.f.record("Invoke " + aws.ToString(in.FunctionName))
	l.mu.Lock()
	l.invoked = append(l.invoked, in)
	l.inFlight++
	l.maxInFlight = max(l.maxInFlight, l.inFlight)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inFlight--
		l.mu.Unlock()
	}()
	if in.InvocationType != invoke.InvocationTypeRequestResponse {
		return nil, lambdatest.APIError("InvalidParameterValueException", "want RequestResponse")
	}
	if err := l.failures[aws.ToString(in.FunctionName)]; err != nil {
		return nil, err
	}
	var out []byte
	var err error
	switch aws.ToString(in.FunctionName) {
	case listFn:
		out, err = lambdamain.Handler[*contract.ListResult](l.list.Handle).Invoke(ctx, in.Payload)
	case drainFn:
		out, err = lambdamain.Handler[*contract.DeadLetters](l.drain.Handle).Invoke(ctx, in.Payload)
	default:
		return nil, lambdatest.APIError("ResourceNotFoundException", "Function not found: "+aws.ToString(in.FunctionName))
	}
	if err != nil {
		return &invoke.Output{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: errorPayload(err)}, nil
	}
	return &invoke.Output{StatusCode: 200, Payload: out}, nil
}

// errorPayload is Lambda's error payload for err, as aws-lambda-go reports
// it: errorType is the reflected type name.
func errorPayload(err error) []byte {
	typ := reflect.TypeOf(err)
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	data, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": typ.Name()})
	return data
}

// handle runs the handler on input.
func handle(t testing.TB, h *Handler, input string) (*Report, error) {
	t.Helper()
	return h.Handle(context.Background(), []byte(input))
}

// mustHandle runs the handler and fails on an error.
func mustHandle(t testing.TB, h *Handler, input string) *Report {
	t.Helper()
	rep, err := handle(t, h, input)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return rep
}

// startedNames lists the execution names the report started.
func startedNames(rep *Report) []string {
	var names []string
	for _, s := range rep.Started {
		names = append(names, s.Execution)
	}
	return names
}

func compactJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = json.Compact(&b, data)
	return b.String()
}
