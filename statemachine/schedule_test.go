package statemachine

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/functions/hold-instance/hold"
)

func load(t *testing.T) Definition {
	t.Helper()
	d, err := Load("asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// templateNumber reads a number from template.yaml: a parameter's field
// (MinValue, Default, …), or with field "" a key anywhere ("Key: 900").
func templateNumber(t *testing.T, name, field string) time.Duration {
	t.Helper()
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m [][]byte
	if field == "" {
		m = regexp.MustCompile(`(?m)^\s+` + name + `: (\d+)\b`).FindSubmatch(data)
	} else if p := regexp.MustCompile(`(?m)^  ` + name + `:\n((?:    .*\n)+)`).FindSubmatch(data); p != nil {
		m = regexp.MustCompile(`(?m)^    ` + field + `: (\d+)$`).FindSubmatch(p[1])
	}
	if m == nil {
		t.Fatalf("template.yaml has no %s %s", name, field)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return time.Duration(n) * time.Second
}

// TestHookOutlivesTheWorkflow proves, from the definition's own Retry,
// TimeoutSeconds, Wait and backoff numbers (Definition.Stretches, which
// the operator's asgdns check uses too), that the lifecycle hook never
// times out while the workflow is still working on the instance: the
// longest stretch without a heartbeat fits the smallest heartbeat timeout
// template.yaml allows. The whole execution is capped by the machine's
// TimeoutSeconds, which must hold the longest hold budget and fit the
// hook's global timeout (100 heartbeat timeouts, at most 48 h).
func TestHookOutlivesTheWorkflow(t *testing.T) {
	d := load(t)
	stretches, err := d.Stretches()
	if err != nil {
		t.Fatal(err)
	}
	longest, err := RequiredHeartbeatTimeout()
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range stretches {
		t.Logf("%-5s %v", name, s)
		if s > longest {
			t.Errorf("stretch %s %v is longer than RequiredHeartbeatTimeout %v", name, s, longest)
		}
	}
	minHook, defaultHook := templateNumber(t, "HookHeartbeatTimeout", "MinValue"), templateNumber(t, "HookHeartbeatTimeout", "Default")
	if longest > minHook {
		t.Errorf("the longest stretch without a heartbeat is %v, but template.yaml allows a %v heartbeat timeout (HookHeartbeatTimeout MinValue)", longest, minHook)
	}
	if minHook > defaultHook {
		t.Errorf("HookHeartbeatTimeout default %v is below its minimum %v", defaultHook, minHook)
	}
	global := min(48*time.Hour, 100*minHook)
	maxHold := templateNumber(t, "HoldBudgetSeconds", "MaxValue")
	if maxHold != hold.MaxBudget || templateNumber(t, "HoldBudgetSeconds", "MinValue") != hold.MinBudget ||
		templateNumber(t, "HoldBudgetSeconds", "Default") != hold.DefaultBudget {
		t.Errorf("HoldBudgetSeconds bounds in template.yaml differ from hold.MinBudget/DefaultBudget/MaxBudget")
	}
	// Past the budget a hold ends with at most one more round.
	machine := time.Duration(d.TimeoutSeconds) * time.Second
	if need := maxHold + 2*stretches["hold"]; machine < need || machine > global {
		t.Errorf("machine TimeoutSeconds %v must hold the longest hold budget and a round (%v) and fit the hook's global timeout %v", machine, need, global)
	}
	if age := templateNumber(t, "MaximumEventAgeInSeconds", ""); age != MaxEventAgeSeconds*time.Second {
		t.Errorf("the rule's MaximumEventAgeInSeconds is %v, the proof counts %v (MaxEventAgeSeconds)", age, MaxEventAgeSeconds*time.Second)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("longest stretch without a heartbeat: %d s", int(longest.Seconds())); !strings.Contains(string(readme), want) {
		t.Errorf("statemachine/README.md does not say %q", want)
	}
}

func TestWorstVisit(t *testing.T) {
	s := State{TimeoutSeconds: 10, Retry: []Retrier{
		{IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2},                      // 2 + 4 + 8
		{IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 3, MaxDelaySeconds: 20}, // 5 + 15 + 20
		{IntervalSeconds: 1, MaxAttempts: 0, BackoffRate: 2},                      // never retries
	}}
	if got, want := s.WorstVisit(), 7*10*time.Second+54*time.Second; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
