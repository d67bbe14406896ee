package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// paginationRuns is how many executions the pagination test starts: more
// than one page of `asgdns executions` (ListExecutions pages of 1000), ten
// of the SDK's and the CLI's default (100).
const paginationRuns = 1010

// TestExecutionsPagination starts more executions than one page of any
// lister holds (Auto Scaling test notifications: each runs DescribeInstance
// once and ends in "Nothing to do"), then lists them with the SDK's
// paginator, `asgdns executions --json` and the AWS CLI, each of which
// must follow nextToken to see them all.
//
// Not parallel: it starts a thousand executions, which the other tests'
// listings (newest first, back to their own start) need not wade through.
func TestExecutionsPagination(t *testing.T) {
	ctx := testContext(t, 15*time.Minute)
	since := time.Now().Add(-time.Second)
	prefix := fmt.Sprintf("page-%d-", time.Now().UnixNano())

	// Start them 16 at a time, each worker waiting for its execution to
	// end, so the functions' sandboxes stay few.
	work := make(chan int)
	errs := make(chan error, paginationRuns)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				errs <- startAndWait(t, prefix, i)
			}
		})
	}
	for i := range paginationRuns {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d executions started and ended in %s", paginationRuns, time.Since(since).Round(time.Second))

	ours := func(name string) bool { return strings.HasPrefix(name, prefix) }

	// The SDK's paginator, pages of 100.
	pages := sfn.NewListExecutionsPaginator(h.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.s.StateMachineARN), MaxResults: 100})
	seen, nPages := map[string]bool{}, 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nPages++
		for _, x := range page.Executions {
			name := aws.ToString(x.Name)
			if !ours(name) {
				continue
			}
			if seen[name] {
				t.Errorf("ListExecutions returned %s twice", name)
			}
			seen[name] = true
			if x.Status != sfntypes.ExecutionStatusSucceeded {
				t.Errorf("%s: %s, want SUCCEEDED", name, x.Status)
			}
		}
	}
	if len(seen) != paginationRuns || nPages <= paginationRuns/100 {
		t.Errorf("ListExecutions (pages of 100): %d of our %d executions in %d pages", len(seen), paginationRuns, nPages)
	}

	// asgdns executions --json: pages of 1000, then DescribeExecution
	// for each.
	stdout, stderr, code := asgdns(t, "executions", "--state-machine-arn", h.s.StateMachineARN,
		"--since", since.UTC().Format(time.RFC3339), "--json", "--read-rate", "1000")
	if code != 0 {
		t.Fatalf("asgdns executions: exit %d\n%s", code, stderr)
	}
	var doc struct {
		Count      int `json:"count"`
		Executions []struct {
			Name, Status, Transition, InstanceID, ASG string
		} `json:"executions"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("asgdns executions --json: %v\n%.2000s", err, stdout)
	}
	listed := map[string]bool{}
	for _, e := range doc.Executions {
		if ours(e.Name) {
			listed[e.Name] = true
			if e.Status != "SUCCEEDED" || e.Transition != "" || e.InstanceID != "" {
				t.Errorf("asgdns executions: %+v, want a SUCCEEDED test notification", e)
			}
		}
	}
	if len(listed) != paginationRuns || doc.Count != len(doc.Executions) {
		t.Errorf("asgdns executions --json: count %d, %d executions, %d of our %d", doc.Count, len(doc.Executions), len(listed), paginationRuns)
	}
	t.Logf("asgdns executions --json --since %s: count %d", since.UTC().Format(time.RFC3339), doc.Count)

	// --status FAILED over the same window finds none of them.
	stdout, stderr, code = asgdns(t, "executions", "--state-machine-arn", h.s.StateMachineARN,
		"--since", since.UTC().Format(time.RFC3339), "--status", "FAILED", "--json", "--read-rate", "1000")
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil {
		t.Fatalf("asgdns executions --status FAILED: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, e := range doc.Executions {
		if ours(e.Name) {
			t.Errorf("asgdns executions --status FAILED lists %+v", e)
		}
	}

	// The AWS CLI follows nextToken on its own (pages of 100 here).
	op := operatorCLI(t)
	var list struct {
		Executions []struct{ Name, Status string }
		NextToken  string
	}
	op.run(t, &list, "stepfunctions", "list-executions", "--state-machine-arn", h.s.StateMachineARN, "--status-filter", "SUCCEEDED")
	n := 0
	for _, e := range list.Executions {
		if ours(e.Name) {
			n++
		}
	}
	if n != paginationRuns || list.NextToken != "" {
		t.Errorf("aws stepfunctions list-executions: %d of our %d executions (nextToken %q)", n, paginationRuns, list.NextToken)
	}
}

// testNotification is an Auto Scaling test notification as EventBridge
// would deliver it: the workflow has nothing to do with it.
func testNotification(i int) string {
	return fmt.Sprintf(`{"version":"0","id":"00000000-0000-4000-8000-%012d","detail-type":"EC2 Instance-launch Lifecycle Action",`+
		`"source":"aws.autoscaling","account":"%s","time":"2026-11-20T08:00:00Z","region":"%s","resources":[],`+
		`"detail":{"AccountId":"%[2]s","AutoScalingGroupName":"pagination","Service":"AWS Auto Scaling","Event":"autoscaling:TEST_NOTIFICATION","Time":"2026-11-20T08:00:00Z"}}`,
		i, AppAccount, Region)
}

func startAndWait(t *testing.T, prefix string, i int) error {
	ctx := t.Context()
	name := fmt.Sprintf("%s%04d", prefix, i)
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.s.StateMachineARN), Name: aws.String(name), Input: aws.String(testNotification(i))})
	if err != nil {
		return fmt.Errorf("StartExecution %s: %w", name, err)
	}
	deadline := time.Now().Add(executionDeadline)
	for {
		d, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		switch {
		case err != nil:
			return fmt.Errorf("DescribeExecution %s: %w", name, err)
		case d.Status == sfntypes.ExecutionStatusSucceeded:
			return nil
		case d.Status != sfntypes.ExecutionStatusRunning:
			return fmt.Errorf("%s: %s (%s: %s)", name, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		case time.Now().After(deadline):
			return fmt.Errorf("%s still running after %s", name, executionDeadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
