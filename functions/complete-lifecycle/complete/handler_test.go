package complete

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	instanceID  = "i-0a1b2c3d4e5f60718"
	launchToken = "b9784c10-c448-48d1-b6cd-b8489f4ebc34"
	termToken   = "fed1b025-e7b0-43db-b656-7ed399294135"
)

// fakeAutoScaling records what was asked and answers CompleteLifecycleAction
// with err (nil: done), and DescribeAutoScalingInstances with the
// instance's lifecycle state in the fixtures' group (none for
// notInAnyGroup), or describeErr.
type fakeAutoScaling struct {
	calls       []*autoscaling.CompleteLifecycleActionInput
	err         error
	described   []*autoscaling.DescribeAutoScalingInstancesInput
	state       string
	describeErr error
}

// notInAnyGroup is the fake's answer for an instance no group lists.
const notInAnyGroup = ""

func (f *fakeAutoScaling) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

func (f *fakeAutoScaling) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	f.described = append(f.described, in)
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if f.state != notInAnyGroup {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{InstanceId: aws.String(instanceID),
			AutoScalingGroupName: aws.String("web-prod"), LifecycleState: aws.String(f.state)}}
	}
	return out, nil
}

// checkDescribed asserts the group was asked about the fixture instance
// want times (the only question CompleteLifecycle asks besides completing).
func checkDescribed(t *testing.T, f *fakeAutoScaling, want int) {
	t.Helper()
	if len(f.described) != want {
		t.Fatalf("DescribeAutoScalingInstances called %d times, want %d", len(f.described), want)
	}
	for _, in := range f.described {
		if strings.Join(in.InstanceIds, ",") != instanceID || in.MaxRecords != nil || in.NextToken != nil {
			t.Errorf("DescribeAutoScalingInstances asked %+v, want only instance %s", in, instanceID)
		}
	}
}

func newHandler(f *fakeAutoScaling, onFailure workflow.LifecycleActionResult, logs io.Writer) *Handler {
	return &Handler{AutoScaling: f, OnFailure: onFailure, Hooks: lambdatest.FixtureHooks, Log: lambdatest.JSONLogger(logs, slog.LevelInfo)}
}

// sent is the CompleteLifecycleAction call a case expects.
type sent struct{ hook, token, result string }

// checkSent asserts exactly one call was made, for the fixtures' ASG and
// instance, with the expected hook, token and result.
func checkSent(t *testing.T, calls []*autoscaling.CompleteLifecycleActionInput, want sent) {
	t.Helper()
	if len(calls) != 1 {
		t.Fatalf("CompleteLifecycleAction called %d times, want 1", len(calls))
	}
	in := calls[0]
	got := map[string]string{
		"AutoScalingGroupName": aws.ToString(in.AutoScalingGroupName), "LifecycleHookName": aws.ToString(in.LifecycleHookName),
		"LifecycleActionToken": aws.ToString(in.LifecycleActionToken), "InstanceId": aws.ToString(in.InstanceId),
		"LifecycleActionResult": aws.ToString(in.LifecycleActionResult),
	}
	wantFields := map[string]string{
		"AutoScalingGroupName": "web-prod", "LifecycleHookName": want.hook, "LifecycleActionToken": want.token,
		"InstanceId": instanceID, "LifecycleActionResult": want.result,
	}
	for k, v := range wantFields {
		if got[k] != v {
			t.Errorf("%s %q, want %q", k, got[k], v)
		}
	}
}

// outcome is what a golden file holds: the step's output, or the error as
// the state machine's Catch records it in the state (the name, and
// Lambda's error payload as the cause).
func outcome(t testing.TB, res *workflow.LifecycleResult, err error) any {
	if err == nil {
		return res
	}
	return lambdatest.Caught(t, err)
}

// stateInputs are the states of testdata beyond the success state of every
// fixture event: failures the machine releases the instance for, a success
// after a hold, and a launch that outlived its instance.
var stateInputs = []string{"launch-failed", "terminate-failed", "launch-failed-without-instance", "launch-conflict", "launch-after-hold", "launch-undone"}

// TestFixtures runs the state of every fixture event (and of the states
// above) against the golden output and checks what was sent: nothing when
// no lifecycle action of asgdns's waits.
func TestFixtures(t *testing.T) {
	type expect struct {
		input string // testdata/<input>.input.json; the name when empty
		sent  *sent
		group string // the instance's lifecycle state, when asked
		asked int    // DescribeAutoScalingInstances calls
		err   error  // from CompleteLifecycleAction
	}
	want := map[string]expect{
		"launch":                 {sent: &sent{"dns-launch", launchToken, "CONTINUE"}},
		"launch-from-warm-pool":  {sent: &sent{"dns-launch", "6f4838bc-935e-408b-b484-e02750cd804d", "CONTINUE"}},
		"launch-into-warm-pool":  {sent: &sent{"dns-launch", "ea44fe9b-a536-49bc-a1e0-c4787d93f748", "CONTINUE"}},
		"launch-no-token":        {},
		"launch-successful":      {},
		"terminate":              {sent: &sent{"dns-terminate", termToken, "CONTINUE"}},
		"terminate-to-warm-pool": {sent: &sent{"dns-terminate", "85a44d94-ded1-4d64-8a64-a4fcef24ccda", "CONTINUE"}},
		"test-notification":      {},
		"unknown":                {},
		// Transient failures outlasted the hold budget: the ASG's policy.
		"launch-failed":    {sent: &sent{"dns-launch", launchToken, "ABANDON"}},
		"terminate-failed": {sent: &sent{"dns-terminate", termToken, "CONTINUE"}},
		// Failures every instance would hit: never replaced.
		"launch-failed-without-instance": {sent: &sent{"dns-launch", launchToken, "CONTINUE"}},
		"launch-conflict":                {sent: &sent{"dns-launch", launchToken, "CONTINUE"}},
		// Registered on the second DC after a hold.
		"launch-after-hold": {sent: &sent{"dns-launch", launchToken, "CONTINUE"}},
		// The action is gone and so is the instance: back to Describe
		// instance, which removes the record…
		"launch-gone": {input: "launch", sent: &sent{"dns-launch", launchToken, "CONTINUE"}, group: "Terminating:Wait", asked: 1,
			err: lambdatest.APIError("ValidationError", "No active Lifecycle Action found with instance ID "+instanceID)},
		// …and then there is nothing to complete.
		"launch-undone": {},
	}
	for _, name := range append(append(lambdatest.Fixtures(t), stateInputs...), "launch-gone") {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("input %s has no expectation here", name)
			}
			input := w.input
			if input == "" {
				input = name
			}
			f := &fakeAutoScaling{err: w.err, state: w.group}
			got, err := newHandler(f, config.DefaultOnFailure, io.Discard).Handle(context.Background(), lambdatest.Input(t, input))
			if (err != nil) != (w.err != nil) {
				t.Fatalf("Handle: %v", err)
			}
			checkDescribed(t, f, w.asked)
			switch {
			case w.sent == nil:
				if len(f.calls) != 0 || got.Completed || got.AlreadyCompleted || got.Result != "" {
					t.Errorf("nothing to complete, yet %d calls and %+v", len(f.calls), got)
				}
			case err == nil:
				checkSent(t, f.calls, *w.sent)
				if !got.Completed || string(got.Result) != w.sent.result {
					t.Errorf("got %+v, want completed with %s", got, w.sent.result)
				}
			default:
				checkSent(t, f.calls, *w.sent)
			}
			lambdatest.Golden(t, "testdata/"+name+".golden.json", outcome(t, got, err))
		})
	}
}

func TestInputsAreFixtureEvents(t *testing.T) {
	events := map[string]string{"launch-conflict": "launch"}
	for _, name := range lambdatest.Fixtures(t) {
		events[name] = name
	}
	// The other state inputs hold the hold loop's keys, which
	// CheckInputIsEvent does not know: the state machine's
	// TestFixturesChain (statemachine/fixtures_test.go) derives them.
	for input, event := range events {
		t.Run(input, func(t *testing.T) { lambdatest.CheckInputIsEvent(t, input, event) })
	}
}

func setOnFailure(p string) func(map[string]any) {
	return func(s map[string]any) { s["instance"].(map[string]any)["onFailure"] = p }
}

// terminal is a failure every instance would hit, as the Catch records it.
func terminal(name string) func(map[string]any) {
	return func(s map[string]any) {
		s["error"] = map[string]any{"Error": name, "Cause": `{"errorMessage":"refused; fix: fix it","errorType":"` + name + `"}`}
	}
}

// expired is a transient failure the hold budget ran out on.
func expired(name string) func(map[string]any) {
	return func(s map[string]any) {
		s["commandError"] = map[string]any{"Error": name, "Cause": `{"errorMessage":"not reached; fix: wait","errorType":"` + name + `"}`}
		s["hold"] = map[string]any{"holds": 9, "since": "2026-11-20T08:15:54Z", "heldSeconds": 1800, "budgetSeconds": 1800,
			"expired": true, "heartbeat": "recorded", "retrying": name}
	}
}

func all(changes ...func(map[string]any)) func(map[string]any) {
	return func(s map[string]any) {
		for _, c := range changes {
			c(s)
		}
	}
}

// TestDecide covers how the result is chosen (DESIGN §7, hold, don't kill):
// success and terminations CONTINUE; a failure every instance would hit
// CONTINUEs a launch too, rather than replace it in a loop; only transient
// failures that outlasted the hold budget get the ASG's failure policy (or
// the deployment's, when the state has none).
func TestDecide(t *testing.T) {
	const never = ", never replaced for a failure every instance would hit: it runs without its record until this is fixed and replayed"
	cases := []struct {
		name       string
		input      []byte
		envDefault workflow.LifecycleActionResult
		want       workflow.LifecycleActionResult
		wantReason string
		wantError  string
	}{
		{name: "success ignores the failure policy", input: lambdatest.Input(t, "launch"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS registered: CONTINUE"},
		{name: "success after a hold", input: lambdatest.Input(t, "launch-after-hold"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS registered: CONTINUE"},
		{name: "deregistered", input: lambdatest.Input(t, "terminate"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS deregistered: CONTINUE"},
		{name: "warm pool move", input: lambdatest.Input(t, "launch-into-warm-pool"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "no DNS work (launching into the warm pool: no record until it enters the group): CONTINUE"},
		// Terminal: CONTINUE whatever the policies say.
		{name: "conflict on a launch, ASG says ABANDON", input: lambdatest.Input(t, "launch-conflict"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (Conflict): CONTINUE" + never, wantError: "Conflict"},
		{name: "invalid configuration, no instance, default ABANDON", input: lambdatest.Input(t, "launch-failed-without-instance"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (InvalidConfig): CONTINUE" + never, wantError: "InvalidConfig"},
		{name: "access denied on a launch", input: lambdatest.WithState(t, "launch", terminal("AccessDenied")), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (AccessDenied): CONTINUE" + never, wantError: "AccessDenied"},
		{name: "terminal while held", input: lambdatest.WithState(t, "launch", all(expired("Unavailable"), terminal("CommandRejected"))),
			envDefault: workflow.Abandon, want: workflow.Continue, wantReason: "DNS work failed (CommandRejected): CONTINUE" + never, wantError: "CommandRejected"},
		{name: "terminal on a launch into the warm pool", input: lambdatest.WithState(t, "launch-into-warm-pool", terminal("Lambda.ServiceException")),
			envDefault: workflow.Abandon, want: workflow.Continue, wantReason: "DNS work failed (Lambda.ServiceException): CONTINUE" + never},
		{name: "failure without a name", input: lambdatest.WithState(t, "launch", func(s map[string]any) { s["error"] = map[string]any{} }),
			envDefault: workflow.Abandon, want: workflow.Continue, wantReason: "DNS work failed (unknown error): CONTINUE" + never, wantError: "UnknownError"},
		// Transient, hold budget spent: the failure policy.
		{name: "hold expired, ASG says ABANDON", input: lambdatest.Input(t, "launch-failed"), envDefault: workflow.Continue,
			want: workflow.Abandon, wantReason: "DNS work failed (Unavailable): ABANDON per onFailure policy, after holding it 1m12s (the hold budget)", wantError: "Unavailable"},
		{name: "hold expired, ASG says CONTINUE", input: lambdatest.WithState(t, "launch-failed", setOnFailure("CONTINUE")), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (Unavailable): CONTINUE per onFailure policy, after holding it 1m12s (the hold budget)"},
		{name: "hold expired without instance, default ABANDON", input: lambdatest.WithState(t, "launch", all(func(s map[string]any) { delete(s, "instance") }, expired("Throttled"))),
			envDefault: workflow.Abandon, want: workflow.Abandon,
			wantReason: "DNS work failed (Throttled): ABANDON per the deployment's default onFailure policy, after holding it 30m0s (the hold budget)", wantError: "Throttled"},
		{name: "hold expired without instance, default CONTINUE", input: lambdatest.WithState(t, "launch", all(func(s map[string]any) { delete(s, "instance") }, expired("Throttled"))),
			envDefault: workflow.Continue, want: workflow.Continue, wantReason: "DNS work failed (Throttled): CONTINUE per the deployment's default onFailure policy"},
		{name: "hold expired with a bogus policy in the state", input: lambdatest.WithState(t, "launch-failed", setOnFailure("RETRY")), envDefault: workflow.Continue,
			want: workflow.Continue, wantReason: "DNS work failed (Unavailable): CONTINUE per the deployment's default onFailure policy"},
		{name: "command timed out, hold expired", input: lambdatest.WithState(t, "launch", expired("States.Timeout")), envDefault: workflow.Continue,
			want: workflow.Abandon, wantReason: "DNS work failed (States.Timeout): ABANDON per onFailure policy, after holding it 30m0s", wantError: "States.Timeout"},
		// Terminations proceed whatever happened.
		{name: "termination, hold expired, ASG says ABANDON", input: lambdatest.Input(t, "terminate-failed"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (Unavailable): CONTINUE, the instance terminates either way", wantError: "Unavailable"},
		{name: "termination, terminal", input: lambdatest.WithState(t, "terminate", terminal("Conflict")), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (Conflict): CONTINUE, the instance terminates either way", wantError: "Conflict"},
		{name: "termination without instance", input: lambdatest.WithState(t, "terminate-failed", func(s map[string]any) { delete(s, "instance") }),
			envDefault: workflow.Abandon, want: workflow.Continue, wantReason: "DNS work failed (Unavailable): CONTINUE, the instance terminates either way", wantError: "Unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{}
			got, err := newHandler(f, tc.envDefault, io.Discard).Handle(context.Background(), tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 1 || aws.ToString(f.calls[0].LifecycleActionResult) != string(tc.want) {
				t.Fatalf("sent %d calls, want one with %s", len(f.calls), tc.want)
			}
			checkDescribed(t, f, 0)
			if !got.Completed || got.AlreadyCompleted || got.Result != tc.want || !strings.HasPrefix(got.Reason, tc.wantReason) {
				t.Errorf("got %+v, want completed with %s and a reason starting %q", got, tc.want, tc.wantReason)
			}
			if tc.wantError != "" && (got.Error != tc.wantError || !strings.HasSuffix(got.Cause, ": "+got.Reason+".")) {
				t.Errorf("error %q cause %q, want %s and a cause ending in the reason", got.Error, got.Cause, tc.wantError)
			}
		})
	}
}

// completeNothing runs the step on input and asserts it succeeds without
// asking Auto Scaling anything and without completing a lifecycle action;
// the caller checks the reason and error.
func completeNothing(t *testing.T, input []byte) *workflow.LifecycleResult {
	t.Helper()
	f := &fakeAutoScaling{}
	got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 || len(f.described) != 0 {
		t.Errorf("Auto Scaling called %d+%d times, want none", len(f.calls), len(f.described))
	}
	if got.Completed || got.AlreadyCompleted || got.Result != "" {
		t.Errorf("got %+v, want nothing completed", got)
	}
	return got
}

// TestNothingToComplete: events without a token, and other teams' hooks,
// are never completed, whatever happened to the DNS work, and the reason
// says so.
func TestNothingToComplete(t *testing.T) {
	foreign := func(s map[string]any) { s["detail"].(map[string]any)["LifecycleHookName"] = "other-team-bootstrap" }
	cases := []struct {
		name, wantReason string
		input            []byte
		wantError        string
	}{
		{name: "no token", input: lambdatest.Input(t, "launch-no-token"),
			wantReason: "DNS registered; nothing to complete: the event carries no lifecycle action token"},
		{name: "no token, DNS failed", input: lambdatest.WithState(t, "launch-no-token", func(s map[string]any) {
			s["error"] = map[string]any{"Error": "CommandRejected", "Cause": "x"}
		}), wantReason: "DNS work failed (CommandRejected); nothing to complete", wantError: "CommandRejected"},
		{name: "no token, hold expired", input: lambdatest.WithState(t, "launch-no-token", expired("Unavailable")),
			wantReason: "DNS work failed (Unavailable); nothing to complete", wantError: "Unavailable"},
		{name: "replay after the hook expired, token removed", input: lambdatest.WithState(t, "launch", func(s map[string]any) {
			delete(s["detail"].(map[string]any), "LifecycleActionToken")
		}), wantReason: "DNS registered; nothing to complete"},
		{name: "test notification", input: lambdatest.Input(t, "test-notification"), wantReason: "Auto Scaling test notification: nothing to do"},
		{name: "unknown event", input: lambdatest.Input(t, "unknown"), wantReason: "is not one asgdns acts on"},
		{name: "instance launch successful: not a lifecycle action", input: lambdatest.Input(t, "launch-successful"),
			wantReason: "EC2 Instance Launch Successful is not a lifecycle action"},
		{name: "another team's launch hook", input: lambdatest.WithState(t, "launch-into-warm-pool", all(foreign, func(s map[string]any) {
			i := s["instance"].(map[string]any)
			i["action"], i["complete"] = "none", false
			i["reason"] = `lifecycle hook "other-team-bootstrap" is not one of asgdns's (dns-launch, dns-terminate): another team's hook, left untouched`
		})), wantReason: `lifecycle hook "other-team-bootstrap" is not one of asgdns's (dns-launch, dns-terminate): another team's hook, left untouched`},
		{name: "another team's termination hook", input: lambdatest.WithState(t, "terminate", foreign),
			wantReason: `lifecycle hook "other-team-bootstrap" is not one of asgdns's (dns-launch, dns-terminate)`},
		{name: "another team's hook, failed", input: lambdatest.WithState(t, "launch", all(foreign, expired("Unavailable"))),
			wantReason: `DNS work failed (Unavailable); nothing completed: lifecycle hook "other-team-bootstrap" is not one of asgdns's`, wantError: "Unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := completeNothing(t, tc.input)
			if !strings.Contains(got.Reason, tc.wantReason) || got.Error != tc.wantError {
				t.Errorf("got %+v, want error %q and a reason containing %q", got, tc.wantError, tc.wantReason)
			}
		})
	}
}

// TestAlreadyCompleted: no active lifecycle action means a replay, a second
// execution or an expired hook. If the instance is still in its group it
// has been released already, so this is success, reported as such. Only a
// successful registration asks: a failure or a termination has no record
// to take back.
func TestAlreadyCompleted(t *testing.T) {
	for _, tc := range []struct {
		name, input, message, group string
		asked                       int
		want                        sent
	}{
		{name: "by instance id", input: "launch", message: "No active Lifecycle Action found with instance ID " + instanceID, group: "InService",
			asked: 1, want: sent{"dns-launch", launchToken, "CONTINUE"}},
		{name: "still proceeding", input: "launch", message: "No active Lifecycle Action found with instance ID " + instanceID, group: "Pending:Proceed",
			asked: 1, want: sent{"dns-launch", launchToken, "CONTINUE"}},
		{name: "on standby", input: "launch-from-warm-pool", message: "No active Lifecycle Action found with instance ID " + instanceID, group: "Standby",
			asked: 1, want: sent{"dns-launch", "6f4838bc-935e-408b-b484-e02750cd804d", "CONTINUE"}},
		{name: "by token", input: "terminate", message: "No active Lifecycle Action found with token " + termToken,
			want: sent{"dns-terminate", termToken, "CONTINUE"}},
		{name: "after the hold expired", input: "launch-failed", message: "No active Lifecycle Action found with instance ID " + instanceID,
			want: sent{"dns-launch", launchToken, "ABANDON"}},
		{name: "after a terminal failure", input: "launch-conflict", message: "No active Lifecycle Action found with instance ID " + instanceID,
			want: sent{"dns-launch", launchToken, "CONTINUE"}},
		{name: "warm-pool move", input: "launch-into-warm-pool", message: "No active Lifecycle Action found with instance ID " + instanceID,
			want: sent{"dns-launch", "ea44fe9b-a536-49bc-a1e0-c4787d93f748", "CONTINUE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: lambdatest.APIError("ValidationError", tc.message), state: tc.group}
			var logs bytes.Buffer
			got, err := newHandler(f, workflow.Abandon, &logs).Handle(context.Background(), lambdatest.Input(t, tc.input))
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			checkSent(t, f.calls, tc.want)
			checkDescribed(t, f, tc.asked)
			if got.Completed || !got.AlreadyCompleted || string(got.Result) != tc.want.result ||
				!strings.Contains(got.Reason, "; "+tc.want.result+" not applied: the lifecycle action was already completed or the hook timed out") {
				t.Errorf("got %+v", got)
			}
			if !strings.Contains(logs.String(), tc.message) {
				t.Errorf("logs lack Auto Scaling's answer:\n%s", logs.String())
			}
		})
	}
}

// TestLaunchOutlivedItsInstance: a registration whose lifecycle action is
// gone, for an instance leaving or gone from its group, wrote a record for
// nothing: InstanceNotFound sends the state machine back to Describe
// instance, which removes it.
func TestLaunchOutlivedItsInstance(t *testing.T) {
	noAction := lambdatest.APIError("ValidationError", "No active Lifecycle Action found with instance ID "+instanceID)
	for _, tc := range []struct {
		name, group string
		where       string
	}{
		{"terminating", "Terminating:Wait", "Terminating:Wait"},
		{"terminated", "Terminated", "Terminated"},
		{"detaching", "Detaching", "Detaching"},
		{"gone from the group", notInAnyGroup, "not in any group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: noAction, state: tc.group}
			got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch"))
			if workflow.Routed(err) != "InstanceNotFound" || got != nil {
				t.Fatalf("got %+v, %v; want InstanceNotFound", got, err)
			}
			want := `instance "` + instanceID + `": is ` + tc.where + " and its lifecycle action is gone: the launch outlived its instance; " +
				"fix: nothing: the state machine removes the record this launch wrote"
			if err.Error() != want {
				t.Errorf("message %q\nwant    %q", err.Error(), want)
			}
			checkSent(t, f.calls, sent{"dns-launch", launchToken, "CONTINUE"})
			checkDescribed(t, f, 1)
		})
	}
	for _, tc := range []struct {
		name, wantType string
		err            error
		wantInMsg      []string
	}{
		{"throttled", "Throttled", lambdatest.APIError("Throttling", "Rate exceeded"), []string{"autoscaling:DescribeAutoScalingInstances " + instanceID}},
		{"access denied", "AccessDenied", lambdatest.APIError("AccessDenied", "not authorized"),
			[]string{"fix: allow autoscaling:DescribeAutoScalingInstances to the CompleteLifecycle function's role"}},
		{"server error", "Unavailable", lambdatest.APIError("InternalFailure", "internal"), nil},
	} {
		t.Run("group read "+tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: noAction, describeErr: tc.err}
			got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch"))
			if workflow.Routed(err) != tc.wantType || got != nil {
				t.Fatalf("got %+v, %v; want %s", got, err, tc.wantType)
			}
			lambdatest.ErrorContains(t, err, tc.wantInMsg...)
			checkSent(t, f.calls, sent{"dns-launch", launchToken, "CONTINUE"})
			checkDescribed(t, f, 1)
		})
	}
}

// TestUndone: once Describe instance has turned a launch into the removal
// of its record, there is no lifecycle action left to complete (it went
// with the instance): no call, and the reason says what happened.
func TestUndone(t *testing.T) {
	for _, tc := range []struct {
		name       string
		input      []byte
		wantReason string
		wantError  string
	}{
		{name: "record removed", input: lambdatest.Input(t, "launch-undone"),
			wantReason: "the launch outlived its instance (Terminating:Wait): DNS deregistered, so no record is left for it; its lifecycle action is gone with it"},
		{name: "removal failed", input: lambdatest.WithState(t, "launch-undone", terminal("AccessDenied")),
			wantReason: "the launch outlived its instance (Terminating:Wait): DNS work failed (AccessDenied), so no record is left for it", wantError: "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := completeNothing(t, tc.input)
			if !strings.HasPrefix(got.Reason, tc.wantReason) || got.Error != tc.wantError {
				t.Errorf("got %+v, want reason %q, error %q", got, tc.wantReason, tc.wantError)
			}
		})
	}
	// A termination that deregisters is no undone launch: it is completed.
	f := &fakeAutoScaling{}
	if got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.Input(t, "terminate")); err != nil || !got.Completed {
		t.Errorf("termination: %+v, %v", got, err)
	}
	checkSent(t, f.calls, sent{"dns-terminate", termToken, "CONTINUE"})
}

// TestErrors lists every error name CompleteLifecycle can return, with what
// causes it and whether Auto Scaling was called.
func TestErrors(t *testing.T) {
	detail := func(change func(d map[string]any)) []byte {
		return lambdatest.WithState(t, "launch", func(s map[string]any) { change(s["detail"].(map[string]any)) })
	}
	cases := []struct {
		name      string
		input     []byte
		err       error
		wantType  string
		wantInMsg []string
	}{
		{name: "malformed JSON", input: []byte(`{"execution": "x", "state": {`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "wrong source", input: lambdatest.WithState(t, "launch", func(s map[string]any) { s["source"] = "aws.ec2" }),
			wantType: "InvalidEvent", wantInMsg: []string{`source "aws.ec2"`}},
		{name: "transition contradicts detail-type", input: detail(func(d map[string]any) { d["LifecycleTransition"] = workflow.TransitionTerminating }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleTransition"}},
		{name: "token not a UUID", input: detail(func(d map[string]any) { d["LifecycleActionToken"] = "x$(id)" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleActionToken"}},
		{name: "hook name missing", input: detail(func(d map[string]any) { delete(d, "LifecycleHookName") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleHookName"}},
		{name: "ASG missing", input: detail(func(d map[string]any) { delete(d, "AutoScalingGroupName") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.AutoScalingGroupName"}},
		{name: "instance id malformed", input: detail(func(d map[string]any) { d["EC2InstanceId"] = "i-XYZ" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "no such hook", err: lambdatest.APIError("ValidationError", "No Lifecycle Hook found with name dns-launch for group web-prod"),
			wantType: "InvalidEvent", wantInMsg: []string{`detail.LifecycleHookName "dns-launch"`, `ASG "web-prod"`, "No Lifecycle Hook found", "fix:"}},
		{name: "throttled", err: lambdatest.APIError("Throttling", "Rate exceeded"), wantType: "Throttled",
			wantInMsg: []string{"autoscaling:CompleteLifecycleAction web-prod", "Rate exceeded"}},
		{name: "access denied", err: lambdatest.HTTPError("AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/asgdns-complete/x is not authorized to perform: autoscaling:CompleteLifecycleAction", 403),
			wantType: "AccessDenied", wantInMsg: []string{"not authorized", `fix: allow autoscaling:CompleteLifecycleAction on ASG "web-prod"`}},
		{name: "server error", err: lambdatest.HTTPError("InternalFailure", "internal", 500), wantType: "Unavailable"},
		{name: "resource contention", err: lambdatest.APIError("ResourceContention", "You already have a pending update to an Auto Scaling resource"),
			wantType: "Unavailable"},
		{name: "timeout", err: fmt.Errorf("operation error Auto Scaling: CompleteLifecycleAction: %w", context.DeadlineExceeded),
			wantType: "Unavailable", wantInMsg: []string{"timed out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: tc.err}
			got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.InputOr(t, tc.input, "launch"))
			lambdatest.Failure(t, got, err, tc.wantType, tc.wantInMsg...)
			if tc.err == nil && len(f.calls) != 0 {
				t.Errorf("CompleteLifecycleAction called after a validation failure")
			}
			if tc.err != nil {
				checkSent(t, f.calls, sent{"dns-launch", launchToken, "CONTINUE"})
			}
			checkDescribed(t, f, 0)
		})
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, &logs).Handle(context.Background(), lambdatest.Input(t, "launch-failed")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"execution":"0d5c1f6e-asgdns-test-execution"`, `"instanceId":"`+instanceID+`"`,
		`"asg":"web-prod"`, `"result":"ABANDON"`, `"reason":"DNS work failed (Unavailable): ABANDON per onFailure policy, after holding it 1m12s (the hold budget)"`)
}

func BenchmarkHandle(b *testing.B) {
	f := &fakeAutoScaling{}
	h := newHandler(f, workflow.Abandon, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.calls = f.calls[:0] // keep the fake's record out of the count
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFailureCause: the Fail state's cause names what failed and what became
// of the instance, whether the caught cause is a Lambda error or plain text.
func TestFailureCause(t *testing.T) {
	for _, tc := range []struct{ caught, want string }{
		{`{"errorMessage":"zone corp.example.com is not served; fix: serve it","errorType":"States.Timeout"}`,
			`zone corp.example.com is not served; fix: serve it. For instance i-0a1b2c3d4e5f60718 of ASG "web-prod": ` +
				`DNS work failed (States.Timeout): ABANDON per onFailure policy, after holding it 30m0s (the hold budget).`},
		{"Task timed out after 30 seconds", `Task timed out after 30 seconds. For instance i-0a1b2c3d4e5f60718 of ASG "web-prod": DNS work failed (States.Timeout)`},
	} {
		input := lambdatest.WithState(t, "launch", func(s map[string]any) {
			expired("States.Timeout")(s)
			s["commandError"].(map[string]any)["Cause"] = tc.caught
		})
		got, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, io.Discard).Handle(context.Background(), input)
		if err != nil {
			t.Fatal(err)
		}
		if got.Error != "States.Timeout" || !strings.HasPrefix(got.Cause, tc.want) {
			t.Errorf("error %q cause %q, want %q…", got.Error, got.Cause, tc.want)
		}
	}
	// While the instance is held, the transient error is no failure yet.
	for _, name := range []string{"launch", "launch-after-hold"} {
		ok, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
		if err != nil || ok.Error != "" || ok.Cause != "" || ok.Result != workflow.Continue {
			t.Errorf("%s: success carries a failure: %+v %v", name, ok, err)
		}
	}
}
