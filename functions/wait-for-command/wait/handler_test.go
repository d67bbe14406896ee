package wait

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	fixtureInstance = "i-0a1b2c3d4e5f60718"
	execution       = "0d5c1f6e-asgdns-test-execution"
	dc1             = "i-0123456789abcdef0"
	dc2             = "i-0fedcba9876543210"
	commandID       = "4f1c2a9e-7b3d-4e6f-9a8b-0c1d2e3f4a5b" // the launch input's command
	roleARN         = "arn:aws:iam::222222222222:role/asgdns-dns"
	externalID      = "asgdns-external-id-test"
)

// sentAt is when the launch input's command was sent; resentAt when the
// launch-resent input's, after a hold; undoneAt the launch-undo input's.
var (
	sentAt   = time.Date(2026, 11, 20, 8, 15, 50, 0, time.UTC)
	resentAt = time.Date(2026, 11, 20, 8, 16, 3, 0, time.UTC)
	undoneAt = time.Date(2026, 11, 20, 8, 15, 58, 0, time.UTC)
)

// clock is a fake clock: Sleep returns at once and moves Now on.
type clock struct {
	now      time.Time
	slept    []time.Duration
	sleepErr error
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	if c.sleepErr != nil {
		return c.sleepErr
	}
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

// answer is one GetCommandInvocation response: an invocation or an error.
type answer struct {
	status, details string
	code            int32
	stdout, stderr  string
	err             error
}

var (
	pending    = answer{status: "Pending", details: "Pending", code: -1}
	inProgress = answer{status: "InProgress", details: "In Progress", code: -1}
	delayed    = answer{status: "Delayed", details: "Delayed", code: -1}
	notYet     = answer{err: apiError("InvocationDoesNotExist")}
)

const (
	fqdn  = "web-prod-i-0a1b2c3d4e5f60718.corp.example.com"
	owner = "111111111111/i-0ffffffffffffffff" // another instance of the account
)

// docLine is the DNS command's last line on stdout, printed as the
// document's result function prints it: every field, empty or not.
func docLine(o workflow.CommandOutcome) string {
	return fmt.Sprintf(`{"asgdns":1,"outcome":"%s","fqdn":"%s","ip":"%s","ptr":"%s","rcode":"%s","owner":"%s","message":"%s"}`,
		o.Outcome, o.FQDN, o.IP, o.PTR, o.Rcode, o.Owner, o.Message)
}

// resultLine is the result line for the launch input's instance.
func resultLine(outcome, message string) string {
	return docLine(workflow.CommandOutcome{Outcome: outcome, FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Message: message})
}

// success is a command that exited 0: the document prints its result line
// and nothing else.
func success(outcome string) answer {
	return answer{status: "Success", details: "Success", code: 0, stdout: resultLine(outcome, "A record "+outcome) + "\n"}
}

// conflict is a command that found the name held by someone else.
func conflict(holder, message string) answer {
	return answer{status: "Failed", details: "Failed", code: 30, stdout: docLine(workflow.CommandOutcome{
		Outcome: "conflict", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Owner: holder, Message: message}) + "\n"}
}

func failed(details string, code int32, outcome, message, stderr string) answer {
	status := "Failed"
	switch details {
	case "Delivery Timed Out", "Execution Timed Out":
		status = "TimedOut"
	case "Cancelled":
		status = "Cancelled"
	}
	a := answer{status: status, details: details, code: code, stderr: stderr}
	if outcome != "" {
		a.stdout = "checking ownership\n" + resultLine(outcome, message) + "\n"
	}
	return a
}

// pollCall is one GetCommandInvocation call as the fake saw it.
type pollCall = lambdatest.Call[ssm.GetCommandInvocationInput, ssm.Options]

// fakeSSM answers from a script; the last answer repeats.
type fakeSSM struct {
	answers []answer
	calls   []pollCall
}

func (f *fakeSSM) GetCommandInvocation(_ context.Context, in *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	f.calls = append(f.calls, pollCall{In: in, OptFns: optFns})
	a := f.answers[min(len(f.calls), len(f.answers))-1]
	if a.err != nil {
		return nil, a.err
	}
	return &ssm.GetCommandInvocationOutput{
		CommandId: in.CommandId, InstanceId: in.InstanceId, PluginName: in.PluginName,
		Status: types.CommandInvocationStatus(a.status), StatusDetails: aws.String(a.details), ResponseCode: a.code,
		StandardOutputContent: aws.String(a.stdout), StandardErrorContent: aws.String(a.stderr),
	}, nil
}

// fakeHeartbeats records lifecycle heartbeats.
type fakeHeartbeats struct {
	mu    sync.Mutex
	calls []*autoscaling.RecordLifecycleActionHeartbeatInput
	err   error
}

func (f *fakeHeartbeats) RecordLifecycleActionHeartbeat(_ context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, _ ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, f.err
}

func newHandler(f *fakeSSM, c *clock, s *lambdatest.Sessions, logs io.Writer) *Handler {
	return &Handler{
		SSM: f, AutoScaling: &fakeHeartbeats{}, Credentials: s.For, Budget: DefaultBudget, Hooks: lambdatest.FixtureHooks, Now: c.Now, Sleep: c.Sleep,
		Log: lambdatest.JSONLogger(logs, slog.LevelDebug),
	}
}

// after returns a clock d after the launch input's command was sent.
func after(d time.Duration) *clock { return &clock{now: sentAt.Add(d)} }

func withCommand(t testing.TB, change func(cmd map[string]any)) []byte {
	return lambdatest.WithState(t, "launch", func(s map[string]any) { change(s["command"].(map[string]any)) })
}

// TestFixtures runs each testdata input against a scripted invocation and
// compares the result with its golden file: the step's output, or for a
// failure the error as the state machine's Catch records it, which is what
// the next step's input holds.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string // testdata/<input>.input.json; the name when empty
		start   time.Time
		answers []answer
		calls   int
		wantErr string
	}{
		// Running at first sight, done one second later.
		{name: "launch", start: sentAt.Add(3 * time.Second), answers: []answer{inProgress, success("created")}, calls: 2},
		{name: "terminate", start: sentAt.Add(23 * time.Second), answers: []answer{success("deleted")}, calls: 1},
		// The zone of this one comes from the stack, not from metadata.
		{name: "launch-from-warm-pool", start: time.Date(2026, 11, 20, 8, 15, 48, 0, time.UTC), calls: 1,
			answers: []answer{{status: "Success", details: "Success", stdout: docLine(workflow.CommandOutcome{Outcome: "replaced",
				FQDN: "web-prod-i-0a1b2c3d4e5f60718.apps.example.com", IP: "10.20.30.40", PTR: "off", Message: "A record replaced"}) + "\n"}}},
		// Started without a token for an instance already registered.
		{name: "launch-no-token", start: time.Date(2026, 11, 20, 8, 17, 0, 0, time.UTC), calls: 1,
			answers: []answer{{status: "Success", details: "Success", stdout: docLine(workflow.CommandOutcome{Outcome: "unchanged",
				FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Message: "A record unchanged"}) + "\n"}}},
		// Still running when the budget is spent: the Choice waits and
		// polls again…
		{name: "launch-running", input: "launch", start: sentAt.Add(3 * time.Second), answers: []answer{inProgress}, calls: 7},
		// …and the second invocation finds it running still.
		{name: "launch-still-running", start: sentAt.Add(28 * time.Second), answers: []answer{inProgress}, calls: 7},
		// The first DC never got the command: transient, the instance is
		// held and the next try goes to the next DC.
		{name: "launch-undeliverable", input: "launch", start: sentAt.Add(3 * time.Second),
			answers: []answer{failed("Undeliverable", -1, "", "", "")}, calls: 1, wantErr: "Unavailable"},
		// The DNS server failed the update: transient too.
		{name: "terminate-servfail", input: "terminate", start: sentAt.Add(23 * time.Second), answers: []answer{{status: "Failed", details: "Failed",
			code: 20, stdout: docLine(workflow.CommandOutcome{Outcome: "dns-error", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Rcode: "SERVFAIL",
				Message: "the update of " + fqdn + " failed: nothing was changed"}) + "\n"}}, calls: 1, wantErr: "Unavailable"},
		// The termination's next round, re-sent at 08:16:23: the next DC
		// does not pick the command up either, through two invocations and
		// the Choice's waits…
		{name: "terminate-held-pending", input: "terminate-held", start: time.Date(2026, 11, 20, 8, 16, 25, 0, time.UTC),
			answers: []answer{notYet, pending}, calls: 7},
		{name: "terminate-held-still-pending", start: time.Date(2026, 11, 20, 8, 16, 49, 0, time.UTC), answers: []answer{pending}, calls: 7},
		// …until SSM ends it, SendCommand's delivery timeout (60 s) after it
		// was sent, at 08:17:23: held again.
		{name: "terminate-held-timed-out", start: time.Date(2026, 11, 20, 8, 17, 18, 0, time.UTC),
			answers: []answer{pending, pending, pending, pending, failed("Delivery Timed Out", -1, "", "", "")}, calls: 5, wantErr: "Unavailable"},
		// Another instance holds the name: terminal, nothing to wait for.
		{name: "launch-conflict", input: "launch", start: sentAt.Add(3 * time.Second),
			answers: []answer{conflict(owner, fqdn+" is owned by "+owner+": nothing was changed")}, calls: 1, wantErr: "Conflict"},
		// After a hold, the command re-sent to the next DC: not visible at
		// once, then delayed, then done.
		{name: "launch-resent", start: resentAt.Add(time.Second), answers: []answer{notYet, delayed, success("created")}, calls: 3},
		// Or the next DC does not pick it up either: pending through two
		// invocations and the Choice's waits (5 s, then 10 s)…
		{name: "launch-resent-pending", input: "launch-resent", start: resentAt.Add(time.Second),
			answers: []answer{notYet, pending}, calls: 7},
		{name: "launch-resent-still-pending", start: resentAt.Add(25 * time.Second), answers: []answer{pending}, calls: 7},
		// …until SSM ends it, SendCommand's delivery timeout (60 s) after it
		// was sent: seen on the fifth poll of the third invocation, at
		// 08:17:05. Held again.
		{name: "launch-resent-timed-out", start: resentAt.Add(54 * time.Second),
			answers: []answer{pending, pending, pending, pending, failed("Delivery Timed Out", -1, "", "", "")}, calls: 5, wantErr: "Unavailable"},
		// The launch outlived its instance: the record it wrote is removed.
		{name: "launch-undo", start: undoneAt.Add(2 * time.Second), answers: []answer{success("deleted")}, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.input
			if input == "" {
				input = tc.name
			}
			f := &fakeSSM{answers: tc.answers}
			got, err := newHandler(f, &clock{now: tc.start}, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), lambdatest.Input(t, input))
			if name := workflow.Routed(err); name != tc.wantErr || (err != nil && tc.wantErr == "") {
				t.Fatalf("Handle: %v (%s), want %q", err, name, tc.wantErr)
			}
			if len(f.calls) != tc.calls {
				t.Errorf("GetCommandInvocation called %d times, want %d", len(f.calls), tc.calls)
			}
			if err != nil {
				lambdatest.Golden(t, "testdata/"+tc.name+".golden.json", lambdatest.Caught(t, err))
				return
			}
			lambdatest.Golden(t, "testdata/"+tc.name+".golden.json", got)
		})
	}
}

// TestWhatIsSent: every poll reads the command's invocation on its DC, for
// the step that ran, with the shared-services session of this execution.
func TestWhatIsSent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		input     []byte
		id, dc    string
		step      string
		sessionOf string // the instance whose session signs the call
	}{
		{"windows", lambdatest.Input(t, "launch"), commandID, dc1, workflow.StepWindows, fixtureInstance},
		{"re-sent to the second DC", lambdatest.Input(t, "launch-resent"), "c3b2a190-8f7e-4d6c-9b5a-4f3e2d1c0b9a", dc2, workflow.StepWindows, fixtureInstance},
		{"linux", withCommand(t, func(c map[string]any) { c["step"] = workflow.StepLinux }), commandID, dc1, workflow.StepLinux, fixtureInstance},
		{"no instance section", lambdatest.WithState(t, "launch", func(s map[string]any) { delete(s, "instance") }), commandID, dc1, workflow.StepWindows, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, s := &fakeSSM{answers: []answer{pending, inProgress, success("created")}}, &lambdatest.Sessions{}
			if _, err := newHandler(f, after(time.Second), s, io.Discard).Handle(context.Background(), tc.input); err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 3 {
				t.Fatalf("%d calls, want 3", len(f.calls))
			}
			for i, c := range f.calls {
				if got := [3]string{aws.ToString(c.In.CommandId), aws.ToString(c.In.InstanceId), aws.ToString(c.In.PluginName)}; got != [3]string{tc.id, tc.dc, tc.step} {
					t.Errorf("call %d asked for %v, want command %s on %s, plugin %s", i, got, tc.id, tc.dc, tc.step)
				}
				if got, ok := c.Options().Credentials.(*lambdatest.Session); !ok || *got != (lambdatest.Session{InstanceID: tc.sessionOf, Execution: execution}) {
					t.Errorf("call %d credentials = %#v, want the session for %q/%s", i, c.Options().Credentials, tc.sessionOf, execution)
				}
			}
			if len(s.Asked) != 1 {
				t.Errorf("asked for %d sessions, want 1 per invocation", len(s.Asked))
			}
		})
	}
}

// TestPolling covers the schedule inside one invocation: the waits, the
// budget, and InvocationDoesNotExist inside and beyond the grace period.
func TestPolling(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name      string
		start     time.Duration // after the command was sent
		budget    time.Duration
		answers   []answer
		wantSlept []time.Duration
		wantDone  bool
		wantErr   string
		status    string
		details   string
	}{
		{name: "success at once", start: 3 * s, answers: []answer{success("created")},
			wantDone: true, status: "Success", details: "Success"},
		{name: "not yet, then success", start: 3 * s, answers: []answer{pending, inProgress, inProgress, success("created")},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond, 2250 * time.Millisecond}, wantDone: true, status: "Success"},
		{name: "cancelling is not an end", start: 3 * s, answers: []answer{{status: "Cancelling", details: "Cancelling", code: -1}, success("created")},
			wantSlept: []time.Duration{s}, wantDone: true, status: "Success"},
		{name: "budget exhausted", start: 3 * s, answers: []answer{inProgress},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 5 * s, 5 * s},
			status:    "InProgress", details: "In Progress"},
		{name: "smaller budget", start: 3 * s, budget: 5 * s, answers: []answer{delayed},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond, 2250 * time.Millisecond}, status: "Delayed", details: "Delayed"},
		{name: "budget 0 polls once", start: 3 * s, budget: -1, answers: []answer{pending}, status: "Pending", details: "Pending"},
		{name: "not visible, then success", start: 2 * s, answers: []answer{notYet, notYet, success("created")},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond}, wantDone: true, status: "Success"},
		{name: "not visible for the whole budget", start: 0, answers: []answer{notYet},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 5 * s, 5 * s},
			status:    "Pending", details: notVisible},
		{name: "not visible beyond the grace period", start: 31 * s, answers: []answer{notYet}, wantErr: "Unavailable"},
		{name: "grace runs out while polling", start: 25 * s, answers: []answer{notYet},
			wantSlept: []time.Duration{s, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond}, wantErr: "Unavailable"},
		{name: "fails after running", start: 3 * s, answers: []answer{inProgress, failed("Failed", 1, "", "", "line 12: syntax error")},
			wantSlept: []time.Duration{s}, wantErr: "CommandFailed"},
		{name: "DNS server down after running", start: 3 * s, answers: []answer{inProgress, failed("Failed", 20, "dns-error", "no answer from the DNS server", "")},
			wantSlept: []time.Duration{s}, wantErr: "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := &fakeSSM{answers: tc.answers}, after(tc.start)
			h := newHandler(f, c, &lambdatest.Sessions{}, io.Discard)
			switch {
			case tc.budget > 0:
				h.Budget = tc.budget
			case tc.budget < 0:
				h.Budget = 0
			}
			got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch"))
			if name := workflow.Routed(err); name != tc.wantErr {
				t.Fatalf("error %v (%s), want %q", err, name, tc.wantErr)
			}
			if !slices.Equal(c.slept, tc.wantSlept) {
				t.Errorf("slept %v, want %v", c.slept, tc.wantSlept)
			}
			if len(f.calls) != len(tc.wantSlept)+1 {
				t.Errorf("%d polls for %d sleeps", len(f.calls), len(c.slept))
			}
			if total := c.now.Sub(sentAt.Add(tc.start)); total > h.Budget {
				t.Errorf("polled for %v, beyond the %v budget", total, h.Budget)
			}
			if err != nil {
				return
			}
			if got.Done != tc.wantDone || got.Status != tc.status || (tc.details != "" && got.StatusDetails != tc.details) {
				t.Errorf("got done=%v %s (%s), want done=%v %s (%s)", got.Done, got.Status, got.StatusDetails, tc.wantDone, tc.status, tc.details)
			}
			if got.Done != (got.NextWaitSeconds == 0) {
				t.Errorf("done=%v with nextWaitSeconds %d", got.Done, got.NextWaitSeconds)
			}
			if !got.Done && got.ResponseCode != -1 {
				t.Errorf("responseCode %d while not done, want -1", got.ResponseCode)
			}
		})
	}
}

// TestDeadlineBoundsTheBudget: the poller never runs into the Lambda
// deadline, whatever the budget says.
func TestDeadlineBoundsTheBudget(t *testing.T) {
	// The fake clock starts at the real time so the context deadline (real
	// time) and the handler's clock agree; the test still never sleeps.
	c := &clock{now: time.Now()}
	ctx, cancel := context.WithDeadline(context.Background(), c.now.Add(6*time.Second))
	defer cancel()
	f := &fakeSSM{answers: []answer{inProgress}}
	got, err := newHandler(f, c, &lambdatest.Sessions{}, io.Discard).Handle(ctx, lambdatest.Input(t, "launch"))
	if err != nil {
		t.Fatal(err)
	}
	// 6 s deadline - 0.5 s headroom - 2 s for the last call: polls at 0, 1
	// and 2.5 s; the next would be at 4.75 s.
	if want := []time.Duration{time.Second, 1500 * time.Millisecond}; !slices.Equal(c.slept, want) || len(f.calls) != 3 {
		t.Errorf("slept %v over %d polls, want %v over 3", c.slept, len(f.calls), want)
	}
	if got.Done || got.NextWaitSeconds != 5 {
		t.Errorf("got %+v, want not done, next wait 5", got)
	}
}

// TestHeartbeat: when the state machine goes on after this poll (to wait
// and poll again, or to hold the instance and try again) asgdns's own
// lifecycle hook gets a heartbeat (best effort); a finished command, an
// event without a token and another team's hook get none.
func TestHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []answer
		input   []byte
		err     error
		wantErr string
		want    int
	}{
		{name: "still running", answers: []answer{inProgress}, want: 1},
		{name: "heartbeat refused is only logged", answers: []answer{inProgress}, err: apiError("ValidationError"), want: 1},
		{name: "done", answers: []answer{success("created")}, want: 0},
		{name: "failed, may be re-sent", answers: []answer{{status: "Failed", details: "Failed", code: 20}}, wantErr: "CommandFailed", want: 1},
		{name: "succeeded without a result line", answers: []answer{{status: "Success", details: "Success", stdout: "done\n"}}, wantErr: "CommandFailed", want: 1},
		{name: "undeliverable", answers: []answer{failed("Undeliverable", -1, "", "", "")}, wantErr: "Unavailable", want: 1},
		{name: "conflict", answers: []answer{conflict(owner, "taken")}, wantErr: "Conflict", want: 1},
		{name: "no token", answers: []answer{inProgress}, want: 0, input: lambdatest.WithState(t, "launch", func(s map[string]any) {
			delete(s["detail"].(map[string]any), "LifecycleActionToken")
		})},
		{name: "another team's hook, still running", answers: []answer{inProgress}, want: 0, input: lambdatest.WithState(t, "launch", func(s map[string]any) {
			s["detail"].(map[string]any)["LifecycleHookName"] = "other-team-bootstrap"
		})},
		{name: "another team's hook, failed", answers: []answer{failed("Undeliverable", -1, "", "", "")}, wantErr: "Unavailable", want: 0,
			input: lambdatest.WithState(t, "launch", func(s map[string]any) {
				s["detail"].(map[string]any)["LifecycleHookName"] = "other-team-bootstrap"
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.input
			if input == nil {
				input = lambdatest.Input(t, "launch")
			}
			hb := &fakeHeartbeats{err: tc.err}
			h := newHandler(&fakeSSM{answers: tc.answers}, after(3*time.Second), &lambdatest.Sessions{}, io.Discard)
			h.AutoScaling, h.Budget = hb, 0
			if _, err := h.Handle(context.Background(), input); workflow.Routed(err) != tc.wantErr || (err != nil && tc.wantErr == "") {
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
			if len(hb.calls) != tc.want {
				t.Fatalf("%d heartbeats, want %d", len(hb.calls), tc.want)
			}
			if tc.want == 1 {
				in := hb.calls[0]
				if *in.AutoScalingGroupName != "web-prod" || *in.LifecycleHookName != "dns-launch" ||
					*in.LifecycleActionToken != "b9784c10-c448-48d1-b6cd-b8489f4ebc34" || *in.InstanceId != "i-0a1b2c3d4e5f60718" {
					t.Errorf("sent %+v", in)
				}
			}
		})
	}
}

// TestPollsAndNextWait: polls count invocations for one command, the
// state machine's wait grows with them, and a re-sent command starts over.
func TestPollsAndNextWait(t *testing.T) {
	for _, tc := range []struct {
		previous  *workflow.InvocationResult
		polls     int
		nextWaitS int
	}{
		{nil, 1, 5},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 1}, 2, 10},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 2}, 3, 20},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 3}, 4, 40},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 4}, 5, 60},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 5}, 6, 60},
		{&workflow.InvocationResult{CommandID: commandID, Polls: 99}, 100, 60},
		{&workflow.InvocationResult{CommandID: "c3b2a190-8f7e-4d6c-9b5a-4f3e2d1c0b9a", Polls: 4}, 1, 5}, // re-sent
	} {
		prev := "none"
		if tc.previous != nil {
			prev = fmt.Sprintf("%s/%d", tc.previous.CommandID[:8], tc.previous.Polls)
		}
		t.Run(prev, func(t *testing.T) {
			input := lambdatest.WithState(t, "launch", func(s map[string]any) {
				if tc.previous != nil {
					s["invocation"] = tc.previous
				}
			})
			h := newHandler(&fakeSSM{answers: []answer{inProgress}}, after(time.Second), &lambdatest.Sessions{}, io.Discard)
			h.Budget = 0
			got, err := h.Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			if got.Polls != tc.polls || got.NextWaitSeconds != tc.nextWaitS || got.CommandID != commandID {
				t.Errorf("got polls %d, next wait %d for %s; want %d, %d for %s",
					got.Polls, got.NextWaitSeconds, got.CommandID, tc.polls, tc.nextWaitS, commandID)
			}
		})
	}
}

func TestOutputIsTrimmed(t *testing.T) {
	stdout := strings.Repeat("line of progress é\n", 400) + resultLine("replaced", "") + "\n\n"
	stderr := strings.Repeat("warning: slow zone transfer\n", 100) + "last warning"
	f := &fakeSSM{answers: []answer{{status: "Success", details: "Success", stdout: stdout, stderr: stderr}}}
	got, err := newHandler(f, after(time.Second), &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Result == nil || got.Result.Outcome != "replaced" {
		t.Errorf("result %+v, want outcome replaced", got.Result)
	}
	out, errPart, ok := strings.Cut(got.Output, "\nstderr: ")
	if !ok {
		t.Fatalf("output has no stderr part: %q", got.Output)
	}
	if len(out) > 1000 || !strings.HasPrefix(out, "…") || !strings.HasSuffix(out, "line of progress é") || strings.Contains(out, `{"asgdns"`) {
		t.Errorf("stdout part is %d bytes (max 1000) and should end with the last line before the result line, which Result holds: %q", len(out), out)
	}
	if len(errPart) > 500 || !strings.HasPrefix(errPart, "…") || !strings.HasSuffix(errPart, "last warning") {
		t.Errorf("stderr part is %d bytes (max 500) and should end with the last line: %q", len(errPart), errPart)
	}
	if strings.ToValidUTF8(got.Output, "?") != got.Output {
		t.Error("output was cut inside a character")
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"  short\n", 10, "short"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "…efghijk"},
		{"éééé", 6, "…é"}, // the cut lands inside a character and moves past it
		{"", 10, ""},
	} {
		if got := tail(tc.in, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from fake"}
}

// stsError is how the SDK reports a refused AssumeRole made while signing an
// SSM call: an SSM operation error wrapping the STS one.
func stsError(code string) error {
	return lambdatest.CredentialsError("SSM", "GetCommandInvocation", apiError(code))
}

// TestErrors lists every error this step can return and the SDK error or
// invocation status that causes it. InvalidConfig happens only at init;
// InvalidHostname and InstanceNotFound belong to other steps.
func TestErrors(t *testing.T) {
	logs := "CloudWatch Logs, log group aws/ssm/asgdns-dns-record, streams " + commandID + "/" + dc1 + "/"
	where := "command " + commandID + " on " + dc1
	cases := []struct {
		name      string
		input     []byte
		answers   []answer
		sleepErr  error
		wantType  string
		wantCalls int
		wantInMsg []string
	}{
		// Validation: nothing read, no role assumed.
		{name: "malformed JSON", input: []byte(`{"execution":"x","state":`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "no command", input: lambdatest.WithState(t, "launch", func(s map[string]any) { delete(s, "command") }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.command", "missing", "SendCommand"}},
		{name: "no command id", input: withCommand(t, func(c map[string]any) { c["commandId"] = "" }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.command.commandId"}},
		{name: "DC id with shell", input: withCommand(t, func(c map[string]any) { c["dcInstanceId"] = "i-0123;reboot" }),
			wantType: "InvalidEvent", wantInMsg: []string{`state.command.dcInstanceId "i-0123;reboot"`}},
		{name: "unknown step", input: withCommand(t, func(c map[string]any) { c["step"] = "aws:runShellScript" }),
			wantType: "InvalidEvent", wantInMsg: []string{`state.command.step "aws:runShellScript"`, workflow.StepLinux}},
		{name: "no sentAt", input: withCommand(t, func(c map[string]any) { delete(c, "sentAt") }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.command.sentAt", "grace"}},
		// The call itself.
		{name: "throttled", answers: []answer{{err: apiError("ThrottlingException")}}, wantType: "Throttled", wantCalls: 1,
			wantInMsg: []string{"ssm:GetCommandInvocation " + commandID + " on " + dc1}},
		{name: "server error", answers: []answer{{err: apiError("InternalServerError")}}, wantType: "Unavailable", wantCalls: 1},
		{name: "DC not online", answers: []answer{{err: apiError("InvalidInstanceId")}}, wantType: "Unavailable", wantCalls: 1},
		{name: "invocation never appeared", input: withCommand(t, func(c map[string]any) { c["sentAt"] = "2026-11-20T08:14:00Z" }),
			answers: []answer{notYet}, wantType: "Unavailable", wantCalls: 1,
			wantInMsg: []string{"does not exist 1m53s after the command was sent (grace 30s)", "InvocationDoesNotExist", "next DC"}},
		{name: "step not in document", answers: []answer{{err: apiError("InvalidPluginName")}}, wantType: "CommandRejected", wantCalls: 1,
			wantInMsg: []string{"InvalidPluginName", "has the step manageWindowsDns"}},
		{name: "SSM access denied", answers: []answer{{err: apiError("AccessDeniedException")}}, wantType: "AccessDenied", wantCalls: 1,
			wantInMsg: []string{"may ssm:GetCommandInvocation"}},
		{name: "AssumeRole refused", answers: []answer{{err: stsError("AccessDenied")}}, wantType: "AccessDenied", wantCalls: 1,
			wantInMsg: []string{"sts:AssumeRole (credentials for ssm:GetCommandInvocation", "trusts this function's role"}},
		{name: "AssumeRole unavailable", answers: []answer{{err: stsError("InternalFailure")}}, wantType: "Unavailable", wantCalls: 1},
		{name: "waiting interrupted", answers: []answer{inProgress}, sleepErr: context.Canceled, wantType: "Unavailable", wantCalls: 1,
			wantInMsg: []string{where, "interrupted"}},
		// The DC never ran it: worth the next DC.
		{name: "undeliverable", answers: []answer{failed("Undeliverable", -1, "", "", "")}, wantType: "Unavailable", wantCalls: 1,
			wantInMsg: []string{where, "(Undeliverable)", "exit code -1", "Online in Fleet Manager", "next DC", logs}},
		{name: "delivery timed out", answers: []answer{failed("Delivery Timed Out", -1, "", "", "")}, wantType: "Unavailable", wantCalls: 1,
			wantInMsg: []string{"ended TimedOut (Delivery Timed Out)"}},
		{name: "delivery timed out, other spelling", answers: []answer{failed("DeliveryTimedOut", -1, "", "", "")}, wantType: "Unavailable", wantCalls: 1},
		{name: "terminated by MaxErrors", answers: []answer{failed("Terminated", -1, "", "", "")}, wantType: "Unavailable", wantCalls: 1},
		// Refused on the DC.
		{name: "access denied on the DC", answers: []answer{failed("Access Denied", -1, "", "", "")}, wantType: "AccessDenied", wantCalls: 1,
			wantInMsg: []string{where, "(Access Denied)", "may ssm:SendCommand the document on this DC", logs}},
		{name: "invalid platform", answers: []answer{failed("Invalid Platform", -1, "", "", "")}, wantType: "CommandRejected", wantCalls: 1,
			wantInMsg: []string{where, "(Invalid Platform)", "dcPlatform", logs}},
		{name: "invalid platform, other spelling", answers: []answer{failed("InvalidPlatform", -1, "", "", "")}, wantType: "CommandRejected", wantCalls: 1},
		// It ran and failed: the reason says what the document reported.
		{name: "name owned by another instance", answers: []answer{conflict(owner, fqdn+" is owned by "+owner+": nothing was changed")},
			wantType: "Conflict", wantCalls: 1,
			wantInMsg: []string{where, "ended Failed (Failed)", "exit code 30",
				`outcome conflict "` + fqdn + ` is owned by ` + owner + `: nothing was changed"`, "no stderr", "remove them", "replay"}},
		{name: "conflict whose message does not name the owner", answers: []answer{conflict(owner, fqdn+" changed while it was being updated: nothing was changed")},
			wantType: "Conflict", wantCalls: 1,
			wantInMsg: []string{`outcome conflict owner ` + owner + ` "` + fqdn + ` changed while it was being updated: nothing was changed"`}},
		{name: "DNS server refused", answers: []answer{{status: "Failed", details: "Failed", code: 20, stdout: docLine(workflow.CommandOutcome{
			Outcome: "dns-error", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Rcode: "REFUSED", Message: "the update of " + fqdn + " failed: nothing was changed"})}},
			wantType: "AccessDenied", wantCalls: 1,
			wantInMsg: []string{"exit code 20", `outcome dns-error rcode REFUSED "the update of ` + fqdn + ` failed: nothing was changed"`,
				"the DNS server refuses asgdns's updates (REFUSED): check the TSIG key and update policy", logs, "replay"}},
		{name: "zone not allowed", answers: []answer{{status: "Failed", details: "Failed", code: 10, stdout: docLine(workflow.CommandOutcome{
			Outcome: "zone-not-allowed", FQDN: fqdn, IP: "10.20.30.40", PTR: "off",
			Message: "zone corp.example.com is not allowed for account 111111111111 (shared-services stack parameter TenantZones): nothing was changed"})}},
			wantType: "AccessDenied", wantCalls: 1,
			wantInMsg: []string{"exit code 10", `outcome zone-not-allowed "zone corp.example.com is not allowed for account 111111111111`, "TenantZones parameter"}},
		{name: "DNS server did not answer", answers: []answer{{status: "Failed", details: "Failed", code: 20, stdout: docLine(workflow.CommandOutcome{
			Outcome: "dns-error", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Rcode: "TIMEOUT", Message: "the update of " + fqdn + " failed: nothing was changed"})}},
			wantType: "Unavailable", wantCalls: 1,
			wantInMsg: []string{"exit code 20", "rcode TIMEOUT", "the DNS server did not answer or failed (TIMEOUT): instances are held meanwhile (up to the hold budget), each try on the next DC; check the DNS service", logs}},
		{name: "document refused the parameters", answers: []answer{{status: "Failed", details: "Failed", code: 10, stdout: docLine(workflow.CommandOutcome{
			Outcome: "invalid", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Message: "hostname is longer than this document allows"})}},
			wantType: "CommandRejected", wantCalls: 1,
			wantInMsg: []string{"exit code 10", `outcome invalid "hostname is longer than this document allows"`, "deploy the shared-services document that matches", logs}},
		{name: "succeeded without a result line", answers: []answer{{status: "Success", details: "Success", code: 0, stdout: "all done\n"}},
			wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{where, "succeeded without printing an asgdns result line, so what it did is unknown", "unmodified", "next DC"}},
		{name: "succeeded with an outcome the document does not report", answers: []answer{{status: "Success", details: "Success", code: 0,
			stdout: resultLine("upserted", "") + "\n"}}, wantType: "CommandFailed", wantCalls: 1, wantInMsg: []string{"succeeded without printing an asgdns result line"}},
		{name: "failed without a result line", answers: []answer{failed("Failed", 1, "", "", "")}, wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{"exit code 1", "no valid asgdns result line on stdout", "no stderr"}},
		{name: "an outcome the document no longer reports", answers: []answer{failed("Failed", 3, "not-owned", "A record belongs to i-0ffffffffffffffff", "")},
			wantType: "CommandFailed", wantCalls: 1, wantInMsg: []string{"exit code 3", "no valid asgdns result line on stdout"}},
		{name: "script crashed", answers: []answer{failed("Failed", 127, "", "",
			"/var/lib/amazon/ssm/"+dc1+"/document/orchestration/"+commandID+"/manageLinuxDns/_script.sh: line 101: dig: command not found\n")},
			wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{"exit code 127", `stderr "/var/lib/amazon/ssm/` + dc1 + `/document/orchestration/` + commandID + `/manageLinuxDns/_script.sh: line 101: dig: command not found"`}},
		{name: "execution timed out", answers: []answer{failed("Execution Timed Out", 124, "", "", "still waiting for the zone lock")},
			wantType: "CommandFailed", wantCalls: 1, wantInMsg: []string{"ended TimedOut (Execution Timed Out)", "exit code 124", "zone lock"}},
		{name: "cancelled", answers: []answer{failed("Cancelled", -1, "", "", "")}, wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{"ended Cancelled (Cancelled)"}},
		{name: "unknown terminal status", answers: []answer{{status: "Exploded", details: "Exploded", code: 9}}, wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{"ended Exploded (Exploded)"}},
		{name: "stderr is trimmed", answers: []answer{failed("Failed", 2, "", "", strings.Repeat("x", 5000)+"the end")}, wantType: "CommandFailed", wantCalls: 1,
			wantInMsg: []string{`stderr ends "xxx`, `the end"`}},
	}
	seen := lambdatest.Produced{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, s, c := &fakeSSM{answers: tc.answers}, &lambdatest.Sessions{}, after(3*time.Second)
			c.sleepErr = tc.sleepErr
			got, err := newHandler(f, c, s, io.Discard).Handle(context.Background(), lambdatest.InputOr(t, tc.input, "launch"))
			lambdatest.Failure(t, got, err, tc.wantType, tc.wantInMsg...)
			seen[tc.wantType] = true
			if len(f.calls) != tc.wantCalls {
				t.Errorf("GetCommandInvocation called %d times, want %d", len(f.calls), tc.wantCalls)
			}
			if tc.wantCalls == 0 && len(s.Asked) != 0 {
				t.Errorf("asked for credentials %v after a validation failure", s.Asked)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("message is %d bytes: trim it", len(err.Error()))
			}
		})
	}
	seen.Expect(t, "InvalidEvent", "AccessDenied", "CommandRejected", "Conflict", "CommandFailed", "Throttled", "Unavailable")
}

// TestVerdicts: a command that ran decides by its verdict whether the
// instance is held and the work tried again (transient), or released at
// once because every instance would fail the same way (terminal). Each
// error name is what the state machine's Catch routes on.
func TestVerdicts(t *testing.T) {
	dnsError := func(rcode string) answer {
		return answer{status: "Failed", details: "Failed", code: 20, stdout: docLine(workflow.CommandOutcome{Outcome: "dns-error", FQDN: fqdn,
			IP: "10.20.30.40", PTR: "off", Rcode: rcode, Message: "the update of " + fqdn + " failed: nothing was changed"}) + "\n"}
	}
	verdict := func(outcome string, code int32) answer {
		return answer{status: "Failed", details: "Failed", code: code, stdout: resultLine(outcome, "nothing was changed") + "\n"}
	}
	type verdictCase struct {
		name string
		a    answer
		want string
		fix  string
	}
	cases := []verdictCase{
		{"conflict", conflict(owner, fqdn+" is owned by "+owner+": nothing was changed"), "Conflict", "fix: the name holds records asgdns did not write"},
		{"zone not allowed", verdict(workflow.OutcomeZoneNotAllowed, 10), "AccessDenied", "fix: add <application account>:<zone> to the shared-services stack's TenantZones"},
		{"invalid", verdict(workflow.OutcomeInvalid, 10), "CommandRejected", "fix: the document refused the parameters asgdns validated"},
		{"dns-error without an rcode", dnsError(""), "Unavailable", "fix: the DNS server did not answer or failed ()"},
		{"no result line", failed("Failed", 1, "", "", ""), "CommandFailed", "fix: look at the command output in CloudWatch Logs"},
		{"a success outcome on a failed command", verdict(workflow.OutcomeCreated, 1), "CommandFailed", "fix: look at the command output"},
		{"success without a result line", answer{status: "Success", details: "Success", stdout: "ok\n"}, "CommandFailed",
			"fix: deploy the shared-services stack's document unmodified"},
		{"undeliverable", failed("Undeliverable", -1, "", "", ""), "Unavailable", "fix: check the DC is running and shows Online"},
		{"delivery timed out", failed("Delivery Timed Out", -1, "", "", ""), "Unavailable", "fix: check the DC is running and shows Online"},
		{"terminated", failed("Terminated", -1, "", "", ""), "Unavailable", "fix: check the DC is running and shows Online"},
	}
	for _, rcode := range workflow.RefusingRcodes {
		cases = append(cases, verdictCase{"dns-error " + rcode, dnsError(rcode), "AccessDenied", "fix: the DNS server refuses asgdns's updates (" + rcode + ")"})
	}
	for _, rcode := range []string{"SERVFAIL", "TIMEOUT", "UNREACHABLE", "ERROR", "NXRRSET", "YXDOMAIN"} {
		cases = append(cases, verdictCase{"dns-error " + rcode, dnsError(rcode), "Unavailable", "fix: the DNS server did not answer or failed (" + rcode + ")"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, hb := &fakeSSM{answers: []answer{tc.a}}, &fakeHeartbeats{}
			h := newHandler(f, after(3*time.Second), &lambdatest.Sessions{}, io.Discard)
			h.AutoScaling = hb
			got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch"))
			if name := workflow.Routed(err); name != tc.want {
				t.Fatalf("got %+v, %v (%s); want %s", got, err, name, tc.want)
			}
			if got != nil {
				t.Errorf("a failure with a result: %+v", got)
			}
			if !strings.Contains(err.Error(), tc.fix) || !strings.HasPrefix(err.Error(), "command "+commandID+" on "+dc1+": ") {
				t.Errorf("message %q lacks %q", err.Error(), tc.fix)
			}
			if len(f.calls) != 1 || len(hb.calls) != 1 {
				t.Errorf("%d polls and %d heartbeats, want one of each", len(f.calls), len(hb.calls))
			}
			if transient := workflow.Transient(tc.want); transient != (tc.want == "Unavailable" || tc.want == "CommandFailed") {
				t.Errorf("%s transient: %v", tc.want, transient)
			}
		})
	}
}

func TestLoadBudget(t *testing.T) {
	lambdatest.CheckEnvDuration(t, EnvPollBudget, LoadBudget, []lambdatest.EnvCase{
		{Set: false, Want: 20 * time.Second},
		{Value: "", Set: true, Want: 20 * time.Second},
		{Value: "0", Set: true, Want: 0},
		{Value: " 45 ", Set: true, Want: 45 * time.Second},
		{Value: "300", Set: true, Want: 300 * time.Second},
		{Value: "301", Set: true, Bad: true},
		{Value: "-1", Set: true, Bad: true},
		{Value: "20s", Set: true, Bad: true},
		{Value: "1.5", Set: true, Bad: true},
		{Value: "99999999999999999999", Set: true, Bad: true},
	}, EnvPollBudget)
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	f := &fakeSSM{answers: []answer{inProgress, success("created")}}
	if _, err := newHandler(f, after(time.Second), &lambdatest.Sessions{}, &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"execution":"`+execution+`"`, `"instanceId":"`+fixtureInstance+`"`, `"asg":"web-prod"`,
		`"commandId":"`+commandID+`"`, `"dc":"`+dc1+`"`, `"outcome":"created"`)
}

// invocationBody is a GetCommandInvocation response body as SSM sends it.
func invocationBody(status, details string, code int, stdout, stderr string) string {
	b, _ := json.Marshal(map[string]any{
		"CommandId": commandID, "InstanceId": dc1, "DocumentName": "asgdns-dns-record", "DocumentVersion": "1",
		"Comment": "asgdns register web-prod-i-0a1b2c3d4e5f60718.corp.example.com " + execution, "PluginName": workflow.StepWindows,
		"ResponseCode": code, "ExecutionStartDateTime": "2026-11-20T08:15:51.604Z", "ExecutionElapsedTime": "PT1.317S",
		"ExecutionEndDateTime": "2026-11-20T08:15:52.921Z", "Status": status, "StatusDetails": details,
		"StandardOutputContent": stdout, "StandardOutputUrl": "", "StandardErrorContent": stderr, "StandardErrorUrl": "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": true},
	})
	return string(b)
}

// secrets are what must never leave: the session's credentials, the
// ExternalId, and key material a DC's tools can print.
var secrets = lambdatest.Secrets(append([]string{externalID}, keyMaterial...)...)

// badKeyStderr is what nsupdate prints of a malformed key.
const badKeyStderr = "could not create key from hmac-sha256:asgdns:" + badKeySecret + "!!!: bad base64 encoding\n"

// TestNoSecretsInOutputOrLogs runs the handler in-process with the real SDK
// and the real cross-account provider against a fake AWS endpoint, and
// checks neither the result, the error nor the logs repeat the assumed
// credentials or the ExternalId.
func TestNoSecretsInOutputOrLogs(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		assume     bool
		answer     string // GetCommandInvocation body
		wantErr    string
	}{
		{name: "succeeded", assume: true, answer: invocationBody("Success", "Success", 0, resultLine("created", ""), "")},
		{name: "succeeded, a bad key on stderr", assume: true, answer: invocationBody("Success", "Success", 0, resultLine("created", ""), badKeyStderr)},
		{name: "failed", assume: true, answer: invocationBody("Failed", "Failed", 30, conflict(owner, fqdn+" is owned by "+owner+": nothing was changed").stdout, badKeyStderr),
			wantErr: "Conflict"},
		{name: "failed without a verdict", assume: true, answer: invocationBody("Failed", "Failed", 1, "", badKeyStderr), wantErr: "CommandFailed"},
		{name: "SSM refuses", code: "AccessDeniedException", assume: true, wantErr: "AccessDenied"},
		{name: "STS refuses", code: "AccessDenied", wantErr: "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[string]string{}
			if tc.assume {
				answers["AssumeRole"] = lambdatest.AssumeRoleResponse(roleARN, "asgdns-"+fixtureInstance+"-"+execution)
			}
			if tc.answer != "" {
				answers["GetCommandInvocation"] = tc.answer
			}
			srv := lambdatest.NewAWS(t, answers, http.StatusForbidden, tc.code, "refused by the test endpoint")
			cfg := srv.SDKConfig(credentials.NewStaticCredentialsProvider("AKIDLAMBDATEST", "lambdatest-secret", ""))
			roles := crossaccount.New(sts.NewFromConfig(cfg), config.Session{RoleARN: roleARN, Account: "222222222222", ExternalID: externalID})
			var logs bytes.Buffer
			c := after(time.Second)
			h := &Handler{SSM: ssm.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), Credentials: roles.For, Budget: DefaultBudget, Now: c.Now, Sleep: c.Sleep,
				Log: lambdatest.JSONLogger(&logs, slog.LevelDebug)}
			got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch"))
			srv.CheckAssumedFirst(t, err, tc.wantErr)
			lambdatest.CheckNoSecrets(t, got, err, logs.String(), secrets)
		})
	}
}

func BenchmarkHandle(b *testing.B) {
	f, s := &fakeSSM{answers: []answer{success("created")}}, &lambdatest.Sessions{}
	c := after(time.Second)
	h := newHandler(f, c, s, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.calls, s.Asked = f.calls[:0], s.Asked[:0]
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}
