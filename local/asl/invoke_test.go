package asl

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// TestInvokeResponses: with Options.InvokeResponses a lambda:invoke
// handler's answer is the task result exactly as written, nothing added
// (no StatusCode, ExecutedVersion or Sdk* metadata), and it is what
// TaskSucceeded records; without it the engine wraps the answer as
// Lambda's Invoke response. A direct Lambda ARN, another integration and a
// thrown error are the same either way.
func TestInvokeResponses(t *testing.T) {
	def := mustParse(t, `{"StartAt": "Invoke", "States": {
		"Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": {"FunctionName": "A", "Payload.$": "$"}, "ResultPath": "$.invoked", "Next": "Direct"},
		"Direct": {"Type": "Task", "Resource": "`+fnB+`", "ResultPath": "$.direct", "Next": "Queue"},
		"Queue": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
			"Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "ResultPath": "$.queued", "Next": "Throws"},
		"Throws": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "C"},
			"Catch": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "ResultPath": "$.caught", "Next": "Done"}], "End": true},
		"Done": {"Type": "Succeed"}}}`)
	// Written as a mock file writes it: no ExecutedVersion, a StatusCode
	// other than 200, a field the engine never makes.
	const response = `{"StatusCode": 202, "Payload": {"sent": true}, "FunctionError": "Handled"}`
	var invokeInput json.RawMessage
	answer := func(out string) Handler {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if invokeInput == nil {
				invokeInput = in
			}
			return json.RawMessage(out), nil
		}
	}
	resources := Resources{
		fnA:                                answer(response),
		fnB:                                answer(`{"direct": 1}`),
		"arn:aws:states:::sqs:sendMessage": answer(`{"MessageId": "m-1"}`),
		"C": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, TaskError{Name: "Lambda.TooManyRequestsException", Cause: "Rate exceeded"}
		},
	}

	t.Run("as written", func(t *testing.T) {
		invokeInput = nil
		eng := NewEngine(Options{Clock: NewVirtualClock(confStart), Rand: rand.New(rand.NewPCG(7, 8)), Resources: resources, InvokeResponses: true})
		x, res := run(t, eng, def, `{"order": 1}`)
		if res.Status != StatusSucceeded {
			t.Fatalf("%s %s: %s", res.Status, res.Error, res.Cause)
		}
		want := `{"order": 1, "invoked": ` + response + `, "direct": {"direct": 1}, "queued": {"MessageId": "m-1"},
			"caught": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}}`
		if !lambdatest.JSONEqual(res.Output, []byte(want)) {
			t.Errorf("output\n got %s\nwant %s", res.Output, want)
		}
		// The handler still receives the function's input, Payload.
		if !lambdatest.JSONEqual(invokeInput, []byte(`{"order": 1}`)) {
			t.Errorf("the handler received %s", invokeInput)
		}
		var succeeded []string
		for _, ev := range x.History() {
			if d := ev.TaskSucceededEventDetails; d != nil && d.Resource == "invoke" {
				succeeded = append(succeeded, d.Output)
			}
		}
		if len(succeeded) != 1 || !lambdatest.JSONEqual(json.RawMessage(succeeded[0]), []byte(response)) {
			t.Errorf("TaskSucceeded outputs %q, want the response as written", succeeded)
		}
	})

	t.Run("wrapped by default", func(t *testing.T) {
		_, res := run(t, testEngine(resources), def, `{"order": 1}`)
		if res.Status != StatusSucceeded {
			t.Fatalf("%s %s: %s", res.Status, res.Error, res.Cause)
		}
		var out struct {
			Invoked map[string]json.RawMessage `json:"invoked"`
			Direct  json.RawMessage            `json:"direct"`
		}
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(out.Invoked))
		for k := range out.Invoked {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}; !slices.Equal(keys, want) {
			t.Errorf("invoke result keys %v, want %v", keys, want)
		}
		if !lambdatest.JSONEqual(out.Invoked["Payload"], []byte(response)) || string(out.Invoked["StatusCode"]) != "200" {
			t.Errorf("Payload %s, StatusCode %s", out.Invoked["Payload"], out.Invoked["StatusCode"])
		}
		if !lambdatest.JSONEqual(out.Direct, []byte(`{"direct": 1}`)) {
			t.Errorf("direct %s", out.Direct)
		}
	})
}
