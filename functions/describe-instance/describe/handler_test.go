package describe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// fakeEC2 records what was asked and answers with a canned instance or error.
type fakeEC2 struct {
	calls    []*ec2.DescribeInstancesInput
	instance *types.Instance
	err      error
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &ec2.DescribeInstancesOutput{}
	if f.instance != nil {
		out.Reservations = []types.Reservation{{Instances: []types.Instance{*f.instance}}}
	}
	return out, nil
}

const fixtureInstance = "i-0a1b2c3d4e5f60718"

// notInAnyGroup is the fake's answer for an instance no group lists.
const notInAnyGroup = ""

// fakeAutoScaling records what was asked and answers with the instance's
// lifecycle state in the fixtures' group (none for notInAnyGroup), or err.
type fakeAutoScaling struct {
	calls []*autoscaling.DescribeAutoScalingInstancesInput
	state string
	err   error
}

func (f *fakeAutoScaling) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if f.state != notInAnyGroup {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{
			InstanceId: aws.String(fixtureInstance), AutoScalingGroupName: aws.String("web-prod"), AvailabilityZone: aws.String("eu-west-1b"),
			LifecycleState: aws.String(f.state), HealthStatus: aws.String("HEALTHY"), ProtectedFromScaleIn: aws.Bool(false),
		}}
	}
	return out, nil
}

// checkAsked asserts the group was asked about the fixture instance, once
// per call expected.
func checkAsked(t *testing.T, a *fakeAutoScaling, want int) {
	t.Helper()
	if len(a.calls) != want {
		t.Fatalf("DescribeAutoScalingInstances called %d times, want %d", len(a.calls), want)
	}
	for _, in := range a.calls {
		if !equalStrings(in.InstanceIds, []string{fixtureInstance}) || in.MaxRecords != nil || in.NextToken != nil {
			t.Errorf("DescribeAutoScalingInstances asked %+v, want only instance %s", in, fixtureInstance)
		}
	}
}

func instance(state types.InstanceStateName, tags ...string) *types.Instance {
	inst := &types.Instance{
		InstanceId:       aws.String(fixtureInstance),
		PrivateIpAddress: aws.String("10.20.30.40"),
		Placement:        &types.Placement{AvailabilityZone: aws.String("eu-west-1b")},
		State:            &types.InstanceState{Name: state},
	}
	for i := 0; i+1 < len(tags); i += 2 {
		inst.Tags = append(inst.Tags, types.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
	}
	return inst
}

var testEnv = map[string]string{
	config.EnvZone:          "apps.example.com",
	config.EnvDCInstanceIDs: "i-0123456789abcdef0,i-0fedcba9876543210",
	config.EnvDocumentName:  "asgdns-dns-record",
}

func defaults(t testing.TB, extra ...string) config.Settings {
	t.Helper()
	env := map[string]string{}
	for k, v := range testEnv {
		env[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	s, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pendingWait is where a launching instance stands while the hook holds it.
const pendingWait = "Pending:Wait"

func newHandler(t testing.TB, f *fakeEC2, a *fakeAutoScaling, logs io.Writer) *Handler {
	return &Handler{EC2: f, AutoScaling: a, Defaults: defaults(t), Hooks: lambdatest.FixtureHooks, Log: lambdatest.JSONLogger(logs, slog.LevelInfo)}
}

// TestFixtures runs every fixture event, and the states the hold loop and
// an undone launch bring back to Describe instance, and compares with the
// golden output (the caught error, for a failure). EC2 is only asked when
// there is a record to derive; the group only for a registration.
func TestFixtures(t *testing.T) {
	type expect struct {
		lifecycleState string // what the group says of the instance
		ec2, group     int    // calls expected
		err            bool
	}
	want := map[string]expect{
		"launch":                 {lifecycleState: pendingWait, ec2: 1, group: 1},
		"launch-from-warm-pool":  {lifecycleState: pendingWait, ec2: 1, group: 1},
		"launch-successful":      {},
		"terminate":              {ec2: 1},
		"launch-into-warm-pool":  {},
		"terminate-to-warm-pool": {},
		"test-notification":      {},
		"unknown":                {},
		// Started without a token (by hand, or by reconciliation) for an
		// instance already in service.
		"launch-no-token": {lifecycleState: "InService", ec2: 1, group: 1},
		// Metadata with a zone that is not a domain: refused before any call.
		"launch-bad-zone": {err: true},
		// The hold loop's next round: a launch derives its record afresh,
		// a termination removes the name it kept.
		"launch-held":    {lifecycleState: pendingWait, ec2: 1, group: 1},
		"terminate-held": {},
		// Completing found the action gone and the instance leaving.
		"launch-outlived": {lifecycleState: "Terminating:Wait", group: 1},
	}
	names := append(lambdatest.Fixtures(t), "launch-bad-zone", "launch-held", "terminate-held", "launch-outlived")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation here", name)
			}
			f, a := &fakeEC2{instance: instance(types.InstanceStateNamePending, "Name", "web")}, &fakeAutoScaling{state: w.lifecycleState}
			got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
			if (err != nil) != w.err {
				t.Fatalf("Handle: %v", err)
			}
			if len(f.calls) != w.ec2 {
				t.Fatalf("DescribeInstances called %d times, want %d", len(f.calls), w.ec2)
			}
			if w.ec2 == 1 && !equalStrings(f.calls[0].InstanceIds, []string{fixtureInstance}) {
				t.Errorf("DescribeInstances asked for %v", f.calls[0].InstanceIds)
			}
			checkAsked(t, a, w.group)
			if err != nil {
				lambdatest.Golden(t, "testdata/"+name+".golden.json", lambdatest.Caught(t, err))
				return
			}
			lambdatest.Golden(t, "testdata/"+name+".golden.json", got)
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// withDetail returns the launch input with detail fields replaced.
func withDetail(t testing.TB, change func(detail map[string]any, event map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(lambdatest.Input(t, "launch"), &req); err != nil {
		t.Fatal(err)
	}
	event := req["state"].(map[string]any)
	change(event["detail"].(map[string]any), event)
	data, _ := json.Marshal(req)
	return data
}

func metadata(t testing.TB, md string) []byte {
	return withDetail(t, func(d, _ map[string]any) { d["NotificationMetadata"] = md })
}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from fake"}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		input     []byte
		ec2       *fakeEC2
		group     *fakeAutoScaling
		wantType  string
		wantCalls int // DescribeInstances
		wantAsked int // DescribeAutoScalingInstances
		wantInMsg []string
	}{
		{name: "malformed JSON", input: []byte(`{"execution": "x", "state": {`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "wrong source", input: withDetail(t, func(_, e map[string]any) { e["source"] = "aws.ec2" }),
			wantType: "InvalidEvent", wantInMsg: []string{`source "aws.ec2"`, "aws.autoscaling"}},
		{name: "missing detail-type", input: withDetail(t, func(_, e map[string]any) { delete(e, "detail-type") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail-type"}},
		{name: "transition contradicts detail-type", input: withDetail(t, func(d, _ map[string]any) { d["LifecycleTransition"] = workflow.TransitionTerminating }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleTransition"}},
		{name: "missing instance id", input: withDetail(t, func(d, _ map[string]any) { delete(d, "EC2InstanceId") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "instance id with shell", input: withDetail(t, func(d, _ map[string]any) { d["EC2InstanceId"] = "i-0a1b2c3d;reboot" }),
			wantType: "InvalidEvent", wantInMsg: []string{`detail.EC2InstanceId "i-0a1b2c3d;reboot"`, "hex"}},
		{name: "upper-case instance id", input: withDetail(t, func(d, _ map[string]any) { d["EC2InstanceId"] = "i-0A1B2C3D4E5F60718" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "bad token", input: withDetail(t, func(d, _ map[string]any) { d["LifecycleActionToken"] = "x$(id)" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleActionToken"}},
		{name: "metadata not JSON", input: metadata(t, "additional-info"),
			wantType: "InvalidConfig", wantInMsg: []string{`detail.NotificationMetadata of ASG "web-prod"`, `"additional-info"`, "JSON"}},
		{name: "metadata unknown field", input: metadata(t, `{"zone":"corp.example.com","zoen":"x"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"detail.NotificationMetadata.zoen", "not a known setting"}},
		{name: "metadata role override", input: metadata(t, `{"roleArn":"arn:aws:iam::999999999999:role/evil"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"roleArn", "per ASG"}},
		{name: "zone not a domain", input: metadata(t, `{"zone":"corp example;com"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"detail.NotificationMetadata.zone", `"corp example;com"`}},
		{name: "zone is an address", input: metadata(t, `{"zone":"10.0.0.1"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"zone", "numeric"}},
		{name: "ttl wrong type", input: metadata(t, `{"ttl":"300"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"ttl"}},
		{name: "template with semicolon", input: metadata(t, `{"hostnameTemplate":"{asg};reboot"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"hostnameTemplate", `';'`}},
		{name: "template gives every instance one name", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			wantType: "InvalidConfig", wantInMsg: []string{`detail.NotificationMetadata.hostnameTemplate of ASG "web-prod" "{tag:Name}"`, "same name", "sharedHostname"}},
		{name: "tag with command substitution", input: metadata(t, `{"hostnameTemplate":"{tag:Name}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web$(reboot)")}, wantCalls: 1, wantAsked: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`tag "Name" of i-0a1b2c3d4e5f60718 "web$(reboot)"`, "'$'"}},
		{name: "tag with backtick", input: metadata(t, `{"hostnameTemplate":"{tag:Name}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web`id`")}, wantCalls: 1, wantAsked: 1, wantType: "InvalidHostname"},
		{name: "tag with quote", input: metadata(t, `{"hostnameTemplate":"{tag:Name}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", `web"x`)}, wantCalls: 1, wantAsked: 1, wantType: "InvalidHostname"},
		{name: "tag with newline", input: metadata(t, `{"hostnameTemplate":"{tag:Name}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web\nx")}, wantCalls: 1, wantAsked: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`"web\nx"`}},
		{name: "tag with cyrillic look-alike", input: metadata(t, `{"hostnameTemplate":"{tag:Name}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "wеb")}, wantCalls: 1, wantAsked: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`"w\u0435b"`}},
		{name: "tag missing", input: metadata(t, `{"hostnameTemplate":"{tag:Role}-{short-id}"}`),
			ec2: &fakeEC2{instance: instance("pending")}, wantCalls: 1, wantAsked: 1, wantType: "InvalidHostname", wantInMsg: []string{`tag "Role"`, "not set"}},
		{name: "hostname too long", input: metadata(t, `{"hostnameTemplate":"{asg}-{instance-id}-{instance-id}-{instance-id}"}`),
			ec2: &fakeEC2{instance: instance("pending")}, wantCalls: 1, wantAsked: 1, wantType: "InvalidHostname", wantInMsg: []string{"hostname", "1-63"}},
		{name: "instance not found", ec2: &fakeEC2{err: apiError("InvalidInstanceID.NotFound")}, wantCalls: 1, wantAsked: 1, wantType: "InstanceNotFound"},
		{name: "instance missing from answer", ec2: &fakeEC2{}, wantCalls: 1, wantAsked: 1, wantType: "InstanceNotFound"},
		{name: "instance terminated", ec2: &fakeEC2{instance: instance(types.InstanceStateNameTerminated)}, wantCalls: 1, wantAsked: 1,
			wantType: "InstanceNotFound", wantInMsg: []string{"terminated"}},
		{name: "access denied", ec2: &fakeEC2{err: apiError("UnauthorizedOperation")}, wantCalls: 1, wantAsked: 1,
			wantType: "AccessDenied", wantInMsg: []string{"ec2:DescribeInstances", "allow ec2:DescribeInstances"}},
		{name: "throttled", ec2: &fakeEC2{err: apiError("RequestLimitExceeded")}, wantCalls: 1, wantAsked: 1, wantType: "Throttled"},
		{name: "server error", ec2: &fakeEC2{err: apiError("InternalError")}, wantCalls: 1, wantAsked: 1, wantType: "Unavailable"},
		{name: "timeout", ec2: &fakeEC2{err: fmt.Errorf("operation error EC2: DescribeInstances: %w", context.DeadlineExceeded)},
			wantCalls: 1, wantAsked: 1, wantType: "Unavailable"},
		// Where the instance stands in its group comes first: EC2 is not
		// asked when that fails.
		{name: "group throttled", group: &fakeAutoScaling{err: apiError("Throttling")}, wantAsked: 1,
			wantType: "Throttled", wantInMsg: []string{"autoscaling:DescribeAutoScalingInstances " + fixtureInstance}},
		{name: "group access denied", group: &fakeAutoScaling{err: apiError("AccessDenied")}, wantAsked: 1,
			wantType: "AccessDenied", wantInMsg: []string{"autoscaling:DescribeAutoScalingInstances " + fixtureInstance,
				"fix: allow autoscaling:DescribeAutoScalingInstances to the DescribeInstance function's role"}},
		{name: "group unavailable", group: &fakeAutoScaling{err: apiError("InternalFailure")}, wantAsked: 1, wantType: "Unavailable"},
	}
	seen := lambdatest.Produced{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, a := tc.ec2, tc.group
			if f == nil {
				f = &fakeEC2{instance: instance("pending")}
			}
			if a == nil {
				a = &fakeAutoScaling{state: pendingWait}
			}
			got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), lambdatest.InputOr(t, tc.input, "launch"))
			lambdatest.Failure(t, got, err, tc.wantType, tc.wantInMsg...)
			seen[tc.wantType] = true
			if len(f.calls) != tc.wantCalls {
				t.Errorf("DescribeInstances called %d times, want %d", len(f.calls), tc.wantCalls)
			}
			checkAsked(t, a, tc.wantAsked)
		})
	}
	seen.Expect(t, "InvalidEvent", "InvalidConfig", "InvalidHostname", "InstanceNotFound", "AccessDenied", "Throttled", "Unavailable")
}

func TestMetadataOverrides(t *testing.T) {
	f, a := &fakeEC2{instance: instance("pending", "Role", "API")}, &fakeAutoScaling{state: pendingWait}
	md := `{"zone":"Corp.Example.COM.","hostnameTemplate":"{tag:Role}-{short-id}","ttl":60,"ptr":true,` +
		`"dcInstanceIds":["i-0aaaaaaaaaaaaaaaa"],"dcPlatform":"Linux","onFailure":"CONTINUE"}`
	got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), metadata(t, md))
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.Record{Hostname: "api-e5f60718", Zone: "corp.example.com", FQDN: "api-e5f60718.corp.example.com", TTL: 60, PTR: true}
	if *got.Record != want {
		t.Errorf("record %+v, want %+v", *got.Record, want)
	}
	if got.OnFailure != workflow.Continue || got.Target.DCPlatform != "Linux" || got.Target.DCInstanceIDs[0] != "i-0aaaaaaaaaaaaaaaa" {
		t.Errorf("overrides not applied: %+v %+v", got, got.Target)
	}
}

// TestWarmPoolIgnoresBadMetadata: an instance entering the warm pool needs no
// DNS, so a metadata mistake must not fail (and so abandon) it.
func TestWarmPoolIgnoresBadMetadata(t *testing.T) {
	var req map[string]any
	_ = json.Unmarshal(lambdatest.Input(t, "launch-into-warm-pool"), &req)
	req["state"].(map[string]any)["detail"].(map[string]any)["NotificationMetadata"] = "not json"
	data, _ := json.Marshal(req)
	f, a := &fakeEC2{}, &fakeAutoScaling{}
	got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), data)
	if err != nil || got.Action != workflow.ActionNone || !got.Complete || got.OnFailure != workflow.Abandon {
		t.Fatalf("got %+v, %v", got, err)
	}
	if len(f.calls) != 0 || len(a.calls) != 0 {
		t.Errorf("%d EC2 and %d Auto Scaling calls for a move into the warm pool, want none", len(f.calls), len(a.calls))
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(t, &fakeEC2{instance: instance("pending")}, &fakeAutoScaling{state: pendingWait}, &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"execution":"0d5c1f6e-asgdns-test-execution"`, `"instanceId":"i-0a1b2c3d4e5f60718"`, `"asg":"web-prod"`)
}

func BenchmarkHandle(b *testing.B) {
	h := newHandler(b, &fakeEC2{instance: instance("pending", "Name", "web")}, &fakeAutoScaling{state: pendingWait}, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeregisterGoneInstance: a terminate event replayed after the instance is
// gone still removes its record when the hostname needs only the event.
func TestDeregisterGoneInstance(t *testing.T) {
	for _, f := range []*fakeEC2{{err: apiError("InvalidInstanceID.NotFound")}, {}} {
		a := &fakeAutoScaling{}
		got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), lambdatest.Input(t, "terminate"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != workflow.ActionDeregister || got.State != "gone" || got.PrivateIP != "" ||
			got.Record == nil || got.Record.FQDN != "web-prod-i-0a1b2c3d4e5f60718.corp.example.com" || got.Target == nil {
			t.Errorf("got %+v", got)
		}
		if len(f.calls) != 1 || len(a.calls) != 0 {
			t.Errorf("%d EC2 and %d Auto Scaling calls, want one EC2 call", len(f.calls), len(a.calls))
		}
	}
	data := lambdatest.WithState(t, "terminate", func(s map[string]any) {
		s["detail"].(map[string]any)["NotificationMetadata"] = `{"hostnameTemplate":"{tag:Name}-{short-id}"}`
	})
	_, err := newHandler(t, &fakeEC2{}, &fakeAutoScaling{}, io.Discard).Handle(context.Background(), data)
	if workflow.Routed(err) != "InstanceNotFound" || !strings.Contains(err.Error(), "tags or AZ") {
		t.Errorf("template needing tags: got %v", err)
	}
}

// TestForeignHook: another team's lifecycle action on the same ASG is not
// asgdns's business. Nothing is read (not even the ASG's configuration, so
// its metadata may be anything), nothing is to be completed, and the
// reason says whose hook it is.
func TestForeignHook(t *testing.T) {
	for _, event := range []string{"launch", "terminate", "launch-from-warm-pool", "terminate-to-warm-pool"} {
		t.Run(event, func(t *testing.T) {
			input := lambdatest.WithState(t, event, func(s map[string]any) {
				d := s["detail"].(map[string]any)
				d["LifecycleHookName"], d["NotificationMetadata"] = "other-team-bootstrap", "their own format"
			})
			f, a := &fakeEC2{instance: instance("pending")}, &fakeAutoScaling{state: pendingWait}
			got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 0 || len(a.calls) != 0 {
				t.Errorf("%d EC2 and %d Auto Scaling calls for another team's hook, want none", len(f.calls), len(a.calls))
			}
			transition := workflow.TransitionLaunch
			if strings.HasPrefix(event, "terminate") {
				transition = workflow.TransitionTerminate
			}
			want := workflow.InstanceResult{
				Action: workflow.ActionNone, Complete: false, Transition: transition, InstanceID: fixtureInstance, ASG: "web-prod",
				OnFailure: workflow.Abandon,
				Reason:    `lifecycle hook "other-team-bootstrap" is not one of asgdns's (dns-launch, dns-terminate): another team's hook, left untouched`,
			}
			if *got != want {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
	// With the deployment's default hook names, the fixtures' hooks are
	// someone else's.
	h := newHandler(t, &fakeEC2{}, &fakeAutoScaling{}, io.Discard)
	h.Hooks = workflow.HookNames{"asgdns-launch", "asgdns-terminate"}
	got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch"))
	if err != nil || got.Action != workflow.ActionNone || got.Complete || !strings.Contains(got.Reason, `lifecycle hook "dns-launch"`) {
		t.Errorf("got %+v, %v", got, err)
	}
}

// keptState is the state a later round of the same execution brings to
// Describe instance: the launch's (or termination's) earlier result, and
// the command sent for it.
func keptState(t testing.TB, event string, command workflow.Action) func(s map[string]any) {
	return func(s map[string]any) {
		var inst map[string]any
		if err := json.Unmarshal(mustRead(t, "testdata/"+event+".golden.json"), &inst); err != nil {
			t.Fatal(err)
		}
		s["instance"] = inst
		if command != "" {
			s["command"] = map[string]any{"commandId": "4f1c2a9e-7b3d-4e6f-9a8b-0c1d2e3f4a5b", "dcInstanceId": "i-0123456789abcdef0",
				"step": workflow.StepWindows, "documentName": "asgdns-dns-record", "action": command, "attempt": 1, "sentAt": "2026-11-20T08:15:50Z"}
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLaunchOutlived: a launch whose instance is leaving, or has left, its
// group (terminated while held, a spot reclaim, the hook expired and
// abandoned it) registers nothing, and has nothing left to complete. If
// this execution sent a register command, the record it may have written
// is removed, by the name in the state: EC2 is never asked.
func TestLaunchOutlived(t *testing.T) {
	const fqdn = "web-prod-i-0a1b2c3d4e5f60718.corp.example.com"
	for _, state := range []string{"Terminating:Wait", "Terminating", "Terminating:Proceed", "Terminated", "Detaching", "Detached",
		"Warmed:Terminating:Wait", notInAnyGroup} {
		where := state
		if state == notInAnyGroup {
			where = "not in any group"
		}
		for _, tc := range []struct {
			name   string
			change func(s map[string]any)
			want   workflow.Action
		}{
			{name: "first round", want: workflow.ActionNone},
			{name: "register command sent", change: keptState(t, "launch", workflow.ActionRegister), want: workflow.ActionDeregister},
			{name: "described, nothing sent yet", change: keptState(t, "launch", ""), want: workflow.ActionNone},
			{name: "command sent, record not valid", change: func(s map[string]any) {
				keptState(t, "launch", workflow.ActionRegister)(s)
				s["instance"].(map[string]any)["record"].(map[string]any)["fqdn"] = "dc01.corp.example.com"
			}, want: workflow.ActionNone},
		} {
			t.Run(where+"/"+tc.name, func(t *testing.T) {
				input := lambdatest.Input(t, "launch")
				if tc.change != nil {
					input = lambdatest.WithState(t, "launch", tc.change)
				}
				f, a := &fakeEC2{instance: instance(types.InstanceStateNameShuttingDown)}, &fakeAutoScaling{state: state}
				got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), input)
				if err != nil {
					t.Fatal(err)
				}
				if len(f.calls) != 0 {
					t.Errorf("DescribeInstances called %d times, want none", len(f.calls))
				}
				checkAsked(t, a, 1)
				want := workflow.InstanceResult{
					Action: tc.want, Complete: false, Transition: workflow.TransitionLaunch, InstanceID: fixtureInstance, ASG: "web-prod",
					LifecycleState: where, OnFailure: workflow.Abandon,
					Reason: "the instance is " + where + " before it was registered: nothing to register, nothing to complete",
				}
				if tc.want == workflow.ActionDeregister {
					want.Reason = "the instance is " + where + " before the launch finished: removing the record this launch wrote; removing " + fqdn + ", the name in the state"
					want.PrivateIP = "10.20.30.40"
					want.Record = &workflow.Record{Hostname: "web-prod-i-0a1b2c3d4e5f60718", Zone: "corp.example.com", FQDN: fqdn, TTL: 300}
					want.Target = &workflow.Target{DCInstanceIDs: []string{"i-0123456789abcdef0", "i-0fedcba9876543210"}, DCPlatform: "Windows", DocumentName: "asgdns-dns-record"}
				}
				if g, w := mustJSON(t, got), mustJSON(t, want); !bytes.Equal(g, w) {
					t.Errorf("got  %s\nwant %s", g, w)
				}
			})
		}
	}
}

// TestLaunchStillInGroup: a launch held in Pending:Wait, or replayed once
// in service, registers from what EC2 says now, not from the state.
func TestLaunchStillInGroup(t *testing.T) {
	for _, state := range []string{"Pending", pendingWait, "Pending:Proceed", "InService", "Standby"} {
		t.Run(state, func(t *testing.T) {
			input := lambdatest.WithState(t, "launch", func(s map[string]any) {
				keptState(t, "launch", workflow.ActionRegister)(s)
				s["instance"].(map[string]any)["privateIp"] = "10.99.99.99"
			})
			f, a := &fakeEC2{instance: instance(types.InstanceStateNameRunning)}, &fakeAutoScaling{state: state}
			got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			checkAsked(t, a, 1)
			if len(f.calls) != 1 || got.Action != workflow.ActionRegister || !got.Complete || got.LifecycleState != state ||
				got.PrivateIP != "10.20.30.40" || got.State != "running" || got.Reason != "launching into the group: registering" {
				t.Errorf("%d EC2 calls, got %+v", len(f.calls), got)
			}
		})
	}
}

// TestDeregisterKept: a termination whose state already holds the record
// (a later round of the hold loop, or a replay of a failed execution)
// removes that name, whatever EC2 and the hostname template would say now.
func TestDeregisterKept(t *testing.T) {
	const fqdn = "web-prod-i-0a1b2c3d4e5f60718.corp.example.com"
	target := &workflow.Target{DCInstanceIDs: []string{"i-0123456789abcdef0", "i-0fedcba9876543210"}, DCPlatform: "Windows", DocumentName: "asgdns-dns-record"}
	for _, tc := range []struct {
		name     string
		change   func(s map[string]any)
		wantEC2  int
		wantIP   string
		wantFQDN string
		wantZone string
	}{
		{name: "kept record", change: keptState(t, "terminate", workflow.ActionDeregister), wantIP: "10.20.30.40", wantFQDN: fqdn, wantZone: "corp.example.com"},
		{name: "kept record, template now needs the gone instance's tags", change: func(s map[string]any) {
			keptState(t, "terminate", workflow.ActionDeregister)(s)
			s["detail"].(map[string]any)["NotificationMetadata"] = `{"hostnameTemplate":"{tag:Name}-{short-id}"}`
		}, wantIP: "10.20.30.40", wantFQDN: fqdn, wantZone: "corp.example.com"},
		{name: "kept record in a zone the configuration has since left", change: func(s map[string]any) {
			keptState(t, "terminate", "")(s)
			r := s["instance"].(map[string]any)["record"].(map[string]any)
			r["zone"], r["fqdn"] = "old.example.com", "web-prod-i-0a1b2c3d4e5f60718.old.example.com"
		}, wantIP: "10.20.30.40", wantFQDN: "web-prod-i-0a1b2c3d4e5f60718.old.example.com", wantZone: "old.example.com"},
		{name: "kept address not valid: left out", change: func(s map[string]any) {
			keptState(t, "terminate", "")(s)
			s["instance"].(map[string]any)["privateIp"] = "10.20.30.400"
		}, wantFQDN: fqdn, wantZone: "corp.example.com"},
		{name: "kept record not valid: derived again", change: func(s map[string]any) {
			keptState(t, "terminate", "")(s)
			s["instance"].(map[string]any)["record"].(map[string]any)["hostname"] = "web;reboot"
		}, wantEC2: 1, wantFQDN: fqdn, wantZone: "corp.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, a := &fakeEC2{err: apiError("InvalidInstanceID.NotFound")}, &fakeAutoScaling{}
			got, err := newHandler(t, f, a, io.Discard).Handle(context.Background(), lambdatest.WithState(t, "terminate", tc.change))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != tc.wantEC2 || len(a.calls) != 0 {
				t.Errorf("%d EC2 and %d Auto Scaling calls, want %d EC2 calls", len(f.calls), len(a.calls), tc.wantEC2)
			}
			if got.Action != workflow.ActionDeregister || !got.Complete || got.Transition != workflow.TransitionTerminate ||
				got.PrivateIP != tc.wantIP || got.Record == nil || got.Record.FQDN != tc.wantFQDN || got.Record.Zone != tc.wantZone ||
				got.Record.TTL != 300 || got.Record.Hostname != "web-prod-i-0a1b2c3d4e5f60718" {
				t.Errorf("got %+v, record %+v", got, got.Record)
			}
			if fmt.Sprint(got.Target) != fmt.Sprint(target) {
				t.Errorf("target %+v, want %+v", got.Target, target)
			}
			if tc.wantEC2 == 0 && got.Reason != "terminating: deregistering; removing "+tc.wantFQDN+", the name in the state" {
				t.Errorf("reason %q", got.Reason)
			}
			if tc.wantEC2 == 1 && (got.State != "gone" || !strings.Contains(got.Reason, "removed by ownership")) {
				t.Errorf("derived again: %+v", got)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
