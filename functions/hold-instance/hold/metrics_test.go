package hold

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

// TestMetrics: every hold round writes one EMF document CloudWatch
// accepts (checked by emftest, not by the code that wrote it): one held
// instance and how long it has been held, per ASG and over all ASGs.
func TestMetrics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		now   time.Time
		held  float64
	}{
		{"first hold", request(t, "launch-unavailable", func(_, _ map[string]any) {}), firstHoldAt, 0},
		{"held a while", request(t, "launch-unavailable", heldSince(3, firstHoldAt)), firstHoldAt.Add(7 * time.Minute), 420},
		{"budget spent", request(t, "launch-unavailable", heldSince(9, firstHoldAt)), firstHoldAt.Add(DefaultBudget + 7*time.Second), 1807},
		{"termination", lambdatest.Input(t, "terminate-unavailable"), time.Date(2026, 11, 20, 8, 16, 14, 0, time.UTC), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			if _, err := newHandler(&fakeAutoScaling{}, tc.now, 0.5, &logs).Handle(context.Background(), tc.input); err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(logs.Bytes(), []byte(`"_aws"`)); n != 1 {
				t.Fatalf("%d EMF documents, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), `"Timestamp":`+strconv.FormatInt(tc.now.UnixMilli(), 10)) {
				t.Errorf("timestamp is not the handler's clock:\n%s", logs.String())
			}
			got := map[string]bool{}
			for _, d := range emftest.Data(t, logs.Bytes()) {
				got[d.String()] = true
			}
			want := []string{
				"asgdns/HeldInstances{AutoScalingGroupName=web-prod} 1 Count",
				"asgdns/HeldInstances{} 1 Count",
				"asgdns/HeldSeconds{AutoScalingGroupName=web-prod} " + strconv.FormatFloat(tc.held, 'g', -1, 64) + " Seconds",
				"asgdns/HeldSeconds{} " + strconv.FormatFloat(tc.held, 'g', -1, 64) + " Seconds",
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("missing %s; got %v", w, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	t.Run("a failed round writes none", func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeAutoScaling{err: errors.New("connection reset")}
		if _, err := newHandler(f, firstHoldAt, 0.5, &logs).Handle(context.Background(), lambdatest.Input(t, "launch-unavailable")); err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(logs.String(), `"_aws"`) {
			t.Errorf("metrics written:\n%s", logs.String())
		}
	})
}
