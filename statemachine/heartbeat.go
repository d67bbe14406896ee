package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/asgdns/asgdns/functions/wait-for-command/wait"
)

//go:embed asgdns.asl.json
var definitionJSON []byte

// Deployed is the state machine definition this build deploys.
func Deployed() (Definition, error) {
	var d Definition
	if err := json.Unmarshal(definitionJSON, &d); err != nil {
		return d, fmt.Errorf("statemachine/asgdns.asl.json: %w", err)
	}
	return d, nil
}

// MaxEventAgeSeconds is the EventBridge rule's RetryPolicy
// MaximumEventAgeInSeconds (template.yaml, pinned by a test): EventBridge
// may retry delivering a lifecycle event this long before the execution
// starts, while the hook is already holding the instance. Past it the event
// goes to the dead-letter queue.
const MaxEventAgeSeconds = 900

// Stretches are the longest times the workflow can go without recording a
// lifecycle heartbeat, by where they start; see TestHookOutlivesTheWorkflow.
func (d Definition) Stretches() (map[string]time.Duration, error) {
	visit := func(name string) (time.Duration, error) {
		s, ok := d.States[name]
		if !ok || s.Type != "Task" {
			return 0, fmt.Errorf("the definition has no Task state %q", name)
		}
		return s.WorstVisit(), nil
	}
	names := []string{"Describe instance", "Assume shared-services role", "Send DNS command",
		"Wait for DNS command", "Complete lifecycle action", "Release instance"}
	v := map[string]time.Duration{}
	for _, n := range names {
		var err error
		if v[n], err = visit(n); err != nil {
			return nil, err
		}
	}
	finish := v["Complete lifecycle action"] + v["Release instance"]
	poll := v["Wait for DNS command"]
	delivery := MaxEventAgeSeconds * time.Second
	return map[string]time.Duration{
		"start":  delivery + v["Describe instance"] + v["Assume shared-services role"] + v["Send DNS command"] + poll + finish,
		"loop":   wait.MaxNextWait + poll + finish,
		"resend": v["Send DNS command"] + poll + finish,
	}, nil
}

// RequiredHeartbeatTimeout is the shortest lifecycle hook HeartbeatTimeout
// that outlives the deployed workflow: its longest stretch without a
// heartbeat.
func RequiredHeartbeatTimeout() (time.Duration, error) {
	d, err := Deployed()
	if err != nil {
		return 0, err
	}
	stretches, err := d.Stretches()
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	for _, s := range stretches {
		longest = max(longest, s)
	}
	return longest, nil
}
