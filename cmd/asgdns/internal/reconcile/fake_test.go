package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

const (
	testAccount  = "123456789012"
	testStack    = "asgdns-prod"
	testFunction = "asgdns-prod-ReconcileFunction-1A2B3C4D5E6F"
	z1           = "corp.example.com"
	z2           = "dev.example.com"
)

// testNow is the fake clock: it names the run cli-20261120T120000Z.
var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fakeAWS is the application account as the command sees it: the stack's
// resources, and a reconcile function that decides with the real
// workflow/reconcile for the mode it is asked for, over a fixed desired
// and actual state, and starts an execution for every action it executes.
type fakeAWS struct {
	resources map[string]string // logical id → physical id, of testStack
	input     decision.Input    // the state the function decides over; Mode comes from the request
	// already are the instances whose execution an earlier try of the run
	// started.
	already map[string]bool
	// respond, when set, replaces the function: it answers every Invoke.
	respond   func(req Request) (*lambda.InvokeOutput, error)
	reportErr []any // the report's errors

	mu       sync.Mutex
	calls    []string
	cfn      []cloudformation.DescribeStackResourceInput
	invokes  []lambda.InvokeInput
	requests []Request
	payloads [][]byte // what the function returned
}

func newFake(in decision.Input) *fakeAWS {
	return &fakeAWS{resources: map[string]string{reconcileLogicalID: testFunction}, input: in, already: map[string]bool{}}
}

func (f *fakeAWS) DescribeStackResource(_ context.Context, in *cloudformation.DescribeStackResourceInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "cloudformation:DescribeStackResource")
	f.cfn = append(f.cfn, *in)
	if aws.ToString(in.StackName) != testStack {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: fmt.Sprintf("Stack '%s' does not exist", aws.ToString(in.StackName))}
	}
	id, ok := f.resources[aws.ToString(in.LogicalResourceId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ValidationError",
			Message: fmt.Sprintf("Resource %s does not exist for stack %s", aws.ToString(in.LogicalResourceId), testStack)}
	}
	return &cloudformation.DescribeStackResourceOutput{StackResourceDetail: &cftypes.StackResourceDetail{
		LogicalResourceId: in.LogicalResourceId, PhysicalResourceId: aws.String(id)}}, nil
}

func (f *fakeAWS) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "lambda:Invoke")
	f.invokes = append(f.invokes, *in)
	var req Request
	dec := json.NewDecoder(bytes.NewReader(in.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fake: the payload is not a reconcile request: %v", err)
	}
	f.requests = append(f.requests, req)
	if f.respond != nil {
		return f.respond(req)
	}
	if aws.ToString(in.FunctionName) != testFunction {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Function not found: " + aws.ToString(in.FunctionName)}
	}
	payload, err := json.Marshal(f.run(req))
	if err != nil {
		return nil, err
	}
	f.payloads = append(f.payloads, payload)
	return &lambda.InvokeOutput{StatusCode: 200, Payload: payload, ExecutedVersion: aws.String("$LATEST")}, nil
}

// run is the fake reconcile function: the real decision, fake reads.
func (f *fakeAWS) run(req Request) map[string]any {
	in := f.input
	in.Mode = req.Mode
	plan, err := decision.Decide(in)
	if err != nil {
		panic(err) // the fixtures are valid input
	}
	started := []Started{}
	for _, a := range plan.Executed() {
		if req.DryRun {
			break // a dry run plans in its mode and starts nothing
		}
		started = append(started, Started{Op: a.Op, Kind: a.Kind, InstanceID: a.InstanceID, FQDN: a.FQDN,
			Execution: fmt.Sprintf("%s-%s-%s", req.Run, a.Op, a.InstanceID), Already: f.already[a.InstanceID]})
	}
	rep := map[string]any{
		"run": req.Run, "mode": req.Mode, "dryRun": req.DryRun, "plan": plan,
		"reads":   Reads{Zones: len(in.Zones), Pages: len(in.Zones) + 1, Commands: len(in.Zones) + 1},
		"started": started, "errors": []any{},
	}
	if req.DrainDeadLetters {
		rep["deadLetters"] = map[string]any{"received": 3, "started": 1, "alreadyStarted": 1, "left": 0,
			"problems": []string{"message 7c1e…: not an Auto Scaling lifecycle event (source aws.ec2): deleted"}}
	}
	if f.reportErr != nil {
		rep["errors"] = f.reportErr
	}
	return rep
}

// env is the command's environment on the fake, with what it printed.
type testEnv struct {
	stdout, stderr bytes.Buffer
	connects       int
}

func (te *testEnv) env(f *fakeAWS) Env {
	return Env{Stdout: &te.stdout, Stderr: &te.stderr, Now: func() time.Time { return testNow },
		Connect: func(context.Context, ConnectOptions) (Clients, error) {
			te.connects++
			return Clients{CloudFormation: f, Lambda: f}, nil
		}}
}

func runOn(t *testing.T, f *fakeAWS, args ...string) (*testEnv, int) {
	t.Helper()
	te := &testEnv{}
	code := Run(context.Background(), te.env(f), args)
	return te, code
}

func rec(host, zone string) workflow.Record {
	return workflow.Record{Hostname: host, Zone: zone, FQDN: host + "." + zone, TTL: 300}
}

func want(inst, ip, host, zone string) decision.Desired {
	return decision.Desired{InstanceID: inst, ASG: "web", PrivateIP: ip, LifecycleState: decision.StateInService, Record: rec(host, zone)}
}

func own(host, zone, inst string, ips ...string) decision.Owned {
	return decision.Owned{FQDN: host + "." + zone, IPs: ips, TTL: 300, OwnerAccount: testAccount, OwnerInstance: inst}
}

// Instances of the mixed world.
const (
	ia = "i-0aaaaaaaaaaaaaaaa" // missing
	ib = "i-0bbbbbbbbbbbbbbbb" // wrong address
	ic = "i-0cccccccccccccccc" // gone: its record is stale
	id = "i-0dddddddddddddddd" // in an incompletely listed zone: unconfirmed
	ie = "i-0eeeeeeeeeeeeeeee" // renamed: its record is under an old name
	ig = "i-0999999999999999a" // derives a name ih holds: a conflict
	ih = "i-0888888888888888b" // holds web-g, and is in its group
)

// mixedWorld has every kind of drift the text shows, in two zones, one
// listed incompletely.
func mixedWorld() decision.Input {
	return decision.Input{Account: testAccount,
		Desired: []decision.Desired{
			want(ia, "10.0.0.1", "web-a", z1), want(ib, "10.0.0.2", "web-b", z1), want(id, "10.0.0.4", "web-d", z2),
			want(ie, "10.0.0.5", "web-e", z1), want(ig, "10.0.0.7", "web-g", z1), want(ih, "10.0.0.8", "web-h", z1),
		},
		Facts: map[string]decision.Fact{ic: decision.Locate(false, "", "", "")},
		Zones: []decision.Zone{
			{Zone: z1, Complete: true, OtherOwner: 3, Unmarked: 12, Conflicts: 1, Owned: []decision.Owned{
				own("web-b", z1, ib, "10.9.9.9"), own("web-c", z1, ic, "10.0.0.3"),
				own("old-e", z1, ie, "10.0.0.5"), own("web-g", z1, ih, "10.0.0.8"),
			}},
			{Zone: z2, Complete: false, Problem: "page 2: the command timed out"},
		}}
}

// staleWorld owns live+stale records in one zone, stale of them left by
// instances that are gone.
func staleWorld(stale, live int, limits decision.Limits) decision.Input {
	in := decision.Input{Account: testAccount, Limits: limits, Facts: map[string]decision.Fact{}}
	z := decision.Zone{Zone: z1, Complete: true}
	for i := range stale {
		inst := fmt.Sprintf("i-%017x", 0x100000+i)
		z.Owned = append(z.Owned, own(fmt.Sprintf("gone-%d", i), z1, inst, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)))
		in.Facts[inst] = decision.Fact{Status: decision.StatusGone, Reason: "EC2 does not know the instance"}
	}
	for i := range live {
		inst := fmt.Sprintf("i-%017x", 0x200000+i)
		ip := fmt.Sprintf("10.2.%d.%d", i/250, i%250+1)
		z.Owned = append(z.Owned, own(fmt.Sprintf("live-%d", i), z1, inst, ip))
		in.Desired = append(in.Desired, want(inst, ip, fmt.Sprintf("live-%d", i), z1))
	}
	in.Zones = []decision.Zone{z}
	return in
}
