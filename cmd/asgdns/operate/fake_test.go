package operate

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

const (
	testStateMachine = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns"
	testExecPrefix   = "arn:aws:states:eu-west-1:111111111111:execution:asgdns:"
)

// testNow is the fake clock: a few hours after the fixture events.
var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fakeExecution is one execution the fake Step Functions knows.
type fakeExecution struct {
	name          string
	status        types.ExecutionStatus
	start, stop   time.Time
	input         string
	err, cause    string
	redriveStatus types.ExecutionRedriveStatus
	redriveReason string
	redriveCount  int32
	redriveDate   *time.Time
	// versionArn and aliasArn are what it was started through ("" for
	// the unqualified ARN).
	versionArn, aliasArn string
	// history in ascending order, as Step Functions records it.
	history []types.HistoryEvent
}

func (e *fakeExecution) arn() string { return testExecPrefix + e.name }

// fakeSFN is an in-memory Step Functions with the documented behaviour the
// commands rely on: ListExecutions newest first, paged, with one status
// filter; GetExecutionHistory in either order; RedriveExecution only when
// redrivable, idempotent per ClientToken; StartExecution idempotent by name
// only while the execution runs. It records every call.
type fakeSFN struct {
	mu    sync.Mutex
	execs []*fakeExecution
	// pageCap caps a ListExecutions page below MaxResults, as the API may
	// ("only an upper limit").
	pageCap int
	// fail makes an operation fail: key "Op" or "Op <execution name>".
	fail map[string]error

	calls    map[string]int
	lists    []sfn.ListExecutionsInput
	redrives []sfn.RedriveExecutionInput
	starts   []sfn.StartExecutionInput
	tokens   map[string]bool
	// aliases of testStateMachine (ListStateMachineAliases); versions maps
	// each alias to the version it points to, for StartExecution.
	aliases map[string]string
}

func newFakeSFN(execs ...*fakeExecution) *fakeSFN {
	return &fakeSFN{execs: execs, calls: map[string]int{}, tokens: map[string]bool{}, fail: map[string]error{}}
}

func (f *fakeSFN) record(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if err := f.fail[op+" "+name]; err != nil {
		return err
	}
	return f.fail[op]
}

func (f *fakeSFN) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeSFN) find(arn string) *fakeExecution {
	for _, e := range f.execs {
		if e.arn() == arn {
			return e
		}
	}
	return nil
}

func nameOf(arn *string) string {
	return strings.TrimPrefix(aws.ToString(arn), testExecPrefix)
}

func validation(msg string) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: msg}
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	if err := f.record("ListExecutions", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, *in)
	if aws.ToString(in.StateMachineArn) != testStateMachine {
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("no such state machine")}
	}
	if in.StatusFilter == types.ExecutionStatusPendingRedrive {
		return nil, validation("PENDING_REDRIVE statusFilter needs a mapRunArn")
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, validation("maxResults must be 0-1000")
	}
	size := int(cmp.Or(in.MaxResults, 100))
	if f.pageCap > 0 {
		size = min(size, f.pageCap)
	}
	var all []*fakeExecution
	for _, e := range f.execs {
		if in.StatusFilter == "" || e.status == in.StatusFilter {
			all = append(all, e)
		}
	}
	slices.SortStableFunc(all, func(a, b *fakeExecution) int { return b.start.Compare(a.start) })
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	out := &sfn.ListExecutionsOutput{Executions: []types.ExecutionListItem{}}
	for _, e := range all[from:min(from+size, len(all))] {
		out.Executions = append(out.Executions, types.ExecutionListItem{
			ExecutionArn: aws.String(e.arn()), Name: aws.String(e.name), StartDate: aws.Time(e.start),
			StateMachineArn: aws.String(testStateMachine), Status: e.status,
			RedriveCount: aws.Int32(e.redriveCount), RedriveDate: e.redriveDate, StopDate: stopPtr(e),
		})
	}
	if from+size < len(all) {
		out.NextToken = aws.String(strconv.Itoa(from + size))
	}
	return out, nil
}

func stopPtr(e *fakeExecution) *time.Time {
	if e.stop.IsZero() {
		return nil
	}
	return aws.Time(e.stop)
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if err := f.record("DescribeExecution", nameOf(in.ExecutionArn)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.find(aws.ToString(in.ExecutionArn))
	if e == nil {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + aws.ToString(in.ExecutionArn) + "'")}
	}
	out := &sfn.DescribeExecutionOutput{
		ExecutionArn: aws.String(e.arn()), Name: aws.String(e.name), StateMachineArn: aws.String(testStateMachine),
		Status: e.status, StartDate: aws.Time(e.start), StopDate: stopPtr(e), Input: aws.String(e.input),
		RedriveCount: aws.Int32(e.redriveCount), RedriveDate: e.redriveDate, RedriveStatus: e.redriveStatus,
	}
	if e.err != "" {
		out.Error, out.Cause = aws.String(e.err), aws.String(e.cause)
	}
	if e.redriveReason != "" {
		out.RedriveStatusReason = aws.String(e.redriveReason)
	}
	if e.versionArn != "" {
		out.StateMachineVersionArn = aws.String(e.versionArn)
	}
	if e.aliasArn != "" {
		out.StateMachineAliasArn = aws.String(e.aliasArn)
	}
	return out, nil
}

func (f *fakeSFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if err := f.record("GetExecutionHistory", nameOf(in.ExecutionArn)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.find(aws.ToString(in.ExecutionArn))
	if e == nil {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	events := slices.Clone(e.history)
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	size := int(cmp.Or(in.MaxResults, 100))
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	out := &sfn.GetExecutionHistoryOutput{Events: events[from:min(from+size, len(events))]}
	if from+size < len(events) {
		out.NextToken = aws.String(strconv.Itoa(from + size))
	}
	return out, nil
}

func (f *fakeSFN) RedriveExecution(_ context.Context, in *sfn.RedriveExecutionInput, _ ...func(*sfn.Options)) (*sfn.RedriveExecutionOutput, error) {
	if err := f.record("RedriveExecution", nameOf(in.ExecutionArn)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redrives = append(f.redrives, *in)
	e := f.find(aws.ToString(in.ExecutionArn))
	if e == nil {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no such execution")}
	}
	token := aws.ToString(in.ClientToken)
	if f.tokens[e.name+"/"+token] {
		return &sfn.RedriveExecutionOutput{RedriveDate: e.redriveDate}, nil // idempotent retry
	}
	if e.redriveStatus != types.ExecutionRedriveStatusRedrivable {
		return nil, &types.ExecutionNotRedrivable{Message: aws.String(e.redriveReason)}
	}
	f.tokens[e.name+"/"+token] = true
	now := testNow
	e.status, e.stop, e.redriveCount, e.redriveDate = types.ExecutionStatusRunning, time.Time{}, e.redriveCount+1, &now
	e.redriveStatus, e.redriveReason = types.ExecutionRedriveStatusNotRedrivable, "Execution is RUNNING and cannot be redriven"
	e.history = append(e.history, types.HistoryEvent{Type: types.HistoryEventTypeExecutionRedriven, Timestamp: &now})
	return &sfn.RedriveExecutionOutput{RedriveDate: &now}, nil
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if err := f.record("StartExecution", aws.ToString(in.Name)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, *in)
	if e := f.find(testExecPrefix + aws.ToString(in.Name)); e != nil {
		if e.status == types.ExecutionStatusRunning && e.input == aws.ToString(in.Input) {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(e.arn()), StartDate: aws.Time(e.start)}, nil
		}
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + e.arn() + "'")}
	}
	e := &fakeExecution{name: aws.ToString(in.Name), status: types.ExecutionStatusRunning, start: testNow, input: aws.ToString(in.Input),
		redriveStatus: types.ExecutionRedriveStatusNotRedrivable, redriveReason: "Execution is RUNNING and cannot be redriven"}
	switch arn := aws.ToString(in.StateMachineArn); {
	case arn == testStateMachine:
	case f.aliases[arn] != "":
		e.aliasArn, e.versionArn = arn, f.aliases[arn]
	default:
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + arn + "'")}
	}
	f.execs = append(f.execs, e)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(e.arn()), StartDate: aws.Time(e.start)}, nil
}

func (f *fakeSFN) ListStateMachineAliases(_ context.Context, in *sfn.ListStateMachineAliasesInput, _ ...func(*sfn.Options)) (*sfn.ListStateMachineAliasesOutput, error) {
	if err := f.record("ListStateMachineAliases", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.StateMachineArn) != testStateMachine {
		// The API takes only the unqualified ARN.
		return nil, validation("not an unqualified state machine ARN: " + aws.ToString(in.StateMachineArn))
	}
	out := &sfn.ListStateMachineAliasesOutput{}
	for _, arn := range slices.Sorted(maps.Keys(f.aliases)) {
		out.StateMachineAliases = append(out.StateMachineAliases, types.StateMachineAliasListItem{StateMachineAliasArn: aws.String(arn), CreationDate: aws.Time(testNow)})
	}
	return out, nil
}

// fakeCloudFormation answers DescribeStacks for one stack.
type fakeCloudFormation struct {
	stack   string
	outputs map[string]string
	calls   int
}

func (f *fakeCloudFormation) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.calls++
	if aws.ToString(in.StackName) != f.stack {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: fmt.Sprintf("Stack with id %s does not exist", aws.ToString(in.StackName))}
	}
	st := cfntypes.Stack{StackName: aws.String(f.stack)}
	for k, v := range f.outputs {
		st.Outputs = append(st.Outputs, cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{st}}, nil
}
