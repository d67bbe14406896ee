package scenario

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/asgdns/asgdns/local/asl"
	"github.com/asgdns/asgdns/statemachine"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// The scenarios run the project's real definition on the engine, on
// virtual time, with the real handlers in process over a fake of AWS. Each
// asserts the exact states entered, the outcome and the state transitions
// (what Step Functions bills).

var (
	happy = []string{"Describe instance", "Route by event", "Assume shared-services role", "Send DNS command",
		"Wait for DNS command", "DNS command finished?", "Complete lifecycle action", "Done"}
	hookOnly = []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Complete lifecycle action", "Done"}
	// holdRound is one round of the hold loop, which ends back at the start.
	holdRound = []string{"Hold instance", "Keep holding?", "Back off"}
)

type scenario struct {
	name        string
	event       string
	input       func(t *testing.T) json.RawMessage // instead of the event fixture
	env         map[string]string
	setup       func(w *world)
	wantStates  []string
	wantStatus  asl.Status
	wantError   string
	transitions int64
	check       func(t *testing.T, w *world, out workflow.State, res asl.Result)
}

func TestScenarios(t *testing.T) {
	for _, sc := range []scenario{
		{
			name: "happy launch", event: "launch", wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				sent := w.sent[0]
				if sent.InstanceIds[0] != dc1 || sent.Parameters[workflow.ParamAction][0] != "register" ||
					sent.Parameters[workflow.ParamHostname][0] != "web-prod-i-0a1b2c3d4e5f60718" {
					t.Errorf("sent %v to %v", sent.Parameters, sent.InstanceIds)
				}
				completed(t, w, "CONTINUE")
				if out.Lifecycle == nil || !out.Lifecycle.Completed || out.Invocation.Result.Outcome != "created" {
					t.Errorf("output %+v", out)
				}
			},
		},
		{
			name: "happy terminate", event: "terminate", wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				if a := w.sent[0].Parameters[workflow.ParamAction][0]; a != "deregister" {
					t.Errorf("sent action %s", a)
				}
				completed(t, w, "CONTINUE")
			},
		},
		{
			name: "warm pool in: no record, hook completed", event: "launch-into-warm-pool", wantStates: hookOnly,
			wantStatus: asl.StatusSucceeded, transitions: 5,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				noCommand(t, w)
				completed(t, w, "CONTINUE")
			},
		},
		{
			name: "warm pool out: registers", event: "launch-from-warm-pool", wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
		},
		{
			name: "back to the warm pool: the record stays", event: "terminate-to-warm-pool", wantStates: hookOnly,
			wantStatus: asl.StatusSucceeded, transitions: 5,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				noCommand(t, w)
				completed(t, w, "CONTINUE")
			},
		},
		{
			name: "no token: registers, completes nothing", event: "launch-no-token", wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				completed(t, w, "")
				if out.Lifecycle.Completed || !strings.Contains(out.Lifecycle.Reason, "nothing to complete") {
					t.Errorf("lifecycle %+v", out.Lifecycle)
				}
			},
		},
		{
			name: "test notification: nothing to do", event: "test-notification",
			wantStates: []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Nothing to do"},
			wantStatus: asl.StatusSucceeded, transitions: 4,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) { noCommand(t, w); completed(t, w, "") },
		},
		{
			name: "instance launch successful: not a lifecycle action, nothing to do", event: "launch-successful",
			wantStates: []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Nothing to do"},
			wantStatus: asl.StatusSucceeded, transitions: 4,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				noCommand(t, w)
				completed(t, w, "")
				if !strings.Contains(out.Instance.Reason, "is not a lifecycle action") {
					t.Errorf("reason %q does not say why", out.Instance.Reason)
				}
			},
		},
		{
			name: "instance not found: released with CONTINUE, FAILED", event: "launch", setup: func(w *world) { w.instanceGone = true },
			wantStates: []string{"Describe instance", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "InstanceNotFound", transitions: 3,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				noCommand(t, w)
				completed(t, w, "CONTINUE")
				if !strings.Contains(res.Cause, "i-0a1b2c3d4e5f60718") || !strings.Contains(res.Cause, "CONTINUE") {
					t.Errorf("cause %q does not say which instance and what became of it", res.Cause)
				}
			},
		},
		{
			name: "throttled then fine", event: "launch", setup: func(w *world) { w.ec2Throttles = 2 },
			wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8 + 2,
		},
		{
			name: "access denied: never replaced, CONTINUE at once, FAILED", event: "launch", setup: func(w *world) { w.stsDenied = true },
			wantStates: []string{"Describe instance", "Route by event", "Assume shared-services role", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "AccessDenied", transitions: 5,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				noCommand(t, w)
				completed(t, w, "CONTINUE")
				if !strings.Contains(res.Cause, "trusts") {
					t.Errorf("cause %q does not say how to fix the trust", res.Cause)
				}
			},
		},
		{
			name: "invalid hostname template: CONTINUE and FAILED at once", event: "launch",
			env:        map[string]string{"ASGDNS_HOSTNAME_TEMPLATE": "{tag:Team}-{short-id}"},
			wantStates: []string{"Describe instance", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "InvalidHostname", transitions: 3,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				noCommand(t, w)
				completed(t, w, "CONTINUE")
				if w.heartbeats != 0 || !strings.Contains(res.Cause, "Team") {
					t.Errorf("%d heartbeats; cause %q", w.heartbeats, res.Cause)
				}
			},
		},
		{
			name: "the DNS server refuses the update: CONTINUE and FAILED, no second DC", event: "launch",
			setup:      func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return refused } },
			wantStates: append(slices.Clone(happy[:5]), "Release instance", "DNS work failed"),
			wantStatus: asl.StatusFailed, wantError: "AccessDenied", transitions: 7,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1}) {
					t.Errorf("commands went to %v", got)
				}
				completed(t, w, "CONTINUE")
			},
		},
		{
			name: "another owner's record at the name: Conflict, CONTINUE, FAILED", event: "launch",
			setup:      func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return conflict } },
			wantStates: append(slices.Clone(happy[:5]), "Release instance", "DNS work failed"),
			wantStatus: asl.StatusFailed, wantError: "Conflict", transitions: 7,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				completed(t, w, "CONTINUE")
				if !strings.Contains(res.Cause, "111111111111/i-0ffffffffffffffff") {
					t.Errorf("cause %q does not name the owner", res.Cause)
				}
			},
		},
		{
			name: "another team's hook: no Auto Scaling call at all", event: "launch",
			input:      func(t *testing.T) json.RawMessage { return withHook(t, fixture(t, "launch"), "drain-connections") },
			wantStates: []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Nothing to do"},
			wantStatus: asl.StatusSucceeded, transitions: 4,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				noCommand(t, w)
				if len(w.autoScalingCalls) != 0 {
					t.Errorf("Auto Scaling calls %v, want none", w.autoScalingCalls)
				}
				if !strings.Contains(out.Instance.Reason, "drain-connections") {
					t.Errorf("reason %q does not name the hook", out.Instance.Reason)
				}
			},
		},
		{
			name: "command failed on DC1: held, then DC2 succeeds", event: "launch",
			setup:      func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return failedCmd } },
			wantStates: slices.Concat(happy[:5], holdRound, happy[:5], happy[5:]),
			wantStatus: asl.StatusSucceeded, transitions: 16,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2}) {
					t.Errorf("commands went to %v", got)
				}
				completed(t, w, "CONTINUE")
				if w.heartbeats != 2 || out.Hold.Heartbeat != "recorded" {
					t.Errorf("%d heartbeats (want 2: the failed poll's and the hold's), hold %+v", w.heartbeats, out.Hold)
				}
			},
		},
		{
			name: "DNS down for 10 minutes: held with heartbeats, then registered, CONTINUE, no ABANDON", event: "launch",
			setup:      func(w *world) { w.dnsDownUntil = start.Add(10 * time.Minute) },
			wantStatus: asl.StatusSucceeded,
			check: func(t *testing.T, w *world, out workflow.State, res asl.Result) {
				completed(t, w, "CONTINUE")
				took := res.StopDate.Sub(start)
				if took < 10*time.Minute || took > 16*time.Minute {
					t.Errorf("took %v: want the first try after the DNS came back (backoff at most 300 s)", took)
				}
				if out.Hold == nil || out.Hold.Holds < 4 || w.heartbeats < out.Hold.Holds {
					t.Errorf("hold %+v, %d heartbeats: want several rounds, each heartbeated", out.Hold, w.heartbeats)
				}
				if got := sentTo(w); len(got) < 2 || got[0] == got[1] {
					t.Errorf("commands went to %v: want the DCs in turn", got)
				}
			},
		},
		{
			name: "DNS down past the hold budget: the failure result exactly once", event: "launch",
			setup:      func(w *world) { w.dnsDownUntil = start.Add(24 * time.Hour) },
			wantStatus: asl.StatusFailed, wantError: "Unavailable",
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				completed(t, w, "ABANDON")
				took := res.StopDate.Sub(start)
				if took < 30*time.Minute || took > 35*time.Minute {
					t.Errorf("released after %v, want the 30 min hold budget", took)
				}
				if !strings.Contains(res.Cause, "ABANDON") || !strings.Contains(res.Cause, "30m0s") {
					t.Errorf("cause %q does not say what became of the instance and why", res.Cause)
				}
			},
		},
		{
			name: "DNS down past the hold budget on a termination: CONTINUE", event: "terminate",
			setup:      func(w *world) { w.dnsDownUntil = start.Add(24 * time.Hour); w.groupState = "Terminating:Wait" },
			wantStatus: asl.StatusFailed, wantError: "Unavailable",
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) { completed(t, w, "CONTINUE") },
		},
		{
			name: "two throttled sends, then DC1 fails: DC2 is tried", event: "launch",
			setup: func(w *world) {
				w.sendThrottles = 2
				w.dcOutcome[dc1] = func(int) invocation { return failedCmd }
			},
			wantStates: slices.Concat(happy[:5], holdRound, happy[:5], happy[5:]),
			wantStatus: asl.StatusSucceeded, transitions: 16 + 2,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2}) {
					t.Errorf("commands went to %v", got)
				}
			},
		},
		{
			name: "the hold's heartbeat throttled past its retries: still held, never released", event: "launch",
			setup: func(w *world) {
				w.dcOutcome[dc1] = func(int) invocation { return failedCmd }
				w.heartbeatThrottles = 1 + 4 // the failed poll's own, then the Hold's first try and its 3 retries
			},
			// The Hold fails; the work starts over from Describe without a
			// backoff (its retries waited) and DC2 succeeds.
			wantStates: slices.Concat(happy[:5], []string{"Hold instance"}, happy[:5], happy[5:]),
			wantStatus: asl.StatusSucceeded, transitions: 14 + 3,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				completed(t, w, "CONTINUE")
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2}) {
					t.Errorf("commands went to %v", got)
				}
			},
		},
		{
			name: "DC1 not online at send time: DC2 at once", event: "launch",
			setup:      func(w *world) { w.offline[dc1] = true },
			wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc2}) || !slices.Equal(out.Command.Skipped, []string{dc1}) {
					t.Errorf("commands went to %v, skipped %v", got, out.Command.Skipped)
				}
			},
		},
		{
			name: "command timed out on the DC: held, then the next DC", event: "terminate",
			setup: func(w *world) {
				w.dcOutcome[dc1] = func(int) invocation { return timedOut }
				w.groupState = "Terminating:Wait"
			},
			wantStates: slices.Concat(happy[:5], holdRound, happy[:5], happy[5:]),
			wantStatus: asl.StatusSucceeded, transitions: 16,
		},
		{
			name: "command never finishes: polls bounded, held, then the next DC", event: "launch",
			setup:      func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return running } },
			wantStatus: asl.StatusSucceeded,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2}) {
					t.Errorf("commands went to %v", got)
				}
				if w.heartbeats != 8+1 {
					t.Errorf("%d heartbeats, want one per unfinished poll (8) and the hold's", w.heartbeats)
				}
			},
			// Describe, Route, Assume, Send; 8 polls (Wait, Finished?) with 7 pauses;
			// gave up; a hold round; Describe, Route, Assume, Send, Wait, Finished?, Complete, Done
			transitions: 4 + 8*2 + 7 + 1 + 3 + 8,
		},
		{
			name: "the instance is terminated mid-flight: the record it wrote is removed", event: "launch",
			setup: func(w *world) {
				w.dcOutcome[dc2] = func(int) invocation { return removed }
				w.onSend = func(w *world, in *ssm.SendCommandInput) {
					if in.Parameters[workflow.ParamAction][0] == "register" {
						w.groupState, w.hookExpired = "Terminating", true // terminated while registering
					}
				}
			},
			wantStates: slices.Concat(happy[:7], happy[:7], []string{"Done"}),
			wantStatus: asl.StatusSucceeded, transitions: 15,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				var actions []string
				for _, s := range w.sent {
					actions = append(actions, s.Parameters[workflow.ParamAction][0]+" "+s.Parameters[workflow.ParamHostname][0])
				}
				want := []string{"register web-prod-i-0a1b2c3d4e5f60718", "deregister web-prod-i-0a1b2c3d4e5f60718"}
				if !slices.Equal(actions, want) {
					t.Errorf("commands %v, want %v", actions, want)
				}
				completed(t, w, "")
				if !strings.Contains(out.Lifecycle.Reason, "outlived") {
					t.Errorf("lifecycle reason %q does not say what happened", out.Lifecycle.Reason)
				}
			},
		},
		{
			name: "the instance left its group before registering: nothing sent, nothing completed", event: "launch",
			setup:      func(w *world) { w.groupState = "" },
			wantStates: []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Nothing to do"},
			wantStatus: asl.StatusSucceeded, transitions: 4,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) { noCommand(t, w); completed(t, w, "") },
		},
		{
			name: "hook already completed elsewhere, instance in service: DNS kept, reported as already completed", event: "launch",
			setup: func(w *world) { w.hookExpired = true; w.groupState = "InService" }, wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				if !out.Lifecycle.AlreadyCompleted || len(w.sent) != 1 {
					t.Errorf("lifecycle %+v, %d commands", out.Lifecycle, len(w.sent))
				}
			},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			w := newWorld()
			if sc.setup != nil {
				sc.setup(w)
			}
			r := newRig(t, w, sc.env)
			input := fixture(t, sc.event)
			if sc.input != nil {
				input = sc.input(t)
			}
			x, res := r.run(t, input)
			if sc.wantStates != nil && !slices.Equal(states(x), sc.wantStates) {
				t.Errorf("states\n got %q\nwant %q", states(x), sc.wantStates)
			}
			if res.Status != sc.wantStatus || res.Error != sc.wantError {
				t.Fatalf("status %s %s (%s), want %s %s", res.Status, res.Error, res.Cause, sc.wantStatus, sc.wantError)
			}
			if sc.transitions != 0 && res.Transitions != sc.transitions { // 0: a long hold, counted by its rounds instead
				t.Errorf("%d state transitions, want %d", res.Transitions, sc.transitions)
			}
			var out workflow.State
			if res.Status == asl.StatusSucceeded {
				if err := json.Unmarshal(res.Output, &out); err != nil {
					t.Fatal(err)
				}
				if !lambdatest.JSONEqual(mustJSON(t, out.Event), input) {
					t.Error("the output does not carry the event as delivered")
				}
			}
			if sc.check != nil {
				sc.check(t, w, out, res)
			}
		})
	}
}

// TestRedriveAfterTheFaultIsFixed: the DNS work succeeded but completing the
// lifecycle action was refused (IAM). The execution fails at that state;
// once the permission is fixed a redrive resumes there, the states that
// succeeded are not run again, and it succeeds.
func TestRedriveAfterTheFaultIsFixed(t *testing.T) {
	w := newWorld()
	w.completeDenied = true
	r := newRig(t, w, nil)
	x, res := r.run(t, fixture(t, "launch"))
	if res.Status != asl.StatusFailed || res.Error != "AccessDenied" || !slices.Equal(states(x), happy[:7]) {
		t.Fatalf("first run: %s %s, states %q", res.Status, res.Error, states(x))
	}
	w.mu.Lock()
	w.completeDenied = false // the operator fixes IAM
	w.mu.Unlock()
	if err := r.engine.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res = x.Wait()
	if res.Status != asl.StatusSucceeded || res.RedriveCount != 1 {
		t.Fatalf("after redrive: %s %s (%s), redrive count %d", res.Status, res.Error, res.Cause, res.RedriveCount)
	}
	want := append(slices.Clone(happy[:7]), "Complete lifecycle action", "Done")
	if !slices.Equal(states(x), want) {
		t.Errorf("states\n got %q\nwant %q", states(x), want)
	}
	if len(w.sent) != 1 {
		t.Errorf("%d commands sent: the redrive must not redo the DNS work", len(w.sent))
	}
	completed(t, w, "CONTINUE")
}

// withHook is an event with another lifecycle hook name.
func withHook(t *testing.T, event json.RawMessage, hook string) json.RawMessage {
	var e map[string]any
	if err := json.Unmarshal(event, &e); err != nil {
		t.Fatal(err)
	}
	e["detail"].(map[string]any)["LifecycleHookName"] = hook
	return mustJSON(t, e)
}

func completed(t *testing.T, w *world, result string) {
	t.Helper()
	if result == "" {
		if len(w.completions) != 0 {
			t.Errorf("lifecycle action completed %d times, want none", len(w.completions))
		}
		return
	}
	if len(w.completions) != 1 || *w.completions[0].LifecycleActionResult != result {
		t.Errorf("completions %d, want one with %s", len(w.completions), result)
	}
}

func noCommand(t *testing.T, w *world) {
	t.Helper()
	if len(w.sent) != 0 || len(w.assumedSessions) != 0 {
		t.Errorf("%d commands sent, %d sessions assumed: want none", len(w.sent), len(w.assumedSessions))
	}
}

func sentTo(w *world) []string {
	var out []string
	for _, s := range w.sent {
		out = append(out, s.InstanceIds[0])
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEveryRetrierIsExercised injects, into each Task's function in turn,
// the first error each of its retriers names (a Lambda service error,
// Throttled, Unavailable), once: the retrier absorbs it, and the execution
// takes exactly the path it takes without the fault, one retry (one billed
// transition) longer.
func TestEveryRetrierIsExercised(t *testing.T) {
	d, err := statemachine.Deployed()
	if err != nil {
		t.Fatal(err)
	}
	// Each Task on a path that reaches it, and the function behind it.
	paths := map[string]struct {
		function string
		setup    func(w *world)
	}{
		"Describe instance":           {"DescribeInstanceFunction", nil},
		"Assume shared-services role": {"AssumeRoleFunction", nil},
		"Send DNS command":            {"SendCommandFunction", nil},
		"Wait for DNS command":        {"WaitForCommandFunction", nil},
		"Complete lifecycle action":   {"CompleteLifecycleFunction", nil},
		"Hold instance": {"HoldInstanceFunction", func(w *world) {
			w.dcOutcome[dc1] = func(int) invocation { return failedCmd }
		}},
		"Release instance": {"CompleteLifecycleFunction", func(w *world) { w.stsDenied = true }},
	}
	for name, s := range d.States {
		if s.Type != "Task" {
			continue
		}
		p, ok := paths[name]
		if !ok {
			t.Errorf("Task %q has no path here: add one", name)
			continue
		}
		for _, r := range s.Retry {
			errName := r.ErrorEquals[0]
			t.Run(name+"/"+errName, func(t *testing.T) {
				run := func(inject bool) (*asl.Execution, asl.Result) {
					w := newWorld()
					if p.setup != nil {
						p.setup(w)
					}
					if inject {
						// Release instance runs the same function as Complete,
						// which this path does not reach.
						w.inject[p.function] = []string{errName}
					}
					return newRig(t, w, nil).run(t, fixture(t, "launch"))
				}
				x0, want := run(false)
				x, got := run(true)
				if got.Status != want.Status || got.Error != want.Error || !slices.Equal(states(x), states(x0)) {
					t.Fatalf("with %s injected: %s %s, states %q; without: %s %s, states %q",
						errName, got.Status, got.Error, states(x), want.Status, want.Error, states(x0))
				}
				if got.Transitions != want.Transitions+1 {
					t.Errorf("%d transitions, want %d (one retry)", got.Transitions, want.Transitions+1)
				}
				if !slices.Contains(states(x0), name) {
					t.Errorf("the path does not reach %q", name)
				}
			})
		}
	}
}
