package asl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// scope holds the variables of one scope: the machine's top level, a
// Parallel branch or a Map iteration (spec, "Variable Scope"). Inner scopes
// read outer ones. A scope is only written by its own line of work, between
// states, so it needs no lock.
type scope struct {
	vars   map[string]any
	parent *scope
}

func (s *scope) get(name string) (any, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// checkpoint records where a line of work stopped without succeeding, and
// with what input, so that a redrive resumes there (developer guide,
// redrive-executions.html).
type checkpoint struct {
	state     string
	input     any
	inputJSON string
	scope     *scope
	fan       *fanProgress // for a Parallel or Map: its branches or iterations
}

// runner runs one line of work: the execution's top level, a Parallel
// branch or a Map iteration.
type runner struct {
	x     *Execution
	b     *branch
	clock Clock
	scope *scope
	rng   *rand.Rand
	prev  int64 // id of this line's latest event, for previousEventId
	cp    *checkpoint
	// enteredAt is $$.State.EnteredTime of the current state.
	enteredAt time.Time
}

// resume runs from the checkpoint: the start state, or where a previous run
// stopped.
func (r *runner) resume(ctx context.Context) (any, string, *failure) {
	return r.run(ctx, r.cp.state, r.cp.input, r.cp.inputJSON, r.cp.fan)
}

// run executes states from name until a terminal state or a failure.
// inputJSON may be "" when not yet rendered. fan is the progress of a
// Parallel or Map being redriven, for the first state only.
func (r *runner) run(ctx context.Context, name string, input any, inputJSON string, fan *fanProgress) (any, string, *failure) {
	if inputJSON == "" {
		inputJSON = toJSON(input)
	}
	for {
		st := r.b.states[name]
		r.cp.state, r.cp.input, r.cp.inputJSON, r.cp.fan = name, input, inputJSON, nil
		if err := ctx.Err(); err != nil {
			// Stopped between states: resume here on redrive.
			return nil, "", &failure{aborted: true, Error: "States.Aborted", Cause: err.Error()}
		}
		out, outJSON, next, f := r.exec(ctx, st, input, inputJSON, fan)
		fan = nil
		if f != nil {
			return nil, "", f
		}
		if next == "" {
			return out, outJSON, nil
		}
		name, input, inputJSON = next, out, outJSON
	}
}

// event appends an event on this line, chaining previousEventId.
func (r *runner) event(ev HistoryEvent) int64 {
	ev.Timestamp = EventTime{r.clock.Now()}
	ev.PreviousEventID = r.prev
	r.prev = r.x.appendEvent(&ev)
	return r.prev
}

func (r *runner) newEnv(st *state, input any, retryCount int) *env {
	return &env{run: r, input: input, state: st, retryCount: retryCount}
}

// exec runs one state: its Entered event, its work, its Exited event.
func (r *runner) exec(ctx context.Context, st *state, input any, inputJSON string, fan *fanProgress) (any, string, string, *failure) {
	r.x.transitions.Add(1)
	r.enteredAt = r.clock.Now()
	r.event(HistoryEvent{Type: stateEnteredType(st.typ), StateEnteredEventDetails: &StateEnteredEventDetails{
		Name: st.name, Input: inputJSON, InputDetails: notTruncated,
	}})
	var (
		out    any
		next   string
		assign *assignment
		f      *failure
	)
	switch st.typ {
	case typePass:
		out, assign, f = r.pass(st, input)
		next = st.next
	case typeChoice:
		out, next, assign, f = r.choice(st, input)
	case typeWait:
		out, assign, f = r.wait(ctx, st, input)
		next = st.next
	case typeSucceed:
		out, f = r.succeed(st, input)
	case typeFail:
		return nil, "", "", r.failState(st, input)
	case typeTask, typeParallel, typeMap:
		out, next, assign, f = r.withRetry(ctx, st, input, fan)
	}
	if f != nil {
		return nil, "", "", f
	}
	outJSON := toJSON(out)
	if len(outJSON) > MaxPayloadBytes {
		return nil, "", "", dataLimit("The state '%s' produced an output of %d bytes, more than the %d-byte limit", st.name, len(outJSON), MaxPayloadBytes)
	}
	var assigned map[string]string
	if assign != nil {
		if r.scope.vars == nil {
			r.scope.vars = make(map[string]any, len(assign.vals))
		}
		for k, v := range assign.vals {
			r.scope.vars[k] = v
		}
		assigned = assign.json
	}
	r.event(HistoryEvent{Type: stateExitedType(st.typ), StateExitedEventDetails: &StateExitedEventDetails{
		Name: st.name, Output: outJSON, OutputDetails: notTruncated, AssignedVariables: assigned,
	}})
	return out, outJSON, next, nil
}

func dataLimit(format string, args ...any) *failure {
	return fail(ErrDataLimitExceeded, format, args...)
}

// effectiveInput applies InputPath, then Parameters (spec, "Input and
// Output Processing with JSONPath").
func (r *runner) effectiveInput(e *env, st *state, raw any) (any, *failure) {
	v, f := r.applyInputPath(e, st, raw)
	if f != nil || st.parameters == nil {
		return v, f
	}
	e.input = v
	return st.parameters.eval(e)
}

func (r *runner) applyInputPath(e *env, st *state, raw any) (any, *failure) {
	switch {
	case st.inputNull:
		return map[string]any{}, nil
	case st.inputPath != nil:
		e.input = raw
		return e.resolve(st.inputPath, "InputPath")
	}
	return raw, nil
}

// output places result into the raw input with ResultPath, then applies
// OutputPath.
func (r *runner) output(st *state, raw, result any) (any, *failure) {
	out := result
	switch {
	case st.resultDiscard:
		out = raw
	case st.resultPath != nil:
		var err error
		if out, err = st.resultPath.set(raw, result); err != nil {
			return nil, fail(ErrResultPathMatchFailure, "Unable to apply ResultPath '%s' to the input of state '%s': %v", st.resultPath.src, st.name, err)
		}
	}
	return r.applyOutputPath(st, out)
}

func (r *runner) applyOutputPath(st *state, v any) (any, *failure) {
	switch {
	case st.outputNull:
		return map[string]any{}, nil
	case st.outputPath != nil:
		e := r.newEnv(st, v, 0)
		return e.resolve(st.outputPath, "OutputPath")
	}
	return v, nil
}

// assignment is the outcome of an Assign field, applied when the state
// exits: "each variable's new value only takes effect in the next state".
type assignment struct {
	vals map[string]any
	json map[string]string
}

// evalAssign evaluates an Assign template with $ bound to dollar.
func (r *runner) evalAssign(t *tmpl, e *env, dollar any) (*assignment, *failure) {
	if t == nil {
		return nil, nil
	}
	e.input = dollar
	v, f := t.eval(e)
	if f != nil {
		return nil, f
	}
	vals, _ := v.(map[string]any)
	a := &assignment{vals: vals, json: make(map[string]string, len(vals))}
	total := 0
	for k, val := range vals {
		s := toJSON(val)
		total += len(s)
		a.json[k] = s
	}
	// "The maximum size of a single variable is 256Kib ... The maximum
	// combined size for all variables in a single Assign field is also
	// 256Kib." (workflow-variables.html, Limits)
	if total > MaxPayloadBytes {
		return nil, dataLimit("The variables assigned by state '%s' total %d bytes, more than the %d-byte limit", e.state.name, total, MaxPayloadBytes)
	}
	return a, nil
}

func (r *runner) pass(st *state, raw any) (any, *assignment, *failure) {
	e := r.newEnv(st, raw, 0)
	result, f := r.effectiveInput(e, st, raw)
	if f != nil {
		return nil, nil, f
	}
	if st.hasResult {
		result = st.result
	}
	a, f := r.evalAssign(st.assign, e, result)
	if f != nil {
		return nil, nil, f
	}
	out, f := r.output(st, raw, result)
	return out, a, f
}

func (r *runner) choice(st *state, raw any) (any, string, *assignment, *failure) {
	e := r.newEnv(st, raw, 0)
	eff, f := r.applyInputPath(e, st, raw)
	if f != nil {
		return nil, "", nil, f
	}
	e.input = eff
	next, assign := "", st.assign
	for _, rule := range st.choices {
		ok, f := rule.eval(e)
		if f != nil {
			return nil, "", nil, f
		}
		if ok {
			// "If a Choice Rule is chosen, the interpreter evaluates the
			// Choice Rule's Assign field, if any, and does not evaluate the
			// state's top-level Assign field."
			next, assign = rule.next, rule.assign
			break
		}
	}
	if next == "" {
		if st.defaultNext == "" {
			// The spec names this States.NoChoiceMatched; the developer
			// guide reports it as States.Runtime.
			return nil, "", nil, runtimeError("An error occurred while executing the state '%s'. No Choice Rule matched the input and the state has no Default (%s).", st.name, ErrNoChoiceMatched)
		}
		next = st.defaultNext
	}
	a, f := r.evalAssign(assign, e, eff)
	if f != nil {
		return nil, "", nil, f
	}
	out, f := r.applyOutputPath(st, eff)
	return out, next, a, f
}

func (r *runner) wait(ctx context.Context, st *state, raw any) (any, *assignment, *failure) {
	e := r.newEnv(st, raw, 0)
	eff, f := r.applyInputPath(e, st, raw)
	if f != nil {
		return nil, nil, f
	}
	e.input = eff
	var d time.Duration
	switch {
	case st.hasSeconds:
		d = time.Duration(st.seconds) * time.Second
	case st.hasTimestamp:
		d = st.timestamp.Sub(r.clock.Now())
	case st.secondsPath != nil:
		v, f := e.resolve(st.secondsPath, "SecondsPath")
		if f != nil {
			return nil, nil, f
		}
		n, ok := integer(v)
		if !ok || n < 0 || n > 99999999 {
			return nil, nil, runtimeError("The SecondsPath '%s' of state '%s' selected %s; it must select a non-negative integer", st.secondsPath.src, st.name, toJSON(v))
		}
		d = time.Duration(n) * time.Second
	case st.timestampPath != nil:
		v, f := e.resolve(st.timestampPath, "TimestampPath")
		if f != nil {
			return nil, nil, f
		}
		s, _ := v.(string)
		t, ok := parseTimestamp(s)
		if !ok {
			return nil, nil, runtimeError("The TimestampPath '%s' of state '%s' selected %s; it must select an RFC 3339 timestamp", st.timestampPath.src, st.name, toJSON(v))
		}
		// A timestamp in the past ends the wait at once (and so does a
		// redrive after it has passed, per redrive-executions.html).
		d = t.Sub(r.clock.Now())
	}
	if err := r.clock.Sleep(ctx, d); err != nil {
		r.event(HistoryEvent{Type: stateAbortedType(st.typ)})
		return nil, nil, &failure{aborted: true, Error: "States.Aborted", Cause: err.Error()}
	}
	a, f := r.evalAssign(st.assign, e, eff)
	if f != nil {
		return nil, nil, f
	}
	out, f := r.applyOutputPath(st, eff)
	return out, a, f
}

func (r *runner) succeed(st *state, raw any) (any, *failure) {
	e := r.newEnv(st, raw, 0)
	eff, f := r.applyInputPath(e, st, raw)
	if f != nil {
		return nil, f
	}
	return r.applyOutputPath(st, eff)
}

// failState returns the Fail state's error. ErrorPath and CausePath are
// evaluated against the state input and must give strings.
func (r *runner) failState(st *state, raw any) *failure {
	e := r.newEnv(st, raw, 0)
	f := &failure{Error: st.errorName, Cause: st.cause}
	for _, x := range []struct {
		expr *tmpl
		dst  *string
	}{{st.errorExpr, &f.Error}, {st.causeExpr, &f.Cause}} {
		if x.expr == nil {
			continue
		}
		v, ff := x.expr.eval(e)
		if ff != nil {
			return ff
		}
		s, ok := v.(string)
		if !ok {
			return runtimeError("The %s of state '%s' gave %s; it must give a string", x.expr.field, st.name, toJSON(v))
		}
		*x.dst = s
	}
	return f
}

// withRetry runs a Task, Parallel or Map state, applying its Retriers and
// Catchers to the errors it reports.
func (r *runner) withRetry(ctx context.Context, st *state, raw any, fan *fanProgress) (any, string, *assignment, *failure) {
	policy := retryPolicy{retriers: st.retry, attempts: make([]int, len(st.retry))}
	for {
		var (
			out any
			a   *assignment
			f   *failure
		)
		switch st.typ {
		case typeTask:
			out, a, f = r.task(ctx, st, raw, policy.total)
		case typeParallel:
			out, a, f = r.parallel(ctx, st, raw, policy.total, fan)
		case typeMap:
			out, a, f = r.mapState(ctx, st, raw, policy.total, fan)
		}
		fan = nil // a retry reruns every branch or iteration
		if f == nil {
			return out, st.next, a, nil
		}
		if f.aborted {
			r.event(HistoryEvent{Type: stateAbortedType(st.typ)})
			return nil, "", nil, f
		}
		if d, ok := policy.next(f, r.rng); ok {
			// "Every retry is billed as a state transition."
			r.x.transitions.Add(1)
			if err := r.clock.Sleep(ctx, d); err != nil {
				r.event(HistoryEvent{Type: stateAbortedType(st.typ)})
				return nil, "", nil, &failure{aborted: true, Error: "States.Aborted", Cause: err.Error()}
			}
			continue
		}
		c := findCatcher(st.catch, f)
		if c == nil {
			return nil, "", nil, f
		}
		errOut := map[string]any{"Error": f.Error, "Cause": f.Cause}
		e := r.newEnv(st, raw, policy.total)
		ca, ff := r.evalAssign(c.assign, e, errOut)
		if ff != nil {
			return nil, "", nil, ff
		}
		var result any = errOut
		switch {
		case c.resultDiscard:
			result = raw
		case c.resultPath != nil:
			var err error
			if result, err = c.resultPath.set(raw, errOut); err != nil {
				return nil, "", nil, fail(ErrResultPathMatchFailure, "Unable to apply the Catch ResultPath '%s' to the input of state '%s': %v", c.resultPath.src, st.name, err)
			}
		}
		return result, c.next, ca, nil
	}
}

// abortCause describes why a line of work was cancelled.
func abortCause(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c.Error()
	}
	return fmt.Sprint(ctx.Err())
}
