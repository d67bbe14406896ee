package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/local/asl"
)

var ctx = context.Background()

func TestStartAndDescribe(t *testing.T) {
	w := newWorld(t)
	input := `{"instance": "i-0a1b2c3d4e5f60718"}` // kept verbatim, spaces included
	started := w.start("first", input)
	if got, want := aws.ToString(started.ExecutionArn), "arn:aws:states:eu-west-1:111111111111:execution:asgdns:first"; got != want {
		t.Errorf("executionArn = %s, want %s", got, want)
	}
	if !aws.ToTime(started.StartDate).Equal(testStart) {
		t.Errorf("startDate = %v, want %v", started.StartDate, testStart)
	}
	w.wait(*started.ExecutionArn)

	d := w.describe(*started.ExecutionArn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Name) != "first" || aws.ToString(d.StateMachineArn) != w.smArn {
		t.Errorf("describe = %s %s %s", d.Status, aws.ToString(d.Name), aws.ToString(d.StateMachineArn))
	}
	if aws.ToString(d.Input) != input || d.InputDetails == nil || !d.InputDetails.Included {
		t.Errorf("input = %q (%+v), want %q", aws.ToString(d.Input), d.InputDetails, input)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil || out["prepared"] != "prepared" || out["work"] == nil {
		t.Errorf("output = %s (%v)", aws.ToString(d.Output), err)
	}
	if !aws.ToTime(d.StartDate).Equal(testStart) || d.StopDate == nil || aws.ToTime(d.StopDate).Before(testStart) {
		t.Errorf("dates = %v, %v", d.StartDate, d.StopDate)
	}
	if d.Error != nil || d.Cause != nil || aws.ToInt32(d.RedriveCount) != 0 || d.RedriveDate != nil {
		t.Errorf("error %v, cause %v, redriveCount %d, redriveDate %v", d.Error, d.Cause, aws.ToInt32(d.RedriveCount), d.RedriveDate)
	}
	if d.RedriveStatus != types.ExecutionRedriveStatusNotRedrivable || aws.ToString(d.RedriveStatusReason) != "Execution is SUCCEEDED and cannot be redriven." {
		t.Errorf("redrive status = %s %q", d.RedriveStatus, aws.ToString(d.RedriveStatusReason))
	}

	// No name: a UUID, as AWS generates.
	unnamed := w.start("", "{}")
	name := strings.TrimPrefix(aws.ToString(unnamed.ExecutionArn), w.execArn(""))
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(name) {
		t.Errorf("generated name %q is not a UUID", name)
	}
	// No input: {}.
	noInput, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn), Name: aws.String("no-input")})
	if err != nil {
		t.Fatal(err)
	}
	if in := aws.ToString(w.describe(*noInput.ExecutionArn).Input); in != "{}" {
		t.Errorf("input without one = %q, want {}", in)
	}
}

func TestStateMachineOperations(t *testing.T) {
	w := newWorld(t)
	sm, err := w.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(w.smArn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sm.Name) != "asgdns" || aws.ToString(sm.RoleArn) != roleArn || sm.Type != types.StateMachineTypeStandard ||
		sm.Status != types.StateMachineStatusActive || !aws.ToTime(sm.CreationDate).Equal(testStart) {
		t.Errorf("DescribeStateMachine = %s %s %s %s %v", aws.ToString(sm.Name), aws.ToString(sm.RoleArn), sm.Type, sm.Status, sm.CreationDate)
	}
	// The definition as deployed: substitutions applied.
	if def := aws.ToString(sm.Definition); !strings.Contains(def, workArn) || strings.Contains(def, "${WorkArn}") {
		t.Errorf("definition is not substituted: %s", def)
	}
	if sm.LoggingConfiguration == nil || sm.LoggingConfiguration.Level != types.LogLevelOff {
		t.Errorf("loggingConfiguration = %+v", sm.LoggingConfiguration)
	}

	arn, _ := w.run("x", "{}")
	fx, err := w.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fx.StateMachineArn) != w.smArn || aws.ToString(fx.Definition) != aws.ToString(sm.Definition) || fx.UpdateDate == nil {
		t.Errorf("DescribeStateMachineForExecution = %s %v", aws.ToString(fx.StateMachineArn), fx.UpdateDate)
	}

	// A second machine; ListStateMachines pages through both.
	other, err := w.svc.AddStateMachine("other", []byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`), nil, roleArn)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pages := sfn.NewListStateMachinesPaginator(w.client, &sfn.ListStateMachinesInput{MaxResults: 1})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.StateMachines) != 1 {
			t.Errorf("page of %d state machines, want 1", len(page.StateMachines))
		}
		for _, m := range page.StateMachines {
			names = append(names, aws.ToString(m.Name))
		}
	}
	if !slices.Equal(names, []string{"asgdns", "other"}) {
		t.Errorf("state machines = %v", names)
	}
	if other != "arn:aws:states:eu-west-1:111111111111:stateMachine:other" {
		t.Errorf("ARN = %s", other)
	}
}

func TestAddStateMachine(t *testing.T) {
	w := newWorld(t)
	again, err := w.svc.AddStateMachine("asgdns", []byte(definition), map[string]string{"WorkArn": workArn}, roleArn)
	if err != nil || again != w.smArn {
		t.Errorf("same machine again = %s, %v; want %s", again, err, w.smArn)
	}
	for name, add := range map[string]func() (string, error){
		"changed definition": func() (string, error) {
			return w.svc.AddStateMachine("asgdns", []byte(definition), map[string]string{"WorkArn": workArn + "-2"}, roleArn)
		},
		"bad name": func() (string, error) { return w.svc.AddStateMachine("a b", []byte(definition), nil, roleArn) },
		"no role":  func() (string, error) { return w.svc.AddStateMachine("norole", []byte(definition), nil, "") },
		"invalid ASL": func() (string, error) {
			return w.svc.AddStateMachine("bad", []byte(`{"StartAt":"X","States":{}}`), nil, roleArn)
		},
	} {
		if arn, err := add(); err == nil {
			t.Errorf("%s: registered as %s, want an error", name, arn)
		}
	}
}

func TestStartExecutionIdempotency(t *testing.T) {
	w := newWorld(t)
	const input = `{"block": true}`
	first := w.start("same", input)

	// Same name and input while it runs: the same answer.
	again := w.start("same", input)
	if aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) || !aws.ToTime(again.StartDate).Equal(aws.ToTime(first.StartDate)) {
		t.Errorf("repeated start = %s %v, want %s %v", *again.ExecutionArn, again.StartDate, *first.ExecutionArn, first.StartDate)
	}
	// Same name, other input: already exists.
	_, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn), Name: aws.String("same"), Input: aws.String(`{"block":true}`)})
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("start with other input = %v, want ExecutionAlreadyExists", err)
	}
	if !strings.Contains(exists.ErrorMessage(), *first.ExecutionArn) {
		t.Errorf("message %q does not name the execution", exists.ErrorMessage())
	}

	// Once it has ended, even the same input is refused.
	if _, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: first.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn), Name: aws.String("same"), Input: aws.String(input)})
	wantCode(t, err, "ExecutionAlreadyExists")
}

func TestListExecutions(t *testing.T) {
	w := newWorld(t)
	// 250 executions, every fifth failing; exec-000 is the oldest.
	var arns []string
	for i := range 250 {
		name := fmt.Sprintf("exec-%03d", i)
		w.fault(name, i%5 == 0)
		arns = append(arns, aws.ToString(w.start(name, "{}").ExecutionArn))
	}
	for _, arn := range arns {
		w.wait(arn)
	}
	newestFirst := slices.Clone(arns)
	slices.Reverse(newestFirst)

	// Default page size 100: three pages, newest first, nothing repeated.
	var listed []string
	var sizes []int
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn)}
	for {
		page, err := w.client.ListExecutions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Executions))
		for _, e := range page.Executions {
			listed = append(listed, aws.ToString(e.ExecutionArn))
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) || !slices.Equal(listed, newestFirst) {
		t.Errorf("pages of %v; in order: %v", sizes, slices.Equal(listed, newestFirst))
	}

	// One page of up to 1000.
	all, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Executions) != 250 || all.NextToken != nil {
		t.Errorf("maxResults 1000: %d executions, nextToken %v", len(all.Executions), all.NextToken)
	}
	item := all.Executions[249] // exec-000: failed
	if aws.ToString(item.Name) != "exec-000" || item.Status != types.ExecutionStatusFailed || item.StopDate == nil ||
		aws.ToString(item.StateMachineArn) != w.smArn || item.RedriveCount == nil || *item.RedriveCount != 0 {
		t.Errorf("item = %s %s stop %v sm %s redriveCount %v", aws.ToString(item.Name), item.Status, item.StopDate, aws.ToString(item.StateMachineArn), item.RedriveCount)
	}

	// statusFilter, through the SDK's paginator with pages of 30.
	for status, want := range map[types.ExecutionStatus]int{types.ExecutionStatusFailed: 50, types.ExecutionStatusSucceeded: 200, types.ExecutionStatusRunning: 0} {
		got := 0
		pages := sfn.NewListExecutionsPaginator(w.client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), StatusFilter: status, MaxResults: 30})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Executions {
				if e.Status != status {
					t.Errorf("%s listed under %s", e.Status, status)
				}
				got++
			}
		}
		if got != want {
			t.Errorf("statusFilter %s: %d executions, want %d", status, got, want)
		}
	}

	// Paging is stable while new executions start: the second page carries
	// on where the first stopped.
	first, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), MaxResults: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		w.start(fmt.Sprintf("late-%d", i), "{}")
	}
	second, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), MaxResults: 10, NextToken: first.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(second.Executions[0].Name), "exec-239"; got != want {
		t.Errorf("second page starts at %s, want %s", got, want)
	}
}

func TestListExecutionsRejects(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		in   *sfn.ListExecutionsInput
		code string
	}{
		{"PENDING_REDRIVE with a state machine", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), StatusFilter: types.ExecutionStatusPendingRedrive}, "ValidationException"},
		{"maxResults over 1000", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), MaxResults: 1001}, "ValidationException"},
		{"unknown status", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), StatusFilter: "DONE"}, "ValidationException"},
		{"neither ARN", &sfn.ListExecutionsInput{}, "ValidationException"},
		{"both ARNs", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), MapRunArn: aws.String(w.smArn + "/map:run")}, "ValidationException"},
		{"map run", &sfn.ListExecutionsInput{MapRunArn: aws.String("arn:aws:states:eu-west-1:111111111111:mapRun:asgdns/map:1")}, "ResourceNotFound"},
		{"bad token", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), NextToken: aws.String("garbage")}, "InvalidToken"},
		{"unknown state machine", &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:eu-west-1:111111111111:stateMachine:nope")}, "StateMachineDoesNotExist"},
		{"execution ARN", &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.execArn("x"))}, "InvalidArn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.client.ListExecutions(ctx, tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

func TestGetExecutionHistory(t *testing.T) {
	w := newWorld(t)
	arn, _ := w.run("history", `{"n":1}`)

	// Pages of 2, oldest first, through the SDK's paginator.
	var events []types.HistoryEvent
	pages := sfn.NewGetExecutionHistoryPaginator(w.client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 2})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 2 {
			t.Errorf("page of %d events", len(page.Events))
		}
		events = append(events, page.Events...)
	}
	var typesSeen []string
	for i, ev := range events {
		if ev.Id != int64(i+1) || ev.Timestamp == nil || ev.Timestamp.Before(testStart) {
			t.Errorf("event %d: id %d, timestamp %v", i, ev.Id, ev.Timestamp)
		}
		typesSeen = append(typesSeen, string(ev.Type))
	}
	// A Lambda function ARN as the Resource: the Lambda events.
	wantTypes := []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "LambdaFunctionScheduled",
		"LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if !slices.Equal(typesSeen, wantTypes) {
		t.Errorf("history = %v\nwant      %v", typesSeen, wantTypes)
	}
	if d := events[0].ExecutionStartedEventDetails; d == nil || aws.ToString(d.Input) != `{"n":1}` || aws.ToString(d.RoleArn) != roleArn {
		t.Errorf("ExecutionStarted details = %+v", d)
	}

	// reverseOrder, in pages of 4.
	var reversed []int64
	rpages := sfn.NewGetExecutionHistoryPaginator(w.client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 4, ReverseOrder: true})
	for rpages.HasMorePages() {
		page, err := rpages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			reversed = append(reversed, ev.Id)
		}
	}
	if !slices.Equal(reversed, []int64{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) {
		t.Errorf("reverse order ids = %v", reversed)
	}

	// A token of one order is not valid for the other.
	first, err := w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, NextToken: first.NextToken})
	wantCode(t, err, "InvalidToken")

	// includeExecutionData false leaves out inputs and outputs.
	bare, err := w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if len(bare.Events) != len(wantTypes) {
		t.Fatalf("%d events without data, want %d", len(bare.Events), len(wantTypes))
	}
	if d := bare.Events[0].ExecutionStartedEventDetails; d == nil || d.Input != nil || aws.ToString(d.RoleArn) != roleArn {
		t.Errorf("ExecutionStarted without data = %+v", d)
	}
	if d := bare.Events[10].ExecutionSucceededEventDetails; d == nil || d.Output != nil {
		t.Errorf("ExecutionSucceeded without data = %+v", d)
	}
	if d := bare.Events[1].StateEnteredEventDetails; d == nil || aws.ToString(d.Name) != "Prepare" || d.Input != nil {
		t.Errorf("StateEntered without data = %+v", d)
	}
}

func TestStopExecution(t *testing.T) {
	w := newWorld(t)
	arn := aws.ToString(w.start("blocked", `{"block":true}`).ExecutionArn)
	if d := w.describe(arn); d.Status != types.ExecutionStatusRunning || d.StopDate != nil ||
		aws.ToString(d.RedriveStatusReason) != "Execution is RUNNING and cannot be redriven." {
		t.Errorf("running: %s stop %v reason %q", d.Status, d.StopDate, aws.ToString(d.RedriveStatusReason))
	}
	running, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), StatusFilter: types.ExecutionStatusRunning})
	if err != nil || len(running.Executions) != 1 {
		t.Fatalf("running executions: %v, %v", running, err)
	}

	stopped, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(arn), Error: aws.String("Operator"), Cause: aws.String("stopped by the test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// StopExecution answers once the execution has stopped.
	d := w.describe(arn)
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator" || aws.ToString(d.Cause) != "stopped by the test" ||
		!aws.ToTime(d.StopDate).Equal(aws.ToTime(stopped.StopDate)) || d.Output != nil {
		t.Errorf("after stop: %s %v %v stop %v (answered %v)", d.Status, d.Error, d.Cause, d.StopDate, stopped.StopDate)
	}
	if d.RedriveStatus != types.ExecutionRedriveStatusRedrivable || d.RedriveStatusReason != nil {
		t.Errorf("aborted execution: redrive %s %v, want REDRIVABLE", d.RedriveStatus, d.RedriveStatusReason)
	}
	hist, err := w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ev := hist.Events[0]; ev.Type != types.HistoryEventTypeExecutionAborted || aws.ToString(ev.ExecutionAbortedEventDetails.Error) != "Operator" {
		t.Errorf("last event = %s %+v", ev.Type, ev.ExecutionAbortedEventDetails)
	}

	// Stopping it again changes nothing.
	again, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String("Other")})
	if err != nil || !aws.ToTime(again.StopDate).Equal(aws.ToTime(stopped.StopDate)) {
		t.Errorf("second stop = %v, %v", again, err)
	}
	if got := aws.ToString(w.describe(arn).Error); got != "Operator" {
		t.Errorf("error after second stop = %q", got)
	}
}

func TestRedriveExecution(t *testing.T) {
	w := newWorld(t)
	w.fault("flaky", true)
	arn, res := w.run("flaky", `{"n":1}`)
	if res.Status != asl.StatusFailed {
		t.Fatalf("status = %s, want FAILED", res.Status)
	}
	d := w.describe(arn)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Broken" || aws.ToString(d.Cause) != "the test broke flaky" ||
		d.RedriveStatus != types.ExecutionRedriveStatusRedrivable || d.Output != nil {
		t.Errorf("failed: %s %v %v %s", d.Status, d.Error, d.Cause, d.RedriveStatus)
	}

	// Fix the fault and redrive: it continues in the Task and succeeds.
	w.fault("flaky", false)
	redriven, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String("token-1")})
	if err != nil {
		t.Fatal(err)
	}
	if res := w.wait(arn); res.Status != asl.StatusSucceeded || res.RedriveCount != 1 {
		t.Fatalf("after redrive: %s, redriveCount %d", res.Status, res.RedriveCount)
	}
	d = w.describe(arn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToInt32(d.RedriveCount) != 1 || !aws.ToTime(d.RedriveDate).Equal(aws.ToTime(redriven.RedriveDate)) ||
		d.Error != nil || !strings.Contains(aws.ToString(d.Output), `"attempt":2`) || !aws.ToTime(d.StartDate).Equal(testStart) {
		t.Errorf("after redrive: %s count %d date %v error %v output %s start %v", d.Status, aws.ToInt32(d.RedriveCount), d.RedriveDate, d.Error, aws.ToString(d.Output), d.StartDate)
	}
	hist, err := w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var redrivenEvents []types.HistoryEvent
	for _, ev := range hist.Events {
		if ev.Type == types.HistoryEventTypeExecutionRedriven {
			redrivenEvents = append(redrivenEvents, ev)
		}
	}
	if len(redrivenEvents) != 1 || aws.ToInt32(redrivenEvents[0].ExecutionRedrivenEventDetails.RedriveCount) != 1 {
		t.Fatalf("ExecutionRedriven events = %+v", redrivenEvents)
	}
	// The redrive date is the event's (on a VirtualClock, the execution's
	// own time).
	if !aws.ToTime(redrivenEvents[0].Timestamp).Equal(aws.ToTime(redriven.RedriveDate)) {
		t.Errorf("redriveDate %v, ExecutionRedriven at %v", redriven.RedriveDate, redrivenEvents[0].Timestamp)
	}

	// The same client token again: the same answer, no second redrive.
	again, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String("token-1")})
	if err != nil || !aws.ToTime(again.RedriveDate).Equal(aws.ToTime(redriven.RedriveDate)) {
		t.Errorf("repeated token = %v, %v", again, err)
	}
	if n := aws.ToInt32(w.describe(arn).RedriveCount); n != 1 {
		t.Errorf("redriveCount after a repeated token = %d", n)
	}
	// A new token for a SUCCEEDED execution: not redrivable.
	_, err = w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String("token-2")})
	var notRedrivable *types.ExecutionNotRedrivable
	if !errors.As(err, &notRedrivable) || !strings.Contains(notRedrivable.ErrorMessage(), "SUCCEEDED") {
		t.Errorf("redrive of a succeeded execution = %v, want ExecutionNotRedrivable", err)
	}
	// Tokens live 15 minutes.
	w.clock.Advance(16 * time.Minute)
	_, err = w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String("token-1")})
	wantCode(t, err, "ExecutionNotRedrivable")

	// redriveFilter.
	w.run("plain", "{}")
	for filter, want := range map[types.ExecutionRedriveFilter]string{types.ExecutionRedriveFilterRedriven: "flaky", types.ExecutionRedriveFilterNotRedriven: "plain"} {
		out, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.smArn), RedriveFilter: filter})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Executions) != 1 || aws.ToString(out.Executions[0].Name) != want {
			t.Errorf("redriveFilter %s = %+v", filter, out.Executions)
		} else if filter == types.ExecutionRedriveFilterRedriven && aws.ToInt32(out.Executions[0].RedriveCount) != 1 || (filter == types.ExecutionRedriveFilterRedriven && out.Executions[0].RedriveDate == nil) {
			t.Errorf("redriven item: count %d date %v", aws.ToInt32(out.Executions[0].RedriveCount), out.Executions[0].RedriveDate)
		}
	}
}

func TestRedriveRunningExecution(t *testing.T) {
	w := newWorld(t)
	arn := aws.ToString(w.start("running", `{"block":true}`).ExecutionArn)
	_, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn)})
	if msg := wantCode(t, err, "ExecutionNotRedrivable"); !strings.Contains(msg, "RUNNING") {
		t.Errorf("message %q", msg)
	}
}

// The service remembers the last 10 client tokens: the 11th oldest is
// forgotten and redrives again.
func TestRedriveClientTokensKept(t *testing.T) {
	w := newWorld(t)
	w.fault("always", true)
	arn, _ := w.run("always", "{}")
	redrive := func(token string) {
		t.Helper()
		if _, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String(token)}); err != nil {
			t.Fatalf("redrive with %s: %v", token, err)
		}
		w.wait(arn)
	}
	for i := range 11 {
		redrive(fmt.Sprintf("t%d", i))
	}
	count := func() int32 { return aws.ToInt32(w.describe(arn).RedriveCount) }
	if n := count(); n != 11 {
		t.Fatalf("redriveCount = %d, want 11", n)
	}
	redrive("t10") // remembered: no redrive
	if n := count(); n != 11 {
		t.Errorf("after a remembered token: redriveCount = %d, want 11", n)
	}
	redrive("t0") // forgotten: a new redrive
	if n := count(); n != 12 {
		t.Errorf("after a forgotten token: redriveCount = %d, want 12", n)
	}
}

func TestRedriveWindow(t *testing.T) {
	w := newWorld(t)
	w.fault("old", true)
	arn, _ := w.run("old", "{}")
	w.clock.Advance(14 * 24 * time.Hour)
	if d := w.describe(arn); d.RedriveStatus != types.ExecutionRedriveStatusRedrivable {
		t.Errorf("14 days after: %s %q, want REDRIVABLE", d.RedriveStatus, aws.ToString(d.RedriveStatusReason))
	}
	w.clock.Advance(time.Second)
	d := w.describe(arn)
	if d.RedriveStatus != types.ExecutionRedriveStatusNotRedrivable || aws.ToString(d.RedriveStatusReason) != "Execution redrivable period exceeded." {
		t.Errorf("past 14 days: %s %q", d.RedriveStatus, aws.ToString(d.RedriveStatusReason))
	}
	_, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn)})
	if msg := wantCode(t, err, "ExecutionNotRedrivable"); !strings.Contains(msg, "redrivable period exceeded") {
		t.Errorf("message %q", msg)
	}
}

func TestErrorCodes(t *testing.T) {
	w := newWorld(t)
	missing := w.execArn("missing")
	unknownMachine := "arn:aws:states:eu-west-1:111111111111:stateMachine:nope"
	start := func(name, input string) func() error {
		return func() error {
			in := &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn), Input: aws.String(input)}
			if name != "" {
				in.Name = aws.String(name)
			}
			_, err := w.client.StartExecution(ctx, in)
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
		typ  any // the SDK's modelled error type, when it has one
	}{
		{"name with a space", start("a b", "{}"), "InvalidName", new(*types.InvalidName)},
		{"name with a slash", start("a/b", "{}"), "InvalidName", new(*types.InvalidName)},
		{"name with a control character", start("a\x01b", "{}"), "InvalidName", new(*types.InvalidName)},
		{"name of 81 characters", start(strings.Repeat("n", 81), "{}"), "InvalidName", new(*types.InvalidName)},
		{"input not JSON", start("bad-input", "{"), "InvalidExecutionInput", new(*types.InvalidExecutionInput)},
		{"input too large", start("big", `"`+strings.Repeat("x", 262144)+`"`), "ValidationException", new(*types.ValidationException)},
		{"start on unknown machine", func() error {
			_, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(unknownMachine)})
			return err
		}, "StateMachineDoesNotExist", new(*types.StateMachineDoesNotExist)},
		{"start on an execution ARN", func() error {
			_, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(missing)})
			return err
		}, "InvalidArn", new(*types.InvalidArn)},
		{"describe unknown execution", func() error {
			_, err := w.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(missing)})
			return err
		}, "ExecutionDoesNotExist", new(*types.ExecutionDoesNotExist)},
		{"describe with a malformed ARN", func() error {
			_, err := w.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, "InvalidArn", new(*types.InvalidArn)},
		{"describe with a state machine ARN", func() error {
			_, err := w.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(w.smArn)})
			return err
		}, "InvalidArn", new(*types.InvalidArn)},
		{"history of unknown execution", func() error {
			_, err := w.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(missing)})
			return err
		}, "ExecutionDoesNotExist", new(*types.ExecutionDoesNotExist)},
		{"stop unknown execution", func() error {
			_, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(missing)})
			return err
		}, "ExecutionDoesNotExist", new(*types.ExecutionDoesNotExist)},
		{"stop with a cause too long", func() error {
			_, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(missing), Cause: aws.String(strings.Repeat("c", 32769))})
			return err
		}, "ValidationException", new(*types.ValidationException)},
		{"redrive unknown execution", func() error {
			_, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(missing)})
			return err
		}, "ExecutionDoesNotExist", new(*types.ExecutionDoesNotExist)},
		{"redrive with a bad client token", func() error {
			_, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(missing), ClientToken: aws.String("has space")})
			return err
		}, "ValidationException", new(*types.ValidationException)},
		{"describe unknown state machine", func() error {
			_, err := w.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(unknownMachine)})
			return err
		}, "StateMachineDoesNotExist", new(*types.StateMachineDoesNotExist)},
		{"describe a state machine version", func() error {
			_, err := w.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(w.smArn + ":1")})
			return err
		}, "StateMachineDoesNotExist", new(*types.StateMachineDoesNotExist)},
		{"state machine of unknown execution", func() error {
			_, err := w.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(missing)})
			return err
		}, "ExecutionDoesNotExist", new(*types.ExecutionDoesNotExist)},
		{"list state machines with a bad token", func() error {
			_, err := w.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{NextToken: aws.String("garbage")})
			return err
		}, "InvalidToken", new(*types.InvalidToken)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, tc.code)
			if !errors.As(err, tc.typ) {
				t.Errorf("the SDK did not decode %T from %v", tc.typ, err)
			}
		})
	}
}

// The local stack runs on the real clock.
func TestRealClock(t *testing.T) {
	w := newWorld(t, withRealClock)
	before := time.Now().Add(-time.Second)
	arn, res := w.run("real", "{}")
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("status %s", res.Status)
	}
	d := w.describe(arn)
	if aws.ToTime(d.StartDate).Before(before) || aws.ToTime(d.StopDate).Before(aws.ToTime(d.StartDate)) || time.Since(aws.ToTime(d.StopDate)) > time.Minute {
		t.Errorf("dates %v %v are not now", d.StartDate, d.StopDate)
	}
}
