package operate

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

// scenario is one execution and what replay must plan for it.
type scenario struct {
	exec       *fakeExecution
	action     Action
	result     string // in a dry run
	endedIn    string
	reason     string // a phrase the reason must contain
	replayName string
}

const otherInstance = "i-0fedcba9876543210"

// scenarios are the cases replay distinguishes, each a realistic execution:
// a fixture event as input and a history shaped like GetExecutionHistory.
func scenarios(t *testing.T) []scenario {
	launch := event(t, "launch")
	terminate := event(t, "terminate")
	lcFailed := func(result workflow.LifecycleActionResult) workflow.LifecycleResult {
		return workflow.LifecycleResult{Completed: true, Result: result, Error: "CommandFailed",
			Reason: "DNS work failed (CommandFailed): " + string(result) + " per onFailure policy",
			Cause:  "The DNS command failed on the DC. For instance i-0a1b2c3d4e5f60718 of ASG \"web-prod\": DNS work failed (CommandFailed): " + string(result) + "."}
	}

	taskFailure := failed("task-runtime-error", 10, launch, types.HistoryEventTypeExecutionFailed, throughSend...)
	taskFailure.err, taskFailure.cause = "States.Runtime", "An error occurred while executing the state 'Send DNS command'."

	aborted := failed("aborted-not-redrivable", 20, event(t, "launch", instance(otherInstance)), types.HistoryEventTypeExecutionAborted, throughPoll...)
	aborted.redriveStatus, aborted.redriveReason = types.ExecutionRedriveStatusNotRedrivable, "Execution redrivable period exceeded"

	tooLong := failed("history-too-long", 21, launch, types.HistoryEventTypeExecutionFailed, throughSend...)
	tooLong.redriveStatus, tooLong.redriveReason = types.ExecutionRedriveStatusNotRedrivable, "Execution history event limit exceeded"

	releaseFailed := failed("release-failed", 22, terminate, types.HistoryEventTypeExecutionFailed,
		append(throughPoll[:len(throughPoll):len(throughPoll)], task("Release instance"),
			entered{name: "Release failed", typ: types.HistoryEventTypeFailStateEntered})...)

	abortedReleasing := failed("aborted-while-releasing", 23, launch, types.HistoryEventTypeExecutionAborted,
		append(throughPoll[:len(throughPoll):len(throughPoll)], task("Release instance"))...)

	redrivenRunning := failed("redriven-running", 30, launch, types.HistoryEventTypeExecutionFailed, throughSend...)
	redrivenRunning.status, redrivenRunning.stop, redrivenRunning.redriveCount = types.ExecutionStatusRunning, time.Time{}, 1
	redrivenRunning.redriveStatus, redrivenRunning.redriveReason = types.ExecutionRedriveStatusNotRedrivable, "Execution is RUNNING and cannot be redriven"
	redrivenRunning.redriveDate = aws.Time(testNow.Add(-5 * time.Minute))

	redrivenSucceeded := succeeded("redriven-succeeded", 31, terminate)
	redrivenSucceeded.redriveCount, redrivenSucceeded.redriveDate = 2, aws.Time(testNow.Add(-6*time.Minute))

	failedAgain := failed("redriven-failed-again", 32, launch, types.HistoryEventTypeExecutionFailed, throughSend...)
	failedAgain.redriveCount, failedAgain.redriveDate = 1, aws.Time(testNow.Add(-7*time.Minute))

	truncated := failedAfterRelease(t, "truncated-input", 40, launch, lcFailed(workflow.Continue))
	for i := range truncated.history {
		if d := truncated.history[i].StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == stateDNSWorkFailed {
			d.Input, d.InputDetails = aws.String(""), &types.HistoryEventExecutionDataDetails{Truncated: true}
		}
	}

	hookExpired := workflow.LifecycleResult{AlreadyCompleted: true, Result: workflow.Abandon, Error: "Unavailable",
		Reason: "DNS work failed (Unavailable); ABANDON not applied: the lifecycle action was already completed or the hook timed out"}
	noToken := workflow.LifecycleResult{Error: "Unavailable",
		Reason: "DNS work failed (Unavailable); nothing to complete: the event carries no lifecycle action token"}

	return []scenario{
		{exec: taskFailure, action: ActionRedrive, result: resultPlanned, endedIn: "Send DNS command",
			reason: `stopped in "Send DNS command" before the instance was released: a redrive continues from there`},
		{exec: failed("timed-out-polling", 11, terminate, types.HistoryEventTypeExecutionTimedOut, throughPoll...),
			action: ActionRedrive, result: resultPlanned, endedIn: "Wait for DNS command", reason: "a redrive continues"},
		{exec: failedAfterRelease(t, "launch-released-continue", 12, launch, lcFailed(workflow.Continue)),
			action: ActionRestart, result: resultPlanned, endedIn: stateDNSWorkFailed, replayName: "replay-launch-released-continue",
			reason: "released with CONTINUE: the instance is in service without its record"},
		{exec: failedAfterRelease(t, "launch-released-abandon", 13, launch, lcFailed(workflow.Abandon)),
			action: ActionSkip, result: resultSkipped, endedIn: stateDNSWorkFailed,
			reason: "released with ABANDON: Auto Scaling terminated the instance, and its replacement registers itself"},
		{exec: failedAfterRelease(t, "launch-hook-expired", 14, launch, hookExpired),
			action: ActionRestart, result: resultPlanned, endedIn: stateDNSWorkFailed, replayName: "replay-launch-hook-expired",
			reason: "after the hook had already ended"},
		{exec: failedAfterRelease(t, "terminate-released", 15, terminate, lcFailed(workflow.Continue)),
			action: ActionRestart, result: resultPlanned, endedIn: stateDNSWorkFailed, replayName: "replay-terminate-released",
			reason: "a new execution removes the record"},
		{exec: failedAfterRelease(t, "launch-no-token", 16, event(t, "launch-no-token"), noToken),
			action: ActionRestart, result: resultPlanned, endedIn: stateDNSWorkFailed, replayName: "replay-launch-no-token",
			reason: "no lifecycle action held the instance"},
		{exec: aborted, action: ActionRestart, result: resultPlanned, endedIn: "Wait for DNS command",
			replayName: "replay-aborted-not-redrivable", reason: "cannot be redriven (Execution redrivable period exceeded)"},
		{exec: tooLong, action: ActionRestart, result: resultPlanned, endedIn: "Send DNS command",
			replayName: "replay-history-too-long", reason: "Execution history event limit exceeded"},
		{exec: releaseFailed, action: ActionRestart, result: resultPlanned, endedIn: stateReleaseFailed,
			replayName: "replay-release-failed", reason: "would only re-enter that Fail state"},
		{exec: abortedReleasing, action: ActionRestart, result: resultPlanned, endedIn: stateReleaseInstance,
			replayName: "replay-aborted-while-releasing", reason: "would only finish the release"},
		{exec: failedAfterRelease(t, "already-restarted", 17, launch, lcFailed(workflow.Continue)),
			action: ActionSkip, result: resultSkipped, endedIn: stateDNSWorkFailed, replayName: "replay-already-restarted",
			reason: "already restarted as replay-already-restarted, now SUCCEEDED"},
		{exec: redrivenRunning, action: ActionSkip, result: resultSkipped,
			reason: "already redriven (redriven 1 time, last at 2026-11-20T11:55:00Z), now RUNNING"},
		{exec: redrivenSucceeded, action: ActionSkip, result: resultSkipped, reason: "already redriven (redriven 2 times"},
		{exec: failedAgain, action: ActionRedrive, result: resultPlanned, endedIn: "Send DNS command",
			reason: "(earlier: redriven 1 time, last at 2026-11-20T11:53:00Z)"},
		{exec: failedAfterRelease(t, "test-notification", 33, event(t, "test-notification"), lcFailed(workflow.Continue)),
			action: ActionSkip, result: resultSkipped, reason: "no DNS work for this event (Auto Scaling test notification"},
		{exec: failed("warm-pool-launch", 34, event(t, "launch-into-warm-pool"), types.HistoryEventTypeExecutionFailed, throughSend...),
			action: ActionSkip, result: resultSkipped, reason: "no DNS work for this event (launching into the warm pool"},
		{exec: failed("not-an-event", 35, `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`,
			types.HistoryEventTypeExecutionFailed, task("Describe instance")),
			action: ActionSkip, result: resultSkipped, reason: "the input is not an event asgdns can act on"},
		{exec: truncated, action: ActionRestart, result: resultPlanned, endedIn: stateDNSWorkFailed,
			replayName: "replay-truncated-input", reason: "the release's result is unreadable"},
	}
}

// world is the scenarios plus executions replay must leave out: successes
// never redriven, and the restart an earlier replay made.
func world(t *testing.T) (*fakeSFN, map[string]scenario) {
	byName := map[string]scenario{}
	f := newFakeSFN()
	for _, sc := range scenarios(t) {
		byName[sc.exec.name] = sc
		f.execs = append(f.execs, sc.exec)
	}
	f.execs = append(f.execs,
		succeeded("fine-launch", 1, event(t, "launch")),
		succeeded("replay-already-restarted", 2, byName["already-restarted"].exec.input))
	return f, byName
}

func TestReplayPlansEachCase(t *testing.T) {
	f, want := world(t)
	te := newTestEnv(f)
	code, doc := te.replay(t)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, te.stderr.String())
	}
	if !doc.DryRun {
		t.Error("dryRun = false without --yes")
	}
	var got []string
	for _, st := range doc.Steps {
		got = append(got, st.Execution.Name)
		sc, ok := want[st.Execution.Name]
		if !ok {
			t.Errorf("%s: selected, but it is not a failure or a redriven execution", st.Execution.Name)
			continue
		}
		t.Run(sc.exec.name, func(t *testing.T) {
			if st.Action != sc.action || st.Result != sc.result {
				t.Errorf("action %s, result %s; want %s, %s (reason: %s)", st.Action, st.Result, sc.action, sc.result, st.Reason)
			}
			if !strings.Contains(st.Reason, sc.reason) {
				t.Errorf("reason %q\nwant it to contain %q", st.Reason, sc.reason)
			}
			if st.EndedIn != sc.endedIn {
				t.Errorf("endedIn %q, want %q", st.EndedIn, sc.endedIn)
			}
			if st.ReplayName != sc.replayName {
				t.Errorf("replayName %q, want %q", st.ReplayName, sc.replayName)
			}
			if st.Error != "" {
				t.Errorf("error %q", st.Error)
			}
		})
	}
	if len(got) != len(want) {
		t.Errorf("planned %d executions %v, want the %d scenarios", len(got), got, len(want))
	}
	if n := f.count("RedriveExecution") + f.count("StartExecution"); n != 0 {
		t.Errorf("a dry run made %d mutating calls", n)
	}
	wantSummary := Summary{Redrive: 3, Restart: 9, Skip: 7}
	if doc.Summary != wantSummary {
		t.Errorf("summary %+v, want %+v", doc.Summary, wantSummary)
	}
}

func TestReplayYesDoesExactlyThePlanThenNothing(t *testing.T) {
	f, want := world(t)
	te := newTestEnv(f)
	// The fake changes its executions as it goes: note what the plan is
	// made from first.
	originalInput, redriveCount := map[string]string{}, map[string]int{}
	for name, sc := range want {
		originalInput[name], redriveCount[name] = sc.exec.input, int(sc.exec.redriveCount)
	}

	code, doc := te.replay(t, "--yes")
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, te.stderr.String())
	}
	if doc.DryRun {
		t.Error("dryRun = true with --yes")
	}

	var wantRedrives, gotRedrives, wantStarts, gotStarts []string
	for name, sc := range want {
		switch sc.action {
		case ActionRedrive:
			wantRedrives = append(wantRedrives, name+" "+redriveToken(testExecPrefix+name, redriveCount[name]))
		case ActionRestart:
			wantStarts = append(wantStarts, sc.replayName+" <- "+name)
		}
	}
	for _, in := range f.redrives {
		gotRedrives = append(gotRedrives, nameOf(in.ExecutionArn)+" "+aws.ToString(in.ClientToken))
	}
	for _, in := range f.starts {
		if aws.ToString(in.StateMachineArn) != testStateMachine {
			t.Errorf("started %s on %s", aws.ToString(in.Name), aws.ToString(in.StateMachineArn))
		}
		original := strings.TrimPrefix(aws.ToString(in.Name), replayPrefix)
		// A termination's restart keeps the name it was removing
		// ($.instance of the failed execution); any other restart starts
		// from the original event alone.
		var got, orig map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(in.Input)), &got); err != nil {
			t.Fatal(err)
		}
		kept, _ := json.Marshal(got["instance"])
		delete(got, "instance")
		if err := json.Unmarshal([]byte(originalInput[original]), &orig); err != nil || !reflect.DeepEqual(got, orig) {
			t.Errorf("%s: input is not the original execution's input", aws.ToString(in.Name))
		}
		// Only terminate-released's history holds the $.instance it failed with.
		isTerminate := original == "terminate-released"
		var inst workflow.InstanceResult
		switch {
		case isTerminate && (json.Unmarshal(kept, &inst) != nil || inst.Record == nil || inst.Record.FQDN != keptInstance.Record.FQDN):
			t.Errorf("%s: a termination's restart does not carry the record it was removing: %s", aws.ToString(in.Name), kept)
		case !isTerminate && string(kept) != "null":
			t.Errorf("%s: a launch's restart carries %s; it must derive its record afresh", aws.ToString(in.Name), kept)
		}
		gotStarts = append(gotStarts, aws.ToString(in.Name)+" <- "+original)
	}
	slices.Sort(wantRedrives)
	slices.Sort(gotRedrives)
	slices.Sort(wantStarts)
	slices.Sort(gotStarts)
	if !slices.Equal(gotRedrives, wantRedrives) {
		t.Errorf("redrives:\n%s\nwant:\n%s", strings.Join(gotRedrives, "\n"), strings.Join(wantRedrives, "\n"))
	}
	if !slices.Equal(gotStarts, wantStarts) {
		t.Errorf("starts:\n%s\nwant:\n%s", strings.Join(gotStarts, "\n"), strings.Join(wantStarts, "\n"))
	}
	for _, st := range doc.Steps {
		wantResult := map[Action]string{ActionRedrive: resultRedriven, ActionRestart: resultRestarted, ActionSkip: resultSkipped}[st.Action]
		if st.Result != wantResult {
			t.Errorf("%s: result %s after --yes, want %s (error %q)", st.Execution.Name, st.Result, wantResult, st.Error)
		}
	}
	if wantSummary := (Summary{Redrive: 3, Restart: 9, Skip: 7}); doc.Summary != wantSummary {
		t.Errorf("summary %+v, want %+v", doc.Summary, wantSummary)
	}

	// The second run finds every replay of the first and does nothing.
	mutating := f.count("RedriveExecution") + f.count("StartExecution")
	code, doc = te.replay(t, "--yes")
	if code != ExitOK {
		t.Fatalf("second run: exit %d; stderr: %s", code, te.stderr.String())
	}
	if n := f.count("RedriveExecution") + f.count("StartExecution"); n != mutating {
		t.Errorf("second run made %d mutating calls, want none", n-mutating)
	}
	for _, st := range doc.Steps {
		if st.Result != resultSkipped {
			t.Errorf("second run: %s %s (%s), want skipped", st.Execution.Name, st.Result, st.Reason)
		}
		if sc := want[st.Execution.Name]; sc.action == ActionRestart && st.ReplayStatus != string(types.ExecutionStatusRunning) {
			t.Errorf("second run: %s: replayStatus %q, want the restart's status RUNNING", st.Execution.Name, st.ReplayStatus)
		}
		if sc := want[st.Execution.Name]; sc.action == ActionRedrive && !strings.Contains(st.Reason, "already redriven") {
			t.Errorf("second run: %s: reason %q, want already redriven", st.Execution.Name, st.Reason)
		}
	}
	if want := (Summary{Skip: 19}); doc.Summary != want {
		t.Errorf("second run summary %+v, want %+v", doc.Summary, want)
	}
}

func TestReplayFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      map[string]error
		args      []string
		wantCode  int
		wantError map[string]string // execution name -> phrase of its step's error
		wantSum   Summary
	}{
		{
			name: "start fails for one, the others go on",
			fail: map[string]error{"StartExecution replay-release-failed": errors.New("ExecutionLimitExceeded")},
			args: []string{"--yes"}, wantCode: ExitFailed,
			wantError: map[string]string{"release-failed": "start replay-release-failed: ExecutionLimitExceeded"},
			wantSum:   Summary{Redrive: 3, Restart: 8, Skip: 7, Failed: 1},
		},
		{
			name: "no longer redrivable when acting",
			fail: map[string]error{"RedriveExecution timed-out-polling": &types.ExecutionNotRedrivable{Message: aws.String("Execution redrivable period exceeded")}},
			args: []string{"--yes"}, wantCode: ExitFailed,
			wantError: map[string]string{"timed-out-polling": "run replay again to restart it"},
			wantSum:   Summary{Redrive: 2, Restart: 9, Skip: 7, Failed: 1},
		},
		{
			name: "restarted by someone else since the plan",
			fail: map[string]error{"StartExecution replay-terminate-released": &types.ExecutionAlreadyExists{Message: aws.String("exists")}},
			args: []string{"--yes"}, wantCode: ExitOK,
			wantSum: Summary{Redrive: 3, Restart: 8, Skip: 8},
		},
		{
			name:      "unreadable history fails the dry run too",
			fail:      map[string]error{"GetExecutionHistory launch-hook-expired": errors.New("AccessDeniedException")},
			wantCode:  ExitFailed,
			wantError: map[string]string{"launch-hook-expired": "read history of " + testExecPrefix + "launch-hook-expired"},
			wantSum:   Summary{Redrive: 3, Restart: 8, Skip: 7, Failed: 1},
		},
		{
			name:      "undescribable execution is reported, not hidden",
			fail:      map[string]error{"DescribeExecution terminate-released": errors.New("InternalServerError")},
			wantCode:  ExitFailed,
			wantError: map[string]string{"terminate-released": "describe execution"},
			wantSum:   Summary{Redrive: 3, Restart: 8, Skip: 7, Failed: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := world(t)
			maps.Copy(f.fail, tc.fail)
			te := newTestEnv(f)
			code, doc := te.replay(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if doc.Summary != tc.wantSum {
				t.Errorf("summary %+v, want %+v", doc.Summary, tc.wantSum)
			}
			for _, st := range doc.Steps {
				phrase, want := tc.wantError[st.Execution.Name]
				switch {
				case want && !strings.Contains(st.Error, phrase):
					t.Errorf("%s: error %q, want it to contain %q", st.Execution.Name, st.Error, phrase)
				case !want && st.Error != "":
					t.Errorf("%s: unexpected error %q", st.Execution.Name, st.Error)
				}
			}
		})
	}
}

func TestReplayFilters(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"status", []string{"--status", "TIMED_OUT"}, []string{"timed-out-polling", "redriven-running", "redriven-succeeded"}},
		{"statuses, comma list", []string{"--status", "timed_out,aborted"},
			[]string{"timed-out-polling", "aborted-not-redrivable", "aborted-while-releasing", "redriven-running", "redriven-succeeded"}},
		{"instance", []string{"--instance", otherInstance}, []string{"aborted-not-redrivable"}},
		{"asg", []string{"--asg", "nope"}, nil},
		{"window", []string{"--since", "12m30s", "--until", "10m30s"}, []string{"timed-out-polling", "launch-released-continue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := world(t)
			te := newTestEnv(f)
			_, doc := te.replay(t, tc.args...)
			var got []string
			for _, st := range doc.Steps {
				got = append(got, st.Execution.Name)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
		})
	}
}

// A restart that failed too is replayed in its turn, and its original
// points at it instead of being restarted a second time.
func TestReplayOfAFailedRestart(t *testing.T) {
	launch := event(t, "launch")
	lc := workflow.LifecycleResult{Completed: true, Result: workflow.Continue, Error: "CommandFailed"}
	f := newFakeSFN(
		failedAfterRelease(t, "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", 60, launch, lc),
		failedAfterRelease(t, "replay-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", 30, launch, lc))
	te := newTestEnv(f)
	code, doc := te.replay(t, "--yes")
	if code != ExitOK || len(doc.Steps) != 2 {
		t.Fatalf("exit %d, %d steps; stderr: %s", code, len(doc.Steps), te.stderr.String())
	}
	restart, original := doc.Steps[0], doc.Steps[1] // newest first
	if restart.Action != ActionRestart || restart.ReplayName != "replay-replay-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe" || restart.Result != resultRestarted {
		t.Errorf("the failed restart: %+v", restart)
	}
	if original.Action != ActionSkip || original.ReplayStatus != "FAILED" ||
		original.Reason != "already restarted as replay-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe, now FAILED" {
		t.Errorf("the original: %+v", original)
	}
	if len(f.starts) != 1 {
		t.Errorf("%d executions started, want 1", len(f.starts))
	}
}
