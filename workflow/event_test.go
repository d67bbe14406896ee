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
				// Events asgdns does not act on: kept as delivered.
				detail = &map[string]any{}
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

// fixtureHooks are the hooks the fixture events name: the ones a deployment
// would list in ASGDNS_HOOK_NAMES.
var fixtureHooks = workflow.HookNames{"dns-launch", "dns-terminate"}

func TestPlanForFixtures(t *testing.T) {
	want := map[string]struct {
		action     workflow.Action
		transition workflow.Transition
		complete   bool
	}{
		"launch":                 {workflow.ActionRegister, workflow.TransitionLaunch, true},
		"launch-from-warm-pool":  {workflow.ActionRegister, workflow.TransitionLaunch, true},
		"launch-into-warm-pool":  {workflow.ActionNone, workflow.TransitionLaunch, true},
		"launch-no-token":        {workflow.ActionRegister, workflow.TransitionLaunch, false},
		"launch-successful":      {workflow.ActionNone, "", false},
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
			p, err := workflow.PlanFor(e, fixtureHooks)
			if err != nil {
				t.Fatal(err)
			}
			if p.Action != w.action || p.Transition != w.transition || p.Complete() != w.complete || p.Reason == "" {
				t.Errorf("plan %+v, want %+v", p, w)
			}
		})
	}
}

// TestPlanForNotALifecycleAction: "EC2 Instance Launch Successful" is an
// activity event, not a lifecycle action. asgdns registers through its own
// launch hook, and registering here without a matching terminate path would
// leave stale records: the event touches nothing, and the reason says why.
func TestPlanForNotALifecycleAction(t *testing.T) {
	e, err := workflow.ParseEvent(lambdatest.Event(t, "launch-successful"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := workflow.PlanFor(e, fixtureHooks)
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.Plan{Action: workflow.ActionNone, Reason: "EC2 Instance Launch Successful is not a lifecycle action: " +
		"asgdns registers instances through its launch hook, which the stack creates"}
	if p != want {
		t.Errorf("plan %+v, want %+v", p, want)
	}
}

// TestPlanForNoToken: a lifecycle action of asgdns's hook without its token
// (an execution started by hand or by reconciliation) does the DNS work and
// has nothing to complete (DESIGN §3).
func TestPlanForNoToken(t *testing.T) {
	e, err := workflow.ParseEvent(lambdatest.Event(t, "launch-no-token"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := workflow.PlanFor(e, fixtureHooks)
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.Plan{Action: workflow.ActionRegister, Transition: workflow.TransitionLaunch, InstanceID: "i-0a1b2c3d4e5f60718",
		ASG: "web-prod", HookName: "dns-launch", Metadata: `{"zone":"corp.example.com","ttl":300}`,
		Reason: "launching into the group: registering (no lifecycle action token: nothing to complete)"}
	if p != want {
		t.Errorf("plan %+v, want %+v", p, want)
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
				_, err = workflow.PlanFor(e, fixtureHooks)
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

// withHook returns fixture event name with its lifecycle hook renamed.
func withHook(t *testing.T, name, hook string) workflow.Event {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(lambdatest.Event(t, name), &raw); err != nil {
		t.Fatal(err)
	}
	raw["detail"].(map[string]any)["LifecycleHookName"] = hook
	e, err := workflow.ParseEvent(mustJSON(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPlanForForeignHook: another team's hook on the same ASG raises the
// same events. Its plan carries no token, so nothing downstream can
// heartbeat or complete it, does no DNS work, and says whose it is.
func TestPlanForForeignHook(t *testing.T) {
	for _, tc := range []struct {
		event, hook string
		hooks       workflow.HookNames
		transition  workflow.Transition
		wantReason  string
	}{
		{"launch", "other-team-bootstrap", fixtureHooks, workflow.TransitionLaunch,
			`lifecycle hook "other-team-bootstrap" is not one of asgdns's (dns-launch, dns-terminate): another team's hook, left untouched`},
		{"launch-from-warm-pool", "other-team-bootstrap", fixtureHooks, workflow.TransitionLaunch, `lifecycle hook "other-team-bootstrap"`},
		{"launch-into-warm-pool", "other-team-bootstrap", fixtureHooks, workflow.TransitionLaunch, `lifecycle hook "other-team-bootstrap"`},
		{"terminate", "log-shipper/drain", fixtureHooks, workflow.TransitionTerminate,
			`lifecycle hook "log-shipper/drain" is not one of asgdns's (dns-launch, dns-terminate): another team's hook, left untouched`},
		{"terminate-to-warm-pool", "log-shipper/drain", fixtureHooks, workflow.TransitionTerminate, `lifecycle hook "log-shipper/drain"`},
		// Names match exactly: no prefixes, no case folding.
		{"launch", "dns-launch-2", fixtureHooks, workflow.TransitionLaunch, `lifecycle hook "dns-launch-2"`},
		{"launch", "DNS-launch", fixtureHooks, workflow.TransitionLaunch, `lifecycle hook "DNS-launch"`},
		// The deployment's default names do not cover the fixtures' hooks.
		{"launch", "dns-launch", workflow.HookNames{"asgdns-launch", "asgdns-terminate"}, workflow.TransitionLaunch,
			`lifecycle hook "dns-launch" is not one of asgdns's (asgdns-launch, asgdns-terminate)`},
		{"terminate", "dns-terminate", nil, workflow.TransitionTerminate, `lifecycle hook "dns-terminate" is not one of asgdns's ()`},
	} {
		t.Run(tc.event+"/"+tc.hook, func(t *testing.T) {
			p, err := workflow.PlanFor(withHook(t, tc.event, tc.hook), tc.hooks)
			if err != nil {
				t.Fatal(err)
			}
			want := workflow.Plan{Action: workflow.ActionNone, Transition: tc.transition, InstanceID: "i-0a1b2c3d4e5f60718",
				ASG: "web-prod", HookName: tc.hook, Reason: p.Reason}
			if p != want {
				t.Errorf("plan %+v, want %+v (no token, no metadata)", p, want)
			}
			if p.Complete() || p.Token != "" {
				t.Errorf("a foreign hook's plan carries token %q", p.Token)
			}
			if !strings.HasPrefix(p.Reason, tc.wantReason) {
				t.Errorf("reason %q, want it to start with %q", p.Reason, tc.wantReason)
			}
		})
	}
	// A foreign hook does not excuse a broken event: it is still refused.
	e := withHook(t, "launch", "other-team-bootstrap")
	e.Detail = []byte(strings.Replace(string(e.Detail), "i-0a1b2c3d4e5f60718", "i-XYZ", 1))
	if _, err := workflow.PlanFor(e, fixtureHooks); workflow.Routed(err) != "InvalidEvent" || !strings.HasPrefix(err.Error(), "detail.EC2InstanceId") {
		t.Errorf("broken event of a foreign hook: got %v, want InvalidEvent naming detail.EC2InstanceId", err)
	}
	// Events that are not lifecycle actions do not depend on the hooks.
	for _, name := range []string{"launch-successful", "test-notification", "unknown"} {
		e, err := workflow.ParseEvent(lambdatest.Event(t, name))
		if err != nil {
			t.Fatal(err)
		}
		withHooks, err1 := workflow.PlanFor(e, fixtureHooks)
		without, err2 := workflow.PlanFor(e, nil)
		if err1 != nil || err2 != nil || withHooks != without {
			t.Errorf("%s: plan depends on the hooks: %+v %v / %+v %v", name, withHooks, err1, without, err2)
		}
	}
}

func TestHookNamesOwns(t *testing.T) {
	hooks := workflow.HookNames{"asgdns-launch", "asgdns-terminate", "team/dns"}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"asgdns-launch", true},
		{"asgdns-terminate", true},
		{"team/dns", true},
		{"asgdns", false},
		{"asgdns-launch ", false},
		{"ASGDNS-LAUNCH", false},
		{"asgdns-launch-extra", false},
		{"team", false},
		{"", false},
	} {
		if got := hooks.Owns(tc.name); got != tc.want {
			t.Errorf("Owns(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if workflow.HookNames(nil).Owns("asgdns-launch") || workflow.HookNames(nil).Owns("") {
		t.Error("no hooks own something")
	}
}

// TestLeavingGroup: every Auto Scaling lifecycle state an instance can be
// in (autoscaling:DescribeAutoScalingInstances), and "not in any group".
func TestLeavingGroup(t *testing.T) {
	staying := []string{"Pending", "Pending:Wait", "Pending:Proceed", "Quarantined", "InService", "EnteringStandby", "Standby",
		"Warmed:Pending", "Warmed:Pending:Wait", "Warmed:Pending:Proceed", "Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated"}
	leaving := []string{"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated", "Detaching", "Detached",
		"Warmed:Terminating", "Warmed:Terminating:Wait", "Warmed:Terminating:Proceed", "Warmed:Terminated"}
	for _, s := range staying {
		if workflow.LeavingGroup(s, true) {
			t.Errorf("%s: leaving, want staying", s)
		}
		if !workflow.LeavingGroup(s, false) {
			t.Errorf("%s but not found in any group: staying, want leaving", s)
		}
	}
	for _, s := range leaving {
		if !workflow.LeavingGroup(s, true) {
			t.Errorf("%s: staying, want leaving", s)
		}
	}
	if !workflow.LeavingGroup("", false) {
		t.Error("an instance no group lists is not leaving")
	}
}
