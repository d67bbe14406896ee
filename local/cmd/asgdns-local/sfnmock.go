package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/local/asl"
)

// The Step Functions Local mock configuration (developer guide,
// "Configuration file for mocked service integrations",
// sfn-local-mock-cfg-file.html):
//
//	{"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<Task state>": "<mocked response>"}}}},
//	 "MockedResponses": {"<mocked response>": {"0": {"Return": …}, "1-2": {"Throw": {"Error": …, "Cause": …}}}}}
//
// A mocked response is keyed by invocation of the Task state, counted from
// 0, singly ("3") or as an inclusive range ("0-2"); each entry holds a single
// field, Return (the task's result) or Throw (its error). "When you mock a
// Task, you must specify a mocked response for every invocation … If you do
// not specify a mocked response, the state machine execution will fail."
//
// What a Return is, by the Task's Resource. The guide's Return "specifies
// the successful result of a mocked Task state", and for a Lambda function
// it is Lambda's Invoke response as written: its example is
// {"StatusCode": 200, "Payload": {…}} (same page, "Return"). The
// walk-through (sfn-local-test-sm-exec.html, step 1) says the state with
// Resource arn:aws:states:::lambda:invoke "will return the following
// value", that whole Return, and that "Step Functions Local doesn't
// validate if mocked response structures conform to actual service
// response structures". A function's own output is the Invoke response's
// Payload: the walk-through's history records the Lambda mock's output as
// the Payload alone (LambdaFunctionSucceeded, the events of a Lambda
// function ARN Resource), and LocalStack, which reads the same files,
// passes on only the Payload for such a Resource ("In lambda invocations,
// only payload is passed on as output": localstack/localstack,
// services/stepfunctions/asl/…/state_task/state_task_lambda.py). So:
//
//   - arn:aws:states:::lambda:invoke: the task's result is the Return
//     exactly as written, nothing added (asl.Options.InvokeResponses): no
//     ExecutedVersion or Sdk*Metadata unless the mock writes them.
//   - a Lambda function ARN: the task's result is the Return's Payload. A
//     Return without one is not an Invoke response; it is refused when the
//     test case is bound to the definition (mockConfig.testCase) rather
//     than read as null, which would hide the mistake until a later state.
//   - any other resource: the Return as written.
//
// A Throw is the task's error in every case.

// mockConfig is a parsed and checked mock configuration.
type mockConfig struct {
	machines  map[string]map[string]testCase // state machine → test case name → test case
	responses map[string]mockedResponse
}

// testCase maps Task state names to mocked response names.
type testCase map[string]string

// mockedResponse is a mocked response's answers, in invocation order.
type mockedResponse []mockAnswer

// mockAnswer answers the invocations first…last of a mocked Task.
type mockAnswer struct {
	key         string // as written: "0", "1-2"
	first, last int
	ret         json.RawMessage // Return; nil when the answer throws
	throw       *asl.TaskError  // Throw
}

// answer returns the answer to the zero-based invocation n.
func (r mockedResponse) answer(n int) (mockAnswer, bool) {
	for _, a := range r {
		if a.first <= n && n <= a.last {
			return a, true
		}
	}
	return mockAnswer{}, false
}

var invocationKey = regexp.MustCompile(`^([0-9]+)(?:-([0-9]+))?$`)

// parseMockConfig reads a mock configuration and checks all of it: its
// shape, the invocation keys, and that every test case names mocked
// responses that exist.
func parseMockConfig(data []byte) (*mockConfig, error) {
	top, err := object(data, "the file")
	if err != nil {
		return nil, err
	}
	if err := only(top, "the top level", "StateMachines", "MockedResponses"); err != nil {
		return nil, err
	}
	cfg := &mockConfig{machines: map[string]map[string]testCase{}, responses: map[string]mockedResponse{}}

	responses, err := optionalObject(top["MockedResponses"], "MockedResponses")
	if err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(responses) {
		if cfg.responses[name], err = parseMockedResponse(responses[name], fmt.Sprintf("MockedResponses.%q", name)); err != nil {
			return nil, err
		}
	}

	machines, err := optionalObject(top["StateMachines"], "StateMachines")
	if err != nil {
		return nil, err
	}
	for _, machine := range sortedKeys(machines) {
		where := fmt.Sprintf("StateMachines.%q", machine)
		m, err := object(machines[machine], where)
		if err != nil {
			return nil, err
		}
		if err := only(m, where, "TestCases"); err != nil {
			return nil, err
		}
		cases, err := object(m["TestCases"], where+".TestCases")
		if err != nil {
			return nil, err
		}
		cfg.machines[machine] = map[string]testCase{}
		for _, name := range sortedKeys(cases) {
			where := fmt.Sprintf("%s.TestCases.%q", where, name)
			states, err := object(cases[name], where)
			if err != nil {
				return nil, err
			}
			tc := testCase{}
			for _, state := range sortedKeys(states) {
				var response string
				if err := json.Unmarshal(states[state], &response); err != nil || response == "" {
					return nil, fmt.Errorf("%s.%q: must be the name of a mocked response", where, state)
				}
				if _, ok := cfg.responses[response]; !ok {
					return nil, fmt.Errorf("%s.%q: mocked response %q is not defined in MockedResponses", where, state, response)
				}
				tc[state] = response
			}
			cfg.machines[machine][name] = tc
		}
	}
	return cfg, nil
}

func parseMockedResponse(raw json.RawMessage, where string) (mockedResponse, error) {
	entries, err := object(raw, where)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: answers no invocation (want keys such as \"0\" or \"1-2\")", where)
	}
	var r mockedResponse
	for _, key := range sortedKeys(entries) {
		at := fmt.Sprintf("%s.%q", where, key)
		m := invocationKey.FindStringSubmatch(key)
		if m == nil {
			return nil, fmt.Errorf("%s: the key must be an invocation number counted from 0 (\"3\") or an inclusive range (\"1-2\")", at)
		}
		a := mockAnswer{key: key}
		a.first, err = strconv.Atoi(m[1])
		a.last = a.first
		if err == nil && m[2] != "" {
			a.last, err = strconv.Atoi(m[2])
		}
		if err != nil {
			return nil, fmt.Errorf("%s: the invocation number is out of range", at)
		}
		if a.last < a.first {
			return nil, fmt.Errorf("%s: the range ends before it starts", at)
		}
		entry, err := object(entries[key], at)
		if err != nil {
			return nil, err
		}
		ret, hasReturn := entry["Return"]
		throw, hasThrow := entry["Throw"]
		if len(entry) != 1 || hasReturn == hasThrow {
			return nil, fmt.Errorf("%s: must hold a single field, Return or Throw (it has %s)", at, fieldList(entry))
		}
		if hasReturn {
			a.ret = ret
		} else if a.throw, err = parseThrow(throw, at+".Throw"); err != nil {
			return nil, err
		}
		r = append(r, a)
	}
	slices.SortFunc(r, func(a, b mockAnswer) int { return a.first - b.first })
	for i := 1; i < len(r); i++ {
		if r[i].first <= r[i-1].last {
			return nil, fmt.Errorf("%s: invocation %d is answered by both %q and %q", where, r[i].first, r[i-1].key, r[i].key)
		}
	}
	return r, nil
}

// parseThrow reads {"Error": "…", "Cause": "…"}. The guide shows both; a
// missing Cause is taken as empty.
func parseThrow(raw json.RawMessage, where string) (*asl.TaskError, error) {
	m, err := object(raw, where)
	if err != nil {
		return nil, err
	}
	if err := only(m, where, "Error", "Cause"); err != nil {
		return nil, err
	}
	var te asl.TaskError
	if err := json.Unmarshal(m["Error"], &te.Name); err != nil || te.Name == "" {
		return nil, fmt.Errorf("%s.Error: must be the error name, a non-empty string", where)
	}
	if c, ok := m["Cause"]; ok {
		if err := json.Unmarshal(c, &te.Cause); err != nil {
			return nil, fmt.Errorf("%s.Cause: must be a string", where)
		}
	}
	return &te, nil
}

// object decodes a JSON object, keeping its values raw.
func object(raw json.RawMessage, where string) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) == 0 {
			return nil, fmt.Errorf("%s: missing (want a JSON object)", where)
		}
		return nil, fmt.Errorf("%s: must be a JSON object", where)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %v", where, err)
	}
	return m, nil
}

// optionalObject is object, with a missing field read as {}.
func optionalObject(raw json.RawMessage, where string) (map[string]json.RawMessage, error) {
	if raw == nil {
		return map[string]json.RawMessage{}, nil
	}
	return object(raw, where)
}

// only refuses fields the format does not have: a misspelt field would
// otherwise be ignored and the test would run without its mocks.
func only(m map[string]json.RawMessage, where string, fields ...string) error {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(fields, k) {
			return fmt.Errorf("%s: unknown field %q (the format has %s)", where, k, strings.Join(fields, ", "))
		}
	}
	return nil
}

func fieldList(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(sortedKeys(m), ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// testCase chooses a test case and binds it to the definition's Task states.
func (c *mockConfig) testCase(machine, name string, tasks map[string]asl.Task) (*taskMocks, error) {
	cases, ok := c.machines[machine]
	if !ok {
		return nil, fmt.Errorf("no state machine %q in StateMachines (it has %s)", machine, nameList(c.machines))
	}
	tc, ok := cases[name]
	if !ok {
		return nil, fmt.Errorf("state machine %q has no test case %q (it has %s)", machine, name, nameList(cases))
	}
	for _, state := range sortedKeys(tc) {
		if t, ok := tasks[state]; !ok || t.LambdaInvoke || !t.LambdaARN {
			continue
		}
		for _, a := range c.responses[tc[state]] {
			if _, ok := lambdaPayload(a.ret); a.throw == nil && !ok {
				return nil, fmt.Errorf("MockedResponses.%q.%q: the Return answers state %q, whose Resource is a Lambda function ARN: "+
					"its result is the Return's Payload, and this Return has none (write Lambda's Invoke response, {\"StatusCode\": 200, \"Payload\": …})",
					tc[state], a.key, state)
			}
		}
	}
	return &taskMocks{tasks: tasks, machine: machine, name: name, testCase: tc, responses: c.responses}, nil
}

func nameList[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	names := sortedKeys(m)
	for i, n := range names {
		names[i] = strconv.Quote(n)
	}
	return strings.Join(names, ", ")
}

// taskMocks answers the Task states of one run from a test case. Without a
// mock configuration it answers nothing, and every Task fails as the engine
// fails a resource without a handler.
type taskMocks struct {
	tasks         map[string]asl.Task
	machine, name string // the test case
	testCase      testCase
	responses     map[string]mockedResponse
}

// resources registers the handler under every resource a mocked state
// calls: its Resource, or for lambda:invoke its FunctionName. The engine
// looks handlers up by resource, not by state, so one handler serves them
// all and tells the states apart by asl.TaskInfo.
func (m *taskMocks) resources() asl.Resources {
	r := asl.Resources{}
	for state := range m.testCase {
		t, ok := m.tasks[state]
		switch {
		case !ok:
		case t.LambdaInvoke && t.Function != "":
			r[t.Function] = m.handle
		case !t.LambdaInvoke:
			r[t.Resource] = m.handle
		}
	}
	return r
}

// handle answers one invocation of a Task state.
func (m *taskMocks) handle(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	info, ok := asl.TaskInfoFrom(ctx)
	if !ok {
		return nil, errors.New("asgdns-local sfn run: a task without asl.TaskInfo")
	}
	task := m.tasks[info.StateName]
	response, mocked := m.testCase[info.StateName]
	if !mocked {
		return nil, unhandled(info, task)
	}
	n := info.Attempt - 1 // the engine counts runs of the state from 1, the mock file from 0
	a, ok := m.responses[response].answer(n)
	if !ok {
		// "If you do not specify a mocked response, the state machine
		// execution will fail": States.Runtime, which no Retry or Catch
		// handles, so the gap in the test file cannot go unnoticed.
		return nil, asl.TaskError{Name: asl.ErrRuntime, Cause: fmt.Sprintf(
			"mocked response %q has no answer for invocation %d (counted from 0) of state %q, test case %q of state machine %q",
			response, n, info.StateName, m.name, m.machine)}
	}
	if a.throw != nil {
		return nil, *a.throw
	}
	if task.LambdaARN {
		payload, _ := lambdaPayload(a.ret) // present: checked by mockConfig.testCase
		return payload, nil
	}
	return a.ret, nil // lambda:invoke (the engine adds nothing) and other resources
}

// unhandled fails a Task state that the test case does not mock but whose
// resource has a handler because a mocked state shares it: the same error
// and cause the engine gives a resource without a handler (asl task.go), so
// a state fails alike whether or not its resource is shared.
func unhandled(info asl.TaskInfo, task asl.Task) error {
	if task.LambdaInvoke || task.LambdaARN {
		return asl.TaskError{Name: "Lambda.ResourceNotFoundException", Cause: fmt.Sprintf(
			"Function not found: %s (no handler is registered for it in asl.Options.Resources)", task.Function)}
	}
	return asl.TaskError{Name: asl.ErrRuntime, Cause: fmt.Sprintf(
		"No handler is registered for the resource %s of state '%s' (asl.Options.Resources)", info.Resource, info.StateName)}
}

// lambdaPayload is the Payload of a Return that is Lambda's Invoke
// response: a Lambda function ARN task's result.
func lambdaPayload(ret json.RawMessage) (json.RawMessage, bool) {
	var r map[string]json.RawMessage
	if json.Unmarshal(ret, &r) != nil || r["Payload"] == nil {
		return nil, false
	}
	return r["Payload"], true
}

// functionError is the FunctionError a Return written as Lambda's Invoke
// response holds, "" when it holds none.
func functionError(ret json.RawMessage) string {
	var r map[string]json.RawMessage
	if json.Unmarshal(ret, &r) != nil || r["FunctionError"] == nil {
		return ""
	}
	return string(bytes.TrimSpace(r["FunctionError"]))
}

// warnings are the mismatches between the test case and the definition
// that do not stop the run.
func (m *taskMocks) warnings() []string {
	var out []string
	for _, state := range sortedKeys(m.testCase) {
		t, ok := m.tasks[state]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("test case %q mocks %q, which is not a Task state of the definition", m.name, state))
		case t.LambdaInvoke && t.Function == "":
			out = append(out, fmt.Sprintf("state %q calls lambda:invoke with a FunctionName chosen at run time (FunctionName.$): only a FunctionName written in the definition can be mocked", state))
		case t.LambdaInvoke || t.LambdaARN:
			response := m.testCase[state]
			for _, a := range m.responses[response] {
				if fe := functionError(a.ret); a.throw == nil && fe != "" {
					out = append(out, fmt.Sprintf("state %q, mocked response %q, %q: the Return holds FunctionError %s, but a Return is a success here, the task's result; mock a function error with Throw",
						state, response, a.key, fe))
				}
			}
		}
	}
	return out
}

// notes say which Task states ran without a mocked response, so that the
// failure they led to is read for what it is.
func (m *taskMocks) notes(history []asl.HistoryEvent) []string {
	var out []string
	seen := map[string]bool{}
	for _, ev := range history {
		d := ev.StateEnteredEventDetails
		if ev.Type != "TaskStateEntered" || d == nil || seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		if _, mocked := m.testCase[d.Name]; mocked {
			continue
		}
		if m.testCase == nil {
			out = append(out, fmt.Sprintf("Task state %q ran with nothing to answer it (no --mock-config)", d.Name))
		} else {
			out = append(out, fmt.Sprintf("Task state %q ran with nothing to answer it (test case %q of %q does not mock it)", d.Name, m.name, m.machine))
		}
	}
	return out
}
