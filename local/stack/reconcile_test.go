package stack

// The reconciler's proofs (DESIGN §9), each against the running stack: the
// real reconcile, list-zone and drain-dead-letters functions, the real
// state machine for every repair, and BIND read by AXFR and written with
// TSIG-signed nsupdate. Each test works on a configured group of its own
// and runs the reconciler limited to it ("asg"), so a sync run never
// decides about another test's records: a scoped run keeps every record
// whose owner it cannot place in its group.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// reconcileReport is the reconciler's output, the parts the proofs read.
type reconcileReport struct {
	Run       string   `json:"run"`
	Mode      string   `json:"mode"`
	DryRun    bool     `json:"dryRun"`
	ASGs      []string `json:"asgs"`
	Succeeded bool     `json:"succeeded"`
	Plan      struct {
		Mode    string `json:"mode"`
		Account string `json:"account"`
		Actions []struct {
			Op         string   `json:"op"`
			Kind       string   `json:"kind"`
			Execute    bool     `json:"execute"`
			InstanceID string   `json:"instanceId"`
			ASG        string   `json:"asg"`
			FQDN       string   `json:"fqdn"`
			DesiredIP  string   `json:"desiredIp"`
			CurrentIPs []string `json:"currentIps"`
			Reason     string   `json:"reason"`
			Withheld   string   `json:"withheld"`
		} `json:"actions"`
		Drift struct {
			Missing      int `json:"missing"`
			WrongAddress int `json:"wrongAddress"`
			Stale        int `json:"stale"`
			OtherOwner   int `json:"otherOwner"`
		} `json:"drift"`
		Removals struct {
			Candidates int    `json:"candidates"`
			Owned      int    `json:"owned"`
			Cap        int    `json:"cap"`
			Floor      int    `json:"floor"`
			Percent    int    `json:"percent"`
			Execute    int    `json:"execute"`
			Withheld   string `json:"withheld"`
		} `json:"removals"`
		InSync int `json:"inSync"`
		Zones  []struct {
			Zone       string `json:"zone"`
			Listed     bool   `json:"listed"`
			Complete   bool   `json:"complete"`
			Owned      int    `json:"owned"`
			OtherOwner int    `json:"otherOwner"`
			Unmarked   int    `json:"unmarked"`
		} `json:"zones"`
	} `json:"plan"`
	Reads struct {
		Zones    int `json:"zones"`
		Pages    int `json:"pages"`
		Commands int `json:"commands"`
	} `json:"reads"`
	Started []struct {
		Op         string `json:"op"`
		Kind       string `json:"kind"`
		InstanceID string `json:"instanceId"`
		FQDN       string `json:"fqdn"`
		Execution  string `json:"execution"`
		Already    bool   `json:"already"`
	} `json:"started"`
	DeadLetters struct {
		Drained        bool     `json:"drained"`
		Received       int      `json:"received"`
		Started        int      `json:"started"`
		AlreadyStarted int      `json:"alreadyStarted"`
		Deleted        int      `json:"deleted"`
		Left           int      `json:"left"`
		Problems       []string `json:"problems"`
	} `json:"deadLetters"`
	Errors []string `json:"errors"`

	raw string
}

// reconcileRun invokes the reconciler of the primary deployment, limited
// to asg, and returns its report; an invocation error fails the test.
func reconcileRun(ctx context.Context, t testing.TB, mode, asg, run string, drain bool) reconcileReport {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"mode": mode, "asg": asg, "run": run, "drainDeadLetters": drain})
	out, err := h.s.Lambdas.Invoke(ctx, functionName("ReconcileFunction"), in)
	if err != nil {
		t.Fatalf("reconcile %s: %v\n%s", in, err, out)
	}
	var r reconcileReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("reconcile %s: output is not a report: %v\n%s", in, err, out)
	}
	r.raw = string(out)
	if len(r.Errors) > 0 {
		t.Errorf("reconcile %s: errors %q", in, r.Errors)
	}
	return r
}

// action finds the plan's action of op for instance id.
func (r reconcileReport) action(t testing.TB, op, id string) (kind string, execute bool, withheld string) {
	t.Helper()
	for _, a := range r.Plan.Actions {
		if a.Op == op && a.InstanceID == id {
			return a.Kind, a.Execute, a.Withheld
		}
	}
	t.Fatalf("%s run %s: no %s action for %s in the plan: %s", r.Mode, r.Run, op, id, r.raw)
	return "", false, ""
}

func (r reconcileReport) startedFor(id string) []string {
	var out []string
	for _, s := range r.Started {
		if s.InstanceID == id {
			out = append(out, s.Execution)
		}
	}
	return out
}

// runName is a run id unique to this test binary's run (1-36 characters).
func runName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e12)
}

// nsupdate sends one signed RFC 2136 update to the stack's BIND, as the
// DNS document's Linux step does.
func nsupdate(t testing.TB, lines ...string) {
	t.Helper()
	script := "server 127.0.0.1\nzone " + Zone + "\n" + strings.Join(lines, "\n") + "\nsend\n"
	cmd := exec.Command("nsupdate", "-p", strconv.Itoa(h.s.DNS.Port()), "-t", "10", "-k", h.s.DNS.KeyFile())
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate (is bind9-dnsutils installed?): %v\n%s\nscript:\n%s", err, out, script)
	}
}

// ownerMarker is the TXT data of an ownership marker.
func ownerMarker(account, instance string) string {
	return `"asgdns-owner=` + account + "/" + instance + `"`
}

// zoneLines reads the zone by AXFR (signed) and keeps the records whose
// owner name satisfies keep, normalized (one space between fields) and
// sorted.
func zoneLines(t testing.TB, keep func(name string) bool) []string {
	t.Helper()
	text, err := h.s.DNS.Transfer(Zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !keep(strings.TrimSuffix(f[0], ".")) {
			continue
		}
		out = append(out, strings.Join(f, " "))
	}
	slices.Sort(out)
	return out
}

func groupPrefix(asg string) func(string) bool {
	return func(name string) bool { return strings.HasPrefix(name, asg+"-") }
}

// hasTXT reports whether the zone holds a TXT marker of account/id at name.
func hasMarker(t testing.TB, name, account, id string) bool {
	t.Helper()
	for _, l := range zoneLines(t, func(n string) bool { return n == name }) {
		if strings.Contains(l, " TXT ") && strings.Contains(l, strings.Trim(ownerMarker(account, id), `"`)) {
			return true
		}
	}
	return false
}

// waitNamed waits for the executions of asg named in names to end and
// returns them.
func waitNamed(ctx context.Context, t testing.TB, asg string, since time.Time, names []string) []execution {
	t.Helper()
	return waitExecutions(ctx, t, asg, since, len(names), func(e execution) bool { return slices.Contains(names, e.Name) })
}

func requireSucceeded(t testing.TB, execs []execution) {
	t.Helper()
	for _, e := range execs {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Errorf("execution %v, want SUCCEEDED", e)
		}
	}
}

// hooklessGroup creates a group without asgdns's hooks (a team that forgot
// them: no lifecycle event is ever sent) and waits for n InService.
func hooklessGroup(ctx context.Context, t testing.TB, asg string, maxSize, n int32) []astypes.Instance {
	t.Helper()
	createGroup(ctx, t, asg, maxSize, n, nil)
	return waitGroup(ctx, t, asg, fmt.Sprintf("%d InService", n), allInService(int(n)))
}

// launchedGroup creates a group with asgdns's hooks and waits for the n
// launch executions to succeed.
func launchedGroup(ctx context.Context, t testing.TB, asg string, n int32) []astypes.Instance {
	t.Helper()
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asg, n, n, standardHooks(""))
	requireSucceeded(t, waitExecutions(ctx, t, asg, since, int(n), ofTransition("launch")))
	if t.Failed() {
		t.FailNow()
	}
	return waitGroup(ctx, t, asg, fmt.Sprintf("%d InService", n), allInService(int(n)))
}

// Proof 1: a launch whose event never arrived. Report shows it missing and
// changes nothing; upsert registers it through a normal execution.
func TestReconcileRegistersMissing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 8*time.Minute)
	asg := asgRecMissing
	inst := hooklessGroup(ctx, t, asg, 1, 1)[0]
	id := aws.ToString(inst.InstanceId)
	ip, _ := privateIP(ctx, t, id)
	name := fqdn(asg, id)
	if got := dig(t, name); len(got) != 0 {
		t.Fatalf("%s resolves to %v before any repair: the group has no hooks, nothing should have registered it", name, got)
	}

	since := time.Now().Add(-time.Second)
	rep := reconcileRun(ctx, t, "report", asg, runName("miss-report"), false)
	kind, execute, _ := rep.action(t, "register", id)
	if kind != "missing" || execute || rep.Plan.Drift.Missing != 1 || len(rep.Started) != 0 {
		t.Errorf("report: register %s is %s (execute %v), drift.missing %d, started %d; want missing, not executed, 1, 0:\n%s",
			id, kind, execute, rep.Plan.Drift.Missing, len(rep.Started), rep.raw)
	}
	if got := dig(t, name); len(got) != 0 {
		t.Errorf("after a report run %s resolves to %v, want nothing", name, got)
	}

	up := reconcileRun(ctx, t, "upsert", asg, runName("miss-upsert"), false)
	if kind, execute, _ := up.action(t, "register", id); kind != "missing" || !execute {
		t.Errorf("upsert: register %s is %s (execute %v), want missing, executed", id, kind, execute)
	}
	started := up.startedFor(id)
	if want := "reconcile-" + up.Run + "-" + id + "-register"; len(started) != 1 || started[0] != want {
		t.Fatalf("upsert started %v for %s, want [%s]: %s", started, id, want, up.raw)
	}
	execs := waitNamed(ctx, t, asg, since, started)
	requireSucceeded(t, execs)
	if got := dig(t, name); !slices.Equal(got, []string{ip}) {
		t.Errorf("dig %s = %v after the repair, want [%s]", name, got, ip)
	}
	if !hasMarker(t, name, AppAccount, id) {
		t.Errorf("%s has no marker of %s/%s after the repair", name, AppAccount, id)
	}
	// In sync now: a second report plans nothing for it.
	again := reconcileRun(ctx, t, "report", asg, runName("miss-again"), false)
	if len(again.Plan.Actions) != 0 || again.Plan.InSync != 1 {
		t.Errorf("report after the repair: %d actions, %d in sync; want 0, 1: %s", len(again.Plan.Actions), again.Plan.InSync, again.raw)
	}
}

// Proof 2: an instance gone without its terminate hook (the team deleted
// the hook, then scaled in): its record is reported, kept by upsert,
// removed by sync.
func TestReconcileStaleRecord(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	asg := asgRecGone
	inst := launchedGroup(ctx, t, asg, 1)[0]
	id := aws.ToString(inst.InstanceId)
	ip, _ := privateIP(ctx, t, id)
	name := fqdn(asg, id)
	if got := dig(t, name); !slices.Equal(got, []string{ip}) {
		t.Fatalf("dig %s = %v after the launch, want [%s]", name, got, ip)
	}
	if _, err := h.as.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{
		AutoScalingGroupName: aws.String(asg), LifecycleHookName: aws.String("asgdns-terminate")}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second)
	setDesired(ctx, t, asg, 0)
	waitGroup(ctx, t, asg, "empty", func(i []astypes.Instance) bool { return len(i) == 0 })
	if _, ok := h.log.find("EC2 Instance-terminate Lifecycle Action", id); ok {
		t.Fatalf("a terminate lifecycle action was sent for %s: the proof needs one that never was", id)
	}
	if _, state := privateIP(ctx, t, id); state != "terminated" && state != "shutting-down" {
		t.Fatalf("%s is %s, want terminated", id, state)
	}

	rep := reconcileRun(ctx, t, "report", asg, runName("gone-report"), false)
	if kind, execute, _ := rep.action(t, "remove", id); kind != "stale" || execute || len(rep.Started) != 0 {
		t.Errorf("report: remove %s is %s (execute %v), started %d; want stale, not executed, 0: %s", id, kind, execute, len(rep.Started), rep.raw)
	}
	up := reconcileRun(ctx, t, "upsert", asg, runName("gone-upsert"), false)
	if kind, execute, withheld := up.action(t, "remove", id); kind != "stale" || execute || withheld == "" || len(up.Started) != 0 {
		t.Errorf("upsert: remove %s is %s (execute %v, withheld %q), started %d; want stale, withheld, 0: %s",
			id, kind, execute, withheld, len(up.Started), up.raw)
	}
	if got := dig(t, name); !slices.Equal(got, []string{ip}) {
		t.Errorf("dig %s = %v after report and upsert, want [%s] (kept)", name, got, ip)
	}

	sync := reconcileRun(ctx, t, "sync", asg, runName("gone-sync"), false)
	if kind, execute, _ := sync.action(t, "remove", id); kind != "stale" || !execute {
		t.Errorf("sync: remove %s is %s (execute %v), want stale, executed: %s", id, kind, execute, sync.raw)
	}
	if sync.Plan.Removals.Execute != 1 {
		t.Errorf("sync: removals.execute %d, want 1: %s", sync.Plan.Removals.Execute, sync.raw)
	}
	started := sync.startedFor(id)
	if len(started) != 1 || !strings.HasPrefix(started[0], "reconcile-"+sync.Run+"-"+id+"-remove-") {
		t.Fatalf("sync started %v for %s: %s", started, id, sync.raw)
	}
	requireSucceeded(t, waitNamed(ctx, t, asg, since, started))
	if got := dig(t, name); len(got) != 0 {
		t.Errorf("dig %s = %v after sync, want nothing", name, got)
	}
	if left := zoneLines(t, func(n string) bool { return n == name }); len(left) != 0 {
		t.Errorf("after sync the zone still holds at %s: %q", name, left)
	}
}

// Proof 3: the zone wiped (a DC restored from an old backup): upsert
// re-creates every record.
func TestReconcileWipedZone(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	asg := asgRecWiped
	insts := launchedGroup(ctx, t, asg, 3)
	want := map[string]string{}
	var deletes []string
	for _, i := range insts {
		id := aws.ToString(i.InstanceId)
		ip, _ := privateIP(ctx, t, id)
		want[id] = ip
		deletes = append(deletes, "update delete "+fqdn(asg, id)+". A", "update delete "+fqdn(asg, id)+". TXT")
	}
	before := zoneLines(t, groupPrefix(asg))
	if len(before) != 6 {
		t.Fatalf("the group's records before the wipe: %q, want an A and a TXT for each of 3", before)
	}
	nsupdate(t, deletes...)
	if left := zoneLines(t, groupPrefix(asg)); len(left) != 0 {
		t.Fatalf("after the wipe: %q", left)
	}

	since := time.Now().Add(-time.Second)
	up := reconcileRun(ctx, t, "upsert", asg, runName("wiped"), false)
	if up.Plan.Drift.Missing != 3 || len(up.Started) != 3 {
		t.Fatalf("upsert after the wipe: drift.missing %d, started %d; want 3, 3: %s", up.Plan.Drift.Missing, len(up.Started), up.raw)
	}
	var names []string
	for id := range want {
		if kind, execute, _ := up.action(t, "register", id); kind != "missing" || !execute {
			t.Errorf("register %s is %s (execute %v), want missing, executed", id, kind, execute)
		}
		names = append(names, up.startedFor(id)...)
	}
	requireSucceeded(t, waitNamed(ctx, t, asg, since, names))
	for id, ip := range want {
		if got := dig(t, fqdn(asg, id)); !slices.Equal(got, []string{ip}) {
			t.Errorf("dig %s = %v after upsert, want [%s]", fqdn(asg, id), got, ip)
		}
	}
	if after := zoneLines(t, groupPrefix(asg)); !slices.Equal(after, before) {
		t.Errorf("the group's records after upsert differ from before the wipe:\nbefore %q\nafter  %q", before, after)
	}
}

// Proof 4: another account's records and records without a marker are
// never touched, by a sync run that has its own work to do.
func TestReconcileLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 8*time.Minute)
	asg := asgRecForeign
	inst := hooklessGroup(ctx, t, asg, 1, 1)[0]
	id := aws.ToString(inst.InstanceId)

	// Named like the group's own records, so only the marker tells them
	// apart: another account's (a gone instance, and one with this
	// account's instance id), and unmarked ones of every kind a real zone
	// has.
	p := asg + "-"
	foreign := []string{
		"update add " + p + "i-0aaaaaaaaaaaaaaa1." + Zone + ". 300 A 10.20.251.1",
		"update add " + p + "i-0aaaaaaaaaaaaaaa1." + Zone + ". 300 TXT " + ownerMarker(OtherAppAccount, "i-0aaaaaaaaaaaaaaa1"),
		"update add " + p + "other-same-id." + Zone + ". 300 A 10.20.251.2",
		"update add " + p + "other-same-id." + Zone + ". 300 TXT " + ownerMarker("999999999999", id),
		"update add " + p + "unmarked." + Zone + ". 300 A 10.20.251.3",
		"update add " + p + "spf." + Zone + ". 300 TXT \"v=spf1 ip4:10.20.0.0/16 -all\"",
		"update add " + p + "alias." + Zone + ". 300 CNAME " + p + "unmarked." + Zone + ".",
		"update add " + p + "mail." + Zone + ". 300 MX 10 " + p + "unmarked." + Zone + ".",
		"update add *." + p + "wild." + Zone + ". 300 A 10.20.251.4",
		"update add " + p + "legacy." + Zone + ". 300 A 10.20.251.5",
		"update add " + p + "legacy." + Zone + ". 300 TXT \"asgdns-owner=" + id + "\"",
	}
	nsupdate(t, foreign...)
	isPlanted := func(n string) bool {
		return strings.HasPrefix(n, p) && !strings.HasPrefix(n, p+id) || strings.HasPrefix(n, "*."+p)
	}
	before := zoneLines(t, isPlanted)
	if len(before) != len(foreign) {
		t.Fatalf("planted %d records, the zone shows %d: %q", len(foreign), len(before), before)
	}

	since := time.Now().Add(-time.Second)
	sync := reconcileRun(ctx, t, "sync", asg, runName("foreign"), false)
	for _, a := range sync.Plan.Actions {
		if a.InstanceID != id {
			t.Errorf("sync planned %s %s of %s (%s): only %s is this account's", a.Op, a.FQDN, a.InstanceID, a.Kind, id)
		}
	}
	if sync.Plan.Drift.OtherOwner < 2 {
		t.Errorf("sync: drift.otherOwner %d, want at least the 2 planted: %s", sync.Plan.Drift.OtherOwner, sync.raw)
	}
	if len(sync.Plan.Zones) != 1 || sync.Plan.Zones[0].Unmarked < 5 {
		t.Errorf("sync: zones %+v, want one with at least the 5 planted unmarked names", sync.Plan.Zones)
	}
	started := sync.startedFor(id)
	if len(started) != 1 {
		t.Fatalf("sync started %v for %s, want its register: %s", started, id, sync.raw)
	}
	requireSucceeded(t, waitNamed(ctx, t, asg, since, started))
	if after := zoneLines(t, isPlanted); !slices.Equal(after, before) {
		t.Errorf("other owners' and unmarked records changed:\nbefore %q\nafter  %q", before, after)
	}
}

// Proof 5: the deletion cap. More stale records than max(20, 10% of the
// owned): the sync run removes none, and says why with the numbers.
func TestReconcileRemovalCap(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	asg := asgRecCap
	createGroup(ctx, t, asg, 400, 0, nil)
	// How many records this account owns in the zone now (other tests'
	// too): enough stale ones to be over the cap counting themselves.
	probe := reconcileRun(ctx, t, "report", asg, runName("cap-probe"), false)
	owned := probe.Plan.Removals.Owned
	n := max(21, owned/9+2)
	if n > 400 {
		t.Fatalf("the zone holds %d owned records: over the cap would need %d instances", owned, n)
	}
	setDesired(ctx, t, asg, int32(n))
	insts := waitGroup(ctx, t, asg, fmt.Sprintf("%d InService", n), allInService(n))
	var adds []string
	var ids []string
	for _, i := range insts {
		id := aws.ToString(i.InstanceId)
		ip, _ := privateIP(ctx, t, id)
		ids = append(ids, id)
		adds = append(adds, "update add "+fqdn(asg, id)+". 300 A "+ip, "update add "+fqdn(asg, id)+". 300 TXT "+ownerMarker(AppAccount, id))
	}
	nsupdate(t, adds...)
	// Gone without a terminate hook: the group has none.
	setDesired(ctx, t, asg, 0)
	waitGroup(ctx, t, asg, "empty", func(i []astypes.Instance) bool { return len(i) == 0 })
	before := zoneLines(t, groupPrefix(asg))
	if len(before) != 2*n {
		t.Fatalf("%d records of the group in the zone, want %d", len(before), 2*n)
	}

	since := time.Now().Add(-time.Second)
	sync := reconcileRun(ctx, t, "sync", asg, runName("cap"), false)
	rm := sync.Plan.Removals
	t.Logf("removals: %+v", rm)
	if rm.Candidates != n || rm.Cap != max(20, rm.Owned*10/100) || rm.Candidates <= rm.Cap {
		t.Fatalf("sync: removals %+v; want %d candidates over a cap of max(20, 10%% of %d)", rm, n, rm.Owned)
	}
	if rm.Execute != 0 || len(sync.Started) != 0 || sync.Plan.Drift.Stale != n {
		t.Errorf("sync over the cap: removals.execute %d, started %d, drift.stale %d; want 0, 0, %d", rm.Execute, len(sync.Started), sync.Plan.Drift.Stale, n)
	}
	for _, num := range []int{rm.Candidates, rm.Cap} {
		if !strings.Contains(rm.Withheld, strconv.Itoa(num)) {
			t.Errorf("removals.withheld %q does not name %d", rm.Withheld, num)
		}
	}
	for _, id := range ids {
		if _, execute, withheld := sync.action(t, "remove", id); execute || withheld == "" {
			t.Errorf("remove %s: execute %v, withheld %q", id, execute, withheld)
		}
	}
	time.Sleep(2 * time.Second) // anything started would have begun
	if ex, err := executionsSince(ctx, since); err != nil {
		t.Fatal(err)
	} else if ex = slices.DeleteFunc(ex, func(e execution) bool { return e.ASG != asg }); len(ex) != 0 {
		t.Errorf("executions of %s since the run: %v", asg, ex)
	}
	if after := zoneLines(t, groupPrefix(asg)); !slices.Equal(after, before) {
		t.Errorf("records changed over the cap:\nbefore %d %q\nafter  %d %q", len(before), before, len(after), after)
	}
}

// Proof 6: a dead-lettered launch event is drained and its execution runs.
func TestReconcileDrainsDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 8*time.Minute)
	asg := asgRecDLQ
	inst := hooklessGroup(ctx, t, asg, 1, 1)[0]
	id := aws.ToString(inst.InstanceId)
	ip, _ := privateIP(ctx, t, id)
	groups, err := h.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asg}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("describe %s: %v", asg, err)
	}
	eventID := newEventID(t)
	// As EventBridge delivers it (no token: the instance is InService, the
	// hook long gone; the workflow registers without completing).
	event := fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"EC2 Instance-launch Lifecycle Action","source":"aws.autoscaling",`+
		`"account":%q,"time":%q,"region":%q,"resources":[%q],"detail":{"LifecycleHookName":"asgdns-launch",`+
		`"AutoScalingGroupName":%q,"EC2InstanceId":%q,"LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING",`+
		`"Origin":"EC2","Destination":"AutoScalingGroup"}}`,
		eventID, AppAccount, time.Now().UTC().Format("2006-01-02T15:04:05Z"), Region,
		aws.ToString(groups.AutoScalingGroups[0].AutoScalingGroupARN), asg, id)
	since := time.Now().Add(-time.Second)
	if err := h.s.Cloud.DeadLetter(AppAccount, json.RawMessage(event), "SDK_CLIENT_ERROR", "Rate exceeded"); err != nil {
		t.Fatal(err)
	}

	rep := reconcileRun(ctx, t, "report", asg, runName("dlq"), true)
	dl := rep.DeadLetters
	if !dl.Drained || dl.Received < 1 || dl.Started < 1 || dl.Deleted < 1 || dl.Left != 0 || len(dl.Problems) != 0 {
		t.Errorf("deadLetters %+v, want drained, ours received, started and deleted, none left", dl)
	}
	if len(rep.Started) != 0 {
		t.Errorf("a report run started %d repairs", len(rep.Started))
	}
	name := "dlq-" + eventID
	e := waitNamed(ctx, t, asg, since, []string{name})[0]
	if e.Status != sfntypes.ExecutionStatusSucceeded || e.Transition != "launch" || e.Instance != id {
		t.Errorf("execution %v, want a SUCCEEDED launch of %s", e, id)
	}
	if got := dig(t, fqdn(asg, id)); !slices.Equal(got, []string{ip}) {
		t.Errorf("dig %s = %v after the drained launch, want [%s]", fqdn(asg, id), got, ip)
	}
	q := sqs.NewFromConfig(h.cfg)
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(h.s.Deployments[0].UndeliveredEventsQueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		if attrs.Attributes[k] != "0" {
			t.Errorf("dead-letter queue %s = %s after the drain, want 0", k, attrs.Attributes[k])
		}
	}
}

func newEventID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	x := fmt.Sprintf("%x", b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// Proof 7: a report run with drift present changes nothing.
func TestReconcileReportChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 8*time.Minute)
	asg := asgRecReport
	insts := launchedGroup(ctx, t, asg, 2)
	a, b := aws.ToString(insts[0].InstanceId), aws.ToString(insts[1].InstanceId)
	// Drift: a's record gone, b's address wrong.
	nsupdate(t, "update delete "+fqdn(asg, a)+". A", "update delete "+fqdn(asg, a)+". TXT",
		"update delete "+fqdn(asg, b)+". A", "update add "+fqdn(asg, b)+". 300 A 10.20.252.9")
	before := zoneLines(t, groupPrefix(asg))
	since := time.Now().Add(-time.Second)
	rep := reconcileRun(ctx, t, "report", asg, runName("report"), false)
	if k, x, _ := rep.action(t, "register", a); k != "missing" || x {
		t.Errorf("register %s: %s (execute %v), want missing, not executed", a, k, x)
	}
	if k, x, _ := rep.action(t, "register", b); k != "wrong-address" || x {
		t.Errorf("register %s: %s (execute %v), want wrong-address, not executed", b, k, x)
	}
	if len(rep.Started) != 0 || rep.Plan.Removals.Execute != 0 {
		t.Errorf("report started %d, removes %d", len(rep.Started), rep.Plan.Removals.Execute)
	}
	time.Sleep(2 * time.Second)
	if ex, err := executionsSince(ctx, since); err != nil {
		t.Fatal(err)
	} else if ex = slices.DeleteFunc(ex, func(e execution) bool { return e.ASG != asg }); len(ex) != 0 {
		t.Errorf("executions of %s since the report run: %v", asg, ex)
	}
	if after := zoneLines(t, groupPrefix(asg)); !slices.Equal(after, before) {
		t.Errorf("the zone changed on a report run:\nbefore %q\nafter  %q", before, after)
	}
	// The operator's command, against the stack as against AWS: report,
	// and sync without --yes (a dry run), find the same drift and change
	// nothing either.
	for _, args := range [][]string{{"--mode", "report"}, {"--mode", "sync"}} {
		stdout, stderr, code := asgdns(t, append([]string{"reconcile", "--stack", StackName, "--asg", asg}, args...)...)
		if code != 0 || !strings.Contains(stdout, "register  missing") || !strings.Contains(stdout, "nothing changed") {
			t.Errorf("asgdns reconcile %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
	if after := zoneLines(t, groupPrefix(asg)); !slices.Equal(after, before) {
		t.Errorf("the zone changed on asgdns reconcile without --yes:\nbefore %q\nafter  %q", before, after)
	}
}

// BenchmarkReconcile: one upsert run over a group of N instances
// (ASGDNS_BENCH_RECONCILE, default 100) of which 5% have lost their
// record. Reports the run's reads and the repairs it started; fails when
// the reads are not ceil(owned/50) pages, one command each.
func BenchmarkReconcile(b *testing.B) {
	n := 100
	if v := os.Getenv("ASGDNS_BENCH_RECONCILE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 20 {
			b.Fatalf("ASGDNS_BENCH_RECONCILE=%q: want a count of at least 20", v)
		}
	}
	ctx := testContext(b, 60*time.Minute)
	asg := asgBenchRec
	createGroup(ctx, b, asg, int32(n), int32(n), nil)
	var insts []astypes.Instance
	if err := poll(ctx, 20*time.Minute, func() (bool, error) {
		var err error
		insts, err = groupInstances(ctx, asg)
		return err == nil && allInService(n)(insts), err
	}); err != nil {
		b.Fatalf("%d InService: %v", n, err)
	}
	ips := map[string]string{}
	var ids []string
	for _, i := range insts {
		id := aws.ToString(i.InstanceId)
		ip, _ := privateIP(ctx, b, id)
		ids, ips[id] = append(ids, id), ip
	}
	slices.Sort(ids)
	drift := ids[:max(1, n*5/100)]
	for start := 0; start < n; start += 100 {
		var adds []string
		for _, id := range ids[start:min(start+100, n)] {
			adds = append(adds, "update add "+fqdn(asg, id)+". 300 A "+ips[id], "update add "+fqdn(asg, id)+". 300 TXT "+ownerMarker(AppAccount, id))
		}
		nsupdate(b, adds...)
	}
	var commands, pages, started, owned int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var dels []string
		for _, id := range drift {
			dels = append(dels, "update delete "+fqdn(asg, id)+". A", "update delete "+fqdn(asg, id)+". TXT")
		}
		nsupdate(b, dels...)
		since := time.Now().Add(-time.Second)
		b.StartTimer()
		r := reconcileRun(ctx, b, "upsert", asg, runName(fmt.Sprintf("bench%d", i)), false)
		b.StopTimer()
		if r.Plan.Drift.Missing != len(drift) || len(r.Started) != len(drift) {
			b.Fatalf("run %d: drift.missing %d, started %d; want %d each: %.2000s", i, r.Plan.Drift.Missing, len(r.Started), len(drift), r.raw)
		}
		wantPages := 0
		for _, z := range r.Plan.Zones {
			wantPages += max(1, int(math.Ceil(float64(z.Owned)/50)))
			owned += z.Owned
		}
		if r.Reads.Pages != wantPages || r.Reads.Commands != r.Reads.Pages {
			b.Fatalf("run %d: reads %+v over zones %+v: want ceil(owned/50) pages per zone (%d), one command each", i, r.Reads, r.Plan.Zones, wantPages)
		}
		commands, pages, started = commands+r.Reads.Commands, pages+r.Reads.Pages, started+len(r.Started)
		var names []string
		for _, s := range r.Started {
			names = append(names, s.Execution)
		}
		requireSucceeded(b, waitNamed(ctx, b, asg, since, names))
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "instances")
	b.ReportMetric(float64(owned)/float64(b.N), "owned/run")
	b.ReportMetric(float64(pages)/float64(b.N), "pages/run")
	b.ReportMetric(float64(commands)/float64(b.N), "commands/run")
	b.ReportMetric(float64(started)/float64(b.N), "repairs/run")
}
