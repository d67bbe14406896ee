package hold

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	fixtureInstance = "i-0a1b2c3d4e5f60718"
	execution       = "0d5c1f6e-asgdns-test-execution"
	launchToken     = "b9784c10-c448-48d1-b6cd-b8489f4ebc34"
	termToken       = "fed1b025-e7b0-43db-b656-7ed399294135"
)

// aslBackoff is the backoff the state machine's Hold instance state declares.
var aslBackoff = workflow.Backoff{FirstSeconds: 10, Rate: 2, MaxSeconds: 300, ThrottledMaxSeconds: 30}

// fakeAutoScaling records the heartbeats asked for and answers with err.
type fakeAutoScaling struct {
	calls []*autoscaling.RecordLifecycleActionHeartbeatInput
	err   error
}

func (f *fakeAutoScaling) RecordLifecycleActionHeartbeat(_ context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, _ ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, nil
}

// heartbeat is the RecordLifecycleActionHeartbeat call a case expects.
type heartbeat struct{ hook, token string }

var (
	launchHeartbeat    = heartbeat{"dns-launch", launchToken}
	terminateHeartbeat = heartbeat{"dns-terminate", termToken}
)

// checkHeartbeats asserts exactly the calls expected were made: for the
// fixtures' ASG and instance, with the hook and token of the event.
func checkHeartbeats(t *testing.T, calls []*autoscaling.RecordLifecycleActionHeartbeatInput, want ...heartbeat) {
	t.Helper()
	if len(calls) != len(want) {
		t.Fatalf("RecordLifecycleActionHeartbeat called %d times, want %d", len(calls), len(want))
	}
	for i, in := range calls {
		got := [4]string{aws.ToString(in.AutoScalingGroupName), aws.ToString(in.LifecycleHookName), aws.ToString(in.LifecycleActionToken), aws.ToString(in.InstanceId)}
		if w := [4]string{"web-prod", want[i].hook, want[i].token, fixtureInstance}; got != w {
			t.Errorf("heartbeat %d: sent ASG, hook, token, instance %q, want %q", i, got, w)
		}
	}
}

func newHandler(a *fakeAutoScaling, now time.Time, r float64, logs io.Writer) *Handler {
	return &Handler{
		AutoScaling: a, Hooks: lambdatest.FixtureHooks, Budget: DefaultBudget,
		Now: func() time.Time { return now }, Rand: func() float64 { return r }, Log: lambdatest.JSONLogger(logs, slog.LevelDebug),
	}
}

// request returns testdata/<name>.input.json with its request (top level:
// execution, backoff, state) changed by change.
func request(t testing.TB, name string, change func(req, state map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(lambdatest.Input(t, name), &req); err != nil {
		t.Fatal(err)
	}
	change(req, req["state"].(map[string]any))
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// heldSince gives the state a previous round's hold: holds rounds since
// since.
func heldSince(holds int, since time.Time) func(_, state map[string]any) {
	return func(_, state map[string]any) {
		state["hold"] = workflow.HoldResult{Holds: holds, Since: since, HeldSeconds: 1, BudgetSeconds: 1800, WaitSeconds: 10,
			Heartbeat: HeartbeatRecorded, Retrying: "Unavailable"}
	}
}

// firstHoldAt is when the launch fixture's first hold begins: the first DC
// did not take the command, seen on the poll at 08:15:53.
var firstHoldAt = time.Date(2026, 11, 20, 8, 15, 54, 0, time.UTC)

// fixtureBudget is the hold budget of the fixtures' deployment: the stack's
// smallest HoldBudgetSeconds, so that a second round in which the next DC
// does not pick the command up either (SSM ends it Delivery Timed Out after
// SendCommand's 60 s) outlasts it, as in the expired fixtures.
const fixtureBudget = MinBudget

// fixtures are the states HoldInstance receives in testdata, when, and the
// heartbeat each records.
var fixtures = []struct {
	name string
	now  time.Time
	hb   heartbeat
}{
	// The first hold: the launch's first DC never took the command.
	{"launch-unavailable", firstHoldAt, launchHeartbeat},
	// The first hold of a termination: the DNS server failed the removal.
	{"terminate-unavailable", time.Date(2026, 11, 20, 8, 16, 14, 0, time.UTC), terminateHeartbeat},
	// The second round: 8 s of back-off, the command re-sent to the next DC
	// at 08:16:03, pending through three invocations of the poller until
	// SSM's delivery timeout ended it at 08:17:03, seen at 08:17:05. Held
	// 72 s, past the budget: the instance is released.
	{"launch-expired", time.Date(2026, 11, 20, 8, 17, 6, 0, time.UTC), launchHeartbeat},
	// The termination's second round likewise: re-sent at 08:16:23, timed
	// out at 08:17:23, seen at 08:17:26. Held 73 s.
	{"terminate-expired", time.Date(2026, 11, 20, 8, 17, 27, 0, time.UTC), terminateHeartbeat},
}

// TestFixtures runs each testdata input (with the jitter in the middle of
// its range, and the fixtures' budget) and compares with its golden output.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			a := &fakeAutoScaling{}
			h := newHandler(a, fx.now, 0.5, io.Discard)
			h.Budget = fixtureBudget
			got, err := h.Handle(context.Background(), lambdatest.Input(t, fx.name))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			checkHeartbeats(t, a.calls, fx.hb)
			lambdatest.Golden(t, "testdata/"+fx.name+".golden.json", got)
		})
	}
}

// TestFixturesInTime: each fixture's clock is one the machine reaches. The
// hold follows the command whose failure it holds for: after it was sent
// (and, from the second round on, after the previous hold's back-off), and
// no later than that command's polls can run: each invocation within the
// Wait for DNS command Task's timeout, each pause between them at most
// workflow.MaxNextWaitSeconds.
func TestFixturesInTime(t *testing.T) {
	data, err := os.ReadFile("../../../statemachine/asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var asl struct {
		States map[string]struct{ TimeoutSeconds int }
	}
	if err := json.Unmarshal(data, &asl); err != nil {
		t.Fatal(err)
	}
	invocation := time.Duration(asl.States["Wait for DNS command"].TimeoutSeconds) * time.Second
	if invocation == 0 {
		t.Fatal("the ASL's Wait for DNS command has no TimeoutSeconds")
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			var req workflow.Request
			if err := json.Unmarshal(lambdatest.Input(t, fx.name), &req); err != nil {
				t.Fatal(err)
			}
			cmd := req.State.Command
			if cmd == nil {
				t.Fatal("no command in the state")
			}
			polls := 0 // the invocations before the one that failed
			if inv := req.State.Invocation; inv != nil && inv.CommandID == cmd.CommandID {
				polls = inv.Polls
			}
			latest := cmd.SentAt.Add(time.Duration(polls+1)*invocation + time.Duration(polls*workflow.MaxNextWaitSeconds)*time.Second)
			if !fx.now.After(cmd.SentAt) || fx.now.After(latest) {
				t.Errorf("held at %s, want after the command was sent (%s) and by %s", fx.now, cmd.SentAt, latest)
			}
			if prev := req.State.Hold; prev != nil {
				if resent := prev.Since.Add(time.Duration(prev.HeldSeconds+prev.WaitSeconds) * time.Second); cmd.SentAt.Before(resent) {
					t.Errorf("command sent at %s, before the previous hold's back-off ended (%s)", cmd.SentAt, resent)
				}
			}
		})
	}
}

// TestBackoffIsTheASLs: the schedule these tests (and the fixtures) use is
// the one the state machine's Hold instance state declares.
func TestBackoffIsTheASLs(t *testing.T) {
	data, err := os.ReadFile("../../../statemachine/asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var asl struct {
		States map[string]struct {
			Parameters struct {
				Backoff *workflow.Backoff `json:"backoff"`
			}
		}
	}
	if err := json.Unmarshal(data, &asl); err != nil {
		t.Fatal(err)
	}
	if got := asl.States["Hold instance"].Parameters.Backoff; got == nil || *got != aslBackoff {
		t.Errorf("the ASL's Hold instance declares backoff %+v, these tests use %+v", got, aslBackoff)
	}
	for _, fx := range fixtures {
		var req workflow.Request
		if err := json.Unmarshal(lambdatest.Input(t, fx.name), &req); err != nil {
			t.Fatal(err)
		}
		if req.Backoff == nil || *req.Backoff != aslBackoff {
			t.Errorf("testdata/%s.input.json has backoff %+v, want the ASL's %+v", fx.name, req.Backoff, aslBackoff)
		}
	}
}

// TestFirstHold spells out the first round: the hold begins now, the
// hook's heartbeat timeout is reset, and the wait is the first of the
// backoff, jittered in its upper half.
func TestFirstHold(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		wait int
	}{{0, 5}, {0.5, 8}, {0.999, 10}, {1, 10}} {
		t.Run(fmt.Sprint(tc.r), func(t *testing.T) {
			a := &fakeAutoScaling{}
			// The clock's zone does not matter: the state holds UTC.
			now := firstHoldAt.In(time.FixedZone("CET", 3600))
			got, err := newHandler(a, now, tc.r, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch-unavailable"))
			if err != nil {
				t.Fatal(err)
			}
			checkHeartbeats(t, a.calls, launchHeartbeat)
			want := workflow.HoldResult{Holds: 1, Since: firstHoldAt, HeldSeconds: 0, BudgetSeconds: 1800, WaitSeconds: tc.wait,
				Heartbeat: HeartbeatRecorded, Retrying: "Unavailable"}
			if *got != want || got.Since.Location() != time.UTC {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

// TestBackoffGrows: the n-th wait is drawn from [d/2, d] with
// d = min(first × rate^(n-1), max), while the budget leaves room.
func TestBackoffGrows(t *testing.T) {
	now := firstHoldAt.Add(time.Hour)
	for _, tc := range []struct {
		name    string
		backoff workflow.Backoff
		r       float64
		want    []int // the waits of rounds 1, 2, …
	}{
		{"the ASL's, shortest", aslBackoff, 0, []int{5, 10, 20, 40, 80, 150, 150, 150}},
		{"the ASL's, longest", aslBackoff, 1, []int{10, 20, 40, 80, 160, 300, 300, 300}},
		{"from 5, shortest", workflow.Backoff{FirstSeconds: 5, Rate: 2, MaxSeconds: 300}, 0, []int{3, 5, 10, 20, 40, 80, 150, 150}},
		{"from 5, longest", workflow.Backoff{FirstSeconds: 5, Rate: 2, MaxSeconds: 300}, 1, []int{5, 10, 20, 40, 80, 160, 300, 300}},
		{"rate 1.5", workflow.Backoff{FirstSeconds: 10, Rate: 1.5, MaxSeconds: 60}, 1, []int{10, 15, 23, 34, 51, 60, 60}},
		{"constant", workflow.Backoff{FirstSeconds: 30, Rate: 1, MaxSeconds: 30}, 0, []int{15, 15, 15}},
		{"one second", workflow.Backoff{FirstSeconds: 1, Rate: 1, MaxSeconds: 1}, 0, []int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(&fakeAutoScaling{}, now, tc.r, io.Discard)
			h.Budget = MaxBudget
			for n, want := range tc.want {
				input := request(t, "launch-unavailable", func(req, state map[string]any) {
					req["backoff"] = tc.backoff
					if n > 0 {
						heldSince(n, firstHoldAt)(req, state)
					}
				})
				got, err := h.Handle(context.Background(), input)
				if err != nil {
					t.Fatal(err)
				}
				since := now
				if n > 0 {
					since = firstHoldAt
				}
				if got.Holds != n+1 || got.WaitSeconds != want || got.Expired || !got.Since.Equal(since) ||
					got.HeldSeconds != int(now.Sub(since).Seconds()) {
					t.Errorf("round %d: got %+v, want holds %d, wait %d", n+1, got, n+1, want)
				}
				if d := math.Min(float64(tc.backoff.FirstSeconds)*math.Pow(tc.backoff.Rate, float64(n)), float64(tc.backoff.MaxSeconds)); float64(got.WaitSeconds) < math.Floor(d/2) || float64(got.WaitSeconds) > math.Ceil(d) {
					t.Errorf("round %d: wait %d outside [%v/2, %v]", n+1, got.WaitSeconds, d, d)
				}
			}
		})
	}
}

// TestThrottlingWaitsLess: while the error being retried is Throttled the
// backoff grows to throttledMaxSeconds, not maxSeconds; any other error
// still gets the long schedule.
func TestThrottlingWaitsLess(t *testing.T) {
	now := firstHoldAt.Add(time.Hour)
	for _, tc := range []struct {
		retrying string
		want     []int // the longest waits of rounds 1, 2, …
	}{
		{"Throttled", []int{10, 20, 30, 30, 30}},
		{"Unavailable", []int{10, 20, 40, 80, 160}},
	} {
		t.Run(tc.retrying, func(t *testing.T) {
			h := newHandler(&fakeAutoScaling{}, now, 1, io.Discard)
			h.Budget = MaxBudget
			for n, want := range tc.want {
				input := request(t, "launch-unavailable", func(req, state map[string]any) {
					state["commandError"] = map[string]any{"Error": tc.retrying, "Cause": "rate exceeded"}
					if n > 0 {
						heldSince(n, firstHoldAt)(req, state)
					}
				})
				got, err := h.Handle(context.Background(), input)
				if err != nil {
					t.Fatal(err)
				}
				if got.WaitSeconds != want || got.Retrying != tc.retrying {
					t.Errorf("round %d: got %+v, want wait %d retrying %s", n+1, got, want, tc.retrying)
				}
			}
		})
	}
}

// TestWaitCappedByBudget: the last try comes as the budget ends, never
// after; a wait is at least a second.
func TestWaitCappedByBudget(t *testing.T) {
	for _, tc := range []struct {
		name  string
		held  time.Duration
		holds int
		want  int
	}{
		{"plenty left", 10 * time.Minute, 2, 40},
		{"wait fits exactly", DefaultBudget - 300*time.Second, 6, 300},
		{"10 s left", DefaultBudget - 10*time.Second, 6, 10},
		{"10.2 s left", DefaultBudget - 10200*time.Millisecond, 6, 11},
		{"half a second left", DefaultBudget - 500*time.Millisecond, 3, 1},
		{"a nanosecond left", DefaultBudget - 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := firstHoldAt.Add(tc.held)
			a := &fakeAutoScaling{}
			got, err := newHandler(a, now, 1, io.Discard).Handle(context.Background(),
				request(t, "launch-unavailable", heldSince(tc.holds, firstHoldAt)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Expired || got.WaitSeconds != tc.want || got.Holds != tc.holds+1 || got.HeldSeconds != int(tc.held.Seconds()) {
				t.Errorf("got %+v, want wait %d", got, tc.want)
			}
			checkHeartbeats(t, a.calls, launchHeartbeat)
		})
	}
}

// TestExpired: once held for the budget the instance is released (the
// state machine completes it with its failure result), and the heartbeat
// is still recorded so the hook holds it until then.
func TestExpired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget time.Duration
		held   time.Duration
	}{
		{"exactly at the budget", DefaultBudget, DefaultBudget},
		{"past the budget", DefaultBudget, 2 * time.Hour},
		{"the smallest budget", MinBudget, MinBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := firstHoldAt.Add(tc.held)
			a := &fakeAutoScaling{}
			h := newHandler(a, now, 1, io.Discard)
			h.Budget = tc.budget
			h.Rand = func() float64 { t.Error("jitter drawn for an expired hold"); return 0 }
			got, err := h.Handle(context.Background(), request(t, "launch-unavailable", heldSince(4, firstHoldAt)))
			if err != nil {
				t.Fatal(err)
			}
			want := workflow.HoldResult{Holds: 5, Since: firstHoldAt, HeldSeconds: int(tc.held.Seconds()), BudgetSeconds: int(tc.budget.Seconds()),
				Expired: true, Heartbeat: HeartbeatRecorded, Retrying: "Unavailable"}
			if *got != want {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
			checkHeartbeats(t, a.calls, launchHeartbeat)
		})
	}
	// A second short of the budget still waits, for that second.
	now := firstHoldAt.Add(DefaultBudget - time.Second)
	got, err := newHandler(&fakeAutoScaling{}, now, 1, io.Discard).Handle(context.Background(), request(t, "launch-unavailable", heldSince(4, firstHoldAt)))
	if err != nil || got.Expired || got.WaitSeconds != 1 {
		t.Errorf("a second short: %+v, %v", got, err)
	}
}

// TestHoldsCarried: the count and the start of the hold come from $.hold; a
// hold without a start is a first one.
func TestHoldsCarried(t *testing.T) {
	now := firstHoldAt.Add(95 * time.Second)
	for _, tc := range []struct {
		name     string
		change   func(req, state map[string]any)
		holds    int
		since    time.Time
		retrying string
		heldSecs int
		wait     int
	}{
		{"first", func(_, _ map[string]any) {}, 1, now, "Unavailable", 0, 10},
		{"third", heldSince(2, firstHoldAt), 3, firstHoldAt, "Unavailable", 95, 40},
		{"hold without a start", func(_, s map[string]any) { s["hold"] = map[string]any{"holds": 5, "heartbeat": "recorded"} }, 1, now, "Unavailable", 0, 10},
		{"throttled", func(_, s map[string]any) {
			s["commandError"] = workflow.CaughtError{Error: "Throttled", Cause: `{"errorMessage":"ssm:SendCommand: throttled","errorType":"Throttled"}`}
		}, 1, now, "Throttled", 0, 10},
		{"timed out", func(_, s map[string]any) {
			s["commandError"] = workflow.CaughtError{Error: "States.Timeout", Cause: ""}
		}, 1, now, "States.Timeout", 0, 10},
		{"no error named", func(_, s map[string]any) { delete(s, "commandError") }, 1, now, "", 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newHandler(&fakeAutoScaling{}, now, 1, io.Discard).Handle(context.Background(), request(t, "launch-unavailable", tc.change))
			if err != nil {
				t.Fatal(err)
			}
			if got.Holds != tc.holds || !got.Since.Equal(tc.since) || got.Retrying != tc.retrying || got.HeldSeconds != tc.heldSecs || got.WaitSeconds != tc.wait {
				t.Errorf("got %+v, want holds %d since %v retrying %q held %d", got, tc.holds, tc.since, tc.retrying, tc.heldSecs)
			}
		})
	}
}

// TestHeartbeat: only asgdns's own, waiting lifecycle action gets a
// heartbeat, and with exactly its hook, token, ASG and instance.
func TestHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name      string
		input     []byte
		want      []heartbeat // calls
		heartbeat string
	}{
		{name: "launch", input: lambdatest.Input(t, "launch-unavailable"), want: []heartbeat{launchHeartbeat}, heartbeat: HeartbeatRecorded},
		{name: "terminate", input: lambdatest.Input(t, "terminate-unavailable"), want: []heartbeat{terminateHeartbeat}, heartbeat: HeartbeatRecorded},
		{name: "no token", input: request(t, "launch-unavailable", func(_, s map[string]any) {
			delete(s["detail"].(map[string]any), "LifecycleActionToken")
		}), heartbeat: HeartbeatNone},
		{name: "instance launched, no hook", input: request(t, "launch-unavailable", func(_, s map[string]any) {
			var e map[string]any
			if err := json.Unmarshal(lambdatest.Event(t, "launch-successful"), &e); err != nil {
				t.Fatal(err)
			}
			for k, v := range e {
				s[k] = v
			}
		}), heartbeat: HeartbeatNone},
		{name: "another team's hook", input: request(t, "launch-unavailable", func(_, s map[string]any) {
			s["detail"].(map[string]any)["LifecycleHookName"] = "other-team-bootstrap"
		}), heartbeat: HeartbeatNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &fakeAutoScaling{}
			got, err := newHandler(a, firstHoldAt, 0.5, io.Discard).Handle(context.Background(), tc.input)
			if err != nil {
				t.Fatal(err)
			}
			checkHeartbeats(t, a.calls, tc.want...)
			if got.Heartbeat != tc.heartbeat || got.Holds != 1 || got.WaitSeconds != 8 || got.Expired {
				t.Errorf("got %+v, want heartbeat %q and the first wait", got, tc.heartbeat)
			}
		})
	}
}

// TestHeartbeatAnswers: what Auto Scaling answers, on the wire through the
// real SDK. An action that ended is no error (the next round's Describe
// instance finds out why); a refused heartbeat is routed like any AWS error.
func TestHeartbeatAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, code, message string
		status              int
		heartbeat           string
		wantErr             string
		wantInMsg           []string
	}{
		{name: "action ended", code: "ValidationError", message: "No active Lifecycle Action found with instance ID " + fixtureInstance,
			status: http.StatusBadRequest, heartbeat: HeartbeatGone},
		{name: "throttled", code: "Throttling", message: "Rate exceeded", status: http.StatusBadRequest, wantErr: "Throttled",
			wantInMsg: []string{"autoscaling:RecordLifecycleActionHeartbeat web-prod", "Rate exceeded"}},
		{name: "access denied", code: "AccessDenied", message: "not authorized", status: http.StatusForbidden, wantErr: "AccessDenied",
			wantInMsg: []string{"autoscaling:RecordLifecycleActionHeartbeat web-prod",
				`fix: allow autoscaling:RecordLifecycleActionHeartbeat on ASG "web-prod" to the HoldInstance function's role`}},
		{name: "no such hook", code: "ValidationError", message: "No Lifecycle Hook found", status: http.StatusBadRequest, wantErr: "InvalidConfig",
			wantInMsg: []string{"No Lifecycle Hook found"}},
		{name: "server error", code: "InternalFailure", message: "internal", status: http.StatusInternalServerError, wantErr: "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lambdatest.ErrorServer(t, tc.status, tc.code, tc.message)
			h := newHandler(nil, firstHoldAt, 0.5, io.Discard)
			h.AutoScaling = autoscaling.NewFromConfig(srv.SDKConfig(aws.AnonymousCredentials{}))
			got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch-unavailable"))
			if name := workflow.Routed(err); name != tc.wantErr || (err != nil && tc.wantErr == "") {
				t.Fatalf("got %+v, %v; want %q", got, err, tc.wantErr)
			}
			if calls := srv.Calls(); len(calls) != 1 || calls[0] != "RecordLifecycleActionHeartbeat" {
				t.Errorf("calls %v, want one RecordLifecycleActionHeartbeat", calls)
			}
			lambdatest.ErrorContains(t, err, tc.wantInMsg...)
			if err != nil {
				if got != nil {
					t.Errorf("a failure with a result: %+v", got)
				}
				return
			}
			if got.Heartbeat != tc.heartbeat || got.Holds != 1 || got.WaitSeconds != 8 || got.Expired {
				t.Errorf("got %+v, want heartbeat %q and the first wait", got, tc.heartbeat)
			}
		})
	}
	// A call that never got an answer.
	a := &fakeAutoScaling{err: fmt.Errorf("operation error Auto Scaling: RecordLifecycleActionHeartbeat: %w", context.DeadlineExceeded)}
	got, err := newHandler(a, firstHoldAt, 0.5, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch-unavailable"))
	if workflow.Routed(err) != "Unavailable" || got != nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: got %+v, %v; want Unavailable", got, err)
	}
	checkHeartbeats(t, a.calls, launchHeartbeat)
}

// TestInvalid: a payload, event or backoff asgdns cannot use is refused
// before any call.
func TestInvalid(t *testing.T) {
	backoff := func(b any) []byte {
		return request(t, "launch-unavailable", func(req, _ map[string]any) {
			if b == nil {
				delete(req, "backoff")
				return
			}
			req["backoff"] = b
		})
	}
	for _, tc := range []struct {
		name      string
		input     []byte
		wantType  string
		wantInMsg []string
	}{
		{"malformed JSON", []byte(`{"execution":"x","state":`), "InvalidEvent", []string{"input", "fix:"}},
		{"wrong source", request(t, "launch-unavailable", func(_, s map[string]any) { s["source"] = "aws.ec2" }), "InvalidEvent", []string{`source "aws.ec2"`}},
		{"bad token", request(t, "launch-unavailable", func(_, s map[string]any) {
			s["detail"].(map[string]any)["LifecycleActionToken"] = "x$(id)"
		}), "InvalidEvent", []string{"detail.LifecycleActionToken"}},
		{"no backoff", backoff(nil), "InvalidConfig", []string{"backoff: is missing", `"backoff": {"firstSeconds": 10, "rate": 2, "maxSeconds": 300, "throttledMaxSeconds": 30}`}},
		{"backoff of the wrong type", backoff("10s"), "InvalidEvent", []string{"input"}},
		{"first wait 0", backoff(workflow.Backoff{FirstSeconds: 0, Rate: 2, MaxSeconds: 300}), "InvalidConfig", []string{"firstSeconds ≥ 1"}},
		{"throttled cap above the cap", backoff(workflow.Backoff{FirstSeconds: 10, Rate: 2, MaxSeconds: 300, ThrottledMaxSeconds: 600}), "InvalidConfig",
			[]string{"throttledMaxSeconds from firstSeconds to maxSeconds"}},
		{"max below first", backoff(workflow.Backoff{FirstSeconds: 10, Rate: 2, MaxSeconds: 5}), "InvalidConfig", []string{"maxSeconds ≥ firstSeconds"}},
		{"shrinking", backoff(workflow.Backoff{FirstSeconds: 10, Rate: 0.5, MaxSeconds: 300}), "InvalidConfig", []string{"rate ≥ 1"}},
		{"no rate", backoff(map[string]any{"firstSeconds": 10, "maxSeconds": 300}), "InvalidConfig", []string{"rate ≥ 1"}},
		{"negative", backoff(workflow.Backoff{FirstSeconds: -10, Rate: 2, MaxSeconds: 300}), "InvalidConfig", []string{"firstSeconds ≥ 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &fakeAutoScaling{}
			h := newHandler(a, firstHoldAt, 0.5, io.Discard)
			h.Rand = func() float64 { t.Error("jitter drawn for an invalid request"); return 0 }
			got, err := h.Handle(context.Background(), tc.input)
			if name := workflow.Routed(err); name != tc.wantType || got != nil {
				t.Fatalf("got %+v, %v (%s); want %s", got, err, name, tc.wantType)
			}
			lambdatest.ErrorContains(t, err, tc.wantInMsg...)
			if len(a.calls) != 0 {
				t.Errorf("%d heartbeats for an invalid request", len(a.calls))
			}
		})
	}
}

func TestLoadBudget(t *testing.T) {
	lambdatest.CheckEnvDuration(t, EnvHoldBudget, LoadBudget, []lambdatest.EnvCase{
		{Set: false, Want: 30 * time.Minute},
		{Value: "", Set: true, Want: 30 * time.Minute},
		{Value: "  ", Set: true, Want: 30 * time.Minute},
		{Value: "60", Set: true, Want: time.Minute},
		{Value: " 1800 ", Set: true, Want: 30 * time.Minute},
		{Value: "43200", Set: true, Want: 12 * time.Hour},
		{Value: "59", Set: true, Bad: true},
		{Value: "43201", Set: true, Bad: true},
		{Value: "0", Set: true, Bad: true},
		{Value: "-1800", Set: true, Bad: true},
		{Value: "30m", Set: true, Bad: true},
		{Value: "1800.5", Set: true, Bad: true},
		{Value: "99999999999999999999", Set: true, Bad: true},
	}, "environment variable "+EnvHoldBudget, "from 60 to 43200")
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(&fakeAutoScaling{}, firstHoldAt, 0.5, &logs).Handle(context.Background(), lambdatest.Input(t, "launch-unavailable")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"msg":"holding the instance"`, `"execution":"`+execution+`"`, `"instanceId":"`+fixtureInstance+`"`,
		`"asg":"web-prod"`, `"holds":1`, `"waitSeconds":8`, `"heartbeat":"recorded"`, `"retrying":"Unavailable"`)
	logs.Reset()
	if _, err := newHandler(&fakeAutoScaling{}, firstHoldAt.Add(DefaultBudget), 0.5, &logs).Handle(context.Background(),
		request(t, "launch-unavailable", heldSince(3, firstHoldAt))); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"level":"WARN","msg":"hold budget spent: releasing the instance"`, `"heldSeconds":1800`, `"holds":4`)
}

func BenchmarkHandle(b *testing.B) {
	h := newHandler(&fakeAutoScaling{}, firstHoldAt, 0.5, io.Discard)
	input := lambdatest.Input(b, "launch-unavailable")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}
