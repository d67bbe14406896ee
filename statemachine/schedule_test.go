package statemachine

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The poller's longest wait between polls: its nextWaitSeconds schedule
// (5, 10, 20, 40, 60) is capped at 60 s, which wait-for-command's tests pin.
const maxPollWait = 60 * time.Second

func load(t *testing.T) Definition {
	t.Helper()
	d, err := Load("asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func visit(t *testing.T, d Definition, name string) time.Duration {
	t.Helper()
	s, ok := d.States[name]
	if !ok || s.Type != "Task" {
		t.Fatalf("no Task state %q", name)
	}
	return s.WorstVisit()
}

// templateHook reads the HookHeartbeatTimeout parameter's bounds.
func templateHook(t *testing.T) (minValue, defaultValue time.Duration) {
	t.Helper()
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  HookHeartbeatTimeout:\n((?:    .*\n)+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("template.yaml has no HookHeartbeatTimeout parameter")
	}
	field := func(name string) time.Duration {
		f := regexp.MustCompile(`(?m)^    ` + name + `: (\d+)$`).FindSubmatch(m[1])
		if f == nil {
			t.Fatalf("HookHeartbeatTimeout has no %s", name)
		}
		n, _ := strconv.Atoi(string(f[1]))
		return time.Duration(n) * time.Second
	}
	return field("MinValue"), field("Default")
}

// TestHookOutlivesTheWorkflow proves, from the definition's own Retry,
// TimeoutSeconds and Wait numbers, that the lifecycle hook never times out
// while the workflow is still working on the instance. WaitForCommand
// records a heartbeat whenever the workflow goes on after a poll (to wait
// and poll again, or to re-send a failed command), so what must fit the
// hook's heartbeat timeout is the longest stretch without one:
//
//	start:  Describe, Assume, Send, a poll that ends it, Complete, Release
//	loop:   a wait, a poll that ends it, Complete, Release
//	resend: Send, a poll that ends it, Complete, Release
//
// (Release runs when Complete itself fails.) The whole execution is also
// capped by the machine's TimeoutSeconds, which must fit the hook's global
// timeout (100 heartbeat timeouts, at most 48 h).
func TestHookOutlivesTheWorkflow(t *testing.T) {
	d := load(t)
	describe := visit(t, d, "Describe instance")
	assume := visit(t, d, "Assume shared-services role")
	send := visit(t, d, "Send DNS command")
	poll := visit(t, d, "Wait for DNS command")
	finish := visit(t, d, "Complete lifecycle action") + visit(t, d, "Release instance")
	stretches := map[string]time.Duration{
		"start":  describe + assume + send + poll + finish,
		"loop":   maxPollWait + poll + finish,
		"resend": send + poll + finish,
	}
	minHook, defaultHook := templateHook(t)
	var longest time.Duration
	for name, d := range stretches {
		t.Logf("%-6s %v", name, d)
		longest = max(longest, d)
	}
	if longest > minHook {
		t.Errorf("the longest stretch without a heartbeat is %v, but template.yaml allows a %v heartbeat timeout (HookHeartbeatTimeout MinValue)", longest, minHook)
	}
	if minHook > defaultHook {
		t.Errorf("HookHeartbeatTimeout default %v is below its minimum %v", defaultHook, minHook)
	}
	global := min(48*time.Hour, 100*minHook)
	if machine := time.Duration(d.TimeoutSeconds) * time.Second; machine == 0 || machine > global {
		t.Errorf("machine TimeoutSeconds %v must be set and within the hook's global timeout %v", machine, global)
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
