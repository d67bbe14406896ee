package operate

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// many is n executions, one a minute, newest first: launches and
// terminations of n different instances in three groups.
func many(t *testing.T, n int) *fakeSFN {
	f := newFakeSFN()
	for i := range n {
		fixture := "launch"
		if i%2 == 1 {
			fixture = "terminate"
		}
		in := event(t, fixture, group(fmt.Sprintf("web-%d", i%3)), instance(fmt.Sprintf("i-%017x", i)))
		f.execs = append(f.execs, succeeded(fmt.Sprintf("exec-%04d", i), i, in))
	}
	return f
}

func TestExecutionsPaginates(t *testing.T) {
	f := many(t, 250)
	f.pageCap = 100 // Step Functions may return fewer than MaxResults
	te := newTestEnv(f)
	code, doc := te.executions(t)
	if code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
	}
	if doc.Count != 250 || len(doc.Executions) != 250 {
		t.Fatalf("listed %d (count %d), want 250", len(doc.Executions), doc.Count)
	}
	for i, e := range doc.Executions {
		if want := fmt.Sprintf("exec-%04d", i); e.Name != want {
			t.Fatalf("execution %d is %s, want %s (newest first)", i, e.Name, want)
		}
	}
	if got := f.count("ListExecutions"); got != 3 {
		t.Errorf("%d ListExecutions calls, want 3 pages", got)
	}
	for i, in := range f.lists {
		if in.MaxResults != 1000 {
			t.Errorf("page %d: MaxResults %d, want the maximum 1000", i, in.MaxResults)
		}
		if (i == 0) != (in.NextToken == nil) {
			t.Errorf("page %d: NextToken %v", i, in.NextToken)
		}
	}
	if got := f.count("DescribeExecution"); got != 250 {
		t.Errorf("%d DescribeExecution calls, want 250", got)
	}
}

func TestExecutionsStopsPagingPastSince(t *testing.T) {
	f := many(t, 250)
	f.pageCap = 100
	te := newTestEnv(f)
	_, doc := te.executions(t, "--since", "100m")
	if doc.Count != 101 {
		t.Errorf("listed %d, want the 101 started in the last 100 minutes", doc.Count)
	}
	if got := f.count("ListExecutions"); got != 2 {
		t.Errorf("%d ListExecutions calls, want 2: the second page reaches --since", got)
	}
	if got := f.count("DescribeExecution"); got != 101 {
		t.Errorf("%d DescribeExecution calls, want 101: only those in the window", got)
	}
}

func TestExecutionsFilters(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		want       []string
		wantFilter types.ExecutionStatus // what ListExecutions was asked for
	}{
		{name: "one status is filtered by Step Functions", args: []string{"--status", "FAILED"},
			want: []string{"b-failed", "d-rejected"}, wantFilter: types.ExecutionStatusFailed},
		{name: "several statuses are filtered here", args: []string{"--status", "FAILED", "--status", "RUNNING"},
			want: []string{"a-running", "b-failed", "d-rejected"}},
		{name: "PENDING_REDRIVE cannot be asked of a state machine", args: []string{"--status", "PENDING_REDRIVE"}},
		{name: "asg", args: []string{"--asg", "api-prod"}, want: []string{"a-running"}},
		{name: "instance", args: []string{"--instance", otherInstance}, want: []string{"a-running", "c-succeeded"}},
		{name: "asg and instance", args: []string{"--asg", "web-prod", "--instance", otherInstance}, want: []string{"c-succeeded"}},
		{name: "until", args: []string{"--until", "2026-11-20T11:30:00Z"}, want: []string{"c-succeeded", "d-rejected", "e-test-notification"}},
		{name: "since and until", args: []string{"--since", "50m", "--until", "15m"}, want: []string{"b-failed", "c-succeeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(smallWorld(t))
			code, doc := te.executions(t, tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
			}
			var got []string
			for _, e := range doc.Executions {
				got = append(got, e.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			for _, in := range te.sfn.lists {
				if in.StatusFilter != tc.wantFilter {
					t.Errorf("ListExecutions statusFilter %q, want %q", in.StatusFilter, tc.wantFilter)
				}
			}
		})
	}
}

// smallWorld is a few executions of every kind the listing shows.
func smallWorld(t *testing.T) *fakeSFN {
	running := failed("a-running", 5, event(t, "terminate", group("api-prod"), instance(otherInstance)), types.HistoryEventTypeExecutionFailed)
	running.status, running.stop = types.ExecutionStatusRunning, time.Time{}
	bad := failedAfterRelease(t, "b-failed", 20, event(t, "launch"), workflow.LifecycleResult{
		Completed: true, Result: workflow.Abandon, Error: "CommandFailed",
		Cause: "The DNS command failed on dc01: zone corp.example.com refused the update; fix: check the DC's DNS service.\n" +
			`For instance i-0a1b2c3d4e5f60718 of ASG "web-prod": DNS work failed (CommandFailed): ABANDON per onFailure policy.`,
	})
	rejected := failed("d-rejected", 90, `{"source":"aws.ec2","detail-type":"x","detail":{"EC2InstanceId":"i-0123456789abcdef0","AutoScalingGroupName":"legacy"}}`,
		types.HistoryEventTypeExecutionFailed, task("Describe instance"))
	rejected.err, rejected.cause = "InvalidEvent", `source "aws.ec2": is not aws.autoscaling`
	return newFakeSFN(running, bad,
		succeeded("c-succeeded", 40, event(t, "launch", instance(otherInstance))),
		rejected,
		succeeded("e-test-notification", 120, event(t, "test-notification")))
}

func TestExecutionsGolden(t *testing.T) {
	te := newTestEnv(smallWorld(t))
	code, _ := te.executions(t)
	if code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
	}
	golden(t, "executions.json", te.stdout.Bytes())

	te.stdout.Reset()
	code = Executions(context.Background(), te.env(), []string{"--stack", "asgdns-prod", "--since", "2026-11-20T09:00:00Z"})
	if code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
	}
	golden(t, "executions.txt", te.stdout.Bytes())
}

func TestReplayGolden(t *testing.T) {
	f, _ := world(t)
	te := newTestEnv(f)
	if code, _ := te.replay(t); code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
	}
	golden(t, "replay-plan.json", te.stdout.Bytes())

	te.stdout.Reset()
	args := append([]string{"--state-machine-arn", testStateMachine}, fast...)
	if code := Replay(context.Background(), te.env(), args); code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, te.stderr.String())
	}
	golden(t, "replay-plan.txt", te.stdout.Bytes())
}
