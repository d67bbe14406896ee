package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// stepFunctions is a canned Step Functions endpoint speaking the real wire
// protocol (awsJson1_0, X-Amz-Target) for one failed execution. It proves
// that the commands reach whatever AWS_ENDPOINT_URL names through the real
// SDK, with nothing but the standard configuration: what the integration
// tests against the local stack rely on.
type stepFunctions struct {
	t       *testing.T
	mu      sync.Mutex
	targets []string
	starts  []map[string]any
	input   string // the failed execution's input
}

const (
	endpointMachine = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns"
	endpointExec    = "arn:aws:states:eu-west-1:111111111111:execution:asgdns:58dbb6fe-d650-46f8-9434-eb3e0c9b97fe"
)

func (s *stepFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.t.Errorf("%s: body is not JSON: %v", target, err)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDLOCAL/") {
		s.t.Errorf("%s: not signed with the configured credentials: %q", target, r.Header.Get("Authorization"))
	}
	s.mu.Lock()
	s.targets = append(s.targets, target)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	reply := func(v any) {
		if err := json.NewEncoder(w).Encode(v); err != nil {
			s.t.Errorf("%s: reply: %v", target, err)
		}
	}
	const started, stopped = 1795162542.0, 1795162637.0 // 2026-11-20T08:15:42Z, +95 s
	switch {
	case target == "ListExecutions":
		reply(map[string]any{"executions": []any{map[string]any{
			"executionArn": endpointExec, "stateMachineArn": endpointMachine, "name": "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe",
			"status": "FAILED", "startDate": started, "stopDate": stopped, "redriveCount": 0,
		}}})
	case target == "DescribeExecution" && in["executionArn"] == endpointExec:
		reply(map[string]any{
			"executionArn": endpointExec, "stateMachineArn": endpointMachine, "name": "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe",
			"status": "FAILED", "startDate": started, "stopDate": stopped, "input": s.input,
			"error": "CommandFailed", "cause": "The DNS command failed on the DC.",
			"redriveCount": 0, "redriveStatus": "REDRIVABLE",
		})
	case target == "DescribeExecution":
		w.WriteHeader(http.StatusBadRequest)
		reply(map[string]any{"__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist", "message": "Execution Does Not Exist"})
	case target == "GetExecutionHistory":
		var doc map[string]any
		if err := json.Unmarshal([]byte(s.input), &doc); err != nil {
			s.t.Errorf("the execution's input: %v", err) // not Fatal: this is the server's goroutine
			return
		}
		doc["lifecycle"] = map[string]any{"completed": true, "result": "CONTINUE", "error": "CommandFailed"}
		state, _ := json.Marshal(doc)
		reply(map[string]any{"events": []any{
			map[string]any{"id": 3, "previousEventId": 2, "timestamp": stopped, "type": "ExecutionFailed",
				"executionFailedEventDetails": map[string]any{"error": "CommandFailed"}},
			map[string]any{"id": 2, "previousEventId": 1, "timestamp": stopped, "type": "FailStateEntered",
				"stateEnteredEventDetails": map[string]any{"name": "DNS work failed", "input": string(state)}},
		}})
	case target == "ListStateMachineAliases":
		// A state machine deployed before versions: no alias, so a
		// restart starts on the state machine itself.
		reply(map[string]any{"stateMachineAliases": []any{}})
	case target == "StartExecution":
		s.mu.Lock()
		s.starts = append(s.starts, in)
		s.mu.Unlock()
		reply(map[string]any{"executionArn": endpointExec + "-replay", "startDate": stopped + 60})
	default:
		s.t.Errorf("unexpected call %s", target)
		w.WriteHeader(http.StatusBadRequest)
	}
}

func TestCommandsReachAWSEndpointURL(t *testing.T) {
	input, err := os.ReadFile(filepath.Join("..", "..", "workflow", "testdata", "events", "launch.json"))
	if err != nil {
		t.Fatal(err)
	}
	sf := &stepFunctions{t: t, input: string(input)}
	srv := httptest.NewServer(sf)
	defer srv.Close()

	// Only the standard configuration: no profile files, static keys, the
	// endpoint override.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	var stdout, stderr bytes.Buffer
	if code := commands.Run(context.Background(), []string{"executions", "--state-machine-arn", endpointMachine}, &stdout, &stderr); code != 0 {
		t.Fatalf("executions: exit %d; stderr: %s", code, stderr.String())
	}
	for _, want := range []string{"2026-11-20 08:15:42Z  1m35s", "FAILED", "launch", "i-0a1b2c3d4e5f60718", "web-prod", "error: CommandFailed"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("executions output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	args := []string{"replay", "--state-machine-arn", endpointMachine, "--yes", "--json"}
	if code := commands.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("replay: exit %d; stderr: %s", code, stderr.String())
	}
	var doc struct {
		Steps []struct{ Action, Result, ReplayName string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := "replay-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe"
	if len(doc.Steps) != 1 || doc.Steps[0].Action != "restart" || doc.Steps[0].Result != "restarted" || doc.Steps[0].ReplayName != want {
		t.Errorf("replay steps %+v, want one restart as %s", doc.Steps, want)
	}
	if len(sf.starts) != 1 || sf.starts[0]["name"] != want || sf.starts[0]["input"] != string(input) ||
		sf.starts[0]["stateMachineArn"] != endpointMachine {
		t.Errorf("StartExecution calls %v", sf.starts)
	}
	if slices.Contains(sf.targets, "RedriveExecution") {
		t.Error("redrove an execution that ended in DNS work failed")
	}
}

func TestConnectNeedsARegion(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var stdout, stderr bytes.Buffer
	code := commands.Run(context.Background(), []string{"executions", "--state-machine-arn", endpointMachine}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "no AWS Region: set AWS_REGION, a region in the profile, or --region") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
