package stack

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/local/cloud"
)

// TestReplayTerminateInstanceGone: a scale-in whose DNS work fails (its DC,
// the second one, is unreachable) releases the terminating instance anyway
// (terminations always CONTINUE) and fails, leaving stale A, TXT and PTR
// records. Once the instance is terminated (EC2 no longer reports its
// address) and the DC is back, `asgdns replay --yes` starts a new
// execution with the original event, which removes the records by
// ownership although the instance is gone, and finds the lifecycle action
// already completed. A second replay does nothing.
func TestReplayTerminateInstanceGone(t *testing.T) {
	t.Parallel()
	asg, dc := asgGone, secondDC
	ctx := testContext(t, 15*time.Minute)
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asg, 2, 1, standardHooks(`{"dcInstanceIds":["`+dc+`"]}`))
	launch := waitExecutions(ctx, t, asg, since, 1, ofTransition("launch"))[0]
	if launch.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("launch %v, want SUCCEEDED", launch)
	}
	if st := parseState(t, launch.Output); st.Command == nil || st.Command.DCInstanceID != dc {
		t.Fatalf("launch sent its command to %+v, want %s (the hooks' dcInstanceIds)", st.Command, dc)
	}
	id := launch.Instance
	name := fqdn(asg, id)
	ip, _ := privateIP(ctx, t, id)
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ip}) {
		t.Fatalf("resolve %s = %v, %v; want [%s]", name, got, err, ip)
	}
	if got, err := h.dns.LookupAddr(ctx, ip); err != nil || !slices.Equal(got, []string{name + "."}) {
		t.Fatalf("reverse lookup %s = %v, %v; want [%s.] (the deployment writes PTR records)", ip, got, err, name)
	}
	if err := h.s.Cloud.SetReachability(dc, cloud.Undeliverable); err != nil {
		t.Fatal(err)
	}
	reachable := false
	restore := func() {
		if !reachable {
			reachable = true
			if err := h.s.Cloud.SetReachability(dc, cloud.Reachable); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore)
	scaleIn := time.Now().Add(-time.Second)
	setDesired(ctx, t, asg, 0)
	term := waitExecutions(ctx, t, asg, scaleIn, 1, ofTransition("terminate"))[0]
	restore()
	if term.Status != sfntypes.ExecutionStatusFailed || !strings.Contains(term.Cause, dc) || !strings.Contains(term.Cause, "Undeliverable") {
		t.Fatalf("terminate %v, want FAILED: %s undeliverable", term, dc)
	}

	// The termination went ahead: the instance is gone, its record not.
	waitGroup(ctx, t, asg, "no instance left", func(is []astypes.Instance) bool { return len(is) == 0 })
	if err := poll(ctx, stateDeadline, func() (bool, error) {
		_, state := privateIP(ctx, t, id)
		return state == "terminated", nil
	}); err != nil {
		t.Fatalf("%s not terminated: %v", id, err)
	}
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ip}) {
		t.Fatalf("before the replay, resolve %s = %v, %v; want the stale [%s]", name, got, err, ip)
	}

	plan := replay(t, asg, false)
	if len(plan.Steps) != 1 || plan.Steps[0].Execution.ARN != term.ARN || plan.Steps[0].Action != "restart" ||
		!strings.Contains(plan.Steps[0].Reason, "by ownership, even with the instance gone") {
		t.Fatalf("asgdns replay (dry run): %+v, want a restart of %s that removes the record by ownership", plan, term.Name)
	}
	t.Logf("plan for %s (%s): %s %s: %s", id, ip, plan.Steps[0].Action, term.Name, plan.Steps[0].Reason)
	done := replay(t, asg, true)
	if len(done.Steps) != 1 || done.Steps[0].Result != "restarted" {
		t.Fatalf("asgdns replay --yes: %+v", done)
	}
	r := waitExecution(ctx, t, executionARN(done.Steps[0].ReplayName))
	st := parseState(t, r.Output)
	if r.Status != sfntypes.ExecutionStatusSucceeded || st.Instance == nil || st.Instance.Action != "deregister" ||
		st.Lifecycle == nil || !st.Lifecycle.AlreadyCompleted {
		t.Fatalf("the restart %v: $.instance %+v, $.lifecycle %+v; want SUCCEEDED, deregistering, the action already completed", r, st.Instance, st.Lifecycle)
	}
	// The restart carried the record the failed termination was removing
	// (its name and address), so nothing had to be read from the
	// terminated instance.
	if st.Instance.Record == nil || st.Instance.Record.FQDN != name || st.Instance.PrivateIP != ip ||
		st.Invocation == nil || st.Invocation.Result == nil || st.Invocation.Result.Outcome != "deleted" {
		t.Errorf("the restart: $.instance %+v, $.invocation %+v; want the kept record %s (%s) deleted", st.Instance, st.Invocation, name, ip)
	}

	if got, err := resolve(ctx, name); !isNotFound(err) {
		t.Errorf("after the replay, resolve %s = %v, %v; want NXDOMAIN", name, got, err)
	}
	// The PTR record goes too, although the address is known only from
	// the A record the command removed.
	if got, err := h.dns.LookupAddr(ctx, ip); !isNotFound(err) {
		t.Errorf("after the replay, reverse lookup %s = %v, %v; want NXDOMAIN", ip, got, err)
	}

	again := replay(t, asg, true)
	if len(again.Steps) != 1 || again.Steps[0].Action != "skip" || again.Summary.Restart+again.Summary.Redrive != 0 {
		t.Errorf("asgdns replay --yes again: %+v, want one skip", again)
	}
}

// TestReplayLaunchHookExpired: a launch registers its record, but
// completing the lifecycle action is refused (the CompleteLifecycle role
// may not complete this group's actions, as with a missing
// CompleteHooksOf<group> policy), so the execution fails in place at
// "Complete lifecycle action" with the record registered. The hook's
// heartbeat timeout (30 s) passes and its DefaultResult (CONTINUE) puts
// the instance in service. With the permission back, `asgdns replay --yes`
// redrives the execution: completion reports the action already completed,
// the execution succeeds, and the name still resolves. A second replay
// does nothing.
func TestReplayLaunchHookExpired(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 15*time.Minute)
	denyComplete(t, asgExpired)
	t.Cleanup(func() { allowComplete(t, asgExpired) })

	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgExpired, 2, 1, []hookSpec{
		{transition: launching, heartbeat: 30, defaultResult: "CONTINUE"},
		{transition: terminating, heartbeat: 3600, defaultResult: "CONTINUE"},
	})
	launch := waitExecutions(ctx, t, asgExpired, since, 1, ofTransition("launch"))[0]
	checkFailedCompleting(ctx, t, launch)
	id := launch.Instance
	name := fqdn(asgExpired, id)
	ip, _ := privateIP(ctx, t, id)
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ip}) {
		t.Fatalf("resolve %s = %v, %v; want [%s]: the DNS work succeeded", name, got, err, ip)
	}

	// The hook expires, and its DefaultResult puts the instance in service.
	waitTimedOut(ctx, t, asgExpired, "asgdns-launch", id)
	waitGroup(ctx, t, asgExpired, "the instance InService by the hook's DefaultResult", allInService(1))
	allowComplete(t, asgExpired)

	plan := replay(t, asgExpired, false)
	if len(plan.Steps) != 1 || plan.Steps[0].Execution.ARN != launch.ARN || plan.Steps[0].Action != "redrive" || plan.Steps[0].EndedIn != "Complete lifecycle action" {
		t.Fatalf("asgdns replay (dry run): %+v, want a redrive of %s from \"Complete lifecycle action\"", plan, launch.Name)
	}
	t.Logf("plan: %s %s: %s", plan.Steps[0].Action, launch.Name, plan.Steps[0].Reason)
	if e, _ := describe(ctx, launch.ARN, false); e.Status != sfntypes.ExecutionStatusFailed || e.RedriveCount != 0 {
		t.Fatalf("after the dry run the execution is %s, redriven %d times: it must be untouched", e.Status, e.RedriveCount)
	}
	done := replay(t, asgExpired, true)
	if len(done.Steps) != 1 || done.Steps[0].Result != "redriven" {
		t.Fatalf("asgdns replay --yes: %+v", done)
	}
	r := waitExecution(ctx, t, launch.ARN)
	st := parseState(t, r.Output)
	if r.Status != sfntypes.ExecutionStatusSucceeded || r.RedriveCount != 1 || st.Lifecycle == nil || !st.Lifecycle.AlreadyCompleted || st.Lifecycle.Completed {
		t.Fatalf("the redriven execution %v (redriven %d times), $.lifecycle %+v; want SUCCEEDED, completion reporting alreadyCompleted", r, r.RedriveCount, st.Lifecycle)
	}
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ip}) {
		t.Errorf("after the redrive, resolve %s = %v, %v; want [%s]", name, got, err, ip)
	}
	if states := statesEntered(history(ctx, t, launch.ARN)); count(states, "Send DNS command") != 1 {
		t.Errorf("the redrive re-ran the DNS work: %q", states)
	}

	again := replay(t, asgExpired, true)
	if len(again.Steps) != 1 || again.Steps[0].Action != "skip" || !strings.Contains(again.Steps[0].Reason, "already redriven") {
		t.Errorf("asgdns replay --yes again: %+v, want one skip (already redriven)", again)
	}
	if e, _ := describe(ctx, launch.ARN, false); e.RedriveCount != 1 {
		t.Errorf("after the second replay the execution was redriven %d times, want 1", e.RedriveCount)
	}
}

// TestRedriveTerminateAfterInstanceGone: a scale-in removes the record,
// but completing the termination's lifecycle action is refused, so the
// execution fails at "Complete lifecycle action". The terminate hook's
// heartbeat timeout passes, its DefaultResult (CONTINUE) lets the
// termination go ahead, and the instance is gone. `asgdns replay --yes`
// redrives the execution: the state it kept ($.instance, $.command, …)
// is all it needs, nothing is described or sent again, and completion
// reports the action already completed.
func TestRedriveTerminateAfterInstanceGone(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 15*time.Minute)
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgRedriveTerm, 2, 1, []hookSpec{
		{transition: launching, heartbeat: 3600, defaultResult: "ABANDON"},
		{transition: terminating, heartbeat: 30, defaultResult: "CONTINUE"},
	})
	launch := waitExecutions(ctx, t, asgRedriveTerm, since, 1, ofTransition("launch"))[0]
	if launch.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("launch %v, want SUCCEEDED", launch)
	}
	id := launch.Instance
	name := fqdn(asgRedriveTerm, id)

	denyComplete(t, asgRedriveTerm)
	t.Cleanup(func() { allowComplete(t, asgRedriveTerm) })
	scaleIn := time.Now().Add(-time.Second)
	setDesired(ctx, t, asgRedriveTerm, 0)
	term := waitExecutions(ctx, t, asgRedriveTerm, scaleIn, 1, ofTransition("terminate"))[0]
	checkFailedCompleting(ctx, t, term)
	if got, err := resolve(ctx, name); !isNotFound(err) {
		t.Fatalf("resolve %s = %v, %v; want NXDOMAIN: the DNS work succeeded", name, got, err)
	}

	waitTimedOut(ctx, t, asgRedriveTerm, "asgdns-terminate", id)
	waitGroup(ctx, t, asgRedriveTerm, "no instance left", func(is []astypes.Instance) bool { return len(is) == 0 })
	if err := poll(ctx, stateDeadline, func() (bool, error) {
		_, state := privateIP(ctx, t, id)
		return state == "terminated", nil
	}); err != nil {
		t.Fatalf("%s not terminated: %v", id, err)
	}
	allowComplete(t, asgRedriveTerm)

	done := replay(t, asgRedriveTerm, true)
	if len(done.Steps) != 1 || done.Steps[0].Execution.ARN != term.ARN || done.Steps[0].Action != "redrive" || done.Steps[0].Result != "redriven" {
		t.Fatalf("asgdns replay --yes: %+v, want %s redriven", done, term.Name)
	}
	t.Logf("replay: %s %s: %s", done.Steps[0].Action, term.Name, done.Steps[0].Reason)
	r := waitExecution(ctx, t, term.ARN)
	st := parseState(t, r.Output)
	if r.Status != sfntypes.ExecutionStatusSucceeded || st.Lifecycle == nil || !st.Lifecycle.AlreadyCompleted {
		t.Fatalf("the redriven terminate %v: $.lifecycle %+v; want SUCCEEDED, already completed", r, st.Lifecycle)
	}
	states := statesEntered(history(ctx, t, term.ARN))
	if count(states, "Describe instance") != 1 || count(states, "Send DNS command") != 1 || count(states, "Complete lifecycle action") != 2 {
		t.Errorf("the redrive should resume at \"Complete lifecycle action\" on the kept state, went through %q", states)
	}
	if got, err := resolve(ctx, name); !isNotFound(err) {
		t.Errorf("after the redrive, resolve %s = %v, %v; want NXDOMAIN", name, got, err)
	}
}

// checkFailedCompleting checks an execution failed, in place, at
// "Complete lifecycle action" with AccessDenied, after its DNS work.
func checkFailedCompleting(ctx context.Context, t *testing.T, e execution) {
	t.Helper()
	events := history(ctx, t, e.ARN)
	last, _ := lastStateInput(events)
	if e.Status != sfntypes.ExecutionStatusFailed || e.Error != "AccessDenied" || last != "Complete lifecycle action" {
		t.Fatalf("execution %v ended in %q, want FAILED with AccessDenied in \"Complete lifecycle action\"", e, last)
	}
	if states := statesEntered(events); slices.Contains(states, "Release instance") || count(states, "Send DNS command") != 1 {
		t.Fatalf("execution %s went through %q: want the DNS work done once, and no release", e.Name, states)
	}
}

// waitTimedOut waits until Auto Scaling reports the instance's lifecycle
// action timed out (and its DefaultResult applied).
func waitTimedOut(ctx context.Context, t *testing.T, asg, hook, id string) {
	t.Helper()
	if err := poll(ctx, stateDeadline, func() (bool, error) {
		_, ok := h.log.find(`msg="lifecycle action timed out"`, "group="+asg, "hook="+hook, "instance="+id)
		return ok, nil
	}); err != nil {
		t.Fatalf("the lifecycle action of %s did not time out: %v", id, err)
	}
	if _, ok := h.log.find(`msg="lifecycle action completed"`, "group="+asg, "hook="+hook, "instance="+id); ok {
		t.Fatalf("the lifecycle action of %s was completed, want it to have timed out", id)
	}
}
