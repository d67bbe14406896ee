package complete

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

// eventTime is the fixture lifecycle events' time.
var eventTime = time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC)

// wantMetrics is the EMF document a case expects, by metric: its value
// (under every dimension set), absent when the metric must not be there.
type wantMetrics struct {
	outcome   string
	failures  float64
	abandoned float64
	seconds   *float64 // CompletionSeconds
	held      *float64 // TotalHeldSeconds
	dcs       *float64 // DCsTried
}

func num(v float64) *float64 { return &v }

// TestMetrics: every outcome writes exactly one EMF document that
// CloudWatch accepts (checked by emftest, not by the code that wrote it),
// with the outcome in the fixed vocabulary, per ASG and over all ASGs.
func TestMetrics(t *testing.T) {
	now := eventTime.Add(95 * time.Second)
	cases := []struct {
		name  string
		input []byte
		at    time.Time // when the step runs, if not now
		group string    // the instance's lifecycle state, for a gone action
		err   error     // from CompleteLifecycleAction
		want  wantMetrics
	}{
		{name: "registered", input: lambdatest.Input(t, "launch"),
			want: wantMetrics{outcome: "registered", seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "registered after a hold on the second DC", input: lambdatest.Input(t, "launch-after-hold"),
			want: wantMetrics{outcome: "registered", seconds: num(95), held: num(0), dcs: num(2)}},
		{name: "registered, no lifecycle action", input: lambdatest.Input(t, "launch-no-token"),
			want: wantMetrics{outcome: "registered", seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "deregistered", input: lambdatest.Input(t, "terminate"),
			want: wantMetrics{outcome: "deregistered", seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "warm pool move", input: lambdatest.Input(t, "launch-into-warm-pool"), want: wantMetrics{outcome: "nothing-to-do"}},
		// Names no ASG: no metric to put it under.
		{name: "test notification", input: lambdatest.Input(t, "test-notification")},
		{name: "undone", input: lambdatest.Input(t, "launch-undone"),
			want: wantMetrics{outcome: "undone", seconds: num(95), held: num(0), dcs: num(2)}},
		{name: "already completed", input: lambdatest.Input(t, "launch"), group: "InService",
			err:  lambdatest.APIError("ValidationError", "No active Lifecycle Action found with instance ID "+instanceID),
			want: wantMetrics{outcome: "registered", seconds: num(95), held: num(0), dcs: num(1)}},
		// Released the second after the hold that found the budget spent
		// (hold-instance's fixtures: 08:17:06 and 08:17:27).
		{name: "hold expired: abandoned", input: lambdatest.Input(t, "launch-failed"), at: eventTime.Add(85 * time.Second),
			want: wantMetrics{outcome: "failed-Unavailable", failures: 1, abandoned: 1, seconds: num(85), held: num(72), dcs: num(2)}},
		{name: "hold expired on a termination", input: lambdatest.Input(t, "terminate-failed"), at: eventTime.Add(106 * time.Second),
			want: wantMetrics{outcome: "failed-Unavailable", failures: 1, seconds: num(106), held: num(73), dcs: num(2)}},
		{name: "terminal", input: lambdatest.Input(t, "launch-conflict"),
			want: wantMetrics{outcome: "failed-Conflict", failures: 1, seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "terminal without instance", input: lambdatest.Input(t, "launch-failed-without-instance"),
			want: wantMetrics{outcome: "failed-InvalidConfig", failures: 1, seconds: num(95), held: num(0)}},
		{name: "timed out", input: lambdatest.WithState(t, "launch", expired("States.Timeout")),
			want: wantMetrics{outcome: "failed-States.Timeout", failures: 1, abandoned: 1, seconds: num(95), held: num(1800), dcs: num(1)}},
		{name: "Lambda's own error", input: lambdatest.WithState(t, "launch", terminal("Lambda.ServiceException")),
			want: wantMetrics{outcome: "failed-Lambda", failures: 1, seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "any other error", input: lambdatest.WithState(t, "launch", terminal("States.Runtime")),
			want: wantMetrics{outcome: "failed-other", failures: 1, seconds: num(95), held: num(0), dcs: num(1)}},
		{name: "failure without a name", input: lambdatest.WithState(t, "launch", func(s map[string]any) { s["error"] = map[string]any{} }),
			want: wantMetrics{outcome: "failed-other", failures: 1, seconds: num(95), held: num(0), dcs: num(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHandler(&fakeAutoScaling{err: tc.err, state: tc.group}, config.DefaultOnFailure, &logs)
			at := now
			if !tc.at.IsZero() {
				at = tc.at
			}
			h.Now = func() time.Time { return at }
			if _, err := h.Handle(context.Background(), tc.input); err != nil {
				t.Fatal(err)
			}
			checkMetrics(t, logs.Bytes(), tc.want)
		})
	}
}

// checkMetrics asserts the log holds one EMF document with want (none
// when want has no outcome).
func checkMetrics(t *testing.T, logs []byte, want wantMetrics) {
	t.Helper()
	if want.outcome == "" {
		if bytes.Contains(logs, []byte(`"_aws"`)) {
			t.Errorf("metrics written:\n%s", logs)
		}
		return
	}
	if n := bytes.Count(logs, []byte(`"_aws"`)); n != 1 {
		t.Fatalf("%d EMF documents, want 1:\n%s", n, logs)
	}
	data := emftest.Data(t, logs)
	asg := map[string]string{"AutoScalingGroupName": "web-prod"}
	expect := []emftest.Datum{
		{Name: "Completed", Unit: "Count", Value: 1, Dimensions: map[string]string{"AutoScalingGroupName": "web-prod", "Outcome": want.outcome}},
		{Name: "Completed", Unit: "Count", Value: 1, Dimensions: map[string]string{"Outcome": want.outcome}},
	}
	perASG := func(name, unit string, v float64) {
		expect = append(expect, emftest.Datum{Name: name, Unit: unit, Value: v, Dimensions: asg},
			emftest.Datum{Name: name, Unit: unit, Value: v, Dimensions: map[string]string{}})
	}
	perASG("Failures", "Count", want.failures)
	perASG("Abandoned", "Count", want.abandoned)
	for name, v := range map[string]*float64{"CompletionSeconds": want.seconds, "TotalHeldSeconds": want.held, "DCsTried": want.dcs} {
		if v != nil {
			unit := "Seconds"
			if name == "DCsTried" {
				unit = "Count"
			}
			perASG(name, unit, *v)
		}
	}
	got := map[string]bool{}
	for _, d := range data {
		if d.Namespace != "asgdns" {
			t.Errorf("namespace %q", d.Namespace)
		}
		got[d.String()] = true
	}
	for _, d := range expect {
		d.Namespace = "asgdns"
		if !got[d.String()] {
			t.Errorf("missing %s", d)
		}
		delete(got, d.String())
	}
	for d := range got {
		t.Errorf("unexpected %s", d)
	}
}

// TestNoMetricsWithoutOutcome: a step that fails sends the execution on
// (back to Describe instance, or to Release failed): no outcome yet.
func TestNoMetricsWithoutOutcome(t *testing.T) {
	for name, f := range map[string]*fakeAutoScaling{
		"instance gone": {err: lambdatest.APIError("ValidationError", "No active Lifecycle Action found with instance ID "+instanceID), state: "Terminating:Wait"},
		"throttled":     {err: lambdatest.APIError("Throttling", "Rate exceeded")},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			if _, err := newHandler(f, config.DefaultOnFailure, &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(logs.String(), `"_aws"`) {
				t.Errorf("metrics written:\n%s", logs.String())
			}
		})
	}
}
