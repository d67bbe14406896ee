package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/local/cloud"
)

// The failure paths of the workflow, end to end on the stack over real
// HTTP with the real SDK, and what `asgdns replay` (operate.Replay, run as
// the real command) does about them: issue 6's proof list.

// TestDCUnreachable makes the stack's domain controller unreachable (every
// command Undeliverable) while two groups launch an instance each: one
// whose hooks' metadata asks for onFailure CONTINUE, one with the
// deployment's default (ABANDON). Each launch execution re-sends the
// command three times, then fails with a cause naming the unreachable DC,
// and releases its instance by the group's onFailure: CONTINUE puts it in
// service without a record, ABANDON terminates it (and the group replaces
// it). With the DC back, `asgdns replay` plans without changing anything,
// then (--yes) restarts the CONTINUE launch (whose name then resolves) and
// skips the ABANDON one; run again it does nothing.
//
// It changes the stack's own DC, so it is not parallel: Go runs it before
// the parallel tests start.
func TestDCUnreachable(t *testing.T) {
	ctx := testContext(t, 15*time.Minute)
	if err := h.s.Cloud.SetReachability(DC, cloud.Undeliverable); err != nil {
		t.Fatal(err)
	}
	reachable := false
	restore := func() {
		if !reachable {
			reachable = true
			if err := h.s.Cloud.SetReachability(DC, cloud.Reachable); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore)

	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgUnreachCont, 2, 1, standardHooks(`{"onFailure":"CONTINUE"}`))
	createGroup(ctx, t, asgUnreachAbandon, 2, 1, standardHooks(""))
	cont := waitExecutions(ctx, t, asgUnreachCont, since, 1, ofTransition("launch"))[0]
	abandon := waitExecutions(ctx, t, asgUnreachAbandon, since, 1, ofTransition("launch"))[0]
	restore()

	for _, c := range []struct {
		e      execution
		result string
	}{{cont, "CONTINUE"}, {abandon, "ABANDON"}} {
		e := c.e
		t.Logf("%v", e)
		if e.Status != sfntypes.ExecutionStatusFailed {
			t.Fatalf("launch execution %v while the DC is unreachable, want FAILED", e)
		}
		if e.Error != "Unavailable" || !strings.Contains(e.Cause, DC) || !strings.Contains(e.Cause, "Undeliverable") ||
			!strings.Contains(e.Cause, "check the DC is running and shows Online") || !strings.Contains(e.Cause, c.result+" per onFailure policy") {
			t.Errorf("execution %s: error %q, cause %q; want Unavailable, saying %s is unreachable (Undeliverable) and what to check", e.Name, e.Error, e.Cause, DC)
		}
		events := history(ctx, t, e.ARN)
		states := statesEntered(events)
		// Held for the hold budget: heartbeats, backoff, the command
		// re-sent each round; the failure result only at the end.
		if n, holds := count(states, "Send DNS command"), count(states, "Hold instance"); n < 3 || holds < n-1 {
			t.Errorf("execution %s sent the command %d times in %d hold rounds, want it re-sent every round while held: %q", e.Name, n, holds, states)
		}
		if took := e.Stop.Sub(e.Start); took < HoldBudget {
			t.Errorf("execution %s released the instance after %v, before the hold budget %v", e.Name, took, HoldBudget)
		}
		last, input := lastStateInput(events)
		st := parseState(t, input)
		if last != "DNS work failed" || st.Lifecycle == nil || !st.Lifecycle.Completed || st.Lifecycle.Result != c.result {
			t.Errorf("execution %s ended in %q with $.lifecycle %+v; want \"DNS work failed\" after releasing with %s", e.Name, last, st.Lifecycle, c.result)
		}
	}

	// CONTINUE: the instance is in service, without a record.
	instances := waitGroup(ctx, t, asgUnreachCont, "the released instance InService", allInService(1))
	if id := aws.ToString(instances[0].InstanceId); id != cont.Instance {
		t.Fatalf("%s: InService %s, want %s", asgUnreachCont, id, cont.Instance)
	}
	if got, err := resolve(ctx, fqdn(asgUnreachCont, cont.Instance)); !isNotFound(err) {
		t.Errorf("resolve %s = %v, %v; want NXDOMAIN", fqdn(asgUnreachCont, cont.Instance), got, err)
	}
	// ABANDON: Auto Scaling terminated the instance.
	waitGroup(ctx, t, asgUnreachAbandon, "the abandoned instance gone", func(is []astypes.Instance) bool {
		return !slices.ContainsFunc(is, func(i astypes.Instance) bool { return aws.ToString(i.InstanceId) == abandon.Instance })
	})
	if err := poll(ctx, stateDeadline, func() (bool, error) {
		_, state := privateIP(ctx, t, abandon.Instance)
		return state == "terminated", nil
	}); err != nil {
		t.Errorf("abandoned instance %s: not terminated: %v", abandon.Instance, err)
	}

	// The plan (a dry run) changes nothing.
	before, beforeAbandon := snapshot(ctx, t, asgUnreachCont), snapshot(ctx, t, asgUnreachAbandon)
	plan := replay(t, asgUnreachCont, false)
	if !plan.DryRun || len(plan.Steps) != 1 || plan.Steps[0].Action != "restart" || plan.Steps[0].Execution.ARN != cont.ARN ||
		plan.Summary.Restart != 1 || plan.Steps[0].Result != "planned" {
		t.Fatalf("asgdns replay (dry run) for %s: %+v, want one restart of %s", asgUnreachCont, plan, cont.Name)
	}
	t.Logf("plan: %s %s: %s", plan.Steps[0].Action, plan.Steps[0].Execution.Name, plan.Steps[0].Reason)
	abandonPlan := replay(t, asgUnreachAbandon, false)
	if len(abandonPlan.Steps) == 0 {
		t.Errorf("asgdns replay (dry run) for %s: no steps, want %s skipped", asgUnreachAbandon, abandon.Name)
	}
	for _, st := range abandonPlan.Steps {
		if st.Action != "skip" || !strings.Contains(st.Reason, "ABANDON") {
			t.Errorf("asgdns replay (dry run) for %s: %s %s (%s), want skip: the replacement registers itself", asgUnreachAbandon, st.Action, st.Execution.Name, st.Reason)
		}
	}
	if after := snapshot(ctx, t, asgUnreachCont); !before.equal(after) {
		t.Fatalf("the dry run changed something:\nbefore %s\nafter  %s", before, after)
	}
	// (The ABANDON group may still be replacing its instance, so only the
	// executions the dry run could have touched, those that had ended, are
	// compared.)
	afterAbandon := snapshot(ctx, t, asgUnreachAbandon)
	for name, was := range beforeAbandon.executions {
		if strings.HasPrefix(was, "RUNNING/") {
			continue
		}
		if now := afterAbandon.executions[name]; now != was || afterAbandon.executions["replay-"+name] != "" {
			t.Errorf("the dry run changed %s: %s → %s (replays: %q)", name, was, now, afterAbandon.executions["replay-"+name])
		}
	}

	// --yes: a new execution, named after the original, registers it.
	done := replay(t, asgUnreachCont, true)
	if done.DryRun || len(done.Steps) != 1 || done.Steps[0].Result != "restarted" || done.Steps[0].ReplayName != "replay-"+cont.Name {
		t.Fatalf("asgdns replay --yes: %+v, want replay-%s restarted", done, cont.Name)
	}
	restarted := waitExecution(ctx, t, executionARN(done.Steps[0].ReplayName))
	if restarted.Status != sfntypes.ExecutionStatusSucceeded || restarted.Input != cont.Input {
		t.Fatalf("the restart %v, want SUCCEEDED with the original input", restarted)
	}
	ip, _ := privateIP(ctx, t, cont.Instance)
	if got, err := resolve(ctx, fqdn(asgUnreachCont, cont.Instance)); err != nil || !slices.Equal(got, []string{ip}) {
		t.Errorf("after the replay, resolve %s = %v, %v; want [%s]", fqdn(asgUnreachCont, cont.Instance), got, err, ip)
	}
	if st := parseState(t, restarted.Output); st.Lifecycle == nil || !st.Lifecycle.AlreadyCompleted {
		t.Errorf("the restart's $.lifecycle = %+v: the hook was released already, so completion reports alreadyCompleted", st.Lifecycle)
	}

	// Twice is a no-op: the second run finds the restart and skips.
	before = snapshot(ctx, t, asgUnreachCont)
	if !slices.ContainsFunc(before.names, func(r string) bool { return strings.HasSuffix(r, " IN A "+ip) }) {
		t.Errorf("zone transfer: records of %s %q, want its A record → %s", asgUnreachCont, before.names, ip)
	}
	again := replay(t, asgUnreachCont, true)
	if len(again.Steps) != 1 || again.Steps[0].Action != "skip" || again.Summary.Restart+again.Summary.Redrive != 0 ||
		!strings.Contains(again.Steps[0].Reason, "already restarted as replay-"+cont.Name) {
		t.Errorf("asgdns replay --yes again: %+v, want one skip (already restarted)", again)
	}
	if after := snapshot(ctx, t, asgUnreachCont); !before.equal(after) {
		t.Errorf("the second replay changed something:\nbefore %s\nafter  %s", before, after)
	}

	// The ABANDON group replaced its instance; with the DC back, a
	// replacement registers itself.
	replaced := waitGroup(ctx, t, asgUnreachAbandon, "a replacement InService", allInService(1))
	id := aws.ToString(replaced[0].InstanceId)
	ip, _ = privateIP(ctx, t, id)
	if got, err := resolve(ctx, fqdn(asgUnreachAbandon, id)); err != nil || !slices.Equal(got, []string{ip}) {
		t.Errorf("the replacement: resolve %s = %v, %v; want [%s]", fqdn(asgUnreachAbandon, id), got, err, ip)
	}
}

// executionARN is the ARN of the state machine's execution called name.
func executionARN(name string) string {
	return strings.Replace(h.s.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// groupSnapshot is what a dry run must not change for a group: its
// executions (status, redrives), the executions named replay-<one of
// them>, and its names in the zone (by zone transfer from BIND).
type groupSnapshot struct {
	executions map[string]string
	names      []string
}

func snapshot(ctx context.Context, t *testing.T, asg string) groupSnapshot {
	t.Helper()
	s := groupSnapshot{executions: map[string]string{}}
	names := map[string]bool{}
	var items []sfntypes.ExecutionListItem
	pages := sfn.NewListExecutionsPaginator(h.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.s.StateMachineARN), MaxResults: 1000})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Executions...)
	}
	for _, x := range items {
		e, err := describe(ctx, aws.ToString(x.ExecutionArn), x.Status != sfntypes.ExecutionStatusRunning)
		if err != nil {
			t.Fatal(err)
		}
		if e.ASG == asg {
			names[e.Name] = true
		}
	}
	for _, x := range items {
		name := aws.ToString(x.Name)
		if names[name] || names[strings.TrimPrefix(name, "replay-")] {
			s.executions[name] = fmt.Sprintf("%s/%d", x.Status, aws.ToInt32(x.RedriveCount))
		}
	}
	for _, line := range zoneTransfer(t) {
		if strings.HasPrefix(line, asg+"-") {
			s.names = append(s.names, line)
		}
	}
	slices.Sort(s.names)
	return s
}

// zoneTransfer is the zone's records (AXFR from BIND), one per line, TTLs
// left out.
func zoneTransfer(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("dig", "-k", h.s.DNS.KeyFile(), "-p", strconv.Itoa(h.s.DNS.Port()), "@127.0.0.1", Zone, "AXFR", "+noall", "+answer").CombinedOutput()
	if err != nil || strings.Contains(string(out), "Transfer failed") {
		t.Fatalf("dig AXFR %s: %v\n%s", Zone, err, out)
	}
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			lines = append(lines, strings.Join(append([]string{f[0]}, f[2:]...), " "))
		}
	}
	if len(lines) < 2 {
		t.Fatalf("dig AXFR %s: %s", Zone, out)
	}
	return lines
}

func (s groupSnapshot) equal(o groupSnapshot) bool {
	return fmt.Sprint(s.names) == fmt.Sprint(o.names) && fmt.Sprint(s.executions) == fmt.Sprint(o.executions)
}

func (s groupSnapshot) String() string {
	b, _ := json.Marshal(s.executions)
	return fmt.Sprintf("executions %s; names %q", b, s.names)
}
