package workflow_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow"
)

// TestStateFailure: what the DNS work failed with is a terminal $.error, or
// the transient $.commandError only once the hold budget is spent; while
// the instance is still held (or after a retry succeeded) nothing failed.
func TestStateFailure(t *testing.T) {
	terminal := &workflow.CaughtError{Error: "Conflict", Cause: "the name is taken"}
	transient := &workflow.CaughtError{Error: "Unavailable", Cause: "the DC is down"}
	held := &workflow.HoldResult{Holds: 3, HeldSeconds: 70, BudgetSeconds: 1800, WaitSeconds: 40, Heartbeat: "recorded"}
	spent := &workflow.HoldResult{Holds: 9, HeldSeconds: 1800, BudgetSeconds: 1800, Expired: true, Heartbeat: "recorded"}
	for _, tc := range []struct {
		name  string
		state workflow.State
		want  *workflow.CaughtError
	}{
		{"nothing failed", workflow.State{}, nil},
		{"terminal", workflow.State{Error: terminal}, terminal},
		{"terminal while held", workflow.State{Error: terminal, CommandError: transient, Hold: held}, terminal},
		{"terminal after the hold expired", workflow.State{Error: terminal, CommandError: transient, Hold: spent}, terminal},
		{"transient, not held yet", workflow.State{CommandError: transient}, nil},
		{"transient, held", workflow.State{CommandError: transient, Hold: held}, nil},
		{"transient, hold expired", workflow.State{CommandError: transient, Hold: spent}, transient},
		{"hold expired without a transient error", workflow.State{Hold: spent}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.state.Failure(); got != tc.want {
				t.Errorf("Failure() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestStateKeys: the hold loop's keys are where the ASL writes them, and a
// Task payload carries the Hold instance state's backoff.
func TestStateKeys(t *testing.T) {
	since := time.Date(2026, 11, 20, 8, 16, 30, 0, time.UTC)
	payload := `{"execution":"x","backoff":{"firstSeconds":10,"rate":2,"maxSeconds":300},"state":{` +
		`"commandError":{"Error":"Unavailable","Cause":"{\"errorMessage\":\"DC down\",\"errorType\":\"Unavailable\"}"},` +
		`"hold":{"holds":2,"since":"2026-11-20T08:16:30Z","heldSeconds":12,"budgetSeconds":1800,"expired":false,"waitSeconds":17,"heartbeat":"recorded","retrying":"Unavailable"}}}`
	req, err := workflow.DecodeRequest([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if req.Backoff == nil || *req.Backoff != (workflow.Backoff{FirstSeconds: 10, Rate: 2, MaxSeconds: 300}) {
		t.Errorf("backoff %+v", req.Backoff)
	}
	wantHold := workflow.HoldResult{Holds: 2, Since: since, HeldSeconds: 12, BudgetSeconds: 1800, WaitSeconds: 17,
		Heartbeat: "recorded", Retrying: "Unavailable"}
	if req.State.Hold == nil || *req.State.Hold != wantHold {
		t.Errorf("hold %+v, want %+v", req.State.Hold, wantHold)
	}
	if e := req.State.CommandError; e == nil || e.Error != "Unavailable" || e.Message() != "DC down" {
		t.Errorf("commandError %+v", e)
	}
	// Written back, the state keeps the keys; a request without a backoff
	// (every Task but Hold instance) does not grow one.
	out, err := json.Marshal(workflow.Request{Execution: "x", State: req.State})
	if err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Backoff *json.RawMessage           `json:"backoff"`
		State   map[string]json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	if keys.Backoff != nil || keys.State["commandError"] == nil || keys.State["hold"] == nil {
		t.Errorf("re-encoded request %s", out)
	}
}
