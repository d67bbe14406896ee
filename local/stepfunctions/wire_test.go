package stepfunctions_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// post sends one raw AWS JSON 1.0 request, as the SDKs and the CLI do.
func (w *world) post(target, body string) (int, http.Header, map[string]any) {
	status, header, _, doc := w.postRaw(target, body)
	return status, header, doc
}

func (w *world) postRaw(target, body string) (int, http.Header, []byte, map[string]any) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+"/", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		w.t.Fatalf("%s: answer is not a JSON object: %q", target, raw)
	}
	return resp.StatusCode, resp.Header, raw, doc
}

func TestWireErrors(t *testing.T) {
	w := newWorld(t)
	arnBody := `{"executionArn":"` + w.execArn("missing") + `"}`
	for _, tc := range []struct {
		name, target, body, code string
	}{
		{"operation not served", "AWSStepFunctions.CreateStateMachine", `{}`, "UnknownOperationException"},
		{"made-up operation", "AWSStepFunctions.Frobnicate", `{}`, "UnknownOperationException"},
		{"another service's target", "AmazonSSM.SendCommand", `{}`, "UnknownOperationException"},
		{"no target", "", `{}`, "UnknownOperationException"},
		{"malformed JSON", "AWSStepFunctions.DescribeExecution", `{"executionArn":`, "SerializationException"},
		{"not an object", "AWSStepFunctions.DescribeExecution", `[1,2]`, "SerializationException"},
		{"wrong type", "AWSStepFunctions.ListExecutions", `{"stateMachineArn":"` + w.smArn + `","maxResults":"ten"}`, "SerializationException"},
		{"missing required member", "AWSStepFunctions.DescribeExecution", `{}`, "ValidationException"},
		{"empty body", "AWSStepFunctions.StartExecution", ``, "ValidationException"},
		{"empty name", "AWSStepFunctions.StartExecution", `{"stateMachineArn":"` + w.smArn + `","name":""}`, "InvalidName"},
		{"bad includedData", "AWSStepFunctions.DescribeExecution", `{"executionArn":"x","includedData":"SOME"}`, "ValidationException"},
		{"unknown execution", "AWSStepFunctions.DescribeExecution", arnBody, "ExecutionDoesNotExist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, doc := w.post(tc.target, tc.body)
			if status != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", status)
			}
			if doc["__type"] != tc.code || header.Get("X-Amzn-ErrorType") != tc.code {
				t.Errorf("__type = %v, X-Amzn-ErrorType = %q, want %s", doc["__type"], header.Get("X-Amzn-ErrorType"), tc.code)
			}
			if msg, _ := doc["message"].(string); msg == "" {
				t.Errorf("no message: %v", doc)
			}
			if ct := header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
				t.Errorf("Content-Type = %q", ct)
			}
			if header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
}

// Timestamps go on the wire as the JSON protocol encodes them: epoch
// seconds, with milliseconds as a fraction.
func TestWireTimestamps(t *testing.T) {
	w := newWorld(t)
	status, header, raw, _ := w.postRaw("AWSStepFunctions.StartExecution", `{"stateMachineArn":"`+w.smArn+`","name":"wire","input":"{}"}`)
	if status != http.StatusOK || header.Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Fatalf("StartExecution: %d %s", status, raw)
	}
	if want := `"startDate":1795161600.000`; !strings.Contains(string(raw), want) { // 2026-11-20T08:00:00Z
		t.Errorf("StartExecution answered %s, want %s", raw, want)
	}
	w.wait(w.execArn("wire"))
	_, _, raw, d := w.postRaw("AWSStepFunctions.DescribeExecution", `{"executionArn":"`+w.execArn("wire")+`"}`)
	epoch := regexp.MustCompile(`"(startDate|stopDate)":\d{10}\.\d{3}[,}]`)
	if n := len(epoch.FindAll(raw, -1)); n != 2 {
		t.Errorf("DescribeExecution dates are not epoch seconds with milliseconds: %s", raw)
	}
	// Members without a value are left out, not sent as null.
	for _, field := range []string{"redriveDate", "error", "cause"} {
		if v, ok := d[field]; ok {
			t.Errorf("%s present: %v", field, v)
		}
	}
	if d["redriveCount"] != float64(0) {
		t.Errorf("redriveCount = %v, want 0", d["redriveCount"])
	}
}
