package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/asgdns/asgdns/workflow"
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
// lifecycle heartbeat, by where they start. WaitForCommand heartbeats
// whenever the workflow goes on after a poll (to wait and poll again, or to
// hold), and Hold instance heartbeats every round of the hold loop, so
// what must fit the hook's heartbeat timeout is the longest of:
//
//	start: the event's delivery (EventBridge retries), Describe, Assume,
//	       Send, a poll that ends it, then Complete and Release, or a Hold
//	poll:  the longest wait between polls, a poll, then the same ends
//	hold:  the longest backoff, Describe, Assume, Send, a poll, the same ends
//
// Each Task counts as its worst visit (every retry of every retrier, each
// attempt running to its TimeoutSeconds).
func (d Definition) Stretches() (map[string]time.Duration, error) {
	v := map[string]time.Duration{}
	for _, n := range []string{"Describe instance", "Assume shared-services role", "Send DNS command",
		"Wait for DNS command", "Complete lifecycle action", "Release instance", "Hold instance"} {
		s, ok := d.States[n]
		if !ok || s.Type != "Task" {
			return nil, fmt.Errorf("the definition has no Task state %q", n)
		}
		v[n] = s.WorstVisit()
	}
	backoff := d.States["Hold instance"].Parameters.Backoff
	if backoff == nil {
		return nil, fmt.Errorf("the Hold instance state declares no backoff")
	}
	end := max(v["Complete lifecycle action"]+v["Release instance"], v["Hold instance"])
	work := v["Describe instance"] + v["Assume shared-services role"] + v["Send DNS command"] + v["Wait for DNS command"]
	return map[string]time.Duration{
		"start": MaxEventAgeSeconds*time.Second + work + end,
		"poll":  workflow.MaxNextWaitSeconds*time.Second + v["Wait for DNS command"] + end,
		"hold":  time.Duration(backoff.MaxSeconds)*time.Second + work + end,
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
