package operate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

// ReplayUsage is the one-line summary for `asgdns help`.
const ReplayUsage = "replay failed, timed-out and aborted executions: redrive, restart, or skip and say why"

// The states of statemachine/asgdns.asl.json a replay decision depends on.
const (
	// stateDNSWorkFailed is the Fail state after the instance was released
	// by policy; its input holds the release's result in $.lifecycle.
	stateDNSWorkFailed = "DNS work failed"
	// stateReleaseFailed is the Fail state when even the release failed.
	stateReleaseFailed = "Release failed"
	// stateReleaseInstance is the Task that releases the instance after the
	// DNS work failed.
	stateReleaseInstance = "Release instance"
)

// replayable are the statuses replay acts on.
var replayable = []types.ExecutionStatus{
	types.ExecutionStatusFailed, types.ExecutionStatusTimedOut, types.ExecutionStatusAborted,
}

// Action is what replay does with an execution.
type Action string

// The actions.
const (
	// ActionRedrive continues the execution where it stopped
	// (RedriveExecution): same ARN, same input, the steps that succeeded are
	// not run again.
	ActionRedrive Action = "redrive"
	// ActionRestart starts a new execution, named replay-<name>, with the
	// original input.
	ActionRestart Action = "restart"
	// ActionSkip leaves the execution alone; the reason says why.
	ActionSkip Action = "skip"
	// ActionError means the execution could not be read, so there is no
	// plan for it.
	ActionError Action = "error"
)

// Results of a step.
const (
	resultPlanned   = "planned" // dry run
	resultRedriven  = "redriven"
	resultRestarted = "restarted"
	resultSkipped   = "skipped"
	resultFailed    = "failed"
)

// Step is replay's plan for one execution and, with --yes, what came of it.
type Step struct {
	Execution Execution `json:"execution"`
	Action    Action    `json:"action"`
	Reason    string    `json:"reason"`
	// EndedIn is the last state the execution entered.
	EndedIn string `json:"endedIn"`
	// ReplayName is the restart's execution name: the one to start, or the
	// one a previous replay started (then ReplayStatus is its status).
	ReplayName   string `json:"replayName"`
	ReplayStatus string `json:"replayStatus"`
	Result       string `json:"result"`
	Error        string `json:"error"`
	// input is a restart's execution input: the original event, and for a
	// termination the record it was removing.
	input string
}

// Summary counts the steps: planned ones in a dry run, done ones with --yes.
type Summary struct {
	Redrive int `json:"redrive"`
	Restart int `json:"restart"`
	Skip    int `json:"skip"`
	Failed  int `json:"failed"`
}

// Replay runs `asgdns replay`.
func Replay(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("asgdns replay", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	yes := fs.Bool("yes", false, "act on the plan; without it replay only prints the plan and changes nothing")
	rate := fs.Float64("rate", 4, "at most `N` redrives and restarts per second")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: asgdns replay (--state-machine-arn ARN | --stack NAME) [flags] [--yes]

Selects the FAILED, TIMED_OUT and ABORTED executions of the asgdns state
machine (narrow with --status and the other filters) and plans for each:

  redrive  Step Functions can redrive it and it stopped before the instance
           was released: it continues where it stopped;
  restart  it ended after the release ("DNS work failed", "Release failed")
           or can no longer be redriven: a new execution named
           replay-<name> runs with the original input;
  skip     nothing to gain, or already replayed; the plan says why.

Without --yes nothing changes. Running it again never doubles work: it finds
its earlier redrives and restarts and reports them as skipped.

Flags:
`)
		fs.PrintDefaults()
	}
	validate := func() error {
		for _, st := range common.statuses {
			if !slices.Contains(replayable, st) {
				return usagef("--status %s: replay selects only %s", st, joinStatuses(replayable))
			}
		}
		if *rate <= 0 {
			return usagef("--rate must be more than 0 replays per second")
		}
		return nil
	}
	s, code := open(ctx, env, "replay", fs, &common, args, validate)
	if s == nil {
		return code
	}
	r := &replayer{session: s, act: newLimiter(*rate)}

	steps, err := r.plan(ctx)
	if err != nil {
		return s.fail(err)
	}
	if *yes {
		r.run(ctx, steps)
	}
	sum := summarize(steps, !*yes)
	doc := replayDocument{
		StateMachineARN: s.stateMachineARN, DryRun: !*yes,
		Since: timePtr(s.query.Since), Until: timePtr(s.query.Until),
		Steps: nonNil(steps), Summary: sum,
	}
	if s.flags.json {
		err = writeJSON(env.Stdout, doc)
	} else {
		err = writeReplayReport(env.Stdout, s.query, doc)
	}
	if err != nil {
		return s.fail(err)
	}
	if sum.Failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

// replayDocument is `asgdns replay --json`, with stable keys.
type replayDocument struct {
	StateMachineARN string     `json:"stateMachineArn"`
	DryRun          bool       `json:"dryRun"`
	Since           *time.Time `json:"since"`
	Until           *time.Time `json:"until"`
	Steps           []Step     `json:"steps"`
	Summary         Summary    `json:"summary"`
}

type replayer struct {
	*session
	act *limiter
}

// plan selects the executions to consider and plans each. Besides the
// failures it selects executions that were redriven and now run or
// succeeded: they are failures an earlier replay took care of, reported as
// skipped rather than silently missing.
func (r *replayer) plan(ctx context.Context) ([]Step, error) {
	statuses := r.query.Statuses
	if len(statuses) == 0 {
		statuses = replayable
	}
	unfiltered := r.query
	unfiltered.Statuses = nil // redriven executions have any status now
	items, err := r.reader.list(ctx, r.stateMachineARN, unfiltered, func(item types.ExecutionListItem) bool {
		return slices.Contains(statuses, item.Status) || (aws.ToInt32(item.RedriveCount) > 0 &&
			(item.Status == types.ExecutionStatusRunning || item.Status == types.ExecutionStatusSucceeded))
	})
	if err != nil {
		return nil, err
	}
	var steps []Step
	for _, d := range r.reader.describeAll(ctx, items) {
		switch {
		case d.err != nil:
			// Unreadable, so the filters cannot be checked: report it
			// rather than hide it.
			steps = append(steps, Step{Execution: d.Execution, Action: ActionError, Result: resultFailed, Error: d.err.Error()})
		case r.query.matches(d.Execution):
			steps = append(steps, Step{Execution: d.Execution})
		}
	}
	r.progress.start("planning", len(steps))
	defer r.progress.finish()
	r.reader.each(len(steps), func(i int) {
		if steps[i].Action == "" {
			r.planOne(ctx, &steps[i])
		}
		r.progress.step()
	})
	return steps, nil
}

// planOne decides what to do with one execution: the checks that need no
// call first, then the history, then (for a restart) whether an earlier
// replay already restarted it.
func (r *replayer) planOne(ctx context.Context, st *Step) {
	e := st.Execution
	st.Result = resultPlanned
	skip := func(format string, args ...any) {
		st.Action, st.Reason, st.Result = ActionSkip, fmt.Sprintf(format, args...), resultSkipped
	}
	switch status := types.ExecutionStatus(e.Status); {
	case status == types.ExecutionStatusRunning || status == types.ExecutionStatusSucceeded:
		skip("already redriven (%s), now %s", redrives(e), e.Status)
		return
	case e.planErr != nil:
		skip("the input is not an event asgdns can act on, so a replay would fail the same way: %v", e.planErr)
		return
	case e.plan.Action == workflow.ActionNone:
		skip("no DNS work for this event (%s)", e.plan.Reason)
		return
	}

	end, err := r.reader.lastState(ctx, e.ARN)
	if err != nil {
		st.Action, st.Result, st.Error = ActionError, resultFailed, err.Error()
		return
	}
	st.EndedIn = end.State
	st.Action, st.Reason = decide(e, end)
	st.input = restartInput(e, end)
	if st.Action == ActionSkip {
		st.Result = resultSkipped
	}
	if e.RedriveCount > 0 {
		st.Reason += fmt.Sprintf(" (earlier: %s)", redrives(e))
	}
	if st.Action != ActionRestart {
		return
	}

	// StartExecution with an existing name is idempotent only while that
	// execution runs (and only with the same input); once it has ended
	// the call fails with ExecutionAlreadyExists. So look the name up.
	st.ReplayName = replayName(e.Name)
	prior, err := r.reader.describe(ctx, r.executionPrefix+st.ReplayName)
	var missing *types.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		// Not replayed yet: the restart stands.
	case err != nil:
		st.Action, st.Result, st.Error = ActionError, resultFailed, err.Error()
	default:
		st.ReplayStatus = string(prior.Status)
		skip("already restarted as %s, now %s", st.ReplayName, prior.Status)
	}
}

// decide is the heart of replay: given where the execution stopped, can a
// redrive help, or does it need a fresh start, or nothing at all?
func decide(e Execution, end ending) (Action, string) {
	switch end.State {
	case stateDNSWorkFailed:
		return afterRelease(e, end)
	case stateReleaseFailed:
		return ActionRestart, fmt.Sprintf("ended in %q: the DNS work failed and so did the release (the hook's DefaultResult applies); "+
			"a redrive would only re-enter that Fail state, so a new execution redoes the DNS work", stateReleaseFailed)
	case stateReleaseInstance:
		return ActionRestart, fmt.Sprintf("stopped in %q after the DNS work failed: a redrive would only finish the release, "+
			"so a new execution redoes the DNS work", stateReleaseInstance)
	}
	where := fmt.Sprintf("stopped in %q", end.State)
	if end.State == "" {
		where = "stopped before entering any state"
	}
	if e.redriveStatus == types.ExecutionRedriveStatusRedrivable {
		return ActionRedrive, where + " before the instance was released: a redrive continues from there"
	}
	why := e.redriveStatusReason
	if why == "" {
		why = "redriveStatus " + string(e.redriveStatus)
	}
	return ActionRestart, where + ", and it cannot be redriven (" + why + "): a new execution starts over with the original input"
}

// afterRelease decides for an execution that ended in "DNS work failed": the
// instance was released by policy, so a redrive would only re-enter the
// Fail state. What the release did ($.lifecycle in the Fail state's input)
// says whether a new execution is worth it.
func afterRelease(e Execution, end ending) (Action, string) {
	prefix := fmt.Sprintf("ended in %q", stateDNSWorkFailed)
	var state workflow.State
	if end.Truncated || json.Unmarshal([]byte(end.Input), &state) != nil || state.Lifecycle == nil {
		return ActionRestart, prefix + " and the release's result is unreadable: a new execution redoes the DNS work (every step is idempotent)"
	}
	lc := state.Lifecycle
	switch {
	case e.plan.Transition == workflow.TransitionTerminate:
		return ActionRestart, prefix + " and the termination went ahead: a new execution removes the record (by ownership, even with the instance gone)"
	case lc.Result == workflow.Abandon && lc.Completed:
		return ActionSkip, prefix + " and the launch was released with ABANDON: Auto Scaling terminated the instance, and its replacement registers itself"
	case lc.AlreadyCompleted:
		return ActionRestart, prefix + " after the hook had already ended (its DefaultResult applied): a new execution registers the instance if it still runs"
	case !e.plan.Complete():
		return ActionRestart, prefix + " (no lifecycle action held the instance): a new execution registers it"
	}
	return ActionRestart, prefix + fmt.Sprintf(" and the launch was released with %s: the instance is in service without its record, a new execution registers it", lc.Result)
}

// restartInput is the input a restart starts with: the original event. A
// termination keeps its name (DESIGN §7): when the failed execution had
// derived the record it was removing, the restart carries that
// $.instance, and DescribeInstance removes that name rather than deriving
// it again from an instance that is gone (a {tag:…} or {az} template could
// not be).
func restartInput(e Execution, end ending) string {
	var state workflow.State
	if e.plan.Transition != workflow.TransitionTerminate || end.Truncated ||
		json.Unmarshal([]byte(end.Input), &state) != nil || state.Instance == nil || state.Instance.Record == nil {
		return e.input
	}
	var input map[string]json.RawMessage
	if json.Unmarshal([]byte(e.input), &input) != nil {
		return e.input
	}
	kept, err := json.Marshal(state.Instance)
	if err != nil {
		return e.input
	}
	input["instance"] = kept
	out, err := json.Marshal(input)
	if err != nil {
		return e.input
	}
	return string(out)
}

func redrives(e Execution) string {
	s := fmt.Sprintf("redriven %d time%s", e.RedriveCount, plural(e.RedriveCount))
	if e.RedriveDate != nil {
		s += ", last at " + e.RedriveDate.Format(time.RFC3339)
	}
	return s
}

// run carries out the planned redrives and restarts, one at a time at the
// --rate limit.
func (r *replayer) run(ctx context.Context, steps []Step) {
	todo := 0
	for _, st := range steps {
		if st.Action == ActionRedrive || st.Action == ActionRestart {
			todo++
		}
	}
	r.progress.start("replaying", todo)
	defer r.progress.finish()
	for i := range steps {
		st := &steps[i]
		if st.Action != ActionRedrive && st.Action != ActionRestart {
			continue
		}
		if err := r.act.Wait(ctx); err != nil {
			st.Result, st.Error = resultFailed, "not done: "+err.Error()
			continue
		}
		r.actOne(ctx, st)
		r.progress.step()
	}
}

func (r *replayer) actOne(ctx context.Context, st *Step) {
	e := st.Execution
	switch st.Action {
	case ActionRedrive:
		_, err := r.clients.SFN.RedriveExecution(ctx, &sfn.RedriveExecutionInput{
			ExecutionArn: aws.String(e.ARN), ClientToken: aws.String(redriveToken(e.ARN, e.RedriveCount)),
		})
		if err != nil {
			st.Result, st.Error = resultFailed, "redrive: "+err.Error()
			var gone *types.ExecutionNotRedrivable
			if errors.As(err, &gone) {
				st.Error += " (it stopped being redrivable since the plan: run replay again to restart it)"
			}
			return
		}
		st.Result = resultRedriven
	case ActionRestart:
		_, err := r.clients.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
			// On the alias: the deployed definition, not the version the
			// original ran (a redrive keeps that one).
			StateMachineArn: aws.String(r.startARN), Name: aws.String(st.ReplayName), Input: aws.String(st.input),
		})
		var exists *types.ExecutionAlreadyExists
		switch {
		case errors.As(err, &exists):
			// Someone replayed it between the plan and now.
			st.Result, st.Reason = resultSkipped, "already restarted as "+st.ReplayName+" (since the plan was made)"
		case err != nil:
			st.Result, st.Error = resultFailed, "start "+st.ReplayName+": "+err.Error()
		default:
			st.Result = resultRestarted
		}
	}
}

// summarize counts planned actions in a dry run and results otherwise.
func summarize(steps []Step, dryRun bool) Summary {
	var s Summary
	for _, st := range steps {
		switch {
		case st.Result == resultFailed:
			s.Failed++
		case st.Result == resultSkipped:
			s.Skip++
		case st.Result == resultRedriven, dryRun && st.Action == ActionRedrive:
			s.Redrive++
		case st.Result == resultRestarted, dryRun && st.Action == ActionRestart:
			s.Restart++
		}
	}
	return s
}

// writeReplayReport prints the plan (or what was done) as a table, each
// execution followed by why, what it failed with, and any error.
func writeReplayReport(w io.Writer, q query, doc replayDocument) error {
	mode := "done"
	if doc.DryRun {
		mode = "dry run: nothing changed; run again with --yes to act"
	}
	fmt.Fprintf(w, "Replay of %s, %s (%s)\n\n", doc.StateMachineARN, q.window(), mode)
	rows := [][]string{{"ACTION", "RESULT", "STARTED", "STATUS", "TRANSITION", "INSTANCE", "ASG", "NAME"}}
	notes := [][]string{nil}
	for _, st := range doc.Steps {
		e := st.Execution
		rows = append(rows, []string{string(st.Action), st.Result, e.Start.Format(tableTime), e.Status,
			dash(e.Transition), dash(e.InstanceID), dash(e.ASG), e.Name})
		var n []string
		if st.Reason != "" {
			n = append(n, "why: "+st.Reason)
		}
		if st.Action == ActionRestart {
			n = append(n, "new execution: "+st.ReplayName)
		}
		n = append(n, failureNotes(e)...)
		if st.Error != "" {
			n = append(n, "FAILED: "+oneLine(st.Error))
		}
		notes = append(notes, n)
	}
	if err := writeTable(w, rows, notes); err != nil {
		return err
	}
	s := doc.Summary
	var line string
	if doc.DryRun {
		line = fmt.Sprintf("Plan: %d to redrive, %d to restart, %d to skip, %d failed", s.Redrive, s.Restart, s.Skip, s.Failed)
	} else {
		line = fmt.Sprintf("Done: %d redriven, %d restarted, %d skipped, %d failed", s.Redrive, s.Restart, s.Skip, s.Failed)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", line)
	return err
}
