package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Handler runs a Task resource: it receives the task's effective input as
// JSON and returns its result as JSON. Return a TaskError, or any error with
// an ErrorName() string method, to fail the task with that error name; any
// other error fails it with States.TaskFailed. The context is cancelled when
// the task times out or the execution stops; TaskInfoFrom, Sleep and
// Heartbeat work with it.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Resources maps Task resources to handlers. A key is either a Task
// "Resource" as written after substitutions (a Lambda function ARN, or any
// other URI such as "arn:aws:states:::sqs:sendMessage") or, for
// "arn:aws:states:::lambda:invoke", a function ARN or name matched against
// Parameters.FunctionName.
type Resources map[string]Handler

// Options configures an Engine.
type Options struct {
	// Clock is the time source; RealClock() when nil. Use a VirtualClock in
	// tests and for fast local runs.
	Clock Clock
	// Rand seeds each execution's random source (retry jitter,
	// States.UUID, States.MathRandom without a seed, execution names,
	// Lambda request ids). Seed it for reproducible runs; when nil a
	// time-seeded source is used. The engine only uses it while starting
	// executions, under its own lock.
	Rand *rand.Rand
	// Resources are the task handlers.
	Resources Resources
	// InvokeResponses: a handler reached through
	// arn:aws:states:::lambda:invoke returns the integration's whole result,
	// Lambda's Invoke response as the task sees it (such as {"StatusCode":
	// 200, "Payload": …}), and the engine takes it as written. By default it
	// returns the function's output and the engine builds the Invoke
	// response around it (StatusCode, ExecutedVersion, SdkHttpMetadata,
	// SdkResponseMetadata). For answers written down rather than computed:
	// Step Functions Local mock files.
	InvokeResponses bool
}

// Engine runs executions of state machine definitions. It is safe for
// concurrent use; every execution runs in its own goroutines.
type Engine struct {
	clock     Clock
	mu        sync.Mutex // guards rand
	rand      *rand.Rand
	resources Resources
	functions map[string]Handler // Lambda function name → handler
	// invokeResponses is Options.InvokeResponses.
	invokeResponses bool
}

// NewEngine returns an engine.
func NewEngine(opts Options) *Engine {
	e := &Engine{clock: opts.Clock, rand: opts.Rand, resources: opts.Resources, functions: map[string]Handler{}, invokeResponses: opts.InvokeResponses}
	if e.clock == nil {
		e.clock = RealClock()
	}
	if e.rand == nil {
		seed := uint64(time.Now().UnixNano())
		e.rand = rand.New(rand.NewPCG(seed, seed>>32|seed<<32))
	}
	for key, h := range e.resources {
		if name := lambdaFunctionName(key); name != "" {
			e.functions[name] = h
		}
	}
	return e
}

// lambdaFunctionName returns the function name of a Lambda function ARN,
// partial ARN (123456789012:function:name) or name, without a version or
// alias qualifier; "" for anything else.
func lambdaFunctionName(s string) string {
	parts := strings.Split(s, ":")
	switch {
	case strings.HasPrefix(s, "arn:") && len(parts) >= 7 && parts[2] == "lambda" && parts[5] == "function":
		return parts[6]
	case len(parts) >= 3 && parts[1] == "function":
		return parts[2]
	case len(parts) <= 2 && !strings.ContainsAny(s, "/ "):
		return parts[0]
	}
	return ""
}

func isLambdaARN(resource string) bool {
	return strings.HasPrefix(resource, "arn:") && strings.Contains(resource, ":lambda:") && strings.Contains(resource, ":function:")
}

// lookupFunction finds the handler of a Lambda function given as an ARN,
// partial ARN or name.
func (e *Engine) lookupFunction(ref string) (Handler, bool) {
	if h, ok := e.resources[ref]; ok {
		return h, true
	}
	if name := lambdaFunctionName(ref); name != "" {
		h, ok := e.functions[name]
		return h, ok
	}
	return nil, false
}

// Status is an execution status, as DescribeExecution reports it.
type Status string

// Execution statuses.
const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// StartInput describes an execution to start, as StartExecution does.
type StartInput struct {
	// Name is the execution name; a random UUID when empty.
	Name string
	// Input is the execution input; {} when empty.
	Input json.RawMessage
	// StateMachineArn identifies the state machine; it also gives the
	// region and account of the execution ARN. A placeholder in us-east-1
	// when empty.
	StateMachineArn string
	// RoleArn is reported in $$.Execution.RoleArn and ExecutionStarted.
	RoleArn string
}

// DefaultStateMachineArn is used when StartInput.StateMachineArn is empty.
const DefaultStateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:StateMachine"

// Result is the outcome of an execution.
type Result struct {
	Status Status
	// Output is the execution output (JSON) when it succeeded.
	Output json.RawMessage
	// Error and Cause say why it failed, timed out or was aborted.
	Error string
	Cause string
	// Transitions counts state transitions as Step Functions bills them:
	// one per state entered (in Parallel branches and Map iterations too),
	// one per retry, one per redrive.
	Transitions  int64
	RedriveCount int
	StartDate    time.Time
	StopDate     time.Time
}

// Errors returned by Redrive and Stop.
var (
	// ErrExecutionNotRedrivable is RedriveExecution's error for an
	// execution that is running or succeeded.
	ErrExecutionNotRedrivable = errors.New("ExecutionNotRedrivable")
	// ErrExecutionNotRunning is returned when stopping a finished execution.
	ErrExecutionNotRunning = errors.New("execution is not running")
)

// Execution is one run of a state machine.
type Execution struct {
	engine  *Engine
	def     *Definition
	arn     string
	name    string
	region  string
	roleArn string
	input   any
	inJSON  string
	clock   Clock
	rng     *rand.Rand
	started time.Time

	contextStateMachine map[string]any
	ctxExec             map[string]any // $$.Execution, rebuilt on redrive
	scope               *scope         // top-level variables
	cp                  *checkpoint    // where the top level stopped, for redrive
	transitions         atomic.Int64

	mu       sync.Mutex
	events   []HistoryEvent
	status   Status
	result   Result
	done     chan struct{}
	cancel   context.CancelCauseFunc
	redrives int
	redrove  time.Time
	attempts map[string]int
}

// ARN returns the execution ARN.
func (x *Execution) ARN() string { return x.arn }

// Name returns the execution name.
func (x *Execution) Name() string { return x.name }

// Definition returns the definition the execution runs.
func (x *Execution) Definition() *Definition { return x.def }

// Done is closed when the current run of the execution ends (a redrive
// starts a new run with a new channel).
func (x *Execution) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.done
}

// Wait blocks until the current run ends and returns its result.
func (x *Execution) Wait() Result {
	<-x.Done()
	return x.Result()
}

// Result returns the execution's result so far; Status is RUNNING while it
// runs.
func (x *Execution) Result() Result {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.result
	r.Status = x.status
	r.Transitions = x.transitions.Load()
	r.RedriveCount = x.redrives
	return r
}

// History returns the events so far, oldest first.
func (x *Execution) History() []HistoryEvent {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]HistoryEvent(nil), x.events...)
}

func (x *Execution) appendEvent(ev *HistoryEvent) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	ev.ID = int64(len(x.events) + 1)
	x.events = append(x.events, *ev)
	return ev.ID
}

func (x *Execution) lastEventID() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return int64(len(x.events))
}

// nextAttempt counts runs of a Task state for TaskInfo.Attempt.
func (x *Execution) nextAttempt(state string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.attempts == nil {
		x.attempts = map[string]int{}
	}
	x.attempts[state]++
	return x.attempts[state]
}

func (x *Execution) contextExecution() map[string]any { return x.ctxExec }

func (x *Execution) buildContextExecution() {
	m := map[string]any{
		"Id":           x.arn,
		"Input":        x.input,
		"Name":         x.name,
		"RoleArn":      x.roleArn,
		"StartTime":    formatTime(x.started),
		"RedriveCount": jsonNumber(int64(x.redrives)),
	}
	if x.redrives > 0 {
		m["RedriveTime"] = formatTime(x.redrove)
	}
	x.ctxExec = m
}

// formatTime renders times the way the context object does
// ("2019-03-26T20:14:13.192Z").
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// validExecutionName applies StartExecution's rules: 1–80 characters, no
// whitespace, no ? * < > { } [ ] : ; , \ | ^ ~ $ # % & ` " and no control
// characters.
func validExecutionName(s string) error {
	if n := utf8.RuneCountInString(s); n < 1 || n > 80 {
		return fmt.Errorf("execution name %q must be 1 to 80 characters", s)
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f && r <= 0x9f || strings.ContainsRune("?*<>{}[]:;,\\|^~$#%&`\"", r) {
			return fmt.Errorf("execution name %q contains %q, which is not allowed", s, r)
		}
	}
	return nil
}

// Start starts an execution and returns at once; the execution runs in the
// background until it ends, ctx is cancelled (the execution is then
// ABORTED) or Stop is called.
func (e *Engine) Start(ctx context.Context, def *Definition, in StartInput) (*Execution, error) {
	if def == nil {
		return nil, errors.New("asl: nil definition")
	}
	e.mu.Lock()
	seed1, seed2 := e.rand.Uint64(), e.rand.Uint64()
	e.mu.Unlock()
	rng := rand.New(rand.NewPCG(seed1, seed2))
	name := in.Name
	if name == "" {
		name = uuid4(rng)
	}
	if err := validExecutionName(name); err != nil {
		return nil, err
	}
	smArn := in.StateMachineArn
	if smArn == "" {
		smArn = DefaultStateMachineArn
	}
	parts := strings.Split(smArn, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" {
		return nil, fmt.Errorf("state machine ARN %q is not of the form arn:aws:states:region:account:stateMachine:name", smArn)
	}
	raw := in.Input
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = json.RawMessage("{}")
	}
	if len(raw) > MaxPayloadBytes {
		return nil, fmt.Errorf("the execution input is %d bytes; the limit is %d", len(raw), MaxPayloadBytes)
	}
	input, err := parseJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("the execution input is not valid JSON: %w", err)
	}
	x := &Execution{
		engine:  e,
		def:     def,
		arn:     strings.Join([]string{parts[0], parts[1], "states", parts[3], parts[4], "execution", parts[6], name}, ":"),
		name:    name,
		region:  parts[3],
		roleArn: in.RoleArn,
		input:   input,
		inJSON:  toJSON(input),
		clock:   e.clock.Fork(),
		rng:     rng,
		status:  StatusRunning,
		done:    make(chan struct{}),
		scope:   &scope{},
		contextStateMachine: map[string]any{
			"Id":   smArn,
			"Name": parts[6],
		},
	}
	x.started = x.clock.Now()
	x.result.StartDate = x.started
	x.cp = &checkpoint{state: def.StartAt, input: input, inputJSON: x.inJSON, scope: x.scope}
	x.buildContextExecution()
	x.appendEvent(&HistoryEvent{
		Timestamp: EventTime{x.started},
		Type:      EventExecutionStarted,
		ExecutionStartedEventDetails: &ExecutionStartedEventDetails{
			Input: x.inJSON, InputDetails: notTruncated, RoleArn: in.RoleArn,
		},
	})
	x.launch(ctx)
	return x, nil
}

// Run starts an execution and waits for it to end.
func (e *Engine) Run(ctx context.Context, def *Definition, in StartInput) (*Execution, Result, error) {
	x, err := e.Start(ctx, def, in)
	if err != nil {
		return nil, Result{}, err
	}
	return x, x.Wait(), nil
}

// Redrive restarts a FAILED, TIMED_OUT or ABORTED execution the way
// RedriveExecution does (developer guide, redrive-executions.html): it
// continues from the state that did not succeed, with that state's
// original input; successful states are not rerun; a Parallel or inline
// Map reruns only the branches or iterations that failed or were aborted
// (all of them if it failed with States.DataLimitExceeded); a Fail state is
// re-entered and fails again; retry counts and the execution's
// TimeoutSeconds start afresh; $$.Execution.RedriveCount goes up by one.
// An ExecutionRedriven event is appended and the history continues. Redrive
// returns at once; use Wait for the new outcome.
func (e *Engine) Redrive(ctx context.Context, x *Execution) error {
	x.mu.Lock()
	switch x.status {
	case StatusRunning:
		x.mu.Unlock()
		return fmt.Errorf("%w: execution %s is running", ErrExecutionNotRedrivable, x.arn)
	case StatusSucceeded:
		x.mu.Unlock()
		return fmt.Errorf("%w: execution %s succeeded", ErrExecutionNotRedrivable, x.arn)
	}
	x.redrives++
	x.redrove = x.clock.Now()
	x.status = StatusRunning
	x.result = Result{StartDate: x.result.StartDate}
	x.done = make(chan struct{})
	x.mu.Unlock()
	x.buildContextExecution()
	x.transitions.Add(1) // "Execution redrives are considered as state transitions."
	prev := x.lastEventID()
	x.appendEvent(&HistoryEvent{
		Timestamp:                     EventTime{x.redrove},
		Type:                          EventExecutionRedriven,
		PreviousEventID:               prev,
		ExecutionRedrivenEventDetails: &ExecutionRedrivenEventDetails{RedriveCount: x.redrives},
	})
	x.launch(ctx)
	return nil
}

// Stop stops a running execution as StopExecution does: it ends ABORTED
// with the given error and cause. Stop waits until the execution has
// stopped.
func (x *Execution) Stop(errorName, cause string) error {
	x.mu.Lock()
	if x.status != StatusRunning || x.cancel == nil {
		x.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrExecutionNotRunning, x.arn)
	}
	cancel, done := x.cancel, x.done
	x.mu.Unlock()
	cancel(&stopRequest{errorName: errorName, cause: cause})
	<-done
	return nil
}

// stopRequest is the cancellation cause of StopExecution.
type stopRequest struct{ errorName, cause string }

func (s *stopRequest) Error() string { return "execution stopped: " + s.errorName + ": " + s.cause }

// errExecutionTimedOut is the cancellation cause when the machine's
// TimeoutSeconds passes.
var errExecutionTimedOut = errors.New("the execution timed out")

// launch starts a run in the background. The cancel function is in place
// before Start or Redrive returns, so Stop works at once.
func (x *Execution) launch(parent context.Context) {
	ctx, cancel := context.WithCancelCause(parent)
	x.mu.Lock()
	x.cancel = cancel
	x.mu.Unlock()
	go x.run(ctx, cancel)
}

// run executes the definition from the checkpoint (the start, or where a
// previous run stopped) and records the outcome.
func (x *Execution) run(ctx context.Context, cancel context.CancelCauseFunc) {
	defer cancel(nil)

	var stopTimer func() bool
	if s := x.def.TimeoutSeconds; s > 0 {
		// "When you redrive an execution, the state machine level timeout,
		// if defined, is reset to 0."
		stopTimer = x.clock.AfterFunc(time.Duration(s)*time.Second, func() { cancel(errExecutionTimedOut) })
	}
	r := &runner{x: x, b: x.def.root, clock: x.clock, scope: x.scope, rng: x.rng, prev: x.lastEventID(), cp: x.cp}
	_, outJSON, f := r.resume(ctx)
	if stopTimer != nil {
		stopTimer()
	}
	x.finish(ctx, r.prev, outJSON, f)
}

// finish records how the run ended. A cancelled context outranks a failure
// reported at the same moment: the failure is then a consequence of the
// cancellation.
func (x *Execution) finish(ctx context.Context, prev int64, outJSON string, f *failure) {
	ev := HistoryEvent{Timestamp: EventTime{x.clock.Now()}, PreviousEventID: prev}
	res := Result{}
	cause := context.Cause(ctx)
	var stop *stopRequest
	switch {
	case ctx.Err() != nil && errors.Is(cause, errExecutionTimedOut):
		res.Status, res.Error = StatusTimedOut, ErrTimeout
		res.Cause = fmt.Sprintf("The execution ran longer than its TimeoutSeconds (%d).", x.def.TimeoutSeconds)
		ev.Type = EventExecutionTimedOut
		ev.ExecutionTimedOutEventDetails = &ErrorEventDetails{Error: res.Error, Cause: res.Cause}
	case ctx.Err() != nil && errors.As(cause, &stop):
		res.Status, res.Error, res.Cause = StatusAborted, stop.errorName, stop.cause
		ev.Type = EventExecutionAborted
		ev.ExecutionAbortedEventDetails = &ErrorEventDetails{Error: res.Error, Cause: res.Cause}
	case ctx.Err() != nil:
		res.Status, res.Error, res.Cause = StatusAborted, "", "the execution's context was cancelled: "+cause.Error()
		ev.Type = EventExecutionAborted
		ev.ExecutionAbortedEventDetails = &ErrorEventDetails{Cause: res.Cause}
	case f != nil:
		res.Status, res.Error, res.Cause = StatusFailed, f.Error, f.Cause
		ev.Type = EventExecutionFailed
		ev.ExecutionFailedEventDetails = &ErrorEventDetails{Error: f.Error, Cause: f.Cause}
	default:
		res.Status, res.Output = StatusSucceeded, json.RawMessage(outJSON)
		ev.Type = EventExecutionSucceeded
		ev.ExecutionSucceededEventDetails = &ExecutionSucceededEventDetails{Output: outJSON, OutputDetails: notTruncated}
	}
	x.appendEvent(&ev)
	x.mu.Lock()
	res.StartDate = x.result.StartDate
	res.StopDate = ev.Timestamp.Time
	x.result = res
	x.status = res.Status
	x.cancel = nil
	close(x.done)
	x.mu.Unlock()
}
