package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Detail types and values from the Auto Scaling event reference.
const (
	SourceAutoScaling      = "aws.autoscaling"
	DetailTypeLaunchAction = "EC2 Instance-launch Lifecycle Action"
	DetailTypeTermAction   = "EC2 Instance-terminate Lifecycle Action"
	TransitionLaunching    = "autoscaling:EC2_INSTANCE_LAUNCHING"
	TransitionTerminating  = "autoscaling:EC2_INSTANCE_TERMINATING"
	TestNotification       = "autoscaling:TEST_NOTIFICATION"
	PlaceWarmPool          = "WarmPool"
)

var (
	instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	tokenPattern      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hookNamePattern   = regexp.MustCompile(`^[A-Za-z0-9_/-]{1,255}$`)
	places            = map[string]bool{"EC2": true, "AutoScalingGroup": true, PlaceWarmPool: true}
)

// Plan is an event reduced to what the workflow needs: what to do with DNS,
// why, and which lifecycle action (if any) to complete afterwards.
type Plan struct {
	Action     Action
	Reason     string
	Transition Transition
	InstanceID string
	ASG        string
	HookName   string
	// Token is the LifecycleActionToken; empty when there is nothing to
	// complete.
	Token string
	// Metadata is the hook's NotificationMetadata (per-ASG overrides).
	Metadata string
}

// HookNames are asgdns's own lifecycle hooks. Other teams' hooks on the
// same ASG raise the same events; the workflow never touches them.
type HookNames []string

// Owns reports whether name is one of asgdns's hooks.
func (h HookNames) Owns(name string) bool {
	for _, n := range h {
		if n == name {
			return true
		}
	}
	return false
}

// ValidHookName reports whether name can be a lifecycle hook's name.
func ValidHookName(name string) bool { return hookNamePattern.MatchString(name) }

// Complete reports whether a lifecycle action waits for completion.
func (p Plan) Complete() bool { return p.Token != "" }

// ParseEvent decodes an execution input. Malformed JSON is InvalidEvent.
func ParseEvent(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, &InvalidEvent{Problem{
			Field: "input", Value: string(data), Reason: "is not an EventBridge event: " + err.Error(),
			Fix: "start executions with the EventBridge event exactly as delivered"}}
	}
	return e, nil
}

// PlanFor validates an event and decides what the workflow does with it, as
// DESIGN §3 lays out. Events from another source or with broken fields are
// InvalidEvent; well-formed Auto Scaling events asgdns does not handle (the
// test notification, EC2 Instance Launch Successful, other detail types, a
// lifecycle action of a hook that is not one of hooks) get Action none and a
// reason. A foreign hook's plan carries no token, so nothing downstream can
// heartbeat or complete it.
func PlanFor(e Event, hooks HookNames) (Plan, error) {
	if e.Source != SourceAutoScaling {
		return Plan{}, invalidEvent("source", e.Source, "is not "+SourceAutoScaling,
			"route only Auto Scaling lifecycle events to this state machine")
	}
	trimmed := bytes.TrimSpace(e.Detail)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Plan{}, invalidEvent("detail", string(e.Detail), "is not a JSON object",
			"start executions with the EventBridge event exactly as delivered")
	}
	var probe struct {
		Event string `json:"Event"`
	}
	if err := json.Unmarshal(e.Detail, &probe); err != nil {
		return Plan{}, invalidEvent("detail", string(e.Detail), "is not valid JSON: "+err.Error(),
			"start executions with the EventBridge event exactly as delivered")
	}
	if probe.Event == TestNotification {
		return Plan{Action: ActionNone, Reason: "Auto Scaling test notification: nothing to do"}, nil
	}
	switch e.DetailType {
	case DetailTypeLaunchAction, DetailTypeTermAction:
		p, err := planLifecycleAction(e)
		if err == nil && !hooks.Owns(p.HookName) {
			return Plan{Action: ActionNone, Transition: p.Transition, InstanceID: p.InstanceID, ASG: p.ASG, HookName: p.HookName,
				Reason: fmt.Sprintf("lifecycle hook %q is not one of asgdns's (%s): another team's hook, left untouched",
					p.HookName, strings.Join(hooks, ", "))}, nil
		}
		return p, err
	case "EC2 Instance Launch Successful":
		// Registering on it would need a matching terminate path, or the
		// records would go stale; and the deployed rule never sends it.
		return Plan{Action: ActionNone, Reason: "EC2 Instance Launch Successful is not a lifecycle action: " +
			"asgdns registers instances through its launch hook, which the stack creates"}, nil
	case "":
		return Plan{}, invalidEvent("detail-type", "", "is missing",
			"start executions with the EventBridge event exactly as delivered")
	}
	return Plan{Action: ActionNone, Reason: fmt.Sprintf("detail-type %q is not one asgdns acts on: nothing to do", e.DetailType)}, nil
}

func planLifecycleAction(e Event) (Plan, error) {
	var d LifecycleActionDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Plan{}, invalidEvent("detail", string(e.Detail), "does not match "+e.DetailType+": "+err.Error(),
			"start executions with the EventBridge event exactly as delivered")
	}
	p := Plan{
		InstanceID: d.EC2InstanceID, ASG: d.AutoScalingGroupName, HookName: d.LifecycleHookName,
		Token: d.LifecycleActionToken, Metadata: deref(d.NotificationMetadata),
	}
	wantTransition, transition := TransitionLaunching, TransitionLaunch
	if e.DetailType == DetailTypeTermAction {
		wantTransition, transition = TransitionTerminating, TransitionTerminate
	}
	p.Transition = transition
	if d.LifecycleTransition != wantTransition {
		return Plan{}, invalidEvent("detail.LifecycleTransition", d.LifecycleTransition,
			"does not match detail-type "+e.DetailType+" (want "+wantTransition+")",
			"start executions with the EventBridge event exactly as delivered")
	}
	if err := validateCommon(d.EC2InstanceID, d.AutoScalingGroupName); err != nil {
		return Plan{}, err
	}
	if !hookNamePattern.MatchString(d.LifecycleHookName) {
		return Plan{}, invalidEvent("detail.LifecycleHookName", d.LifecycleHookName,
			"is not a lifecycle hook name (1-255 of A-Z a-z 0-9 _ - /)", "start executions with the event as delivered")
	}
	if d.LifecycleActionToken != "" && !tokenPattern.MatchString(d.LifecycleActionToken) {
		return Plan{}, invalidEvent("detail.LifecycleActionToken", d.LifecycleActionToken,
			"is not a lifecycle action token (a 36-character UUID)",
			"leave it out to skip completion, or pass the token from the event")
	}
	for _, f := range []struct {
		name  string
		value *string
	}{{"detail.Origin", d.Origin}, {"detail.Destination", d.Destination}} {
		if v := deref(f.value); v != "" && !places[v] {
			return Plan{}, invalidEvent(f.name, v, "is not one of EC2, AutoScalingGroup, WarmPool",
				"start executions with the event as delivered")
		}
	}
	toWarmPool := deref(d.Destination) == PlaceWarmPool
	fromWarmPool := deref(d.Origin) == PlaceWarmPool
	switch {
	case transition == TransitionLaunch && toWarmPool:
		p.Action, p.Reason = ActionNone, "launching into the warm pool: no record until it enters the group"
	case transition == TransitionLaunch && fromWarmPool:
		p.Action, p.Reason = ActionRegister, "leaving the warm pool for the group: registering"
	case transition == TransitionLaunch:
		p.Action, p.Reason = ActionRegister, "launching into the group: registering"
	case toWarmPool:
		p.Action, p.Reason = ActionNone, "returning to the warm pool, not terminating: the record stays"
	default:
		p.Action, p.Reason = ActionDeregister, "terminating: deregistering"
	}
	if !p.Complete() {
		p.Reason += " (no lifecycle action token: nothing to complete)"
	}
	return p, nil
}

func validateCommon(instanceID, asg string) error {
	if !instanceIDPattern.MatchString(instanceID) {
		return invalidEvent("detail.EC2InstanceId", instanceID,
			"is not an EC2 instance id (i- followed by 8 or 17 lower-case hex digits)",
			"start executions with the event as delivered")
	}
	if asg == "" || len(asg) > 255 {
		return invalidEvent("detail.AutoScalingGroupName", asg, "must be 1-255 characters",
			"start executions with the event as delivered")
	}
	return nil
}

// ValidInstanceID reports whether id looks like an EC2 instance id.
func ValidInstanceID(id string) bool { return instanceIDPattern.MatchString(id) }

func invalidEvent(field, value, reason, fix string) error {
	return &InvalidEvent{Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// DecodeRequest decodes a Task's payload. The handlers take raw JSON so a
// malformed payload is an InvalidEvent, not the runtime's own unmarshal
// error (which no Catch in the ASL would name).
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return Request{}, invalidEvent("input", string(data), "is not a task payload {execution, state}: "+err.Error(),
			`pass {"execution.$": "$$.Execution.Name", "state.$": "$"} as the Task's Payload`)
	}
	return r, nil
}

// LeavingGroup reports whether an instance's Auto Scaling lifecycle state
// (autoscaling:DescribeAutoScalingInstances; found is false when no group
// lists the instance) means it is gone or on its way out: Terminating*,
// Terminated, Warmed:Terminat*, Detaching, Detached. Registering such an
// instance would leave a record for an instance that is not there.
func LeavingGroup(state string, found bool) bool {
	return !found || strings.Contains(state, "Terminat") || strings.HasPrefix(state, "Detach")
}
