package operate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// reader makes the read-only Step Functions calls, all through one limiter
// and never more than concurrency at a time.
type reader struct {
	sfn         SFN
	limit       *limiter
	concurrency int
	progress    *progress
	now         func() time.Time
}

// pageSize is ListExecutions' maximum: a window of thousands of executions
// takes a handful of calls (ListExecutions refills at only 2-5 per second).
const pageSize = 1000

// list pages through the state machine's executions, newest first (the
// order ListExecutions documents), keeping those started inside the window
// for which keep says yes. It stops at the first execution older than
// Since: everything after it is older still.
func (r *reader) list(ctx context.Context, stateMachineARN string, q query, keep func(types.ExecutionListItem) bool) ([]types.ExecutionListItem, error) {
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN), MaxResults: pageSize}
	// Step Functions filters by one status only, and refuses PENDING_REDRIVE
	// for a state machine (it is a Map Run status); anything else is
	// filtered here.
	if len(q.Statuses) == 1 && q.Statuses[0] != types.ExecutionStatusPendingRedrive {
		in.StatusFilter = q.Statuses[0]
	}
	var out []types.ExecutionListItem
	pages := sfn.NewListExecutionsPaginator(r.sfn, in)
	for pages.HasMorePages() {
		if err := r.limit.Wait(ctx); err != nil {
			return nil, err
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list executions of %s: %w", stateMachineARN, err)
		}
		for _, item := range page.Executions {
			start := aws.ToTime(item.StartDate)
			if !q.Until.IsZero() && start.After(q.Until) {
				continue
			}
			if !q.Since.IsZero() && start.Before(q.Since) {
				return out, nil
			}
			if keep(item) {
				out = append(out, item)
			}
		}
	}
	return out, nil
}

// statusIn keeps the executions whose status is one of statuses (all of
// them when statuses is empty).
func statusIn(statuses []types.ExecutionStatus) func(types.ExecutionListItem) bool {
	return func(item types.ExecutionListItem) bool {
		return len(statuses) == 0 || slices.Contains(statuses, item.Status)
	}
}

// described is one DescribeExecution answer, or why there is none.
type described struct {
	Execution
	err error
}

// describeAll describes the executions concurrently, keeping their order.
func (r *reader) describeAll(ctx context.Context, items []types.ExecutionListItem) []described {
	out := make([]described, len(items))
	r.progress.start("reading", len(items))
	defer r.progress.finish()
	r.each(len(items), func(i int) {
		arn := aws.ToString(items[i].ExecutionArn)
		d, err := r.describe(ctx, arn)
		if err != nil {
			out[i] = described{Execution: Execution{Name: aws.ToString(items[i].Name), ARN: arn, Status: string(items[i].Status)}, err: err}
		} else {
			out[i] = described{Execution: newExecution(d, r.now())}
		}
		r.progress.step()
	})
	return out
}

// each runs fn(0) … fn(n-1) on at most r.concurrency goroutines.
func (r *reader) each(n int, fn func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(r.concurrency, n) {
		wg.Go(func() {
			for i := range work {
				fn(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

func (r *reader) describe(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	if err := r.limit.Wait(ctx); err != nil {
		return nil, err
	}
	d, err := r.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	return d, nil
}

// ending is where an execution stopped: the last state it entered and the
// input that state received (for a Fail state, the whole state document).
type ending struct {
	State     string
	Type      types.HistoryEventType
	Input     string
	Truncated bool
}

// historyPages bounds how far back lastState looks. A Task's retries add
// three events each, so the last state entered is normally within the
// first page of 100.
const historyPages = 10

// lastState reads the execution history backwards to the last state the
// execution entered. No state at all gives a zero ending.
func (r *reader) lastState(ctx context.Context, arn string) (ending, error) {
	in := &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 100, IncludeExecutionData: aws.Bool(true),
	}
	pages := sfn.NewGetExecutionHistoryPaginator(r.sfn, in)
	for n := 0; n < historyPages && pages.HasMorePages(); n++ {
		if err := r.limit.Wait(ctx); err != nil {
			return ending{}, err
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			return ending{}, fmt.Errorf("read history of %s: %w", arn, err)
		}
		for _, ev := range page.Events {
			d := ev.StateEnteredEventDetails
			if d == nil || !strings.HasSuffix(string(ev.Type), "StateEntered") {
				continue
			}
			e := ending{State: aws.ToString(d.Name), Type: ev.Type, Input: aws.ToString(d.Input)}
			if d.InputDetails != nil {
				e.Truncated = d.InputDetails.Truncated
			}
			return e, nil
		}
	}
	return ending{}, nil
}
