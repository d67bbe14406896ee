package stack

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// outageScaleOut is how many instances TestDNSOutageHoldsTheScaleOut
// launches into the outage.
const outageScaleOut = 20

// outageLasts is how long the DNS server stays down: well inside the local
// hold budget, long enough for every launch to be held twice.
const outageLasts = 30 * time.Second

// TestDNSOutageHoldsTheScaleOut: the DNS server (the real named) goes down
// and an ASG scales out by 20. Every instance is held in Pending:Wait —
// heartbeats, backoff — none is completed, abandoned or terminated. The
// DNS server comes back: every instance is registered and put in service,
// the same 20 instances. Not parallel: it stops the DNS server every test
// uses.
func TestDNSOutageHoldsTheScaleOut(t *testing.T) {
	ctx := testContext(t, 15*time.Minute)
	createGroup(ctx, t, asgOutage, outageScaleOut, 0, standardHooks(""))
	h.s.DNS.Stop()
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			if err := h.s.DNS.Restart(); err != nil {
				t.Fatalf("restart named: %v", err)
			}
		}
	}
	t.Cleanup(restart)

	since := time.Now().Add(-time.Second)
	outage := time.Now()
	setDesired(ctx, t, asgOutage, outageScaleOut)
	held := waitHeld(ctx, t, asgOutage, since, outageScaleOut)
	instances, err := groupInstances(ctx, asgOutage)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range instances {
		if i.LifecycleState != astypes.LifecycleStatePendingWait {
			t.Errorf("%s is %s during the outage, want Pending:Wait", aws.ToString(i.InstanceId), i.LifecycleState)
		}
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if len(ids) != outageScaleOut {
		t.Fatalf("%d instances during the outage, want %d: %s", len(ids), outageScaleOut, describeInstances(instances))
	}
	if time.Since(outage) > HoldBudget/3 {
		t.Fatalf("holding all %d took %v: too close to the hold budget %v to test a recovery", outageScaleOut, time.Since(outage), HoldBudget)
	}
	// The outage lasts a while longer: every launch goes round the hold
	// loop again (its first backoff is at most 10 s), still held.
	t.Logf("%d launches held after %v", len(held), time.Since(outage).Round(time.Second))
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(outageLasts - time.Since(outage)):
	}
	if instances, err := groupInstances(ctx, asgOutage); err != nil || len(inService(instances)) != 0 || len(instances) != outageScaleOut {
		t.Fatalf("%s, %v: want all %d still in Pending:Wait", describeInstances(instances), err, outageScaleOut)
	}
	t.Logf("the DNS server comes back after %v", time.Since(outage).Round(time.Second))
	restart()

	runs, err := endedLaunches(ctx, asgOutage, since, outageScaleOut, executionDeadline)
	if err != nil {
		t.Fatalf("%d of %d launches ended: %v", len(runs), outageScaleOut, err)
	}
	heartbeats := 0
	for _, e := range runs {
		st := parseState(t, e.Output)
		if e.Status != sfntypes.ExecutionStatusSucceeded || st.Lifecycle == nil || st.Lifecycle.Result != "CONTINUE" {
			t.Errorf("launch %v after the outage: $.lifecycle %+v, want SUCCEEDED with CONTINUE", e, st.Lifecycle)
			continue
		}
		if st.Hold == nil || st.Hold.Heartbeat != "recorded" || st.Hold.Holds < 2 {
			t.Errorf("launch %s: $.hold %+v, want held at least twice, a heartbeat recorded each time", e.Name, st.Hold)
		} else {
			heartbeats += st.Hold.Holds
		}
	}
	after := waitGroup(ctx, t, asgOutage, "all in service", allInService(outageScaleOut))
	for _, i := range after {
		id := aws.ToString(i.InstanceId)
		if !slices.Contains(ids, id) {
			t.Errorf("%s is new: an instance was replaced", id)
			continue
		}
		ip, _ := privateIP(ctx, t, id)
		if got, err := resolve(ctx, fqdn(asgOutage, id)); err != nil || !slices.Equal(got, []string{ip}) {
			t.Errorf("resolve %s = %v, %v; want [%s]", fqdn(asgOutage, id), got, err, ip)
		}
	}
	t.Logf("all %d registered and in service, %d hold rounds in all, outage to the last launch %v",
		outageScaleOut, heartbeats, latest(runs).Sub(outage).Round(time.Second))
	drainGroup(ctx, t, asgOutage)
}

// TestAnotherTeamsHookStaysTheirs: an ASG carries asgdns's hooks and
// another team's launch hook (connection draining's counterpart: a warm-up
// check). asgdns registers the instance and completes only its own hook:
// the instance stays in Pending:Wait until the other team completes theirs.
// An execution started by hand with the other team's event (bypassing the
// rule, as an operator could) touches nothing either.
func TestAnotherTeamsHookStaysTheirs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	const theirs = "warm-up-check"
	hooks := append(standardHooks(""), hookSpec{name: theirs, transition: launching, heartbeat: 3600, defaultResult: "ABANDON"})
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgForeignHook, 1, 1, hooks)
	runs := waitExecutions(ctx, t, asgForeignHook, since, 1, ofTransition("launch"))
	if e := runs[0]; e.Status != sfntypes.ExecutionStatusSucceeded || e.Hook != "asgdns-launch" {
		t.Fatalf("launch %v, want SUCCEEDED for asgdns-launch", e)
	}
	id := runs[0].Instance
	ip, _ := privateIP(ctx, t, id)
	if got, err := resolve(ctx, fqdn(asgForeignHook, id)); err != nil || !slices.Equal(got, []string{ip}) {
		t.Errorf("resolve = %v, %v; want [%s]", got, err, ip)
	}

	// The rule matched only asgdns's hook: one execution, and the other
	// team's action is still pending a while later.
	time.Sleep(3 * time.Second)
	all, err := executionsSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.ASG == asgForeignHook && e.Hook == theirs {
			t.Errorf("execution %v for the other team's hook: the rule must not match it", e)
		}
	}
	instances, err := groupInstances(ctx, asgForeignHook)
	if err != nil || len(instances) != 1 || instances[0].LifecycleState != astypes.LifecycleStatePendingWait {
		t.Fatalf("%s, %v; want the instance still in Pending:Wait for %s", describeInstances(instances), err, theirs)
	}

	// An execution started by hand with the other team's event.
	event := strings.Replace(runs[0].Input, `"LifecycleHookName":"asgdns-launch"`, `"LifecycleHookName":"`+theirs+`"`, 1)
	if event == runs[0].Input {
		t.Fatalf("the event does not name asgdns-launch as expected: %s", runs[0].Input)
	}
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.s.StateMachineARN), Name: aws.String("by-hand-" + id), Input: aws.String(event)})
	if err != nil {
		t.Fatal(err)
	}
	e := waitExecution(ctx, t, aws.ToString(out.ExecutionArn))
	if st := parseState(t, e.Output); e.Status != sfntypes.ExecutionStatusSucceeded || st.Instance == nil ||
		!strings.Contains(st.Instance.Reason, theirs) || st.Lifecycle != nil {
		t.Errorf("by-hand execution %v: $.instance %+v, $.lifecycle %+v; want it to end untouched, naming the hook", e, st.Instance, st.Lifecycle)
	}
	instances, err = groupInstances(ctx, asgForeignHook)
	if err != nil || len(instances) != 1 || instances[0].LifecycleState != astypes.LifecycleStatePendingWait {
		t.Fatalf("%s, %v; want the instance still in Pending:Wait for %s", describeInstances(instances), err, theirs)
	}

	// Its owner completes it: the instance goes into service.
	if _, err := h.as.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(asgForeignHook), LifecycleHookName: aws.String(theirs),
		InstanceId: aws.String(id), LifecycleActionResult: aws.String("CONTINUE")}); err != nil {
		t.Fatalf("the other team completes its hook: %v", err)
	}
	waitGroup(ctx, t, asgForeignHook, "in service", allInService(1))
}

// waitHeld waits until n launch executions of the group started since
// since have been held (entered Hold instance) and are still running, and
// returns them; a launch that ends meanwhile fails the test.
func waitHeld(ctx context.Context, t *testing.T, asg string, since time.Time, n int) []execution {
	t.Helper()
	var held []execution
	if err := poll(ctx, stateDeadline, func() (bool, error) {
		all, err := executionsSince(ctx, since)
		if err != nil {
			return false, err
		}
		held = nil
		for _, e := range all {
			if e.ASG != asg || e.Transition != "launch" {
				continue
			}
			if e.Status != sfntypes.ExecutionStatusRunning {
				t.Fatalf("launch %v ended, want it held (RUNNING)", e)
			}
			if slices.Contains(statesEntered(history(ctx, t, e.ARN)), "Hold instance") {
				held = append(held, e)
			}
		}
		return len(held) == n, nil
	}); err != nil {
		t.Fatalf("%d of %d launches of %s held: %v", len(held), n, asg, err)
	}
	return held
}

func latest(runs []execution) time.Time {
	var last time.Time
	for _, e := range runs {
		last = maxTime(last, e.Stop)
	}
	return last
}

// drainGroup scales a group to 0 and waits until its instances are gone.
func drainGroup(ctx context.Context, t *testing.T, asg string) {
	t.Helper()
	setDesired(ctx, t, asg, 0)
	waitGroup(ctx, t, asg, "drained", func(is []astypes.Instance) bool { return len(is) == 0 })
}
