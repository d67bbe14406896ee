package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	fnA = "arn:aws:lambda:eu-west-1:111122223333:function:A"
	fnB = "arn:aws:lambda:eu-west-1:111122223333:function:B"
)

func mustParse(t testing.TB, def string) *Definition {
	t.Helper()
	d, err := Parse([]byte(def), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func testEngine(res Resources) *Engine {
	return NewEngine(Options{Clock: NewVirtualClock(confStart), Rand: rand.New(rand.NewPCG(7, 8)), Resources: res})
}

func run(t testing.TB, eng *Engine, def *Definition, input string) (*Execution, Result) {
	t.Helper()
	x, res, err := eng.Run(context.Background(), def, StartInput{Name: "test", Input: json.RawMessage(input)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return x, res
}

func eventTypes(h []HistoryEvent) []string {
	out := make([]string, len(h))
	for i, ev := range h {
		out[i] = ev.Type
	}
	return out
}

// counter is a handler that counts its calls and answers with fn.
type counter struct {
	n  atomic.Int64
	fn func(call int64, in json.RawMessage) (json.RawMessage, error)
}

func (c *counter) handler(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	return c.fn(c.n.Add(1), in)
}

// API reference, GetExecutionHistory / HistoryEvent: ids start at 1 and
// increase by one; previousEventId names the event that led to this one;
// the JSON uses the API's field names.
func TestHistoryEventIDsAndShape(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"`+fnA+`","Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":2}],
		     "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Recover"}],"Next":"Done"},
		"Recover":{"Type":"Pass","Assign":{"recovered":true},"Next":"Done"},
		"Done":{"Type":"Succeed"}}}`)
	a := &counter{fn: func(n int64, in json.RawMessage) (json.RawMessage, error) {
		if n == 1 {
			return nil, TaskError{Name: "Flaky", Cause: "first"}
		}
		return nil, TaskError{Name: "Broken", Cause: "second"}
	}}
	x, res := run(t, testEngine(Resources{fnA: a.handler}), def, `{"k":"v"}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s", res.Status, res.Error, res.Cause)
	}
	h := x.History()
	want := []string{"ExecutionStarted", "TaskStateEntered",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
		"TaskStateExited", "PassStateEntered", "PassStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if got := eventTypes(h); !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	for i, ev := range h {
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			t.Errorf("event %d (%s): id %d previousEventId %d", i, ev.Type, ev.ID, ev.PreviousEventID)
		}
	}
	// The retry waited 2 virtual seconds between the attempts.
	if d := h[5].Timestamp.Sub(h[4].Timestamp.Time); d != 2*time.Second {
		t.Errorf("retry delay %v, want 2s", d)
	}
	if got := h[8].StateExitedEventDetails.Output; got != `{"err":{"Cause":"second","Error":"Broken"},"k":"v"}` {
		t.Errorf("TaskStateExited output after Catch = %s", got)
	}
	if got := h[10].StateExitedEventDetails.AssignedVariables; got["recovered"] != "true" {
		t.Errorf("assignedVariables = %v", got)
	}

	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var generic []map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for key, idx := range map[string]int{
		"executionStartedEventDetails": 0, "stateEnteredEventDetails": 1, "lambdaFunctionScheduledEventDetails": 2,
		"lambdaFunctionFailedEventDetails": 4, "stateExitedEventDetails": 8, "executionSucceededEventDetails": 13,
	} {
		if _, ok := generic[idx][key]; !ok {
			t.Errorf("event %d has no %q: %v", idx+1, key, generic[idx])
		}
	}
	for _, f := range []string{"timestamp", "type", "id", "previousEventId"} {
		if _, ok := generic[1][f]; !ok {
			t.Errorf("event has no %q", f)
		}
	}
	if ts, ok := generic[0]["timestamp"].(float64); !ok || ts != float64(confStart.Unix()) {
		t.Errorf("timestamp %v, want epoch seconds %d", generic[0]["timestamp"], confStart.Unix())
	}
	// Round trip through the exported types.
	var back []HistoryEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back[0].Timestamp.Equal(h[0].Timestamp.Time) || back[4].LambdaFunctionFailedEventDetails.Error != "Flaky" {
		t.Errorf("round trip lost data: %+v", back[4])
	}
}

func TestEventTimeJSON(t *testing.T) {
	tm := EventTime{time.Date(2023, 11, 20, 10, 0, 0, 123_000_000, time.UTC)}
	b, _ := json.Marshal(tm)
	if string(b) != "1700474400.123" {
		t.Errorf("marshal %s", b)
	}
	var back EventTime
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tm.Time) {
		t.Errorf("unmarshal %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"2023-11-20T10:00:00.123Z"`), &back); err != nil || !back.Equal(tm.Time) {
		t.Errorf("unmarshal string %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &back); err == nil {
		t.Error("accepted a bad timestamp")
	}
	if err := json.Unmarshal([]byte(`true`), &back); err == nil {
		t.Error("accepted a boolean")
	}
	neg, _ := json.Marshal(EventTime{time.UnixMilli(-1500)})
	if string(neg) != "-2.500" {
		t.Errorf("negative %s", neg)
	}
}

// In a Parallel state each branch chains its own events; every
// previousEventId refers to an earlier event.
func TestHistoryChainInParallel(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A2"},"A2":{"Type":"Pass","End":true}}},
		{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]}}}`)
	x, res := run(t, testEngine(nil), def, `{}`)
	if res.Status != StatusSucceeded {
		t.Fatal(res.Status)
	}
	h := x.History()
	byID := map[int64]HistoryEvent{}
	for _, ev := range h {
		if ev.PreviousEventID >= ev.ID || (ev.PreviousEventID > 0 && byID[ev.PreviousEventID].ID == 0) {
			t.Errorf("%s #%d has previousEventId %d", ev.Type, ev.ID, ev.PreviousEventID)
		}
		byID[ev.ID] = ev
	}
	started := int64(0)
	for _, ev := range h {
		switch {
		case ev.Type == EventParallelStateStarted:
			started = ev.ID
		case ev.StateEnteredEventDetails != nil && (ev.StateEnteredEventDetails.Name == "A" || ev.StateEnteredEventDetails.Name == "B"):
			if ev.PreviousEventID != started {
				t.Errorf("first event of branch %s follows #%d, want ParallelStateStarted #%d", ev.StateEnteredEventDetails.Name, ev.PreviousEventID, started)
			}
		}
	}
}

// developer guide redrive-executions.html: a redrive continues from the
// unsuccessful step with its original input; successful steps are not
// rerun; $$.Execution.RedriveCount goes up; an ExecutionRedriven event is
// appended; a redrive is a state transition.
func TestRedriveResumesAtTheFailedState(t *testing.T) {
	def := mustParse(t, `{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"`+fnA+`","ResultPath":"$.a","Next":"B"},
		"B":{"Type":"Task","Resource":"`+fnB+`","Parameters":{"in.$":"$","redrives.$":"$$.Execution.RedriveCount"},"ResultPath":"$.b","Next":"C"},
		"C":{"Type":"Pass","End":true}}}`)
	a := &counter{fn: func(int64, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`"a"`), nil }}
	var bInputs []string
	b := &counter{fn: func(n int64, in json.RawMessage) (json.RawMessage, error) {
		bInputs = append(bInputs, string(in))
		if n == 1 {
			return nil, TaskError{Name: "Broken", Cause: "fix me"}
		}
		return json.RawMessage(`"b"`), nil
	}}
	eng := testEngine(Resources{fnA: a.handler, fnB: b.handler})
	x, res := run(t, eng, def, `{"start":1}`)
	if res.Status != StatusFailed || res.Error != "Broken" || res.Transitions != 2 {
		t.Fatalf("first run: %+v", res)
	}
	failedAt := len(x.History())
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res = x.Wait()
	if res.Status != StatusSucceeded {
		t.Fatalf("after redrive: %+v", res)
	}
	if !lambdatest.JSONEqual(res.Output, []byte(`{"start":1,"a":"a","b":"b"}`)) {
		t.Errorf("output %s", res.Output)
	}
	if a.n.Load() != 1 || b.n.Load() != 2 {
		t.Errorf("calls: A %d (want 1), B %d (want 2)", a.n.Load(), b.n.Load())
	}
	if bInputs[0] != `{"in":{"a":"a","start":1},"redrives":0}` || bInputs[1] != `{"in":{"a":"a","start":1},"redrives":1}` {
		t.Errorf("B inputs %q", bInputs)
	}
	if res.RedriveCount != 1 || res.Transitions != 2+1+2 {
		t.Errorf("redriveCount %d transitions %d, want 1 and 5", res.RedriveCount, res.Transitions)
	}
	h := x.History()
	tail := eventTypes(h[failedAt:])
	want := []string{"ExecutionRedriven", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
	if !slices.Equal(tail, want) {
		t.Errorf("events after the failure\n got %q\nwant %q", tail, want)
	}
	redriven := h[failedAt]
	if redriven.ExecutionRedrivenEventDetails.RedriveCount != 1 || redriven.PreviousEventID != int64(failedAt) || redriven.ID != int64(failedAt+1) {
		t.Errorf("ExecutionRedriven %+v", redriven)
	}
	if err := eng.Redrive(context.Background(), x); !errors.Is(err, ErrExecutionNotRedrivable) {
		t.Errorf("redriving a SUCCEEDED execution: %v", err)
	}
}

// redrive-executions.html: the Fail state "reenters the Fail state and
// fails again".
func TestRedriveOfAFailState(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"F"},"F":{"Type":"Fail","Error":"E","Cause":"c"}}}`)
	eng := testEngine(nil)
	x, res := run(t, eng, def, `{}`)
	if res.Status != StatusFailed {
		t.Fatal(res.Status)
	}
	n := len(x.History())
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res = x.Wait()
	if res.Status != StatusFailed || res.Error != "E" || res.RedriveCount != 1 {
		t.Fatalf("%+v", res)
	}
	if got := eventTypes(x.History()[n:]); !slices.Equal(got, []string{"ExecutionRedriven", "FailStateEntered", "ExecutionFailed"}) {
		t.Errorf("events %q", got)
	}
}

// RedriveExecution: for Parallel and inline Map, only the branches and
// iterations that failed or aborted run again; retry counts start afresh.
func TestRedriveParallelRerunsOnlyFailedBranches(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"Good","States":{"Good":{"Type":"Task","Resource":"`+fnA+`","End":true}}},
		{"StartAt":"Prep","States":{"Prep":{"Type":"Pass","Assign":{"prepared":"yes"},"Next":"Bad"},
			"Bad":{"Type":"Task","Resource":"`+fnB+`","Parameters":{"prepared.$":"$prepared"},
			       "Retry":[{"ErrorEquals":["Broken"],"MaxAttempts":1}],"End":true}}}]}}}`)
	goodReturned := make(chan struct{})
	var once sync.Once
	good := &counter{fn: func(int64, json.RawMessage) (json.RawMessage, error) {
		once.Do(func() { close(goodReturned) })
		return json.RawMessage(`"good"`), nil
	}}
	fixed := atomic.Bool{}
	bad := &counter{fn: func(_ int64, in json.RawMessage) (json.RawMessage, error) {
		if !fixed.Load() {
			// Let the good branch finish first, so that it counts as
			// successful (branches really run concurrently).
			<-goodReturned
			time.Sleep(20 * time.Millisecond)
			return nil, TaskError{Name: "Broken"}
		}
		return in, nil
	}}
	eng := testEngine(Resources{fnA: good.handler, fnB: bad.handler})
	x, res := run(t, eng, def, `{}`)
	if res.Status != StatusFailed || bad.n.Load() != 2 {
		t.Fatalf("first run %+v, bad calls %d", res, bad.n.Load())
	}
	goodDone := slices.ContainsFunc(x.History(), func(ev HistoryEvent) bool {
		return ev.StateExitedEventDetails != nil && ev.StateExitedEventDetails.Name == "Good"
	})
	fixed.Store(true)
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res = x.Wait()
	if res.Status != StatusSucceeded {
		t.Fatalf("after redrive %+v", res)
	}
	if !lambdatest.JSONEqual(res.Output, []byte(`["good",{"prepared":"yes"}]`)) {
		t.Errorf("output %s", res.Output)
	}
	if !goodDone {
		t.Fatal("the good branch did not finish before the bad one failed; cannot check that it is not rerun")
	}
	if good.n.Load() != 1 {
		t.Errorf("the successful branch ran again: %d calls", good.n.Load())
	}
	if bad.n.Load() != 3 {
		t.Errorf("bad branch calls %d, want 3 (retry count reset: one fresh attempt succeeds)", bad.n.Load())
	}
}

func TestRedriveMapRerunsOnlyUnfinishedIterations(t *testing.T) {
	def := mustParse(t, `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"End":true,
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`","End":true}}}}}}`)
	var mu sync.Mutex
	calls := map[string]int{}
	fixed := false
	h := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[string(in)]++
		if string(in) == "2" && !fixed {
			return nil, TaskError{Name: "Two"}
		}
		return in, nil
	}
	eng := testEngine(Resources{fnA: h})
	x, res := run(t, eng, def, `[1,2,3]`)
	if res.Status != StatusFailed || res.Error != "Two" {
		t.Fatalf("first run %+v", res)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res = x.Wait()
	if res.Status != StatusSucceeded || !lambdatest.JSONEqual(res.Output, []byte(`[1,2,3]`)) {
		t.Fatalf("after redrive %+v %s", res, res.Output)
	}
	if calls["1"] != 1 || calls["2"] != 2 || calls["3"] != 1 {
		t.Errorf("calls %v, want 1:1 2:2 3:1", calls)
	}
}

// redrive-executions.html: the state machine timeout is reset on redrive.
func TestRedriveAfterTimeout(t *testing.T) {
	def := mustParse(t, `{"StartAt":"W","TimeoutSeconds":10,"States":{
		"W":{"Type":"Wait","Seconds":6,"Next":"T"},
		"T":{"Type":"Task","Resource":"`+fnA+`","End":true}}}`)
	slow := atomic.Bool{}
	slow.Store(true)
	h := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if slow.Load() {
			if err := Sleep(ctx, 100*time.Second); err != nil {
				return nil, err
			}
		}
		return json.RawMessage(`"done"`), nil
	}
	eng := testEngine(Resources{fnA: h})
	x, res := run(t, eng, def, `{}`)
	if res.Status != StatusTimedOut || res.Error != ErrTimeout || res.StopDate.Sub(res.StartDate) != 10*time.Second {
		t.Fatalf("first run %+v", res)
	}
	if h := x.History(); h[len(h)-2].Type != "TaskStateAborted" || h[len(h)-1].Type != EventExecutionTimedOut {
		t.Errorf("last events %q", eventTypes(h[len(h)-2:]))
	}
	slow.Store(false)
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	if res = x.Wait(); res.Status != StatusSucceeded || string(res.Output) != `"done"` {
		t.Fatalf("after redrive %+v", res)
	}
	if got := enteredStates(x.History()); !slices.Equal(got, []string{"W", "T", "T"}) {
		t.Errorf("states %q: the Wait must not run again", got)
	}
}

// StopExecution: the execution ends ABORTED with the given error and cause;
// the running task's context is cancelled. A stopped execution can be
// redriven.
func TestStopAndRedriveAborted(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`","End":true}}}`)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	release := atomic.Bool{}
	h := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if release.Load() {
			return json.RawMessage(`"ok"`), nil
		}
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	eng := testEngine(Resources{fnA: h})
	x, err := eng.Start(context.Background(), def, StartInput{Name: "stop-me"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := eng.Redrive(context.Background(), x); !errors.Is(err, ErrExecutionNotRedrivable) {
		t.Errorf("redrive of a running execution: %v", err)
	}
	if err := x.Stop("Manual", "an operator stopped it"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
	res := x.Result()
	if res.Status != StatusAborted || res.Error != "Manual" || res.Cause != "an operator stopped it" {
		t.Fatalf("%+v", res)
	}
	h2 := x.History()
	if got := eventTypes(h2[len(h2)-2:]); !slices.Equal(got, []string{"TaskStateAborted", "ExecutionAborted"}) {
		t.Errorf("last events %q", got)
	}
	if err := x.Stop("again", ""); !errors.Is(err, ErrExecutionNotRunning) {
		t.Errorf("second Stop: %v", err)
	}
	release.Store(true)
	if err := eng.Redrive(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	if res = x.Wait(); res.Status != StatusSucceeded {
		t.Fatalf("after redrive %+v", res)
	}
}

func TestCancelledContextAbortsTheExecution(t *testing.T) {
	def := mustParse(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}`)
	eng := NewEngine(Options{}) // real clock
	ctx, cancel := context.WithCancel(context.Background())
	x, err := eng.Start(ctx, def, StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	res := x.Wait()
	if res.Status != StatusAborted || !strings.Contains(res.Cause, "context canceled") {
		t.Fatalf("%+v", res)
	}
	if len(x.Name()) != 36 || !strings.HasSuffix(x.ARN(), ":execution:StateMachine:"+x.Name()) {
		t.Errorf("generated name %q arn %q", x.Name(), x.ARN())
	}
}

// spec §Map State concurrency: with a non-zero MaxConcurrency the
// interpreter does not allow more concurrent iterations; MaxConcurrency 0
// is bounded by the inline Map's 40 (state-map-inline.html).
func TestMapMaxConcurrencyIsObserved(t *testing.T) {
	for _, tc := range []struct {
		limit, items, want int
	}{{3, 12, 3}, {0, 60, maxInlineMapConcurrency}} {
		t.Run(fmt.Sprintf("limit %d", tc.limit), func(t *testing.T) {
			def := mustParse(t, fmt.Sprintf(`{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":%d,"End":true,
				"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"%s","End":true}}}}}}`, tc.limit, fnA))
			var active, peak atomic.Int64
			h := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				active.Add(-1)
				return in, nil
			}
			items := make([]int, tc.items)
			in, _ := json.Marshal(items)
			_, res := run(t, testEngine(Resources{fnA: h}), def, string(in))
			if res.Status != StatusSucceeded {
				t.Fatal(res)
			}
			if p := peak.Load(); p != int64(tc.want) {
				t.Errorf("peak concurrency %d, want %d", p, tc.want)
			}
		})
	}
}

// Many executions at once on one engine (run with -race).
func TestConcurrentExecutions(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"`+fnA+`","ResultPath":"$.r","Retry":[{"ErrorEquals":["Flaky"],"JitterStrategy":"FULL"}],"Next":"C"},
		"C":{"Type":"Choice","Choices":[{"Variable":"$.r","NumericGreaterThan":50,"Next":"Big"}],"Default":"W"},
		"W":{"Type":"Wait","Seconds":60,"Next":"Big"},
		"Big":{"Type":"Pass","Parameters":{"n.$":"$.r","id.$":"States.UUID()"},"End":true}}}`)
	h := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		var v struct{ N int }
		_ = json.Unmarshal(in, &v)
		if ti, _ := TaskInfoFrom(ctx); ti.RetryCount == 0 && v.N%3 == 0 {
			return nil, TaskError{Name: "Flaky"}
		}
		return json.RawMessage(fmt.Sprint(v.N)), nil
	}
	eng := testEngine(Resources{fnA: h})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, err := eng.Start(context.Background(), def, StartInput{Name: fmt.Sprint("e", i), Input: json.RawMessage(fmt.Sprintf(`{"N":%d}`, i))})
			if err != nil {
				t.Error(err)
				return
			}
			res := x.Wait()
			var out struct{ N int }
			if err := json.Unmarshal(res.Output, &out); res.Status != StatusSucceeded || err != nil || out.N != i {
				t.Errorf("execution %d: %+v %s", i, res, res.Output)
			}
		}()
	}
	wg.Wait()
}

// A fixed seed gives the same history, jitter included.
func TestSeededRunsAreReproducible(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`",
		"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":5,"MaxAttempts":4,"JitterStrategy":"FULL"}],
		"Catch":[{"ErrorEquals":["States.ALL"],"Next":"U"}],"End":true},
		"U":{"Type":"Pass","Parameters":{"id.$":"States.UUID()","r.$":"States.MathRandom(0, 1000)"},"End":true}}}`)
	h := func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errors.New("no") }
	render := func() string {
		x, _ := run(t, testEngine(Resources{fnA: h}), def, `{}`)
		b, _ := json.Marshal(x.History())
		return string(b)
	}
	if a, b := render(), render(); a != b {
		t.Errorf("two seeded runs differ:\n%s\n%s", a, b)
	}
}

// limits.html: 256 KiB for execution input, state input and output and task
// results; spec/developer guide: States.DataLimitExceeded is not matched by
// States.ALL but can be named.
func TestDataLimit(t *testing.T) {
	big := strings.Repeat("x", 200_000)
	t.Run("execution input", func(t *testing.T) {
		def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
		_, err := testEngine(nil).Start(context.Background(), def, StartInput{Input: json.RawMessage(`"` + strings.Repeat("x", MaxPayloadBytes) + `"`)})
		if err == nil || !strings.Contains(err.Error(), "262144") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("state output", func(t *testing.T) {
		def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`)
		_, res := run(t, testEngine(nil), def, `{"s":"`+big+`"}`)
		if res.Status != StatusFailed || res.Error != ErrDataLimitExceeded {
			t.Errorf("%s %s", res.Status, res.Error)
		}
	})
	t.Run("exactly at the limit", func(t *testing.T) {
		def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
		s := strings.Repeat("y", MaxPayloadBytes-2)
		_, res := run(t, testEngine(nil), def, `"`+s+`"`)
		if res.Status != StatusSucceeded || len(res.Output) != MaxPayloadBytes {
			t.Errorf("%s %d", res.Status, len(res.Output))
		}
	})
	t.Run("task result", func(t *testing.T) {
		def := mustParse(t, `{"StartAt":"T","States":{
			"T":{"Type":"Task","Resource":"`+fnA+`","Retry":[{"ErrorEquals":["States.ALL"]}],
			     "Catch":[{"ErrorEquals":["States.ALL"],"Next":"All"}],"End":true},
			"All":{"Type":"Succeed"}}}`)
		n := atomic.Int64{}
		h := func(context.Context, json.RawMessage) (json.RawMessage, error) {
			n.Add(1)
			return json.RawMessage(`"` + strings.Repeat("z", MaxPayloadBytes) + `"`), nil
		}
		_, res := run(t, testEngine(Resources{fnA: h}), def, `{}`)
		if res.Status != StatusFailed || res.Error != ErrDataLimitExceeded || n.Load() != 1 {
			t.Errorf("States.ALL must neither retry nor catch it: %s %s, %d calls", res.Status, res.Error, n.Load())
		}
		def2 := mustParse(t, `{"StartAt":"U","States":{
			"U":{"Type":"Task","Resource":"`+fnA+`","Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Named"}],"End":true},
			"Named":{"Type":"Pass","End":true}}}`)
		_, res = run(t, testEngine(Resources{fnA: h}), def2, `{}`)
		if res.Status != StatusSucceeded {
			t.Errorf("naming States.DataLimitExceeded must catch it: %+v", res)
		}
	})
	t.Run("assigned variables", func(t *testing.T) {
		def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`)
		_, res := run(t, testEngine(nil), def, `{"s":"`+big+`"}`)
		if res.Status != StatusFailed || res.Error != ErrDataLimitExceeded {
			t.Errorf("%s %s", res.Status, res.Error)
		}
	})
}

// The real clock really waits, and a Task timeout ends a handler that
// ignores its context.
func TestRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for real seconds")
	}
	def := mustParse(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"T"},
		"T":{"Type":"Task","Resource":"`+fnA+`","TimeoutSeconds":1,"End":true}}}`)
	h := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		time.Sleep(3 * time.Second) // ignores ctx on purpose
		return nil, nil
	}
	eng := NewEngine(Options{Clock: RealClock(), Resources: Resources{fnA: h}})
	begin := time.Now()
	_, res := run(t, eng, def, `{}`)
	elapsed := time.Since(begin)
	if res.Status != StatusFailed || res.Error != ErrTimeout {
		t.Errorf("%+v", res)
	}
	if elapsed < 2*time.Second || elapsed > 2900*time.Millisecond {
		t.Errorf("took %v, want about 2s (1s Wait + 1s timeout)", elapsed)
	}
}

func TestTaskInfo(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`","Retry":[{"ErrorEquals":["Again"]}],"End":true}}}`)
	var infos []TaskInfo
	h := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		ti, ok := TaskInfoFrom(ctx)
		if !ok {
			t.Error("no TaskInfo")
		}
		infos = append(infos, ti)
		if len(infos) < 3 {
			return nil, TaskError{Name: "Again"}
		}
		return in, nil
	}
	run(t, testEngine(Resources{fnA: h}), def, `{}`)
	if len(infos) != 3 || infos[2].Attempt != 3 || infos[2].RetryCount != 2 || infos[0].StateName != "T" || infos[0].Resource != fnA ||
		infos[0].ExecutionName != "test" || !strings.HasSuffix(infos[0].ExecutionArn, ":execution:StateMachine:test") {
		t.Errorf("%+v", infos)
	}
	if _, ok := TaskInfoFrom(context.Background()); ok {
		t.Error("TaskInfo outside a task")
	}
	// Outside a task, Sleep and Heartbeat fall back to real time / no-op.
	Heartbeat(context.Background())
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}

func TestHandlerErrorsAndPanics(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::x:y","End":true}}}`)
	for _, tc := range []struct {
		name      string
		h         Handler
		err, want string
	}{
		{"pointer TaskError", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &TaskError{Name: "Ptr", Cause: "p"}
		}, "Ptr", "p"},
		{"wrapped TaskError", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, fmt.Errorf("ctx: %w", TaskError{Name: "Wrapped", Cause: "w"})
		}, "Wrapped", "w"},
		{"named error outside Lambda", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &namedErr{Name: "Named", Message: "m"}
		}, "Named", "m"},
		{"panic", func(context.Context, json.RawMessage) (json.RawMessage, error) { panic("boom") }, ErrTaskFailed, "the handler panicked: boom"},
		{"invalid JSON", func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{`), nil }, ErrTaskFailed, "returned invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := run(t, testEngine(Resources{"arn:aws:states:::x:y": tc.h}), def, `{}`)
			if res.Error != tc.err || !strings.Contains(res.Cause, tc.want) {
				t.Errorf("error %q cause %q, want %q %q", res.Error, res.Cause, tc.err, tc.want)
			}
		})
	}
	if got := (TaskError{Name: "N"}).Error(); got != "N" {
		t.Error(got)
	}
	if got := (TaskError{Name: "N", Cause: "c"}).Error(); got != "N: c" {
		t.Error(got)
	}
	// A handler returning nothing gives null.
	x, res := run(t, testEngine(Resources{"arn:aws:states:::x:y": func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, nil }}), def, `{}`)
	if res.Status != StatusSucceeded || string(res.Output) != "null" {
		t.Errorf("%+v", res)
	}
	if x.Definition() != def {
		t.Error("Definition()")
	}
}

func TestStartValidation(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	eng := testEngine(nil)
	for _, in := range []StartInput{
		{Name: "has space"},
		{Name: strings.Repeat("n", 81)},
		{Name: "a:b"},
		{Input: json.RawMessage(`{"a":`)},
		{StateMachineArn: "arn:aws:lambda:us-east-1:1:function:f"},
	} {
		if _, err := eng.Start(context.Background(), def, in); err == nil {
			t.Errorf("Start(%+v) succeeded", in)
		}
	}
	if _, err := eng.Start(context.Background(), nil, StartInput{}); err == nil {
		t.Error("nil definition accepted")
	}
	x, err := eng.Start(context.Background(), def, StartInput{Name: "ok", StateMachineArn: "arn:aws-cn:states:cn-north-1:123:stateMachine:M"})
	if err != nil {
		t.Fatal(err)
	}
	x.Wait()
	if x.ARN() != "arn:aws-cn:states:cn-north-1:123:execution:M:ok" {
		t.Error(x.ARN())
	}
}

func TestDefinitionAccessors(t *testing.T) {
	src := `{"Comment":"c","StartAt":"T","TimeoutSeconds":9,"States":{
		"T":{"Type":"Task","Resource":"${A}","Next":"U"},
		"U":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Next":"V"},
		"V":{"Type":"Task","Resource":"${A}","End":true}}}`
	def, err := Parse([]byte(src), Substitutions{"A": fnA})
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Resources(); !slices.Equal(got, []string{fnA, "arn:aws:states:::sqs:sendMessage"}) {
		t.Errorf("Resources %q", got)
	}
	if def.Comment != "c" || def.StartAt != "T" || def.TimeoutSeconds != 9 || !strings.Contains(string(def.Source()), fnA) {
		t.Errorf("%+v", def)
	}
	for _, bad := range []string{`[1]`, `{"StartAt":`, ``} {
		if _, err := Parse([]byte(bad), nil); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	var de *DefinitionError
	if _, err := Parse([]byte(`{}`), nil); !errors.As(err, &de) || !strings.HasPrefix(err.Error(), "invalid state machine definition: ") {
		t.Errorf("%v", err)
	}
}

func TestLambdaFunctionNames(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:lambda:us-east-1:123456789012:function:fn":         "fn",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST": "fn",
		"123456789012:function:fn":                                  "fn",
		"fn":                                                        "fn",
		"fn:alias":                                                  "fn",
		"arn:aws:states:::sqs:sendMessage":                          "",
	} {
		if got := lambdaFunctionName(in); got != want {
			t.Errorf("lambdaFunctionName(%q) = %q, want %q", in, got, want)
		}
	}
	if typ, res := resourceParts("arn:aws:states:::ecs:runTask.sync"); typ != "ecs" || res != "runTask.sync" {
		t.Error(typ, res)
	}
	if typ, res := resourceParts("arn:aws:states:us-east-1:1:activity:a"); typ != "states" || res != "activity:a" {
		t.Error(typ, res)
	}
	if typ, res := resourceParts("local-thing"); typ != "custom" || res != "local-thing" {
		t.Error(typ, res)
	}
	if typ, res := resourceParts("arn:aws:states:::weird"); typ != "weird" || res != "" {
		t.Error(typ, res)
	}
}
