package workflow_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// TestFixturesRoundTrip: every fixture event survives decoding into the
// contract types (the event and its typed detail) and encoding back, as the
// same JSON.
func TestFixturesRoundTrip(t *testing.T) {
	for _, name := range lambdatest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			raw := lambdatest.Event(t, name)
			e, err := workflow.ParseEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			var detail any
			switch e.DetailType {
			case workflow.DetailTypeLaunchAction, workflow.DetailTypeTermAction:
				if strings.Contains(string(e.Detail), workflow.TestNotification) {
					detail = &map[string]string{}
				} else {
					detail = &workflow.LifecycleActionDetail{}
				}
			default:
				detail = &workflow.InstanceLaunchDetail{}
			}
			if err := json.Unmarshal(e.Detail, detail); err != nil {
				t.Fatal(err)
			}
			if e.Detail, err = json.Marshal(detail); err != nil {
				t.Fatal(err)
			}
			// And once more inside the state document a Task receives.
			req, err := workflow.DecodeRequest(mustJSON(t, workflow.Request{Execution: "x", State: workflow.State{Event: e}}))
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, req.State); !lambdatest.JSONEqual(got, raw) {
				t.Errorf("round trip changed the event:\ngot  %s\nwant %s", got, raw)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPlanForFixtures(t *testing.T) {
	want := map[string]struct {
		action     workflow.Action
		transition workflow.Transition
		complete   bool
	}{
		"launch":                 {workflow.ActionRegister, workflow.TransitionLaunch, true},
		"launch-from-warm-pool":  {workflow.ActionRegister, workflow.TransitionLaunch, true},
		"launch-into-warm-pool":  {workflow.ActionNone, workflow.TransitionLaunch, true},
		"launch-successful":      {workflow.ActionRegister, workflow.TransitionLaunch, false},
		"terminate":              {workflow.ActionDeregister, workflow.TransitionTerminate, true},
		"terminate-to-warm-pool": {workflow.ActionNone, workflow.TransitionTerminate, true},
		"test-notification":      {workflow.ActionNone, "", false},
		"unknown":                {workflow.ActionNone, "", false},
	}
	for _, name := range lambdatest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for fixture %s", name)
			}
			e, err := workflow.ParseEvent(lambdatest.Event(t, name))
			if err != nil {
				t.Fatal(err)
			}
			p, err := workflow.PlanFor(e)
			if err != nil {
				t.Fatal(err)
			}
			if p.Action != w.action || p.Transition != w.transition || p.Complete() != w.complete || p.Reason == "" {
				t.Errorf("plan %+v, want %+v", p, w)
			}
		})
	}
}

func TestPlanForRejects(t *testing.T) {
	base := string(lambdatest.Event(t, "launch"))
	cases := []struct {
		name, from, to, field string
	}{
		{"wrong source", `"source": "aws.autoscaling"`, `"source": "custom.app"`, "source"},
		{"detail not an object", `"detail": {`, `"detail": "x", "d": {`, "detail"},
		{"no detail-type", `"detail-type": "EC2 Instance-launch Lifecycle Action",`, ``, "detail-type"},
		{"transition mismatch", `autoscaling:EC2_INSTANCE_LAUNCHING`, `autoscaling:EC2_INSTANCE_TERMINATING`, "detail.LifecycleTransition"},
		{"bad instance id", `"i-0a1b2c3d4e5f60718"`, `"i-0a1b2c3d4e5f6071$"`, "detail.EC2InstanceId"},
		{"short instance id", `"i-0a1b2c3d4e5f60718"`, `"i-0a1b"`, "detail.EC2InstanceId"},
		{"bad hook name", `"dns-launch"`, `"dns launch;"`, "detail.LifecycleHookName"},
		{"bad origin", `"Origin": "EC2"`, `"Origin": "Mars"`, "detail.Origin"},
		{"empty asg", `"AutoScalingGroupName": "web-prod"`, `"AutoScalingGroupName": ""`, "detail.AutoScalingGroupName"},
		{"bad token", `"b9784c10-c448-48d1-b6cd-b8489f4ebc34"`, `"not-a-token"`, "detail.LifecycleActionToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			input := strings.Replace(base, tc.from, tc.to, 1)
			if input == base {
				t.Fatalf("replacement %q not found in the fixture", tc.from)
			}
			e, err := workflow.ParseEvent([]byte(input))
			if err == nil {
				_, err = workflow.PlanFor(e)
			}
			if workflow.Routed(err) != "InvalidEvent" || !strings.HasPrefix(err.Error(), tc.field) || !strings.Contains(err.Error(), "fix:") {
				t.Fatalf("got %T %v, want an InvalidEvent naming %s with a fix", err, err, tc.field)
			}
		})
	}
	if _, err := workflow.ParseEvent([]byte(`{"source":`)); workflow.Routed(err) != "InvalidEvent" {
		t.Errorf("malformed JSON: %v", err)
	}
}

func TestProblemMessage(t *testing.T) {
	p := workflow.Problem{Field: "tag Name", Value: "wеb\n$(x)", Reason: "is bad", Fix: "change it"}
	if got, want := p.Error(), `tag Name "w\u0435b\n$(x)": is bad; fix: change it`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	long := workflow.Problem{Field: "f", Value: strings.Repeat("é", 100), Reason: "r"}
	if !strings.Contains(long.Error(), "…(200 bytes)") {
		t.Errorf("long value not cut: %s", long.Error())
	}
}
