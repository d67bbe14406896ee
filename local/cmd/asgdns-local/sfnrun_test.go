package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	fixtures = "testdata/sfnrun"
	// Substitutions for orders.asl.json: a direct Lambda ARN and a function
	// name for lambda:invoke.
	processARN = "ProcessFunctionArn=arn:aws:lambda:us-east-1:123456789012:function:process"
	notifyName = "NotifyFunctionArn=notify"
	// topDir is the top of the repository, from local/cmd/asgdns-local.
	topDir = "../../.."
)

func fixture(name string) string { return filepath.Join(fixtures, name) }

// asgdns runs the command line through the command table, as main does.
func asgdns(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = commands.Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// runDoc is the document `asgdns-local sfn run` prints.
type runDoc struct {
	Status      string            `json:"status"`
	Output      json.RawMessage   `json:"output"`
	Error       *string           `json:"error"`
	Cause       *string           `json:"cause"`
	Transitions int64             `json:"transitions"`
	Events      []json.RawMessage `json:"events"`

	history []types.HistoryEvent // Events as the SDK decodes them
}

// sfnRunOK runs `asgdns-local sfn run args…`, expects exit 0 and one JSON object
// with every key, and decodes its events with the real SDK.
func sfnRunOK(t *testing.T, args ...string) (runDoc, string) {
	t.Helper()
	code, stdout, stderr := asgdns(t, append([]string{"sfn", "run"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	return decodeRun(t, stdout), stderr
}

func decodeRun(t *testing.T, stdout string) runDoc {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if got, want := sortedKeys(keys), []string{"cause", "error", "events", "output", "status", "transitions"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var doc runDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON value")
	}
	doc.history = sdkHistory(t, doc.Events)
	return doc
}

// sdkHistory has the real SDK decode the events, served as a
// GetExecutionHistory response in the awsJson1_0 wire protocol, into
// types.HistoryEvent, and checks what the API promises of them: known
// types, ids numbered from 1, previousEventId pointing back, and the
// details object of each type where the SDK looks for it.
func sdkHistory(t *testing.T, events []json.RawMessage) []types.HistoryEvent {
	t.Helper()
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target := r.Header.Get("X-Amz-Target"); target != "AWSStepFunctions.GetExecutionHistory" {
			t.Errorf("unexpected call %s", target)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	out, err := client.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:StateMachine:x"),
	})
	if err != nil {
		t.Fatalf("the SDK does not decode the events: %v", err)
	}
	if len(out.Events) != len(events) || len(events) == 0 {
		t.Fatalf("the SDK decoded %d events of %d", len(out.Events), len(events))
	}
	known := types.HistoryEventType("").Values()
	for i, ev := range out.Events {
		if !slices.Contains(known, ev.Type) {
			t.Errorf("event %d: type %q is not a HistoryEventType", i+1, ev.Type)
		}
		if ev.Id != int64(i+1) || ev.Timestamp == nil {
			t.Errorf("event %d: id %d, timestamp %v", i+1, ev.Id, ev.Timestamp)
		}
		if (i == 0) != (ev.PreviousEventId == 0) || ev.PreviousEventId >= ev.Id {
			t.Errorf("event %d (%s): previousEventId %d", ev.Id, ev.Type, ev.PreviousEventId)
		}
		if !hasDetails(ev) {
			t.Errorf("event %d (%s): the SDK finds no details: %s", ev.Id, ev.Type, events[i])
		}
	}
	return out.Events
}

// hasDetails reports whether an event that has a details object in the API
// carries it under the API's name.
func hasDetails(ev types.HistoryEvent) bool {
	switch t := string(ev.Type); {
	case strings.HasSuffix(t, "StateEntered"):
		return ev.StateEnteredEventDetails != nil
	case strings.HasSuffix(t, "StateExited"):
		return ev.StateExitedEventDetails != nil
	}
	switch ev.Type {
	case types.HistoryEventTypeExecutionStarted:
		return ev.ExecutionStartedEventDetails != nil
	case types.HistoryEventTypeExecutionSucceeded:
		return ev.ExecutionSucceededEventDetails != nil
	case types.HistoryEventTypeExecutionFailed:
		return ev.ExecutionFailedEventDetails != nil
	case types.HistoryEventTypeTaskScheduled:
		return ev.TaskScheduledEventDetails != nil
	case types.HistoryEventTypeTaskStarted:
		return ev.TaskStartedEventDetails != nil
	case types.HistoryEventTypeTaskSucceeded:
		return ev.TaskSucceededEventDetails != nil
	case types.HistoryEventTypeTaskFailed:
		return ev.TaskFailedEventDetails != nil
	case types.HistoryEventTypeLambdaFunctionScheduled:
		return ev.LambdaFunctionScheduledEventDetails != nil
	case types.HistoryEventTypeLambdaFunctionSucceeded:
		return ev.LambdaFunctionSucceededEventDetails != nil
	case types.HistoryEventTypeLambdaFunctionFailed:
		return ev.LambdaFunctionFailedEventDetails != nil
	case types.HistoryEventTypeMapStateStarted:
		return ev.MapStateStartedEventDetails != nil
	case types.HistoryEventTypeMapIterationStarted:
		return ev.MapIterationStartedEventDetails != nil
	case types.HistoryEventTypeMapIterationSucceeded:
		return ev.MapIterationSucceededEventDetails != nil
	}
	return true
}

// states lists the states entered, in order.
func (d runDoc) states() []string {
	var out []string
	for _, ev := range d.history {
		if ev.StateEnteredEventDetails != nil {
			out = append(out, aws.ToString(ev.StateEnteredEventDetails.Name))
		}
	}
	return out
}

func (d runDoc) count(typ types.HistoryEventType) int {
	n := 0
	for _, ev := range d.history {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func (d runDoc) errorCause() (string, string) {
	return deref(d.Error), deref(d.Cause)
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func TestSFNRunPass(t *testing.T) {
	doc, stderr := sfnRunOK(t, "--definition", fixture("pass.asl.json"), "--input", fixture("pass.input.json"))
	if doc.Status != "SUCCEEDED" || doc.Error != nil || doc.Cause != nil || doc.Transitions != 1 {
		t.Errorf("status %s, error %s, cause %s, %d transitions", doc.Status, deref(doc.Error), deref(doc.Cause), doc.Transitions)
	}
	if want := `{"name": "asgdns", "result": {"greeting": "Hello, asgdns!"}}`; !lambdatest.JSONEqual(doc.Output, []byte(want)) {
		t.Errorf("output %s, want %s", doc.Output, want)
	}
	var typ []types.HistoryEventType
	for _, ev := range doc.history {
		typ = append(typ, ev.Type)
	}
	want := []types.HistoryEventType{"ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
	if !slices.Equal(typ, want) {
		t.Errorf("events %v, want %v", typ, want)
	}
	if stderr != "" {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestSFNRunInputFromStdin(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run := sfnCommand(strings.NewReader(`{"name": "stdin"}`))
	if code := run(context.Background(), []string{"run", "--definition", fixture("pass.asl.json"), "--input", "-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	doc := decodeRun(t, stdout.String())
	if want := `{"name": "stdin", "result": {"greeting": "Hello, stdin!"}}`; !lambdatest.JSONEqual(doc.Output, []byte(want)) {
		t.Errorf("output %s, want %s", doc.Output, want)
	}
}

func TestSFNRunSubstitutionsWithoutPlaceholders(t *testing.T) {
	doc, _ := sfnRunOK(t, "--definition", fixture("pass.asl.json"), "--input", fixture("pass.input.json"), "--substitution", "Unused=x")
	if doc.Status != "SUCCEEDED" {
		t.Errorf("status %s", doc.Status)
	}
}

// TestSFNRunMockConfig drives Task + Retry + Catch with the test cases of
// one mock configuration, chosen by name.
func TestSFNRunMockConfig(t *testing.T) {
	for _, tc := range []struct {
		testCase    string
		status      string
		error       string
		cause       string
		transitions int64
		states      []string
		stderr      string
		check       func(t *testing.T, doc runDoc)
	}{
		{
			testCase: "RetryThenSuccess", status: "SUCCEEDED", error: "<null>", cause: "<null>",
			transitions: 4, // Process order, two retries, Notify
			states:      []string{"Process order", "Notify"},
			check: func(t *testing.T, doc runDoc) {
				// The mocked function threw twice, then answered.
				if n := doc.count(types.HistoryEventTypeLambdaFunctionScheduled); n != 3 {
					t.Errorf("%d LambdaFunctionScheduled, want 3", n)
				}
				var failures []string
				for _, ev := range doc.history {
					if d := ev.LambdaFunctionFailedEventDetails; d != nil {
						failures = append(failures, aws.ToString(d.Error)+": "+aws.ToString(d.Cause))
					}
				}
				want := []string{"Lambda.TooManyRequestsException: Rate exceeded", "Lambda.TooManyRequestsException: Rate exceeded"}
				if !slices.Equal(failures, want) {
					t.Errorf("LambdaFunctionFailed %q, want %q", failures, want)
				}
				var out struct {
					Processed json.RawMessage `json:"processed"`
					Notified  json.RawMessage `json:"notified"`
				}
				if err := json.Unmarshal(doc.Output, &out); err != nil {
					t.Fatal(err)
				}
				// A Lambda function ARN: the result is the Return's Payload.
				if want := `{"orderId": "o-1234", "total": 42.5}`; !lambdatest.JSONEqual(out.Processed, []byte(want)) {
					t.Errorf("the direct Lambda result ($.processed) %s, want %s", out.Processed, want)
				}
				// lambda:invoke: the result is the whole Return, nothing added.
				if want := `{"StatusCode": 200, "Payload": {"sent": true, "to": "customer@example.com"}}`; !lambdatest.JSONEqual(out.Notified, []byte(want)) {
					t.Errorf("the lambda:invoke result ($.notified) %s, want %s", out.Notified, want)
				}
				for _, ev := range doc.history {
					if d := ev.TaskScheduledEventDetails; d != nil {
						if aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Resource) != "invoke" ||
							!strings.Contains(aws.ToString(d.Parameters), `"FunctionName":"notify"`) {
							t.Errorf("TaskScheduled %+v", *d)
						}
					}
				}
			},
		},
		{
			testCase: "AlwaysThrottled", status: "FAILED", error: "OrderFailed", cause: "Rate exceeded",
			transitions: 4, // Process order, two retries, Order failed
			states:      []string{"Process order", "Order failed"},
		},
		{
			// Notify is not mocked: nothing answers lambda:invoke of "notify".
			testCase: "NotifyNotMocked", status: "FAILED", error: "Lambda.ResourceNotFoundException",
			cause:       "Function not found: notify (no handler is registered for it in asl.Options.Resources)",
			transitions: 2, states: []string{"Process order", "Notify"},
			stderr: `note: Task state "Notify" ran with nothing to answer it (test case "NotifyNotMocked" of "Orders" does not mock it)`,
		},
		{
			// The second invocation has no answer: the execution fails, and
			// the Catch on States.ALL does not hide it.
			testCase: "MockRunsOut", status: "FAILED", error: "States.Runtime",
			cause:       `mocked response "ThrottledOnce" has no answer for invocation 1 (counted from 0) of state "Process order", test case "MockRunsOut" of state machine "Orders"`,
			transitions: 2, states: []string{"Process order"},
		},
	} {
		t.Run(tc.testCase, func(t *testing.T) {
			doc, stderr := sfnRunOK(t, "--definition", fixture("orders.asl.json"),
				"--substitution", processARN, "--substitution", notifyName,
				"--mock-config", fixture("orders.mock.json"), "--state-machine", "Orders", "--test-case", tc.testCase)
			errName, cause := doc.errorCause()
			if doc.Status != tc.status || errName != tc.error || cause != tc.cause {
				t.Errorf("status %s, error %s, cause %s\nwant %s, %s, %s", doc.Status, errName, cause, tc.status, tc.error, tc.cause)
			}
			if doc.Transitions != tc.transitions {
				t.Errorf("%d transitions, want %d", doc.Transitions, tc.transitions)
			}
			if !slices.Equal(doc.states(), tc.states) {
				t.Errorf("states %q, want %q", doc.states(), tc.states)
			}
			if (doc.Status == "SUCCEEDED") != (string(doc.Output) != "null") {
				t.Errorf("status %s with output %s", doc.Status, doc.Output)
			}
			if !strings.Contains(stderr, tc.stderr) || (tc.stderr == "" && stderr != "") {
				t.Errorf("stderr:\n%s\nwant %q", stderr, tc.stderr)
			}
			if tc.check != nil {
				tc.check(t, doc)
			}
		})
	}
}

func TestSFNRunWaitTakesNoTime(t *testing.T) {
	start := time.Now()
	doc, _ := sfnRunOK(t, "--definition", fixture("wait.asl.json"))
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("a 3-hour Wait took %v", elapsed)
	}
	if doc.Status != "SUCCEEDED" {
		t.Fatalf("status %s", doc.Status)
	}
	first, last := doc.history[0], doc.history[len(doc.history)-1]
	if d := last.Timestamp.Sub(*first.Timestamp); d != 3*time.Hour {
		t.Errorf("the execution lasted %v of virtual time, want 3h", d)
	}
	if got := aws.ToString(first.ExecutionStartedEventDetails.Input); got != "{}" {
		t.Errorf("input %s, want {} by default", got)
	}
	if !first.Timestamp.Equal(time.Unix(sfnRunStartUnix, 0)) {
		t.Errorf("started at %v", first.Timestamp)
	}
}

func TestSFNRunMocksInsideParallelAndMap(t *testing.T) {
	doc, _ := sfnRunOK(t, "--definition", fixture("fanout.asl.json"), "--input", fixture("fanout.input.json"),
		"--mock-config", fixture("fanout.mock.json"), "--state-machine", "FanOut", "--test-case", "SecondCardDeclinedOnce")
	if doc.Status != "SUCCEEDED" {
		t.Fatalf("status %s: %s %s", doc.Status, deref(doc.Error), deref(doc.Cause))
	}
	// Invocations of "Charge item" are counted across the iterations
	// (MaxConcurrency 1): the second is declined, retried as the third.
	// The SQS Return is the result as written; each Lambda function ARN
	// Return gives its Payload.
	want := `[
		{"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51", "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"},
		[{"charged": "first"}, {"charged": "later"}, {"charged": "later"}]
	]`
	if !lambdatest.JSONEqual(doc.Output, []byte(want)) {
		t.Errorf("output %s, want %s", doc.Output, want)
	}
	if doc.Transitions != 7 { // Fan out, Queue receipt, Charge items, 3 × Charge item, 1 retry
		t.Errorf("%d transitions, want 7", doc.Transitions)
	}
}

func TestSFNRunIsReproducible(t *testing.T) {
	args := append(asgdnsArgs(), "--test-case", "ThrottledThenFine") // JitterStrategy FULL on the retry
	_, first, _ := asgdns(t, args...)
	_, second, _ := asgdns(t, args...)
	if first != second || first == "" {
		t.Error("two runs of the same command printed different documents")
	}
}

// TestSFNRunUnmockedTasksFailAsTheEngineSays: a Task state the test case
// does not mock fails as the engine fails a resource without a handler,
// also when a mocked state shares its resource (and so a handler exists).
func TestSFNRunUnmockedTasksFailAsTheEngineSays(t *testing.T) {
	for _, tc := range []struct{ name, task string }{
		{"direct Lambda ARN", `"Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn"`},
		{"lambda:invoke", `"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "fn", "Payload.$": "$"}`},
		{"service integration", `"Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody.$": "$"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			shared := write(t, dir, "shared.asl.json", fmt.Sprintf(`{"StartAt": "Mocked", "States": {
				"Mocked": {"Type": "Task", %s, "Next": "Not mocked"},
				"Not mocked": {"Type": "Task", %[1]s, "End": true}}}`, tc.task))
			alone := write(t, dir, "alone.asl.json", fmt.Sprintf(`{"StartAt": "Not mocked", "States": {
				"Not mocked": {"Type": "Task", %s, "End": true}}}`, tc.task))
			mocks := write(t, dir, "mocks.json", `{"StateMachines": {"M": {"TestCases": {"T": {"Mocked": "R"}}}},
				"MockedResponses": {"R": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}}}}`)

			withShared, stderr := sfnRunOK(t, "--definition", shared, "--mock-config", mocks, "--state-machine", "M", "--test-case", "T")
			byEngine, _ := sfnRunOK(t, "--definition", alone)
			e1, c1 := withShared.errorCause()
			e2, c2 := byEngine.errorCause()
			if withShared.Status != "FAILED" || e1 != e2 || c1 != c2 {
				t.Errorf("not mocked, resource shared: %s %s: %s\nthe engine, no handler:     %s %s: %s", withShared.Status, e1, c1, byEngine.Status, e2, c2)
			}
			if !slices.Equal(withShared.states(), []string{"Mocked", "Not mocked"}) {
				t.Errorf("states %q", withShared.states())
			}
			if !strings.Contains(stderr, `Task state "Not mocked" ran with nothing to answer it`) {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

func TestSFNRunWithoutMockConfig(t *testing.T) {
	doc, stderr := sfnRunOK(t, "--definition", fixture("orders.asl.json"), "--substitution", processARN, "--substitution", notifyName)
	errName, cause := doc.errorCause()
	// The Catch routes the engine's error to the Fail state.
	if doc.Status != "FAILED" || errName != "OrderFailed" || !strings.HasPrefix(cause, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:process") {
		t.Errorf("status %s, error %s, cause %s", doc.Status, errName, cause)
	}
	if !strings.Contains(stderr, `note: Task state "Process order" ran with nothing to answer it (no --mock-config)`) {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestSFNRunWarnings(t *testing.T) {
	dir := t.TempDir()
	mocks := write(t, dir, "mocks.json", `{
		"StateMachines": {"Orders": {"TestCases": {"T": {"Process order": "Processed", "Notify": "Failing", "Ship": "Processed"}}}},
		"MockedResponses": {
			"Processed": {"0": {"Return": {"StatusCode": 200, "Payload": {"orderId": "o-1"}}}},
			"Failing": {"0": {"Return": {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": {"errorMessage": "boom"}}}}
		}}`)
	doc, stderr := sfnRunOK(t, "--definition", fixture("orders.asl.json"), "--substitution", processARN, "--substitution", notifyName,
		"--mock-config", mocks, "--state-machine", "Orders", "--test-case", "T")
	if doc.Status != "SUCCEEDED" {
		t.Errorf("status %s", doc.Status)
	}
	for _, want := range []string{
		`warning: test case "T" mocks "Ship", which is not a Task state of the definition`,
		`warning: state "Notify", mocked response "Failing", "0": the Return holds FunctionError "Unhandled", but a Return is a success here, the task's result; mock a function error with Throw`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Nothing else: a lambda:invoke Return is taken as written, so there is
	// nothing the run does not reproduce to warn of.
	if n := strings.Count(stderr, "warning:"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, stderr)
	}
}

// TestSFNRunReturnIsReadByResource pins how a mocked answer becomes the
// task's outcome, as Step Functions Local reads a mock file (sfnmock.go):
// for lambda:invoke the whole Return as written, nothing added; for a
// Lambda function ARN the Return's Payload; for another resource the
// Return as written; a Throw is the task's error, whatever the resource.
func TestSFNRunReturnIsReadByResource(t *testing.T) {
	const (
		invoke = `"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "fn", "Payload.$": "$"}`
		direct = `"Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn"`
		sqs    = `"Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody.$": "$"}`
		// An Invoke response with what real Step Functions would not give
		// (StatusCode 202, an ExecutedVersion "7", a field of its own) and
		// without what it would add (SdkHttpMetadata, SdkResponseMetadata).
		response  = `{"StatusCode": 202, "ExecutedVersion": "7", "Payload": {"n": 1}, "Extra": [1]}`
		throttled = `{"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}}`
	)
	for _, tc := range []struct {
		name, task, answer string
		output             string // the task's result, the execution's output; "" when it fails
		event              types.HistoryEventType
	}{
		{"lambda:invoke Return is the result as written", invoke, `{"Return": ` + response + `}`, response, types.HistoryEventTypeTaskSucceeded},
		{"Lambda function ARN Return gives its Payload", direct, `{"Return": ` + response + `}`, `{"n": 1}`, types.HistoryEventTypeLambdaFunctionSucceeded},
		{"Lambda function ARN Payload null", direct, `{"Return": {"StatusCode": 200, "Payload": null}}`, `null`, types.HistoryEventTypeLambdaFunctionSucceeded},
		{"service integration Return is the result as written", sqs, `{"Return": ` + response + `}`, response, types.HistoryEventTypeTaskSucceeded},
		{"lambda:invoke Throw", invoke, throttled, "", types.HistoryEventTypeTaskFailed},
		{"Lambda function ARN Throw", direct, throttled, "", types.HistoryEventTypeLambdaFunctionFailed},
		{"service integration Throw", sqs, throttled, "", types.HistoryEventTypeTaskFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			def := write(t, dir, "def.json", fmt.Sprintf(`{"StartAt": "Call", "States": {"Call": {"Type": "Task", %s, "End": true}}}`, tc.task))
			mocks := write(t, dir, "mocks.json", fmt.Sprintf(`{"StateMachines": {"M": {"TestCases": {"T": {"Call": "R"}}}},
				"MockedResponses": {"R": {"0": %s}}}`, tc.answer))
			doc, stderr := sfnRunOK(t, "--definition", def, "--input", fixture("pass.input.json"),
				"--mock-config", mocks, "--state-machine", "M", "--test-case", "T")
			if stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
			var recorded *string // the outcome event's output
			for _, ev := range doc.history {
				if ev.Type != tc.event {
					continue
				}
				if d := ev.TaskSucceededEventDetails; d != nil {
					recorded = d.Output
				}
				if d := ev.LambdaFunctionSucceededEventDetails; d != nil {
					recorded = d.Output
				}
				if d := ev.TaskFailedEventDetails; d != nil && (aws.ToString(d.Error) != "Lambda.TooManyRequestsException" || aws.ToString(d.Cause) != "Rate exceeded") {
					t.Errorf("TaskFailed %s: %s", aws.ToString(d.Error), aws.ToString(d.Cause))
				}
				if d := ev.LambdaFunctionFailedEventDetails; d != nil && (aws.ToString(d.Error) != "Lambda.TooManyRequestsException" || aws.ToString(d.Cause) != "Rate exceeded") {
					t.Errorf("LambdaFunctionFailed %s: %s", aws.ToString(d.Error), aws.ToString(d.Cause))
				}
			}
			if doc.count(tc.event) != 1 {
				t.Errorf("%d %s events, want 1", doc.count(tc.event), tc.event)
			}
			if tc.output == "" {
				// The Throw, unchanged, is the execution's error.
				if errName, cause := doc.errorCause(); doc.Status != "FAILED" || errName != "Lambda.TooManyRequestsException" || cause != "Rate exceeded" {
					t.Errorf("status %s, error %s, cause %s", doc.Status, errName, cause)
				}
				return
			}
			if doc.Status != "SUCCEEDED" || !lambdatest.JSONEqual(doc.Output, []byte(tc.output)) {
				t.Errorf("status %s, output %s; want SUCCEEDED, %s", doc.Status, doc.Output, tc.output)
			}
			if recorded == nil || !lambdatest.JSONEqual([]byte(*recorded), []byte(tc.output)) {
				t.Errorf("%s output %v, want %s", tc.event, aws.ToString(recorded), tc.output)
			}
		})
	}
}

// TestSFNRunRefusesALambdaReturnWithoutPayload: a Lambda function ARN's
// result is the Payload of the Return, so a Return without one is a
// mistake in the mock file, reported before the run (exit 2) with the
// place to fix; the same Return answering lambda:invoke is its whole
// result and fine.
func TestSFNRunRefusesALambdaReturnWithoutPayload(t *testing.T) {
	dir := t.TempDir()
	mocks := write(t, dir, "mocks.json", `{"StateMachines": {"Orders": {"TestCases": {
			"Direct": {"Process order": "Bare"},
			"Invoke": {"Process order": "Wrapped", "Notify": "Bare"}}}},
		"MockedResponses": {
			"Bare": {"0": {"Return": {"orderId": "o-1"}}},
			"Wrapped": {"0": {"Return": {"StatusCode": 200, "Payload": {"orderId": "o-1"}}}}}}`)
	args := func(testCase string) []string {
		return []string{"sfn", "run", "--definition", fixture("orders.asl.json"), "--substitution", processARN, "--substitution", notifyName,
			"--mock-config", mocks, "--state-machine", "Orders", "--test-case", testCase}
	}
	code, stdout, stderr := asgdns(t, args("Direct")...)
	want := `MockedResponses."Bare"."0": the Return answers state "Process order", whose Resource is a Lambda function ARN: its result is the Return's Payload, and this Return has none`
	if code != 2 || stdout != "" || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", code, stdout, stderr, want)
	}
	code, stdout, stderr = asgdns(t, args("Invoke")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// $.notified is the lambda:invoke Return as written.
	doc := decodeRun(t, stdout)
	if want := `{"processed": {"orderId": "o-1"}, "notified": {"orderId": "o-1"}}`; !lambdatest.JSONEqual(doc.Output, []byte(want)) {
		t.Errorf("output %s, want %s", doc.Output, want)
	}
}

func TestSFNRunWarnsOfARunTimeFunctionName(t *testing.T) {
	dir := t.TempDir()
	def := write(t, dir, "def.json", `{"StartAt": "Call", "States": {"Call": {"Type": "Task",
		"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName.$": "$.fn"}, "End": true}}}`)
	mocks := write(t, dir, "mocks.json", `{"StateMachines": {"M": {"TestCases": {"T": {"Call": "R"}}}},
		"MockedResponses": {"R": {"0": {"Return": {"Payload": 1}}}}}`)
	input := write(t, dir, "in.json", `{"fn": "chosen-later"}`)
	doc, stderr := sfnRunOK(t, "--definition", def, "--input", input, "--mock-config", mocks, "--state-machine", "M", "--test-case", "T")
	if !strings.Contains(stderr, `warning: state "Call" calls lambda:invoke with a FunctionName chosen at run time (FunctionName.$)`) {
		t.Errorf("stderr: %s", stderr)
	}
	if errName, cause := doc.errorCause(); errName != "Lambda.ResourceNotFoundException" || !strings.HasPrefix(cause, "Function not found: chosen-later") {
		t.Errorf("%s: %s", errName, cause)
	}
}

// TestSFNRunAsgdnsLaunch runs the project's own definition with the example
// mock configuration of the README.
func TestSFNRunAsgdnsLaunch(t *testing.T) {
	happy := []string{"Describe instance", "Route by event", "Assume shared-services role", "Send DNS command",
		"Wait for DNS command", "DNS command finished?", "Complete lifecycle action", "Done"}
	for _, tc := range []struct {
		testCase    string
		transitions int64
	}{
		{"HappyLaunch", 8},
		{"ThrottledThenFine", 9}, // one retry of Describe instance
	} {
		t.Run(tc.testCase, func(t *testing.T) {
			doc, stderr := sfnRunOK(t, append(asgdnsArgs()[2:], "--test-case", tc.testCase)...)
			if doc.Status != "SUCCEEDED" || doc.Transitions != tc.transitions {
				t.Errorf("status %s (%s: %s), %d transitions; want SUCCEEDED, %d", doc.Status, deref(doc.Error), deref(doc.Cause), doc.Transitions, tc.transitions)
			}
			if !slices.Equal(doc.states(), happy) {
				t.Errorf("states %q", doc.states())
			}
			var out struct {
				Lifecycle struct{ Result string } `json:"lifecycle"`
			}
			if err := json.Unmarshal(doc.Output, &out); err != nil || out.Lifecycle.Result != "CONTINUE" {
				t.Errorf("lifecycle result %q (%v)", out.Lifecycle.Result, err)
			}
			if stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

// TestAsgdnsMockReturnsWhatTheFunctionsReturn keeps the example honest: the
// Payload of each mocked Return (the project's Tasks are Lambda function
// ARNs, whose result is the Payload) is the golden output of the real
// function for a launch.
func TestAsgdnsMockReturnsWhatTheFunctionsReturn(t *testing.T) {
	data, err := os.ReadFile(fixture("asgdns.mock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseMockConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	golden := map[string]string{
		"DescribeLaunch":   "describe-instance/describe/testdata/launch.golden.json",
		"AssumeRole":       "assume-role/assume/testdata/launch.golden.json",
		"SendCommand":      "send-command/send/testdata/launch.golden.json",
		"CommandSucceeded": "wait-for-command/wait/testdata/launch.golden.json",
		"CompleteContinue": "complete-lifecycle/complete/testdata/launch.golden.json",
	}
	for response, file := range golden {
		want, err := os.ReadFile(filepath.Join(topDir, "functions", file))
		if err != nil {
			t.Fatal(err)
		}
		a, ok := cfg.responses[response].answer(0)
		if !ok || a.ret == nil {
			t.Fatalf("%s answers nothing at 0", response)
		}
		payload, ok := lambdaPayload(a.ret)
		if !ok || !lambdatest.JSONEqual(payload, want) {
			t.Errorf("%s: the Payload of the Return is\n%s\nwant %s:\n%s", response, payload, file, want)
		}
	}
}

// asgdnsArgs are the arguments that run the project's definition on the
// launch event with the README's mock configuration, less --test-case.
func asgdnsArgs() []string {
	args := []string{"sfn", "run",
		"--definition", filepath.Join(topDir, "statemachine", "asgdns.asl.json"),
		"--input", filepath.Join(topDir, "workflow", "testdata", "events", "launch.json"),
		"--mock-config", fixture("asgdns.mock.json"), "--state-machine", "asgdns"}
	for _, fn := range []string{"DescribeInstance", "AssumeRole", "SendCommand", "WaitForCommand", "CompleteLifecycle", "HoldInstance"} {
		args = append(args, "--substitution", fn+"FunctionArn=arn:aws:lambda:eu-west-1:111111111111:function:asgdns-"+fn)
	}
	return args
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSFNRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := func(name, content string) string { return write(t, dir, name, content) }
	pass := fixture("pass.asl.json")
	mocks := 0
	mock := func(content string) []string { // the table is built before any case runs: one file each
		mocks++
		return []string{"--definition", pass, "--mock-config", bad(fmt.Sprintf("mock%d.json", mocks), content), "--state-machine", "M", "--test-case", "T"}
	}
	const okResponse = `"MockedResponses": {"R": {"0": {"Return": {}}}}`
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no definition", nil, "asgdns-local sfn run: --definition FILE is required"},
		{"unknown flag", []string{"--definition", pass, "--fast"}, "flag provided but not defined: -fast"},
		{"an argument", []string{"--definition", pass, "extra"}, `unexpected argument "extra" (flags only)`},
		{"mock config without a test case", []string{"--definition", pass, "--mock-config", "m.json", "--state-machine", "M"},
			"--mock-config needs --state-machine NAME and --test-case NAME"},
		{"test case without a mock config", []string{"--definition", pass, "--test-case", "T"},
			"--state-machine and --test-case choose a test case of --mock-config FILE, which is missing"},
		{"substitution without =", []string{"--definition", pass, "--substitution", "FnArn"},
			`invalid value "FnArn" for flag -substitution: "FnArn" is not Key=Value`},
		{"substitution twice", []string{"--definition", pass, "--substitution", "A=1", "--substitution", "A=2"},
			"invalid value \"A=2\" for flag -substitution: A is given twice"},
		{"definition missing", []string{"--definition", filepath.Join(dir, "none.json")}, "--definition: open "},
		{"definition not JSON", []string{"--definition", bad("x.json", "{")}, "invalid definition " + filepath.Join(dir, "x.json") + ":\n  the definition is not valid JSON"},
		{"definition invalid", []string{"--definition", bad("d.json", `{"StartAt": "A", "States": {"A": {"Type": "Task",
			"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
			"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}], "End": true}}}`)},
			`state "A": Retry[0].ErrorEquals: States.ALL must appear alone in the last retrier`},
		{"substitution missing", []string{"--definition", fixture("orders.asl.json"), "--substitution", processARN},
			"DefinitionSubstitutions: no value for ${NotifyFunctionArn}\n(give each placeholder a value with --substitution Key=Value)"},
		{"input missing", []string{"--definition", pass, "--input", filepath.Join(dir, "none.json")}, "--input: open "},
		{"input not JSON", []string{"--definition", pass, "--input", bad("in.json", `{"name": `)},
			"--input " + filepath.Join(dir, "in.json") + " is not valid JSON: unexpected end of JSON input"},
		{"input over 256 KiB", []string{"--definition", pass, "--input", bad("big.json", `"`+strings.Repeat("x", 262144)+`"`)},
			"the execution did not start: the execution input is 262146 bytes; the limit is 262144"},
		{"input with trailing data", []string{"--definition", pass, "--input", bad("in2.json", `{} {}`)}, "is not valid JSON: invalid character '{' after top-level value"},
		{"mock file missing", []string{"--definition", pass, "--mock-config", filepath.Join(dir, "none.json"), "--state-machine", "M", "--test-case", "T"},
			"--mock-config: open "},
		{"mock not JSON", mock(`{"StateMachines": `), "the file: not valid JSON: unexpected end of JSON input"},
		{"mock not an object", mock(`[]`), "the file: must be a JSON object"},
		{"mock misspelt field", mock(`{"StateMachines": {}, "MockedResponse": {}}`),
			`the top level: unknown field "MockedResponse" (the format has StateMachines, MockedResponses)`},
		{"unknown state machine", mock(`{"StateMachines": {"Other": {"TestCases": {}}, "Another": {"TestCases": {}}}}`),
			`no state machine "M" in StateMachines (it has "Another", "Other")`},
		{"unknown test case", mock(`{"StateMachines": {"M": {"TestCases": {"Happy": {}}}}}`),
			`state machine "M" has no test case "T" (it has "Happy")`},
		{"undefined response", mock(`{"StateMachines": {"M": {"TestCases": {"T": {"A": "Missing"}}}}, ` + okResponse + `}`),
			`StateMachines."M".TestCases."T"."A": mocked response "Missing" is not defined in MockedResponses`},
		{"response name not a string", mock(`{"StateMachines": {"M": {"TestCases": {"T": {"A": 1}}}}}`),
			`StateMachines."M".TestCases."T"."A": must be the name of a mocked response`},
		{"state machine without TestCases", mock(`{"StateMachines": {"M": {"Cases": {}}}}`),
			`StateMachines."M": unknown field "Cases" (the format has TestCases)`},
		{"bad invocation key", mock(`{"MockedResponses": {"R": {"first": {"Return": 1}}}}`),
			`MockedResponses."R"."first": the key must be an invocation number counted from 0 ("3") or an inclusive range ("1-2")`},
		{"negative invocation", mock(`{"MockedResponses": {"R": {"-1": {"Return": 1}}}}`), `MockedResponses."R"."-1": the key must be`},
		{"invocation out of range", mock(`{"MockedResponses": {"R": {"99999999999999999999": {"Return": 1}}}}`),
			`MockedResponses."R"."99999999999999999999": the invocation number is out of range`},
		{"StateMachines not an object", mock(`{"StateMachines": []}`), "StateMachines: must be a JSON object"},
		{"test case not an object", mock(`{"StateMachines": {"M": {"TestCases": {"T": "R"}}}}`), `StateMachines."M".TestCases."T": must be a JSON object`},
		{"TestCases missing", mock(`{"StateMachines": {"M": {}}}`), `StateMachines."M".TestCases: missing (want a JSON object)`},
		{"mocked response not an object", mock(`{"MockedResponses": {"R": [{"Return": 1}]}}`), `MockedResponses."R": must be a JSON object`},
		{"range backwards", mock(`{"MockedResponses": {"R": {"2-1": {"Return": 1}}}}`), `MockedResponses."R"."2-1": the range ends before it starts`},
		{"overlapping keys", mock(`{"MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}}`),
			`MockedResponses."R": invocation 2 is answered by both "0-2" and "2"`},
		{"no invocation", mock(`{"MockedResponses": {"R": {}}}`), `MockedResponses."R": answers no invocation`},
		{"both Return and Throw", mock(`{"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}`),
			`MockedResponses."R"."0": must hold a single field, Return or Throw (it has Return, Throw)`},
		{"misspelt Return", mock(`{"MockedResponses": {"R": {"0": {"Retrun": 1}}}}`),
			`MockedResponses."R"."0": must hold a single field, Return or Throw (it has Retrun)`},
		{"Throw without Error", mock(`{"MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}}`),
			`MockedResponses."R"."0".Throw.Error: must be the error name, a non-empty string`},
		{"Throw with a non-string Cause", mock(`{"MockedResponses": {"R": {"0": {"Throw": {"Error": "E", "Cause": {}}}}}}`),
			`MockedResponses."R"."0".Throw.Cause: must be a string`},
		{"Throw not an object", mock(`{"MockedResponses": {"R": {"0": {"Throw": "E"}}}}`), `MockedResponses."R"."0".Throw: must be a JSON object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := asgdns(t, append([]string{"sfn", "run"}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, tc.stderr)
			}
		})
	}
}

func TestSFNRunInvalidInputOnStdin(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run := sfnCommand(strings.NewReader(`{"name"`))
	code := run(context.Background(), []string{"run", "--definition", fixture("pass.asl.json"), "--input", "-"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--input - (stdin) is not valid JSON") || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestSFNDispatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"listed in help", []string{"help"}, 0, sfnSummary, ""},
		{"help sfn", []string{"help", "sfn"}, 0, "", "Usage: asgdns-local sfn run --definition FILE"},
		{"sfn run -h", []string{"sfn", "run", "-h"}, 0, "", "-mock-config FILE"},
		{"sfn alone", []string{"sfn"}, 2, "", "Usage: asgdns-local sfn run --definition FILE [flags]"},
		{"sfn unknown", []string{"sfn", "start"}, 2, "", `asgdns-local sfn: unknown command "start" (want: run)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := asgdns(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
		})
	}
}

// TestMockedResponseInvocations reads invocation keys as the guide writes
// them: single numbers and inclusive ranges, counted from 0, gaps failing.
func TestMockedResponseInvocations(t *testing.T) {
	cfg, err := parseMockConfig([]byte(`{"MockedResponses": {"R": {
		"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "first"}},
		"1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException"}},
		"3": {"Return": {"n": 3}},
		"5": {"Return": null}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range []string{"throw Lambda.ServiceException: first", "throw Lambda.TooManyRequestsException", "throw Lambda.TooManyRequestsException", `return {"n": 3}`, "none", "return null", "none"} {
		got := "none"
		if a, ok := cfg.responses["R"].answer(n); ok && a.throw != nil {
			got = "throw " + a.throw.Error()
		} else if ok {
			got = "return " + string(a.ret)
		}
		if got != want {
			t.Errorf("invocation %d: %s, want %s", n, got, want)
		}
	}
}

func TestSFNRunNamesTheStateMachineAfterTheMockConfig(t *testing.T) {
	dir := t.TempDir()
	def := write(t, dir, "def.json", `{"StartAt": "Who", "States": {"Who": {"Type": "Pass", "Parameters": {"name.$": "$$.StateMachine.Name"}, "End": true}}}`)
	mocks := write(t, dir, "mocks.json", `{"StateMachines": {"Orders": {"TestCases": {"T": {}}}}}`)
	doc, _ := sfnRunOK(t, "--definition", def, "--mock-config", mocks, "--state-machine", "Orders", "--test-case", "T")
	if want := `{"name": "Orders"}`; !lambdatest.JSONEqual(doc.Output, []byte(want)) {
		t.Errorf("output %s, want %s", doc.Output, want)
	}
}
