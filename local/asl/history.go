package asl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// HistoryEvent is one event of an execution's history, shaped like the
// HistoryEvent of the GetExecutionHistory API (Step Functions API reference)
// so that the AWS CLI and SDKs decode it: the same type names, field names
// and detail objects. Events are shared with the execution: treat them as
// read-only.
type HistoryEvent struct {
	Timestamp       EventTime `json:"timestamp"`
	Type            string    `json:"type"`
	ID              int64     `json:"id"`
	PreviousEventID int64     `json:"previousEventId"`

	ExecutionStartedEventDetails   *ExecutionStartedEventDetails   `json:"executionStartedEventDetails,omitempty"`
	ExecutionSucceededEventDetails *ExecutionSucceededEventDetails `json:"executionSucceededEventDetails,omitempty"`
	ExecutionFailedEventDetails    *ErrorEventDetails              `json:"executionFailedEventDetails,omitempty"`
	ExecutionAbortedEventDetails   *ErrorEventDetails              `json:"executionAbortedEventDetails,omitempty"`
	ExecutionTimedOutEventDetails  *ErrorEventDetails              `json:"executionTimedOutEventDetails,omitempty"`
	ExecutionRedrivenEventDetails  *ExecutionRedrivenEventDetails  `json:"executionRedrivenEventDetails,omitempty"`

	StateEnteredEventDetails *StateEnteredEventDetails `json:"stateEnteredEventDetails,omitempty"`
	StateExitedEventDetails  *StateExitedEventDetails  `json:"stateExitedEventDetails,omitempty"`

	TaskScheduledEventDetails *TaskScheduledEventDetails `json:"taskScheduledEventDetails,omitempty"`
	TaskStartedEventDetails   *TaskStartedEventDetails   `json:"taskStartedEventDetails,omitempty"`
	TaskSucceededEventDetails *TaskSucceededEventDetails `json:"taskSucceededEventDetails,omitempty"`
	TaskFailedEventDetails    *TaskErrorEventDetails     `json:"taskFailedEventDetails,omitempty"`
	TaskTimedOutEventDetails  *TaskErrorEventDetails     `json:"taskTimedOutEventDetails,omitempty"`

	LambdaFunctionScheduledEventDetails *LambdaFunctionScheduledEventDetails `json:"lambdaFunctionScheduledEventDetails,omitempty"`
	LambdaFunctionSucceededEventDetails *LambdaFunctionSucceededEventDetails `json:"lambdaFunctionSucceededEventDetails,omitempty"`
	LambdaFunctionFailedEventDetails    *ErrorEventDetails                   `json:"lambdaFunctionFailedEventDetails,omitempty"`
	LambdaFunctionTimedOutEventDetails  *ErrorEventDetails                   `json:"lambdaFunctionTimedOutEventDetails,omitempty"`

	MapStateStartedEventDetails       *MapStateStartedEventDetails `json:"mapStateStartedEventDetails,omitempty"`
	MapIterationStartedEventDetails   *MapIterationEventDetails    `json:"mapIterationStartedEventDetails,omitempty"`
	MapIterationSucceededEventDetails *MapIterationEventDetails    `json:"mapIterationSucceededEventDetails,omitempty"`
	MapIterationFailedEventDetails    *MapIterationEventDetails    `json:"mapIterationFailedEventDetails,omitempty"`
	MapIterationAbortedEventDetails   *MapIterationEventDetails    `json:"mapIterationAbortedEventDetails,omitempty"`
}

// History event types (HistoryEventType in the API reference).
const (
	EventExecutionStarted        = "ExecutionStarted"
	EventExecutionSucceeded      = "ExecutionSucceeded"
	EventExecutionFailed         = "ExecutionFailed"
	EventExecutionAborted        = "ExecutionAborted"
	EventExecutionTimedOut       = "ExecutionTimedOut"
	EventExecutionRedriven       = "ExecutionRedriven"
	EventTaskScheduled           = "TaskScheduled"
	EventTaskStarted             = "TaskStarted"
	EventTaskSucceeded           = "TaskSucceeded"
	EventTaskFailed              = "TaskFailed"
	EventTaskTimedOut            = "TaskTimedOut"
	EventLambdaFunctionScheduled = "LambdaFunctionScheduled"
	EventLambdaFunctionStarted   = "LambdaFunctionStarted"
	EventLambdaFunctionSucceeded = "LambdaFunctionSucceeded"
	EventLambdaFunctionFailed    = "LambdaFunctionFailed"
	EventLambdaFunctionTimedOut  = "LambdaFunctionTimedOut"
	EventParallelStateStarted    = "ParallelStateStarted"
	EventParallelStateSucceeded  = "ParallelStateSucceeded"
	EventParallelStateFailed     = "ParallelStateFailed"
	EventMapStateStarted         = "MapStateStarted"
	EventMapStateSucceeded       = "MapStateSucceeded"
	EventMapStateFailed          = "MapStateFailed"
	EventMapIterationStarted     = "MapIterationStarted"
	EventMapIterationSucceeded   = "MapIterationSucceeded"
	EventMapIterationFailed      = "MapIterationFailed"
	EventMapIterationAborted     = "MapIterationAborted"
)

// ExecutionStartedEventDetails is executionStartedEventDetails.
type ExecutionStartedEventDetails struct {
	Input        string       `json:"input"`
	InputDetails *DataDetails `json:"inputDetails,omitempty"`
	RoleArn      string       `json:"roleArn,omitempty"`
}

// ExecutionSucceededEventDetails is executionSucceededEventDetails.
type ExecutionSucceededEventDetails struct {
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails,omitempty"`
}

// ErrorEventDetails carries an error and a cause: executionFailed-,
// executionAborted-, executionTimedOut-, lambdaFunctionFailed- and
// lambdaFunctionTimedOutEventDetails all have this shape.
type ErrorEventDetails struct {
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// ExecutionRedrivenEventDetails is executionRedrivenEventDetails.
type ExecutionRedrivenEventDetails struct {
	RedriveCount int `json:"redriveCount"`
}

// DataDetails is HistoryEventExecutionDataDetails.
type DataDetails struct {
	Truncated bool `json:"truncated"`
}

// notTruncated is shared by every event: the engine never truncates.
var notTruncated = &DataDetails{}

// StateEnteredEventDetails is stateEnteredEventDetails.
type StateEnteredEventDetails struct {
	Name         string       `json:"name"`
	Input        string       `json:"input"`
	InputDetails *DataDetails `json:"inputDetails,omitempty"`
}

// StateExitedEventDetails is stateExitedEventDetails.
type StateExitedEventDetails struct {
	Name          string       `json:"name"`
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails,omitempty"`
	// AssignedVariables maps each variable the state assigned to its value
	// as JSON text.
	AssignedVariables map[string]string `json:"assignedVariables,omitempty"`
}

// TaskScheduledEventDetails is taskScheduledEventDetails.
type TaskScheduledEventDetails struct {
	ResourceType       string `json:"resourceType"`
	Resource           string `json:"resource"`
	Region             string `json:"region"`
	Parameters         string `json:"parameters"`
	TimeoutInSeconds   int64  `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds int64  `json:"heartbeatInSeconds,omitempty"`
}

// TaskStartedEventDetails is taskStartedEventDetails.
type TaskStartedEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

// TaskSucceededEventDetails is taskSucceededEventDetails.
type TaskSucceededEventDetails struct {
	ResourceType  string       `json:"resourceType"`
	Resource      string       `json:"resource"`
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails,omitempty"`
}

// TaskErrorEventDetails is taskFailedEventDetails and
// taskTimedOutEventDetails.
type TaskErrorEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
	Error        string `json:"error,omitempty"`
	Cause        string `json:"cause,omitempty"`
}

// LambdaFunctionScheduledEventDetails is lambdaFunctionScheduledEventDetails.
type LambdaFunctionScheduledEventDetails struct {
	Resource         string       `json:"resource"`
	Input            string       `json:"input"`
	InputDetails     *DataDetails `json:"inputDetails,omitempty"`
	TimeoutInSeconds int64        `json:"timeoutInSeconds,omitempty"`
}

// LambdaFunctionSucceededEventDetails is lambdaFunctionSucceededEventDetails.
type LambdaFunctionSucceededEventDetails struct {
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails,omitempty"`
}

// MapStateStartedEventDetails is mapStateStartedEventDetails.
type MapStateStartedEventDetails struct {
	Length int `json:"length"`
}

// MapIterationEventDetails is the details of the MapIteration* events.
type MapIterationEventDetails struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// EventTime is an event timestamp. It is written as the API's wire format
// writes timestamps, epoch seconds with a millisecond fraction
// (1700000000.123), and reads that or an RFC 3339 string.
type EventTime struct{ time.Time }

// MarshalJSON writes epoch seconds.
func (t EventTime) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	return fmt.Appendf(nil, "%d.%03d", sec, frac), nil
}

// UnmarshalJSON reads epoch seconds or an RFC 3339 string.
func (t *EventTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	sec := int64(f)
	t.Time = time.UnixMilli(sec*1000 + int64((f-float64(sec))*1000+0.5)).UTC()
	return nil
}

// stateEnteredType and stateExitedType name the per-type state events,
// such as TaskStateEntered and ChoiceStateExited.
func stateEnteredType(t stateType) string { return enteredTypes[t] }
func stateExitedType(t stateType) string  { return exitedTypes[t] }
func stateAbortedType(t stateType) string { return abortedTypes[t] }

var enteredTypes, exitedTypes, abortedTypes = func() (a, b, c map[stateType]string) {
	a, b, c = map[stateType]string{}, map[stateType]string{}, map[stateType]string{}
	for _, t := range []stateType{typePass, typeTask, typeChoice, typeWait, typeSucceed, typeFail, typeParallel, typeMap} {
		a[t] = string(t) + "StateEntered"
		b[t] = string(t) + "StateExited"
		c[t] = string(t) + "StateAborted"
	}
	return
}()
