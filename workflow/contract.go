// Package workflow is the data contract of the asgdns state machine: the
// event that starts an execution, the state document each step adds its
// result to, and the error types the state machine routes on.
//
// The state document reads top to bottom in the Step Functions console:
//
//	{ ...the EventBridge event as delivered...,
//	  "instance":   DescribeInstance's InstanceResult,
//	  "session":    AssumeRole's SessionResult, a probe no later step reads,
//	  "command":    SendCommand's CommandResult,
//	  "invocation": WaitForCommand's InvocationResult,
//	  "commandError": the transient error the hold loop is retrying,
//	  "hold":       HoldInstance's HoldResult, while the instance is held,
//	  "error":      what a Catch recorded, when something failed,
//	  "lifecycle":  CompleteLifecycle's LifecycleResult,
//	  "releaseError": what the release failed with, when even that failed }
//
// No field anywhere in it holds secret material: credentials never pass
// through the state, so every step that works in the shared-services
// account assumes its own session.
package workflow

import (
	"encoding/json"
	"time"
)

// Event is an EventBridge event as delivered. Detail stays raw: its shape
// depends on detail-type, and Step Functions hands it on untouched.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// LifecycleActionDetail is the detail of "EC2 Instance-launch Lifecycle
// Action" and "EC2 Instance-terminate Lifecycle Action" events. Origin,
// Destination and NotificationMetadata are optional (older events lack
// them); pointers keep "absent" apart from "empty" so events round-trip.
// LifecycleActionToken is absent from an execution started without one (by
// hand, or by reconciliation): the DNS work is done and nothing completed.
type LifecycleActionDetail struct {
	LifecycleActionToken string  `json:"LifecycleActionToken,omitempty"`
	AutoScalingGroupName string  `json:"AutoScalingGroupName"`
	LifecycleHookName    string  `json:"LifecycleHookName"`
	EC2InstanceID        string  `json:"EC2InstanceId"`
	LifecycleTransition  string  `json:"LifecycleTransition"`
	NotificationMetadata *string `json:"NotificationMetadata,omitempty"`
	Origin               *string `json:"Origin,omitempty"`
	Destination          *string `json:"Destination,omitempty"`
}

// Request is what every Task hands its Lambda: the state document so far and
// the name of the execution it belongs to (from the context object,
// $$.Execution.Name), which names sessions and commands for traceability.
type Request struct {
	Execution string `json:"execution"`
	State     State  `json:"state"`
	// Backoff is the hold loop's schedule, declared in the ASL's Hold
	// instance state; only HoldInstance reads it.
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is a growing, jittered wait: the n-th wait is drawn from
// [d/2, d] with d = min(FirstSeconds × Rate^(n-1), MaxSeconds) ("equal
// jitter": spread out, yet never shorter than half the schedule).
type Backoff struct {
	FirstSeconds int     `json:"firstSeconds"`
	Rate         float64 `json:"rate"`
	MaxSeconds   int     `json:"maxSeconds"`
	// ThrottledMaxSeconds caps the wait instead of MaxSeconds while the
	// error being retried is Throttled: contention clears in seconds, and
	// a long wait would only leave the API idle while work waits (a burst
	// of launches would finish in a long tail).
	ThrottledMaxSeconds int `json:"throttledMaxSeconds,omitempty"`
}

// State is the state document: the event plus each step's result.
type State struct {
	Event
	Instance   *InstanceResult   `json:"instance,omitempty"`
	Session    *SessionResult    `json:"session,omitempty"`
	Command    *CommandResult    `json:"command,omitempty"`
	Invocation *InvocationResult `json:"invocation,omitempty"`
	// CommandError is the transient error the hold loop is retrying (or,
	// once the hold budget is spent, the one the instance is released for).
	CommandError *CaughtError     `json:"commandError,omitempty"`
	Hold         *HoldResult      `json:"hold,omitempty"`
	Error        *CaughtError     `json:"error,omitempty"`
	Lifecycle    *LifecycleResult `json:"lifecycle,omitempty"`
	// ReleaseError is what the release itself failed with (the execution
	// then ends in Release failed).
	ReleaseError *CaughtError `json:"releaseError,omitempty"`
}

// Failure is what the DNS work failed with, if it failed: a terminal error,
// or the transient one the hold budget ran out on.
func (s State) Failure() *CaughtError {
	if s.Error != nil {
		return s.Error
	}
	if s.Hold != nil && s.Hold.Expired {
		return s.CommandError
	}
	return nil
}

// Action is what the workflow does with DNS for an event.
type Action string

// The actions.
const (
	ActionRegister   Action = "register"
	ActionDeregister Action = "deregister"
	ActionNone       Action = "none"
)

// Transition is the lifecycle transition in short form.
type Transition string

// The transitions.
const (
	TransitionLaunch    Transition = "launch"
	TransitionTerminate Transition = "terminate"
)

// LifecycleActionResult is how a lifecycle action is completed, as Auto
// Scaling's CompleteLifecycleAction names it: CONTINUE or ABANDON. It is
// the result of every completion, success included; InstanceResult.OnFailure
// is the one to use if the DNS work fails (the failure policy), and
// LifecycleResult.Result the one used.
type LifecycleActionResult string

// The lifecycle action results.
const (
	Continue LifecycleActionResult = "CONTINUE"
	Abandon  LifecycleActionResult = "ABANDON"
)

// InstanceResult is DescribeInstance's output ($.instance): what to do, why,
// for which instance, and the record it derived.
type InstanceResult struct {
	// Action is register, deregister or none; Reason says why in words.
	Action Action `json:"action"`
	Reason string `json:"reason"`
	// Complete is true when a lifecycle action waits for completion (the
	// event carried a LifecycleActionToken).
	Complete   bool       `json:"complete"`
	Transition Transition `json:"transition,omitempty"`
	InstanceID string     `json:"instanceId,omitempty"`
	ASG        string     `json:"asg,omitempty"`
	// Facts read from EC2; empty when Action is none.
	PrivateIP string `json:"privateIp,omitempty"`
	IPv6      string `json:"ipv6,omitempty"`
	AZ        string `json:"availabilityZone,omitempty"`
	State     string `json:"state,omitempty"`
	// LifecycleState is where a launching instance stands in its group
	// (Pending:Wait, InService, Terminating, …, or "not in any group").
	LifecycleState string `json:"lifecycleState,omitempty"`
	// Record and Target are set when there is DNS work to do.
	Record *Record `json:"record,omitempty"`
	Target *Target `json:"target,omitempty"`
	// OnFailure is the lifecycle result to use if the DNS work fails.
	OnFailure LifecycleActionResult `json:"onFailure"`
}

// Record is the DNS record asgdns manages for an instance.
type Record struct {
	Hostname string `json:"hostname"`
	Zone     string `json:"zone"`
	FQDN     string `json:"fqdn"`
	TTL      int    `json:"ttl"`
	PTR      bool   `json:"ptr"`
}

// Target is where the DNS command runs: the DCs in the order they are tried,
// their platform (which step of the document runs), and the SSM document.
// The shared-services role is a deployment setting; SessionResult shows it.
type Target struct {
	DCInstanceIDs []string `json:"dcInstanceIds"`
	DCPlatform    string   `json:"dcPlatform"`
	DocumentName  string   `json:"documentName"`
}

// SessionResult is AssumeRole's output ($.session): the parameters of the
// cross-account session, never its credentials. It is a probe: AssumeRole
// proves the cross-account session works before any command is sent, and
// records which role was assumed and under which session name (named after
// the instance and the execution) to look for in CloudTrail. No later step
// reads it: SendCommand and WaitForCommand assume their own sessions,
// because credentials never pass through the state (the state machine's
// TestSessionIsAProbe holds them to it).
type SessionResult struct {
	RoleARN        string    `json:"roleArn"`
	AssumedRoleARN string    `json:"assumedRoleArn"`
	Account        string    `json:"account"`
	SessionName    string    `json:"sessionName"`
	SourceIdentity string    `json:"sourceIdentity"`
	Expires        time.Time `json:"expires"`
}

// CommandResult is SendCommand's output ($.command).
type CommandResult struct {
	CommandID    string `json:"commandId"`
	DCInstanceID string `json:"dcInstanceId"`
	Step         string `json:"step"`
	DocumentName string `json:"documentName"`
	Action       Action `json:"action"`
	// Attempt counts the DCs tried so far in this execution, this one
	// included: each command sent, and each DC skipped as not online.
	// The next try starts at the next DC in the list.
	Attempt int `json:"attempt"`
	// Skipped lists the DCs passed over this time because SSM did not
	// have them online.
	Skipped []string  `json:"skipped,omitempty"`
	SentAt  time.Time `json:"sentAt"`
}

// HoldResult is HoldInstance's output ($.hold): how long the instance has
// been held for transient failures, the heartbeat that keeps it held, and
// how long to back off before trying again — or that the hold budget is
// spent.
type HoldResult struct {
	// Holds counts the hold loop's rounds in this execution.
	Holds int `json:"holds"`
	// Since is when the first hold began; the budget is measured from it.
	Since         time.Time `json:"since"`
	HeldSeconds   int       `json:"heldSeconds"`
	BudgetSeconds int       `json:"budgetSeconds"`
	// Expired is true once the budget is spent: the instance is released
	// with the configured failure result.
	Expired bool `json:"expired"`
	// WaitSeconds is the Back off state's wait before trying again.
	WaitSeconds int `json:"waitSeconds,omitempty"`
	// Heartbeat says what became of the lifecycle heartbeat: recorded,
	// none (no lifecycle action waits), or gone (the action ended).
	Heartbeat string `json:"heartbeat"`
	// Retrying names the transient error being retried.
	Retrying string `json:"retrying,omitempty"`
}

// InvocationResult is WaitForCommand's output ($.invocation).
type InvocationResult struct {
	// CommandID is the command these polls are for; a re-sent command
	// starts counting Polls afresh.
	CommandID string `json:"commandId"`
	Done      bool   `json:"done"`
	// Polls counts WaitForCommand invocations for this command, so the ASL
	// can bound the loop and the wait can grow.
	Polls int `json:"polls"`
	// NextWaitSeconds is how long the ASL's Wait state should wait before
	// the next poll when Done is false.
	NextWaitSeconds int    `json:"nextWaitSeconds,omitempty"`
	Status          string `json:"status"`
	StatusDetails   string `json:"statusDetails,omitempty"`
	ResponseCode    int    `json:"responseCode"`
	// Result is the command's one-line machine-readable result, when it
	// printed one.
	Result *CommandOutcome `json:"result,omitempty"`
	// Output is the tail of standard output and error, trimmed.
	Output string `json:"output,omitempty"`
}

// MaxNextWaitSeconds is the longest NextWaitSeconds WaitForCommand asks
// for: the longest the state machine waits between two polls, which the
// heartbeat proof (statemachine.RequiredHeartbeatTimeout) counts.
const MaxNextWaitSeconds = 60

// CommandOutcome is the one-line JSON result the DNS command prints last on
// stdout, e.g. {"asgdns":1,"outcome":"created","fqdn":"…","ip":"…","ptr":"written"}.
// Every field is fixed text or a value the document validated: nothing the
// DNS tools printed.
type CommandOutcome struct {
	Outcome string `json:"outcome"`
	FQDN    string `json:"fqdn,omitempty"`
	IP      string `json:"ip,omitempty"`
	// PTR says what became of the PTR record: off, written, unchanged,
	// removed, none, no-zone (no reverse zone served), or a warning that
	// did not fail the command: foreign (names another host, left alone),
	// refused, error.
	PTR string `json:"ptr,omitempty"`
	// Rcode is the DNS response code behind a dns-error (REFUSED, NOTAUTH,
	// SERVFAIL, TIMEOUT, …).
	Rcode string `json:"rcode,omitempty"`
	// Owner is who holds the name, <account>/<instance>, when a conflict
	// is another owner's marker.
	Owner   string `json:"owner,omitempty"`
	Message string `json:"message,omitempty"`
}

// CaughtError is what a Catch with ResultPath $.error records: the error
// name and, for Lambda errors, a JSON cause with errorMessage/errorType.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Message is the cause in words: the errorMessage of a Lambda error, or the
// cause as recorded for any other error.
func (e CaughtError) Message() string {
	var lambdaErr struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &lambdaErr) == nil && lambdaErr.Message != "" {
		return lambdaErr.Message
	}
	return e.Cause
}

// LifecycleResult is CompleteLifecycle's output ($.lifecycle).
type LifecycleResult struct {
	// Completed is true when this call completed the lifecycle action.
	Completed bool `json:"completed"`
	// AlreadyCompleted is true when Auto Scaling had no active action left
	// (completed elsewhere, or the hook timed out).
	AlreadyCompleted bool                  `json:"alreadyCompleted"`
	Result           LifecycleActionResult `json:"result,omitempty"`
	Reason           string                `json:"reason"`
	// Error and Cause are set when the DNS work failed: the error name and
	// what went wrong, what became of the instance and what to fix. The
	// state machine's Fail state reports them.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}
