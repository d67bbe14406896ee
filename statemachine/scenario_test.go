package statemachine

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/asl"
	"github.com/asgdns/asgdns/workflow"
)

// The scenarios run the project's real definition on the engine, on
// virtual time, with the real handlers in process over a fake of AWS. Each
// asserts the exact states entered, the outcome and the state transitions
// (what Step Functions bills).

var (
	happy = []string{"Describe instance", "Route by event", "Assume shared-services role", "Send DNS command",
		"Wait for DNS command", "DNS command finished?", "Complete lifecycle action", "Done"}
	hookOnly = []string{"Describe instance", "Route by event", "No DNS work: hook waiting?", "Complete lifecycle action", "Done"}
)

type scenario struct {
	name        string
	event       string
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
			name: "no token: registers, completes nothing", event: "launch-successful", wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
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
			name: "instance not found: released, FAILED", event: "launch", setup: func(w *world) { w.instanceGone = true },
			wantStates: []string{"Describe instance", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "InstanceNotFound", transitions: 3,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				noCommand(t, w)
				completed(t, w, "ABANDON")
				if !strings.Contains(res.Cause, "i-0a1b2c3d4e5f60718") || !strings.Contains(res.Cause, "ABANDON") {
					t.Errorf("cause %q does not say which instance and what became of it", res.Cause)
				}
			},
		},
		{
			name: "throttled then fine", event: "launch", setup: func(w *world) { w.ec2Throttles = 2 },
			wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8 + 2,
		},
		{
			name: "access denied: released, FAILED", event: "launch", setup: func(w *world) { w.stsDenied = true },
			wantStates: []string{"Describe instance", "Route by event", "Assume shared-services role", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "AccessDenied", transitions: 5,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				noCommand(t, w)
				completed(t, w, "ABANDON")
				if !strings.Contains(res.Cause, "trusts") {
					t.Errorf("cause %q does not say how to fix the trust", res.Cause)
				}
			},
		},
		{
			name: "command failed, then the next DC succeeds", event: "launch",
			setup: func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return failedCmd } },
			wantStates: []string{"Describe instance", "Route by event", "Assume shared-services role",
				"Send DNS command", "Wait for DNS command", "Try another DC?",
				"Send DNS command", "Wait for DNS command", "DNS command finished?", "Complete lifecycle action", "Done"},
			wantStatus: asl.StatusSucceeded, transitions: 11,
			check: func(t *testing.T, w *world, _ workflow.State, _ asl.Result) {
				if len(w.sent) != 2 || w.sent[0].InstanceIds[0] != dc1 || w.sent[1].InstanceIds[0] != dc2 {
					t.Errorf("commands went to %v", sentTo(w))
				}
				completed(t, w, "CONTINUE")
				if w.heartbeats != 1 {
					t.Errorf("%d heartbeats, want 1 (before the re-send)", w.heartbeats)
				}
			},
		},
		{
			name: "command failed on every attempt: released by policy, FAILED", event: "launch",
			env: map[string]string{"ASGDNS_ON_FAILURE": "CONTINUE"},
			setup: func(w *world) {
				w.dcOutcome[dc1] = func(int) invocation { return failedCmd }
				w.dcOutcome[dc2] = func(int) invocation { return failedCmd }
			},
			wantStates: []string{"Describe instance", "Route by event", "Assume shared-services role",
				"Send DNS command", "Wait for DNS command", "Try another DC?",
				"Send DNS command", "Wait for DNS command", "Try another DC?",
				"Send DNS command", "Wait for DNS command", "Try another DC?",
				"Give up on DNS", "Release instance", "DNS work failed"},
			wantStatus: asl.StatusFailed, wantError: "CommandFailed", transitions: 15,
			check: func(t *testing.T, w *world, _ workflow.State, res asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2, dc1}) {
					t.Errorf("commands went to %v", got)
				}
				completed(t, w, "CONTINUE")
				if !strings.Contains(res.Cause, "dns-error") || !strings.Contains(res.Cause, "CloudWatch") {
					t.Errorf("cause %q does not say what failed and where to look", res.Cause)
				}
			},
		},
		{
			name: "command timed out on the DC", event: "terminate",
			setup: func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return timedOut } },
			wantStates: []string{"Describe instance", "Route by event", "Assume shared-services role",
				"Send DNS command", "Wait for DNS command", "Try another DC?",
				"Send DNS command", "Wait for DNS command", "DNS command finished?", "Complete lifecycle action", "Done"},
			wantStatus: asl.StatusSucceeded, transitions: 11,
		},
		{
			name: "command never finishes: polls bounded, then the next DC", event: "launch",
			setup:      func(w *world) { w.dcOutcome[dc1] = func(int) invocation { return running } },
			wantStatus: asl.StatusSucceeded,
			check: func(t *testing.T, w *world, out workflow.State, _ asl.Result) {
				if got := sentTo(w); !slices.Equal(got, []string{dc1, dc2}) {
					t.Errorf("commands went to %v", got)
				}
				if w.heartbeats != 8 {
					t.Errorf("%d heartbeats, want one per unfinished poll (8)", w.heartbeats)
				}
			},
			// Describe, Route, Assume, Send; 8 polls (Wait, Finished?) with 7 pauses;
			// gave up, try another DC; Send, Wait, Finished?, Complete, Done
			transitions: 4 + 8*2 + 7 + 2 + 5,
		},
		{
			name: "hook already expired: DNS done, reported as already completed", event: "launch",
			setup: func(w *world) { w.hookExpired = true }, wantStates: happy, wantStatus: asl.StatusSucceeded, transitions: 8,
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
			x, res := r.run(t, fixture(t, sc.event))
			if sc.wantStates != nil && !slices.Equal(states(x), sc.wantStates) {
				t.Errorf("states\n got %q\nwant %q", states(x), sc.wantStates)
			}
			if res.Status != sc.wantStatus || res.Error != sc.wantError {
				t.Fatalf("status %s %s (%s), want %s %s", res.Status, res.Error, res.Cause, sc.wantStatus, sc.wantError)
			}
			if res.Transitions != sc.transitions {
				t.Errorf("%d state transitions, want %d", res.Transitions, sc.transitions)
			}
			var out workflow.State
			if res.Status == asl.StatusSucceeded {
				if err := json.Unmarshal(res.Output, &out); err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(mustJSON(t, out.Event), fixture(t, sc.event)) {
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

func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func mustJSON(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
