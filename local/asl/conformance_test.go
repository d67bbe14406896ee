package asl

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// The conformance suite: one case per feature, written as JSON in
// testdata/conformance/*.json. Each case names the spec section or
// developer-guide page it checks in "spec". Handlers are scripted like the
// Step Functions Local mock configuration: a list of responses, one per
// call, the last one repeating.

type confCase struct {
	Name          string                `json:"name"`
	Spec          string                `json:"spec"`
	Definition    json.RawMessage       `json:"definition"`
	Substitutions map[string]string     `json:"substitutions"`
	Input         json.RawMessage       `json:"input"`
	Handlers      map[string][]response `json:"handlers"`
	Expect        expectation           `json:"expect"`
}

type response struct {
	Return     json.RawMessage `json:"return"`
	Echo       bool            `json:"echo"`
	Throw      *TaskError      `json:"throw"`
	NamedError *namedErr       `json:"namedError"`
	GoError    string          `json:"goError"`
	Sleep      float64         `json:"sleep"`          // virtual seconds before answering
	Heartbeat  float64         `json:"heartbeatEvery"` // heartbeat this often while sleeping
}

// namedErr is a handler error with an ErrorName method, as handler code
// with its own error types would return.
type namedErr struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *namedErr) Error() string     { return e.Message }
func (e *namedErr) ErrorName() string { return e.Name }

type expectation struct {
	DefinitionErrors []string                     `json:"definitionErrors"`
	Status           Status                       `json:"status"`
	Output           json.RawMessage              `json:"output"`
	Error            string                       `json:"error"`
	Cause            *string                      `json:"cause"`
	CauseContains    string                       `json:"causeContains"`
	States           []string                     `json:"states"`
	Events           []string                     `json:"events"`
	Transitions      int64                        `json:"transitions"`
	Duration         *float64                     `json:"duration"`
	DurationMax      *float64                     `json:"durationMax"`
	Calls            map[string][]json.RawMessage `json:"calls"`
	CallCounts       map[string]int               `json:"callCounts"`
}

var confStart = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func loadCases(t *testing.T) []confCase {
	t.Helper()
	files, err := filepath.Glob("testdata/conformance/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance cases found: %v", err)
	}
	var all []confCase
	names := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []confCase
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range cases {
			if c.Spec == "" {
				t.Fatalf("%s: case %q does not cite the spec section it checks", file, c.Name)
			}
			if names[c.Name] {
				t.Fatalf("%s: duplicate case name %q", file, c.Name)
			}
			names[c.Name] = true
			c.Name = strings.TrimSuffix(filepath.Base(file), ".json") + "/" + c.Name
			all = append(all, c)
		}
	}
	return all
}

func TestConformance(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			runCase(t, c)
		})
	}
}

// recorder scripts handlers and records what they were sent.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]json.RawMessage
}

func (rec *recorder) handler(key string, script []response) Handler {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		rec.mu.Lock()
		n := len(rec.calls[key])
		rec.calls[key] = append(rec.calls[key], append(json.RawMessage(nil), in...))
		rec.mu.Unlock()
		resp := script[min(n, len(script)-1)]
		if resp.Sleep > 0 {
			remaining := time.Duration(resp.Sleep * float64(time.Second))
			step := remaining
			if resp.Heartbeat > 0 {
				step = time.Duration(resp.Heartbeat * float64(time.Second))
			}
			for remaining > 0 {
				d := min(step, remaining)
				if err := Sleep(ctx, d); err != nil {
					return nil, err
				}
				remaining -= d
				if resp.Heartbeat > 0 {
					Heartbeat(ctx)
				}
			}
		}
		switch {
		case resp.Throw != nil:
			return nil, *resp.Throw
		case resp.NamedError != nil:
			return nil, resp.NamedError
		case resp.GoError != "":
			return nil, errors.New(resp.GoError)
		case resp.Echo:
			return in, nil
		}
		return resp.Return, nil
	}
}

func runCase(t *testing.T, c confCase) {
	def, err := Parse(c.Definition, c.Substitutions)
	if len(c.Expect.DefinitionErrors) > 0 {
		var de *DefinitionError
		if !errors.As(err, &de) {
			t.Fatalf("Parse succeeded or failed otherwise (%v); want definition errors %q", err, c.Expect.DefinitionErrors)
		}
		for _, want := range c.Expect.DefinitionErrors {
			if !slices.ContainsFunc(de.Problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("no problem contains %q; problems:\n  %s", want, strings.Join(de.Problems, "\n  "))
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	rec := &recorder{calls: map[string][]json.RawMessage{}}
	res := Resources{}
	for key, script := range c.Handlers {
		res[key] = rec.handler(key, script)
	}
	eng := NewEngine(Options{Clock: NewVirtualClock(confStart), Rand: rand.New(rand.NewPCG(1, 2)), Resources: res})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x, got, err := eng.Run(ctx, def, StartInput{
		Name:            "conformance",
		Input:           c.Input,
		StateMachineArn: "arn:aws:states:eu-west-1:111122223333:stateMachine:Conformance",
		RoleArn:         "arn:aws:iam::111122223333:role/StepFunctions",
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	history := x.History()
	defer func() {
		if t.Failed() {
			for _, ev := range history {
				b, _ := json.Marshal(ev)
				t.Logf("%s", b)
			}
		}
	}()
	want := c.Expect
	if want.Status == "" {
		want.Status = StatusSucceeded
	}
	if got.Status != want.Status {
		t.Errorf("status %s (error %q, cause %q), want %s", got.Status, got.Error, got.Cause, want.Status)
	}
	if want.Output != nil && !lambdatest.JSONEqual(got.Output, want.Output) {
		t.Errorf("output\n got %s\nwant %s", got.Output, want.Output)
	}
	if want.Error != "" && got.Error != want.Error {
		t.Errorf("error %q, want %q (cause %q)", got.Error, want.Error, got.Cause)
	}
	if want.Cause != nil && got.Cause != *want.Cause {
		t.Errorf("cause %q, want %q", got.Cause, *want.Cause)
	}
	if want.CauseContains != "" && !strings.Contains(got.Cause, want.CauseContains) {
		t.Errorf("cause %q does not contain %q", got.Cause, want.CauseContains)
	}
	if want.States != nil {
		if entered := enteredStates(history); !slices.Equal(entered, want.States) {
			t.Errorf("states entered %q, want %q", entered, want.States)
		}
	}
	if want.Events != nil {
		var types []string
		for _, ev := range history {
			types = append(types, ev.Type)
		}
		if !slices.Equal(types, want.Events) {
			t.Errorf("events\n got %q\nwant %q", types, want.Events)
		}
	}
	if want.Transitions != 0 && got.Transitions != want.Transitions {
		t.Errorf("transitions %d, want %d", got.Transitions, want.Transitions)
	}
	elapsed := got.StopDate.Sub(got.StartDate).Seconds()
	if want.Duration != nil && elapsed != *want.Duration {
		t.Errorf("virtual duration %gs, want %gs", elapsed, *want.Duration)
	}
	if want.DurationMax != nil && elapsed > *want.DurationMax {
		t.Errorf("virtual duration %gs, want at most %gs", elapsed, *want.DurationMax)
	}
	for key, calls := range want.Calls {
		gotCalls := rec.calls[key]
		if len(gotCalls) != len(calls) {
			t.Errorf("%s was called %d times, want %d: %s", key, len(gotCalls), len(calls), gotCalls)
			continue
		}
		for i := range calls {
			if !lambdatest.JSONEqual(gotCalls[i], calls[i]) {
				t.Errorf("%s call %d got\n %s\nwant %s", key, i, gotCalls[i], calls[i])
			}
		}
	}
	for key, n := range want.CallCounts {
		if len(rec.calls[key]) != n {
			t.Errorf("%s was called %d times, want %d", key, len(rec.calls[key]), n)
		}
	}
}

func enteredStates(history []HistoryEvent) []string {
	var out []string
	for _, ev := range history {
		if ev.StateEnteredEventDetails != nil {
			out = append(out, ev.StateEnteredEventDetails.Name)
		}
	}
	return out
}
