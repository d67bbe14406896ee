package stepfunctions_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/awscli"
)

// cliEnv is the environment of an AWS CLI or asgdns run against the
// service: this process's, without any AWS configuration of the machine,
// with fake static credentials.
func cliEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{
		"AWS_ACCESS_KEY_ID=AKIDLOCAL", "AWS_SECRET_ACCESS_KEY=local-secret",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)...)
}

// cli runs `aws stepfunctions <args>` against the service and decodes its
// JSON output; a failed command returns its stderr as the error.
func (w *world) cli(env []string, args ...string) (map[string]any, error) {
	w.t.Helper()
	cmd := exec.Command(awscli.Path(w.t), append([]string{"--endpoint-url", w.url, "--region", region, "--output", "json", "stepfunctions"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("aws stepfunctions %s: %v: %s", args[0], err, stderr.String())
	}
	var out map[string]any
	if stdout.Len() == 0 {
		return out, nil
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("aws stepfunctions %s printed %q: %v", args[0], stdout.String(), err)
	}
	return out, nil
}

func (w *world) mustCLI(env []string, args ...string) map[string]any {
	w.t.Helper()
	out, err := w.cli(env, args...)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// The AWS CLI (v1, botocore) as a client: every execution operation, and
// errors as the CLI reports them.
func TestAWSCLI(t *testing.T) {
	w := newWorld(t)
	env := cliEnv()

	started := w.mustCLI(env, "start-execution", "--state-machine-arn", w.smArn, "--name", "cli-1", "--input", `{"via": "cli"}`)
	arn, _ := started["executionArn"].(string)
	if arn != w.execArn("cli-1") || started["startDate"] == nil {
		t.Fatalf("start-execution = %v", started)
	}
	w.wait(arn)
	d := w.mustCLI(env, "describe-execution", "--execution-arn", arn)
	if d["status"] != "SUCCEEDED" || d["input"] != `{"via": "cli"}` || d["redriveStatus"] != "NOT_REDRIVABLE" || d["stopDate"] == nil {
		t.Errorf("describe-execution = %v", d)
	}

	// list-executions: the CLI pages through 120 executions by itself.
	for i := range 119 {
		w.start(fmt.Sprintf("bulk-%03d", i), "{}")
	}
	for i := range 119 {
		w.wait(w.execArn(fmt.Sprintf("bulk-%03d", i)))
	}
	list := w.mustCLI(env, "list-executions", "--state-machine-arn", w.smArn, "--page-size", "50")
	items, _ := list["executions"].([]any)
	if len(items) != 120 {
		t.Fatalf("list-executions listed %d executions, want 120", len(items))
	}
	if first := items[0].(map[string]any); first["name"] != "bulk-118" || first["status"] != "SUCCEEDED" {
		t.Errorf("newest first: %v", first)
	}
	if last := items[119].(map[string]any); last["name"] != "cli-1" {
		t.Errorf("oldest last: %v", last)
	}
	running := w.mustCLI(env, "list-executions", "--state-machine-arn", w.smArn, "--status-filter", "RUNNING")
	if got, _ := running["executions"].([]any); len(got) != 0 {
		t.Errorf("RUNNING executions: %v", got)
	}

	// get-execution-history, newest first, a page of 3.
	hist := w.mustCLI(env, "get-execution-history", "--execution-arn", arn, "--reverse-order", "--max-items", "3")
	events, _ := hist["events"].([]any)
	if len(events) != 3 || events[0].(map[string]any)["type"] != "ExecutionSucceeded" || hist["NextToken"] == nil {
		t.Errorf("get-execution-history = %v", hist)
	}

	// stop-execution.
	blocked := *w.start("cli-blocked", `{"block":true}`).ExecutionArn
	stopped := w.mustCLI(env, "stop-execution", "--execution-arn", blocked, "--error", "Operator", "--cause", "from the CLI")
	if stopped["stopDate"] == nil {
		t.Errorf("stop-execution = %v", stopped)
	}
	if d := w.mustCLI(env, "describe-execution", "--execution-arn", blocked); d["status"] != "ABORTED" || d["cause"] != "from the CLI" {
		t.Errorf("after stop-execution: %v", d)
	}

	// redrive-execution (in CLI v1 since botocore added RedriveExecution).
	w.fault("cli-flaky", true)
	flaky, _ := w.run("cli-flaky", "{}")
	w.fault("cli-flaky", false)
	redriven := w.mustCLI(env, "redrive-execution", "--execution-arn", flaky, "--client-token", "cli-token")
	if redriven["redriveDate"] == nil {
		t.Errorf("redrive-execution = %v", redriven)
	}
	w.wait(flaky)
	if d := w.mustCLI(env, "describe-execution", "--execution-arn", flaky); d["status"] != "SUCCEEDED" || d["redriveCount"] != float64(1) {
		t.Errorf("after redrive-execution: %v", d)
	}

	// Errors, as the CLI prints them.
	for _, tc := range []struct {
		args []string
		code string
	}{
		{[]string{"redrive-execution", "--execution-arn", flaky}, "ExecutionNotRedrivable"},
		{[]string{"describe-execution", "--execution-arn", w.execArn("missing")}, "ExecutionDoesNotExist"},
		{[]string{"describe-execution", "--execution-arn", "not-an-arn"}, "InvalidArn"},
		{[]string{"start-execution", "--state-machine-arn", w.smArn, "--name", "cli-1", "--input", "{}"}, "ExecutionAlreadyExists"},
		{[]string{"start-execution", "--state-machine-arn", w.smArn, "--name", "no:colons"}, "InvalidName"},
		{[]string{"start-execution", "--state-machine-arn", w.smArn, "--input", "{oops"}, "InvalidExecutionInput"},
		{[]string{"list-executions", "--state-machine-arn", w.smArn, "--status-filter", "PENDING_REDRIVE"}, "ValidationException"},
	} {
		_, err := w.cli(env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), "("+tc.code+")") {
			t.Errorf("aws stepfunctions %s: %v, want (%s)", strings.Join(tc.args, " "), err, tc.code)
		}
	}
}

// With its default configuration CLI v1 prints timestamps as it received
// them; told to print ISO 8601 it parses them first, which proves botocore
// reads the wire format.
func TestAWSCLIParsesTimestamps(t *testing.T) {
	w := newWorld(t)
	arn, _ := w.run("stamped", "{}")
	config := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(config, []byte("[default]\ncli_timestamp_format = iso8601\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv("AWS_CONFIG_FILE=" + config)
	d := w.mustCLI(env, "describe-execution", "--execution-arn", arn)
	for _, field := range []string{"startDate", "stopDate"} {
		s, _ := d[field].(string)
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !ts.Equal(testStart) {
			t.Errorf("%s = %v (%v), want %s", field, d[field], err, testStart.Format(time.RFC3339))
		}
	}
	hist := w.mustCLI(env, "get-execution-history", "--execution-arn", arn, "--max-items", "1")
	ev := hist["events"].([]any)[0].(map[string]any)
	if ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["timestamp"])); err != nil || !ts.Equal(testStart) {
		t.Errorf("event timestamp = %v (%v)", ev["timestamp"], err)
	}
}
