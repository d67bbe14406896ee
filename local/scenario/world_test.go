package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/functions/assume-role/assume"
	"github.com/asgdns/asgdns/functions/complete-lifecycle/complete"
	"github.com/asgdns/asgdns/functions/describe-instance/describe"
	"github.com/asgdns/asgdns/functions/hold-instance/hold"
	"github.com/asgdns/asgdns/functions/send-command/send"
	"github.com/asgdns/asgdns/functions/wait-for-command/wait"
	"github.com/asgdns/asgdns/local/asl"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

// world is AWS as the five real handlers see it in the scenario tests: one
// instance, a shared-services role, two DCs whose DNS commands behave as a
// scenario says, and the lifecycle hook. Faults are injected per scenario.
type world struct {
	mu sync.Mutex

	instanceGone   bool
	ec2Throttles   int  // DescribeInstances calls to throttle first
	stsDenied      bool // the trust policy refuses the role
	hookExpired    bool // no active lifecycle action any more
	completeDenied bool // CompleteLifecycleAction refused (IAM)
	// groupState is the instance's lifecycle state in its ASG ("" = not in
	// any group).
	groupState string
	// dnsDownUntil: until then every DNS command fails with a DNS timeout.
	dnsDownUntil time.Time
	// sendThrottles: SendCommand calls to throttle first; offline: DCs SSM
	// does not have online (SendCommand answers InvalidInstanceId).
	sendThrottles int
	offline       map[string]bool
	// heartbeatThrottles: RecordLifecycleActionHeartbeat calls to throttle.
	heartbeatThrottles int
	// onSend runs after each command is recorded (with w.mu held).
	onSend func(w *world, in *ssm.SendCommandInput)
	// inject: errors a function returns (by error name) before it runs,
	// keyed by logical id; each is used once.
	inject           map[string][]string
	autoScalingCalls []string
	dcOutcome        map[string]func(n int) invocation
	commands         map[string]command
	completions      []*autoscaling.CompleteLifecycleActionInput
	heartbeats       int
	sent             []*ssm.SendCommandInput
	assumedSessions  []string
	now              func() time.Time
	// forget keeps the world from growing: commands are answered as soon
	// as sent and nothing is recorded (benchmarks run millions).
	forget bool
}

// invocation is what GetCommandInvocation reports for a command.
type invocation struct {
	status, details string
	code            int32
	stdout          string
}

type command struct {
	dc    string
	n     int // how many commands this DC had received, this one included
	polls int
}

var (
	succeeded = invocation{"Success", "Success", 0, `{"asgdns":1,"outcome":"created","fqdn":"web-prod-i-0a1b2c3d4e5f60718.corp.example.com","ip":"10.20.30.40"}`}
	removed   = invocation{"Success", "Success", 0, `{"asgdns":1,"outcome":"deleted","fqdn":"web-prod-i-0a1b2c3d4e5f60718.corp.example.com","ip":"10.20.30.40"}`}
	failedCmd = invocation{"Failed", "Failed", 20, `{"asgdns":1,"outcome":"dns-error","rcode":"SERVFAIL","message":"update of corp.example.com failed"}`}
	dnsDown   = invocation{"Failed", "Failed", 20, `{"asgdns":1,"outcome":"dns-error","rcode":"TIMEOUT","message":"the DNS server did not answer"}`}
	refused   = invocation{"Failed", "Failed", 20, `{"asgdns":1,"outcome":"dns-error","rcode":"REFUSED","message":"update of corp.example.com refused"}`}
	conflict  = invocation{"Failed", "Failed", 30, `{"asgdns":1,"outcome":"conflict","owner":"111111111111/i-0ffffffffffffffff","message":"owned by another instance: nothing was changed"}`}
	running   = invocation{"InProgress", "In Progress", -1, ""}
	timedOut  = invocation{"TimedOut", "Execution Timed Out", -1, ""}
)

const (
	dc1        = "i-0123456789abcdef0"
	dc2        = "i-0fedcba9876543210"
	instanceID = "i-0a1b2c3d4e5f60718"
	region     = "eu-west-1"
	app        = "111111111111"
	roleARN    = "arn:aws:iam::222222222222:role/asgdns-dns-registrar"
)

func newWorld() *world {
	return &world{
		dcOutcome: map[string]func(int) invocation{
			dc1: func(int) invocation { return succeeded },
			dc2: func(int) invocation { return succeeded },
		},
		commands:   map[string]command{},
		groupState: "Pending:Wait",
		offline:    map[string]bool{},
		inject:     map[string][]string{},
	}
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func (w *world) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ec2Throttles > 0 {
		w.ec2Throttles--
		return nil, apiErr("RequestLimitExceeded", "Request limit exceeded.")
	}
	if w.instanceGone {
		return nil, apiErr("InvalidInstanceID.NotFound", "The instance ID '"+in.InstanceIds[0]+"' does not exist")
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{{
		InstanceId: aws.String(instanceID), PrivateIpAddress: aws.String("10.20.30.40"),
		Placement: &ec2types.Placement{AvailabilityZone: aws.String("eu-west-1b")},
		State:     &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning},
	}}}}}, nil
}

func (w *world) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stsDenied {
		return nil, apiErr("AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/x is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	}
	w.assumedSessions = append(w.assumedSessions, *in.RoleSessionName)
	return &sts.AssumeRoleOutput{
		AssumedRoleUser: &ststypes.AssumedRoleUser{Arn: aws.String("arn:aws:sts::222222222222:assumed-role/asgdns-dns-registrar/" + *in.RoleSessionName)},
		Credentials: &ststypes.Credentials{AccessKeyId: aws.String("ASIAWORLD"), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"),
			Expiration: aws.Time(w.now().Add(15 * time.Minute))},
	}, nil
}

func (w *world) SendCommand(_ context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	if w.forget {
		return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String("cmd-" + in.InstanceIds[0])}}, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sendThrottles > 0 {
		w.sendThrottles--
		return nil, apiErr("ThrottlingException", "Rate exceeded")
	}
	dc := in.InstanceIds[0]
	if w.offline[dc] {
		return nil, apiErr("InvalidInstanceId", "Instances [["+dc+"]] not in a valid state for account 222222222222")
	}
	w.sent = append(w.sent, in)
	if w.onSend != nil {
		defer w.onSend(w, in)
	}
	n := 0
	for _, c := range w.commands {
		if c.dc == dc {
			n++
		}
	}
	id := fmt.Sprintf("cmd-%d", len(w.sent))
	w.commands[id] = command{dc: dc, n: n + 1}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(id)}}, nil
}

func (w *world) GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	if w.forget {
		return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatus(succeeded.status),
			StatusDetails: aws.String(succeeded.details), StandardOutputContent: aws.String(succeeded.stdout)}, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.commands[*in.CommandId]
	if !ok {
		return nil, apiErr("InvocationDoesNotExist", "")
	}
	c.polls++
	w.commands[*in.CommandId] = c
	inv := w.dcOutcome[c.dc](c.n)
	if asl.Now(ctx).Before(w.dnsDownUntil) {
		inv = dnsDown
	}
	return &ssm.GetCommandInvocationOutput{
		Status: ssmtypes.CommandInvocationStatus(inv.status), StatusDetails: aws.String(inv.details),
		ResponseCode: inv.code, StandardOutputContent: aws.String(inv.stdout),
	}, nil
}

func (w *world) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.autoScalingCalls = append(w.autoScalingCalls, "CompleteLifecycleAction "+*in.LifecycleHookName)
	if w.completeDenied {
		return nil, apiErr("AccessDenied", "not authorized to perform: autoscaling:CompleteLifecycleAction")
	}
	if w.forget {
		return &autoscaling.CompleteLifecycleActionOutput{}, nil
	}
	if w.hookExpired {
		return nil, apiErr("ValidationError", "No active Lifecycle Action found with instance ID "+*in.InstanceId)
	}
	w.completions = append(w.completions, in)
	w.hookExpired = true // an action completes once
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

func (w *world) RecordLifecycleActionHeartbeat(_ context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, _ ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.autoScalingCalls = append(w.autoScalingCalls, "RecordLifecycleActionHeartbeat "+*in.LifecycleHookName)
	if w.hookExpired {
		return nil, apiErr("ValidationError", "No active Lifecycle Action found with instance ID "+*in.InstanceId)
	}
	if w.heartbeatThrottles > 0 {
		w.heartbeatThrottles--
		return nil, apiErr("Throttling", "Rate exceeded")
	}
	w.heartbeats++
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, nil
}

func (w *world) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.autoScalingCalls = append(w.autoScalingCalls, "DescribeAutoScalingInstances")
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if w.groupState != "" {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{
			InstanceId: aws.String(in.InstanceIds[0]), AutoScalingGroupName: aws.String("web-prod"), LifecycleState: aws.String(w.groupState)}}
	}
	return out, nil
}

// injected returns the next error injected into a function, if any.
func (w *world) injected(logicalID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.inject[logicalID]) == 0 {
		return nil
	}
	name := w.inject[logicalID][0]
	w.inject[logicalID] = w.inject[logicalID][1:]
	return namedError(name)
}

// namedError is an error Step Functions sees by this name (a Lambda
// service error, or a function's routed error).
type namedError string

func (e namedError) Error() string     { return "injected " + string(e) }
func (e namedError) ErrorName() string { return string(e) }

// functionARN is the ARN a deployed function has; the definition gets it
// through DefinitionSubstitutions as template.yaml passes them.
func functionARN(logicalID string) string {
	return "arn:aws:lambda:" + region + ":" + app + ":function:asgdns-" + logicalID
}

// lambdaError is what aws-lambda-go reports for a handler error: the error
// type's name (the unwrapped type) and its message.
type lambdaError struct{ err error }

func (e lambdaError) Error() string { return e.err.Error() }

func (e lambdaError) ErrorName() string {
	t := reflect.TypeOf(e.err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// step adapts a handler to the engine the way the Lambda runtime would run
// it: the raw payload in, JSON out, errors by type name.
func step[T any](s lambdamain.Handler[T]) asl.Handler {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := s.Invoke(ctx, in)
		if err != nil {
			return nil, lambdaError{err}
		}
		return out, nil
	}
}

// rig is the state machine under test with the real handlers over a world.
type rig struct {
	world  *world
	clock  *asl.VirtualClock
	engine *asl.Engine
	def    *asl.Definition
}

var start = time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC)

func newRig(t testing.TB, w *world, env map[string]string) *rig {
	t.Helper()
	clock := asl.NewVirtualClock(start)
	w.now = clock.Now // credential expiry only
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		if !ok {
			v, ok = map[string]string{
				config.EnvZone: "corp.example.com", config.EnvDCInstanceIDs: dc1 + "," + dc2,
				config.EnvRoleARN: roleARN, config.EnvOnFailure: "ABANDON",
				hold.EnvHoldBudget: "1800",
				// The hooks of the event fixtures (../shared/fixtures/events).
				config.EnvHookNames: "dns-launch,dns-terminate",
			}[k]
		}
		return v, ok
	}
	defaults, err := config.Load(lookup)
	if err != nil {
		t.Fatal(err)
	}
	session, err := config.LoadSession(lookup)
	if err != nil {
		t.Fatal(err)
	}
	onFailure, err := config.LoadOnFailure(lookup)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := config.LoadHookNames(lookup)
	if err != nil {
		t.Fatal(err)
	}
	budget, err := hold.LoadBudget(lookup)
	if err != nil {
		t.Fatal(err)
	}
	var jitterMu sync.Mutex
	jitterSource := rand.New(rand.NewPCG(3, 4))
	jitter := func() float64 { // seeded, and safe for executions running at once
		jitterMu.Lock()
		defer jitterMu.Unlock()
		return jitterSource.Float64()
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	roles := crossaccount.New(w, session)
	handlers := map[string]asl.Handler{
		"DescribeInstanceFunction": step[*workflow.InstanceResult]((&describe.Handler{EC2: w, AutoScaling: w, Defaults: defaults, Hooks: hooks, Log: log}).Handle),
		"AssumeRoleFunction":       step[*workflow.SessionResult]((&assume.Handler{Roles: roles, Log: log}).Handle),
		// SendCommand and WaitForCommand keep time: they get the execution's
		// clock (asl.Now), the way a real Lambda reads the wall clock.
		"SendCommandFunction": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			h := send.Handler{SSM: w, Credentials: roles.For, Now: func() time.Time { return asl.Now(ctx) }, Log: log}
			return step[*workflow.CommandResult](h.Handle)(ctx, in)
		},
		"WaitForCommandFunction": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			h := wait.Handler{SSM: w, AutoScaling: w, Credentials: roles.For, Budget: wait.DefaultBudget, Hooks: hooks,
				Now: func() time.Time { return asl.Now(ctx) }, Sleep: asl.Sleep, Log: log}
			return step[*workflow.InvocationResult](h.Handle)(ctx, in)
		},
		"CompleteLifecycleFunction": step[*workflow.LifecycleResult]((&complete.Handler{AutoScaling: w, OnFailure: onFailure, Hooks: hooks, Log: log}).Handle),
		"HoldInstanceFunction": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			h := hold.Handler{AutoScaling: w, Hooks: hooks, Budget: budget, Now: func() time.Time { return asl.Now(ctx) },
				Rand: jitter, Log: log}
			return step[*workflow.HoldResult](h.Handle)(ctx, in)
		},
	}
	resources := asl.Resources{}
	subs := asl.Substitutions{}
	for id, h := range handlers {
		resources[functionARN(id)] = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := w.injected(id); err != nil {
				return nil, err
			}
			return h(ctx, in)
		}
		subs[id+"Arn"] = functionARN(id)
	}
	source, err := os.ReadFile("../../statemachine/asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := asl.Parse(source, subs)
	if err != nil {
		t.Fatalf("the definition does not load: %v", err)
	}
	return &rig{world: w, clock: clock, def: def,
		engine: asl.NewEngine(asl.Options{Clock: clock, Rand: rand.New(rand.NewPCG(1, 2)), Resources: resources})}
}

func fixture(t testing.TB, name string) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile("../../workflow/testdata/events/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (r *rig) run(t testing.TB, input json.RawMessage) (*asl.Execution, asl.Result) {
	return r.runNamed(t, "exec-1", input)
}

func (r *rig) runNamed(t testing.TB, name string, input json.RawMessage) (*asl.Execution, asl.Result) {
	t.Helper()
	x, res, err := r.engine.Run(context.Background(), r.def, asl.StartInput{
		Name: name, Input: input,
		StateMachineArn: "arn:aws:states:" + region + ":" + app + ":stateMachine:asgdns-DnsRegistration",
	})
	if err != nil {
		t.Fatal(err)
	}
	return x, res
}

// states lists the states an execution entered, in order.
func states(x *asl.Execution) []string {
	var out []string
	for _, e := range x.History() {
		if strings.HasSuffix(e.Type, "StateEntered") && e.StateEnteredEventDetails != nil {
			out = append(out, e.StateEnteredEventDetails.Name)
		}
	}
	return out
}
