package stepfunctions

import (
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/asl"
)

// Every reason the API reference gives for NOT_REDRIVABLE (Standard
// workflows), in its words, and the edges of the time limits.
func TestNotRedrivable(t *testing.T) {
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	stop := start.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		status asl.Status
		start  time.Time
		events int
		now    time.Time
		want   string
	}{
		{"failed, just now", asl.StatusFailed, start, 10, stop, ""},
		{"timed out", asl.StatusTimedOut, start, 10, stop, ""},
		{"aborted", asl.StatusAborted, start, 10, stop, ""},
		{"running", asl.StatusRunning, start, 10, stop, "Execution is RUNNING and cannot be redriven."},
		{"succeeded", asl.StatusSucceeded, start, 10, stop, "Execution is SUCCEEDED and cannot be redriven."},
		{"started before RedriveExecution", asl.StatusFailed, time.Date(2023, 11, 14, 0, 0, 0, 0, time.UTC), 10, stop,
			"Execution was started before the launch of RedriveExecution."},
		{"24,998 events", asl.StatusFailed, start, 24998, stop, ""},
		{"24,999 events", asl.StatusFailed, start, 24999, stop, "Execution history event limit exceeded."},
		{"open for a year", asl.StatusFailed, start.Add(-365 * 24 * time.Hour).Add(time.Hour), 10, stop,
			"Execution has exceeded the max execution time."},
		{"14 days after the stop", asl.StatusFailed, start, 10, stop.Add(14 * 24 * time.Hour), ""},
		{"past 14 days", asl.StatusFailed, start, 10, stop.Add(14*24*time.Hour + time.Millisecond), "Execution redrivable period exceeded."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &execution{status: tc.status, startDate: tc.start, events: tc.events, last: asl.Result{StopDate: stop}}
			if got := x.notRedrivable(tc.now); got != tc.want {
				t.Errorf("notRedrivable = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"launch-i-0a1b2c3d4e5f60718": true, "replay-58dbb6fe_d650.x": true, "ünïcödé": true,
		"": false, "a b": false, "tab\there": false, "nbsp\u00a0": false, "ideographic\u3000space": false,
		"del\x7f": false, "c1\u0085": false, "nonchar\uffff": false, "slash/": false,
	} {
		if err := validName(name); (err == nil) != ok {
			t.Errorf("validName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	for _, c := range "<>{}[]?*\"#%\\^|~`$&,;:/" {
		if validName("a"+string(c)+"b") == nil {
			t.Errorf("%q is allowed", c)
		}
	}
	if validName("x\xff") == nil {
		t.Error("invalid UTF-8 is allowed")
	}
}
