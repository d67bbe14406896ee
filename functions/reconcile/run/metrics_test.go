package run

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

// TestMetrics: a run writes EMF documents CloudWatch accepts (checked by
// emftest, not by the code that wrote them).
func TestMetrics(t *testing.T) {
	f := newWorld()
	f.queue = []sqstypes.Message{message("m1", string(lambdatest.Event(t, "launch-from-warm-pool")))}
	var logs bytes.Buffer
	h, _ := newHandler(t, f, &logs, config.EnvDrainFunction, drainFn)
	mustHandle(t, h, `{"mode":"sync","run":"run-1","drainDeadLetters":true}`)
	var got []string
	for _, d := range emftest.Data(t, logs.Bytes()) {
		got = append(got, d.String())
	}
	want := []string{
		"asgdns/ReconcileSucceeded{} 1 Count",
		"asgdns/RecordsSkippedOtherOwner{} 2 Count",
		"asgdns/RepairsStarted{} 2 Count",
		"asgdns/DeadLettersDrained{} 1 Count",
		"asgdns/ReconcileReadCommands{} 1 Count",
		"asgdns/DriftFound{Kind=missing} 1 Count",
		"asgdns/DriftFound{Kind=wrong-address} 0 Count",
		"asgdns/DriftFound{Kind=wrong-ttl} 0 Count",
		"asgdns/DriftFound{Kind=stale} 1 Count",
		"asgdns/DriftFound{Kind=conflict} 0 Count",
		"asgdns/DriftFound{Kind=unconfirmed} 0 Count",
		"asgdns/DriftFound{Kind=unverified} 0 Count",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A retry of the run starts nothing new, and says so.
	logs.Reset()
	mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if !slices.Contains(dataOf(t, logs.Bytes()), "asgdns/RepairsStarted{} 0 Count") {
		t.Errorf("retry metrics %v", dataOf(t, logs.Bytes()))
	}
}

func dataOf(t *testing.T, logs []byte) []string {
	var out []string
	for _, d := range emftest.Data(t, logs) {
		out = append(out, d.String())
	}
	return out
}
