package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Task states (spec, "Task State"; developer guide, state-task.html and
// connect-lambda.html).

var (
	errTaskTimeout      = errors.New("task timeout")
	errHeartbeatTimeout = errors.New("task heartbeat timeout")
)

// task runs one attempt of a Task state: InputPath, Parameters, the
// resource, ResultSelector, Assign, ResultPath, OutputPath.
func (r *runner) task(ctx context.Context, st *state, raw any, retryCount int) (any, *assignment, *failure) {
	e := r.newEnv(st, raw, retryCount)
	selected, f := r.applyInputPath(e, st, raw)
	if f != nil {
		return nil, nil, f
	}
	eff := selected
	if st.parameters != nil {
		e.input = selected
		if eff, f = st.parameters.eval(e); f != nil {
			return nil, nil, f
		}
	}
	e.input = selected
	timeout, f := r.seconds(e, st, st.timeout, st.timeoutPath, "TimeoutSecondsPath")
	if f != nil {
		return nil, nil, f
	}
	heartbeat, f := r.seconds(e, st, st.heartbeat, st.heartbeatPath, "HeartbeatSecondsPath")
	if f != nil {
		return nil, nil, f
	}
	result, f := r.invoke(ctx, st, eff, timeout, heartbeat, retryCount)
	if f != nil {
		return nil, nil, f
	}
	if st.resultSelect != nil {
		e.input = result
		if result, f = st.resultSelect.eval(e); f != nil {
			return nil, nil, f
		}
	}
	a, f := r.evalAssign(st.assign, e, result)
	if f != nil {
		return nil, nil, f
	}
	out, f := r.output(st, raw, result)
	return out, a, f
}

// seconds resolves TimeoutSeconds(Path) or HeartbeatSeconds(Path); 0 means
// not set.
func (r *runner) seconds(e *env, st *state, fixed int, p *path, field string) (int, *failure) {
	if p == nil {
		return fixed, nil
	}
	v, f := e.resolve(p, field)
	if f != nil {
		return 0, f
	}
	n, ok := integer(v)
	if !ok || n < 1 || n > 99999999 {
		return 0, runtimeError("The %s '%s' of state '%s' selected %s; it must select a positive integer", field, p.src, st.name, toJSON(v))
	}
	return int(n), nil
}

// resourceParts splits a resource into the resourceType and resource of
// Task* events: arn:aws:states:::lambda:invoke gives "lambda" and "invoke".
func resourceParts(resource string) (string, string) {
	if rest, ok := strings.CutPrefix(resource, "arn:aws:states:::"); ok {
		if typ, name, ok := strings.Cut(rest, ":"); ok {
			return typ, name
		}
		return rest, ""
	}
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" {
		return parts[2], parts[5]
	}
	return "custom", resource
}

// invoke runs the resource's handler with the effective input and returns
// the task result, recording the Task (or, for a Lambda function ARN
// Resource, LambdaFunction) events.
func (r *runner) invoke(ctx context.Context, st *state, eff any, timeout, heartbeat, retryCount int) (any, *failure) {
	effJSON := toJSON(eff)
	if len(effJSON) > MaxPayloadBytes {
		return nil, dataLimit("The input of task '%s' after Parameters is %d bytes, more than the %d-byte limit", st.name, len(effJSON), MaxPayloadBytes)
	}
	eng := r.x.engine
	direct := isLambdaARN(st.resource)
	invoke := isLambdaInvoke(st.resource)
	input := []byte(effJSON)
	var (
		h     Handler
		found bool
		fn    string
	)
	switch {
	case invoke:
		params, _ := eff.(map[string]any)
		fn, _ = params["FunctionName"].(string)
		h, found = eng.lookupFunction(fn)
		input = []byte("{}")
		if payload, ok := params["Payload"]; ok {
			input = appendJSON(nil, payload)
		}
	case direct:
		fn = st.resource
		h, found = eng.lookupFunction(fn)
	default:
		h, found = eng.resources[st.resource]
	}

	resType, resName := resourceParts(st.resource)
	ev := taskEvents{r: r, direct: direct, resType: resType, resName: resName}
	explicitTimeout := int64(0)
	if st.timeout > 0 || st.timeoutPath != nil {
		explicitTimeout = int64(timeout)
	}
	if direct {
		r.event(HistoryEvent{Type: EventLambdaFunctionScheduled, LambdaFunctionScheduledEventDetails: &LambdaFunctionScheduledEventDetails{
			Resource: st.resource, Input: effJSON, InputDetails: notTruncated, TimeoutInSeconds: explicitTimeout,
		}})
	} else {
		r.event(HistoryEvent{Type: EventTaskScheduled, TaskScheduledEventDetails: &TaskScheduledEventDetails{
			ResourceType: resType, Resource: resName, Region: r.x.region, Parameters: effJSON,
			TimeoutInSeconds: explicitTimeout, HeartbeatInSeconds: int64(heartbeat),
		}})
	}
	if !found {
		f := runtimeError("No handler is registered for the resource %s of state '%s' (asl.Options.Resources)", st.resource, st.name)
		if direct || invoke {
			f = fail("Lambda.ResourceNotFoundException", "Function not found: %s (no handler is registered for it in asl.Options.Resources)", fn)
		}
		ev.failed(f)
		return nil, f
	}
	ev.started()
	if timeout == 0 {
		timeout = defaultTaskTimeoutSeconds
	}
	out, f := r.callHandler(ctx, st, h, input, timeout, heartbeat, retryCount, direct || invoke)
	if f != nil {
		if !f.aborted {
			ev.failed(f)
		}
		return nil, f
	}
	if len(out) > MaxPayloadBytes {
		f := dataLimit("The task '%s' returned a result of %d bytes, more than the %d-byte limit", st.name, len(out), MaxPayloadBytes)
		ev.failed(f)
		return nil, f
	}
	var result any
	if len(strings.TrimSpace(string(out))) > 0 {
		v, err := parseJSON(out)
		if err != nil {
			f := fail(ErrTaskFailed, "The handler of %s returned invalid JSON: %v", st.resource, err)
			ev.failed(f)
			return nil, f
		}
		result = v
	}
	if invoke && !eng.invokeResponses {
		result = lambdaInvokeResult(result, uuid4(r.rng))
	}
	outJSON := toJSON(result)
	ev.succeeded(outJSON)
	return result, nil
}

// lambdaInvokeResult wraps a function's output as the optimized Lambda
// integration returns it (connect-lambda.html): the output is in Payload.
// With Options.InvokeResponses the handler's answer is that whole result
// already, and nothing is wrapped.
func lambdaInvokeResult(payload any, requestID string) map[string]any {
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         payload,
		"SdkHttpMetadata": map[string]any{
			"HttpHeaders": map[string]any{
				"Content-Type":           "application/json",
				"X-Amz-Executed-Version": "$LATEST",
				"x-amzn-RequestId":       requestID,
			},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": requestID},
		"StatusCode":          json.Number("200"),
	}
}

// taskEvents records the outcome events of a task in the family its
// Resource calls for.
type taskEvents struct {
	r                *runner
	direct           bool
	resType, resName string
}

func (t taskEvents) started() {
	if t.direct {
		t.r.event(HistoryEvent{Type: EventLambdaFunctionStarted})
		return
	}
	t.r.event(HistoryEvent{Type: EventTaskStarted, TaskStartedEventDetails: &TaskStartedEventDetails{ResourceType: t.resType, Resource: t.resName}})
}

func (t taskEvents) succeeded(output string) {
	if t.direct {
		t.r.event(HistoryEvent{Type: EventLambdaFunctionSucceeded, LambdaFunctionSucceededEventDetails: &LambdaFunctionSucceededEventDetails{Output: output, OutputDetails: notTruncated}})
		return
	}
	t.r.event(HistoryEvent{Type: EventTaskSucceeded, TaskSucceededEventDetails: &TaskSucceededEventDetails{
		ResourceType: t.resType, Resource: t.resName, Output: output, OutputDetails: notTruncated,
	}})
}

func (t taskEvents) failed(f *failure) {
	timedOut := f.Error == ErrTimeout || f.Error == ErrHeartbeatTimeout
	switch {
	case t.direct && timedOut:
		t.r.event(HistoryEvent{Type: EventLambdaFunctionTimedOut, LambdaFunctionTimedOutEventDetails: &ErrorEventDetails{Error: f.Error, Cause: f.Cause}})
	case t.direct:
		t.r.event(HistoryEvent{Type: EventLambdaFunctionFailed, LambdaFunctionFailedEventDetails: &ErrorEventDetails{Error: f.Error, Cause: f.Cause}})
	case timedOut:
		t.r.event(HistoryEvent{Type: EventTaskTimedOut, TaskTimedOutEventDetails: &TaskErrorEventDetails{ResourceType: t.resType, Resource: t.resName, Error: f.Error, Cause: f.Cause}})
	default:
		t.r.event(HistoryEvent{Type: EventTaskFailed, TaskFailedEventDetails: &TaskErrorEventDetails{ResourceType: t.resType, Resource: t.resName, Error: f.Error, Cause: f.Cause}})
	}
}

// callHandler runs the handler in its own goroutine so that a timeout, a
// missed heartbeat or a stopped execution ends the task even if the handler
// ignores its context.
func (r *runner) callHandler(ctx context.Context, st *state, h Handler, input []byte, timeout, heartbeat, retryCount int, lambda bool) ([]byte, *failure) {
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ti := &TaskInfo{
		ExecutionArn:  r.x.arn,
		ExecutionName: r.x.name,
		StateName:     st.name,
		Resource:      st.resource,
		RetryCount:    retryCount,
		Attempt:       r.x.nextAttempt(st.name),
		clock:         r.clock,
	}
	stopTimeout := r.clock.AfterFunc(time.Duration(timeout)*time.Second, func() { cancel(errTaskTimeout) })
	defer stopTimeout()
	if heartbeat > 0 {
		var mu sync.Mutex
		var stopBeat func() bool
		arm := func() {
			mu.Lock()
			defer mu.Unlock()
			if stopBeat != nil {
				stopBeat()
			}
			stopBeat = r.clock.AfterFunc(time.Duration(heartbeat)*time.Second, func() { cancel(errHeartbeatTimeout) })
		}
		arm()
		ti.heartbeat = arm
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			stopBeat()
		}()
	}
	tctx = withTaskInfo(tctx, ti)

	type outcome struct {
		out []byte
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: fmt.Errorf("the handler panicked: %v", p)}
			}
		}()
		out, err := h(tctx, input)
		done <- outcome{out: out, err: err}
	}()
	var res outcome
	select {
	case res = <-done:
	case <-tctx.Done():
	}
	if tctx.Err() != nil {
		switch cause := context.Cause(tctx); {
		case errors.Is(cause, errTaskTimeout):
			return nil, fail(ErrTimeout, "The task ran longer than its TimeoutSeconds (%d).", timeout)
		case errors.Is(cause, errHeartbeatTimeout):
			return nil, fail(ErrHeartbeatTimeout, "The task sent no heartbeat for %d seconds (HeartbeatSeconds).", heartbeat)
		default:
			return nil, &failure{aborted: true, Error: "States.Aborted", Cause: abortCause(ctx)}
		}
	}
	if res.err != nil {
		return nil, handlerFailure(res.err, lambda)
	}
	return res.out, nil
}
