package stepfunctions_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The operator commands, `asgdns executions` and `asgdns replay`
// (cmd/asgdns), run as built, unchanged, against the service: only
// AWS_ENDPOINT_URL and the credentials say where AWS is.

var asgdnsBuild struct {
	once sync.Once
	path string
	err  error
}

// asgdnsBinary builds cmd/asgdns once per test run.
func asgdnsBinary(t testing.TB) string {
	t.Helper()
	asgdnsBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "asgdns-bin-")
		if err != nil {
			asgdnsBuild.err = err
			return
		}
		asgdnsBuild.path = filepath.Join(dir, "asgdns")
		cmd := exec.Command("go", "build", "-o", asgdnsBuild.path, ".")
		cmd.Dir = filepath.Join("..", "..", "cmd", "asgdns")
		if out, err := cmd.CombinedOutput(); err != nil {
			asgdnsBuild.err = fmt.Errorf("go build ./cmd/asgdns: %v\n%s", err, out)
		}
	})
	if asgdnsBuild.err != nil {
		t.Fatal(asgdnsBuild.err)
	}
	return asgdnsBuild.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if asgdnsBuild.path != "" {
		_ = os.RemoveAll(filepath.Dir(asgdnsBuild.path))
	}
	os.Exit(code)
}

// asgdns runs the command with args against the service and decodes its
// --json output.
func (w *world) asgdns(v any, args ...string) {
	w.t.Helper()
	cmd := exec.Command(asgdnsBinary(w.t), append(args, "--json", "--state-machine-arn", w.smArn, "--read-rate", "10000")...)
	cmd.Env = cliEnv("AWS_ENDPOINT_URL="+w.url, "AWS_REGION="+region)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("asgdns %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		w.t.Fatalf("asgdns %v printed %q: %v", args, stdout.String(), err)
	}
}

// launchEvent is the workflow's fixture launch event for another instance.
func launchEvent(t testing.TB, instanceID string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "workflow", "testdata", "events", "launch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["detail"].(map[string]any)["EC2InstanceId"] = instanceID
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The documents the commands print (cmd/asgdns/operate), as far
// as these tests read them.
type executionsDoc struct {
	Count      int `json:"count"`
	Executions []struct {
		Name         string `json:"name"`
		Status       string `json:"status"`
		Transition   string `json:"transition"`
		InstanceID   string `json:"instanceId"`
		ASG          string `json:"asg"`
		RedriveCount int    `json:"redriveCount"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	} `json:"executions"`
}

type replayDoc struct {
	DryRun bool `json:"dryRun"`
	Steps  []struct {
		Execution struct {
			Name string `json:"name"`
		} `json:"execution"`
		Action     string `json:"action"`
		Reason     string `json:"reason"`
		EndedIn    string `json:"endedIn"`
		ReplayName string `json:"replayName"`
		Result     string `json:"result"`
		Error      string `json:"error"`
	} `json:"steps"`
	Summary struct {
		Redrive, Restart, Skip, Failed int
	} `json:"summary"`
}

// plan maps each execution replay considered to "action/result".
func (d replayDoc) plan() map[string]string {
	m := map[string]string{}
	for _, st := range d.Steps {
		m[st.Execution.Name] = st.Action + "/" + st.Result
	}
	return m
}

func TestAsgdnsExecutionsAndReplay(t *testing.T) {
	w := newWorld(t)
	instance := func(i int) string { return fmt.Sprintf("i-%017x", 0xa000+i) }

	// A launch that failed 15 days ago: no longer redrivable.
	w.fault("old-failure", true)
	w.run("old-failure", launchEvent(t, instance(0)))
	w.clock.Advance(15 * 24 * time.Hour)
	// More than a page of ListExecutions (1000) that succeeded.
	var arns []string
	for i := range 1005 {
		arns = append(arns, *w.start(fmt.Sprintf("launch-%04d", i), launchEvent(t, instance(i+1))).ExecutionArn)
	}
	for _, arn := range arns {
		w.wait(arn)
	}
	// A fresh failure (redrivable), and one whose input is not an event.
	w.fault("fresh-failure", true)
	w.run("fresh-failure", launchEvent(t, instance(9999)))
	w.fault("not-an-event", true)
	w.run("not-an-event", `{"hello":"world"}`)

	// asgdns executions lists them all, newest first, reading the events.
	var list executionsDoc
	w.asgdns(&list, "executions")
	if list.Count != 1008 || len(list.Executions) != 1008 {
		t.Fatalf("asgdns executions listed %d (%d), want 1008", list.Count, len(list.Executions))
	}
	newest, oldest := list.Executions[0], list.Executions[1007]
	if newest.Name != "not-an-event" || oldest.Name != "old-failure" || oldest.Status != "FAILED" ||
		oldest.Error != "Broken" || oldest.Cause != "the test broke old-failure" ||
		oldest.Transition != "launch" || oldest.InstanceID != instance(0) || oldest.ASG != "web-prod" {
		t.Errorf("newest %+v\noldest %+v", newest, oldest)
	}
	var failed executionsDoc
	w.asgdns(&failed, "executions", "--status", "FAILED")
	if failed.Count != 3 {
		t.Errorf("FAILED executions: %d, want 3", failed.Count)
	}

	// replay without --yes: the plan, and nothing changes.
	var plan replayDoc
	w.asgdns(&plan, "replay")
	want := map[string]string{
		"fresh-failure": "redrive/planned",
		"old-failure":   "restart/planned",
		"not-an-event":  "skip/skipped",
	}
	if got := plan.plan(); !plan.DryRun || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("plan = %v (dry run %v), want %v\n%+v", got, plan.DryRun, want, plan.Steps)
	}
	for _, st := range plan.Steps {
		if st.Execution.Name == "fresh-failure" && st.EndedIn != "Work" {
			t.Errorf("fresh-failure ended in %q, want Work", st.EndedIn)
		}
		if st.Execution.Name == "old-failure" && st.ReplayName != "replay-old-failure" {
			t.Errorf("old-failure's restart is named %q", st.ReplayName)
		}
	}
	if d := w.describe(w.execArn("fresh-failure")); *d.RedriveCount != 0 || d.Status != "FAILED" {
		t.Errorf("the dry run changed fresh-failure: %s, redriveCount %d", d.Status, *d.RedriveCount)
	}
	if _, err := w.svc.Wait(ctx, w.execArn("replay-old-failure")); err == nil {
		t.Error("the dry run started replay-old-failure")
	}

	// The DNS is back: replay --yes redrives one and restarts the other.
	w.fault("fresh-failure", false)
	var done replayDoc
	w.asgdns(&done, "replay", "--yes")
	want = map[string]string{
		"fresh-failure": "redrive/redriven",
		"old-failure":   "restart/restarted",
		"not-an-event":  "skip/skipped",
	}
	if got := done.plan(); done.DryRun || fmt.Sprint(got) != fmt.Sprint(want) || done.Summary.Failed != 0 {
		t.Fatalf("replay --yes = %v, summary %+v, want %v\n%+v", got, done.Summary, want, done.Steps)
	}
	if res := w.wait(w.execArn("fresh-failure")); res.Status != "SUCCEEDED" || res.RedriveCount != 1 {
		t.Errorf("fresh-failure after the redrive: %s, redriveCount %d", res.Status, res.RedriveCount)
	}
	if res := w.wait(w.execArn("replay-old-failure")); res.Status != "SUCCEEDED" {
		t.Errorf("replay-old-failure: %s", res.Status)
	}
	if in := *w.describe(w.execArn("replay-old-failure")).Input; in != launchEvent(t, instance(0)) {
		t.Errorf("the restart's input is not the original's: %s", in)
	}

	// A second replay recognises its own work: nothing to do.
	var again replayDoc
	w.asgdns(&again, "replay", "--yes")
	if s := again.Summary; s.Redrive != 0 || s.Restart != 0 || s.Failed != 0 || s.Skip != 3 || len(again.Steps) != 3 {
		t.Errorf("second replay did something: %+v\n%+v", s, again.Steps)
	}
	for _, st := range again.Steps {
		if st.Action != "skip" {
			t.Errorf("second replay: %s %s (%s)", st.Execution.Name, st.Action, st.Reason)
		}
	}
	if d := w.describe(w.execArn("fresh-failure")); *d.RedriveCount != 1 {
		t.Errorf("fresh-failure redriven again: redriveCount %d", *d.RedriveCount)
	}
}
