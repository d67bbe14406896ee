package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/functions/describe-instance/describe"
	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// TestReport: the default run reads everything, plans, changes nothing,
// and returns the report (golden).
func TestReport(t *testing.T) {
	f := newWorld()
	var logs bytes.Buffer
	h, sessions := newHandler(t, f, &logs)
	rep := mustHandle(t, h, `{"run":"run-1"}`)
	lambdatest.Golden(t, "testdata/report.golden.json", rep)
	if n := f.count("StartExecution") + f.count("ReceiveMessage") + f.count("DeleteMessage") + f.count("Invoke "+drainFn); n != 0 {
		t.Errorf("report mode changed something: %v", f.Calls())
	}
	if !rep.Succeeded || rep.Mode != reconcile.ModeReport {
		t.Errorf("succeeded %v, mode %s", rep.Succeeded, rep.Mode)
	}
	// Every list command went with the shared-services session of the
	// run (list-zone's), to the document, with the list action's
	// parameters only: one list-zone invocation per page.
	for i, in := range f.sent {
		var o ssm.Options
		for _, fn := range f.sendOpts[i] {
			fn(&o)
		}
		if s, ok := o.Credentials.(*lambdatest.Session); !ok || *s != (lambdatest.Session{InstanceID: contract.CredentialsSubject, Execution: runID}) {
			t.Errorf("SendCommand %d credentials %#v, want the run's session", i, o.Credentials)
		}
		if aws.ToString(in.DocumentName) != "asgdns-dns-record" || in.Parameters[workflow.ParamAction][0] != workflow.ListAction ||
			len(in.Parameters) != 3 || aws.ToString(in.MaxConcurrency) != "1" || len(aws.ToString(in.Comment)) > 100 {
			t.Errorf("SendCommand %d: %s", i, compactJSON(t, in))
		}
	}
	if len(sessions.Asked) != rep.Reads.Pages || f.count("Invoke "+listFn) != rep.Reads.Pages {
		t.Errorf("asked for %d sessions in %d invocations, want one per page (%d)", len(sessions.Asked), f.count("Invoke "+listFn), rep.Reads.Pages)
	}
	for _, s := range sessions.Asked {
		if s != (lambdatest.Session{InstanceID: contract.CredentialsSubject, Execution: runID}) {
			t.Errorf("session %+v, want the run's", s)
		}
	}
	lambdatest.LogsContain(t, logs.String(), `"run":"run-1"`, `"msg":"reconcile run done"`)
	lambdatest.CheckNoSecrets(t, rep, nil, logs.String(), lambdatest.Secrets())
}

// TestModes: what each mode starts, in the same world.
func TestModes(t *testing.T) {
	register := "reconcile-run-1-" + iA + "-register"
	remove := executionName(runID, reconcile.Action{Op: reconcile.OpRemove, FQDN: fqdn("web-prod", iC, corp), InstanceID: iC})
	for _, tc := range []struct {
		mode    reconcile.Mode
		started []string
	}{
		{reconcile.ModeReport, nil},
		{reconcile.ModeUpsert, []string{register}},
		{reconcile.ModeSync, []string{register, remove}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			f := newWorld()
			h, _ := newHandler(t, f, io.Discard)
			rep := mustHandle(t, h, fmt.Sprintf(`{"mode":%q,"run":"run-1"}`, tc.mode))
			if got := startedNames(rep); !slices.Equal(got, tc.started) {
				t.Errorf("started %v, want %v", got, tc.started)
			}
			var sent []string
			for _, in := range f.started {
				sent = append(sent, aws.ToString(in.Name))
				if aws.ToString(in.StateMachineArn) != stateMachine {
					t.Errorf("started on %s", aws.ToString(in.StateMachineArn))
				}
			}
			if !slices.Equal(sent, tc.started) {
				t.Errorf("StartExecution %v, want %v", sent, tc.started)
			}
			if rep.Plan.Kept != 1 {
				t.Errorf("kept %d, want the warm pool instance's record kept", rep.Plan.Kept)
			}
			for _, name := range sent {
				if len(name) > 80 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
					t.Errorf("execution name %q is not ≤ 80 of [A-Za-z0-9_-]", name)
				}
			}
		})
	}
}

// TestRepairInputsAreLifecycleEvents runs what the normal workflow does
// with each repair's input: PlanFor with the configured hooks, then
// DescribeInstance itself, which registers the record the plan derived,
// and removes exactly the record the plan names (from $.instance, without
// the instance).
func TestRepairInputsAreLifecycleEvents(t *testing.T) {
	f := newWorld()
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if len(f.started) != 2 {
		t.Fatalf("started %d, want 2", len(f.started))
	}
	actions := map[string]reconcile.Action{}
	for _, a := range rep.Plan.Executed() {
		actions[a.InstanceID] = a
	}
	for _, in := range f.started {
		var state workflow.State
		if err := json.Unmarshal([]byte(aws.ToString(in.Input)), &state); err != nil {
			t.Fatal(err)
		}
		var marker struct{ Reconcile Origin }
		_ = json.Unmarshal([]byte(aws.ToString(in.Input)), &marker)
		plan, err := workflow.PlanFor(state.Event, hooks)
		if err != nil {
			t.Fatalf("PlanFor: %v", err)
		}
		a := actions[plan.InstanceID]
		if plan.Complete() || plan.Token != "" {
			t.Errorf("%s: a repair carries a token: it would complete a lifecycle action", aws.ToString(in.Name))
		}
		if marker.Reconcile != (Origin{Run: runID, Kind: a.Kind, Mode: reconcile.ModeSync}) {
			t.Errorf("reconcile marker %+v", marker.Reconcile)
		}
		if state.Account != account || state.Region != "eu-west-1" || state.ID == "" {
			t.Errorf("event envelope %+v", state.Event)
		}
		// DescribeInstance, as the state machine runs it first.
		payload, _ := json.Marshal(map[string]any{"execution": aws.ToString(in.Name), "state": json.RawMessage(aws.ToString(in.Input))})
		d := &describe.Handler{EC2: f, AutoScaling: f, Defaults: defaults(t), Hooks: hooks, Log: lambdatest.JSONLogger(io.Discard, slog.LevelInfo)}
		got, err := d.Handle(context.Background(), payload)
		if err != nil {
			t.Fatalf("DescribeInstance on %s: %v", aws.ToString(in.Name), err)
		}
		switch a.Op {
		case reconcile.OpRegister:
			if plan.Action != workflow.ActionRegister || plan.HookName != launchHook {
				t.Errorf("register plan %+v", plan)
			}
			if got.Action != workflow.ActionRegister || *got.Record != *a.Record || got.PrivateIP != a.DesiredIP || got.Complete {
				t.Errorf("DescribeInstance %s, want to register %+v at %s", compactJSON(t, got), *a.Record, a.DesiredIP)
			}
		case reconcile.OpRemove:
			if plan.Action != workflow.ActionDeregister || plan.HookName != termHook {
				t.Errorf("remove plan %+v", plan)
			}
			if state.Instance == nil || state.Instance.Record == nil || config.CheckRecord(*state.Instance.Record) != nil {
				t.Fatalf("$.instance %s does not pass config.CheckRecord", compactJSON(t, state.Instance))
			}
			want := workflow.Record{Hostname: a.Hostname, Zone: a.Zone, FQDN: a.FQDN, TTL: 300, PTR: false}
			if *state.Instance.Record != want || state.Instance.Action != workflow.ActionDeregister || state.Instance.InstanceID != iC {
				t.Errorf("$.instance %s, want the record %+v", compactJSON(t, state.Instance), want)
			}
			if got.Action != workflow.ActionDeregister || *got.Record != want || got.Complete {
				t.Errorf("DescribeInstance %s, want to deregister %+v", compactJSON(t, got), want)
			}
		}
	}
}

// TestRemovalCap: more stale records than the cap, in sync: the executor
// starts no removal (registers still go).
func TestRemovalCap(t *testing.T) {
	f := newWorld()
	for i := range 25 {
		id := fmt.Sprintf("i-0%016x", 0x100+i)
		f.zones[corp] = append(f.zones[corp], owned{fqdn: fqdn("web-prod", id, corp), ip: "10.1.0.1", ttl: 300})
	}
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	for _, s := range rep.Started {
		if s.Op == reconcile.OpRemove {
			t.Errorf("removal started over the cap: %+v", s)
		}
	}
	if len(rep.Started) != 1 || rep.Plan.Removals.Candidates != 26 || rep.Plan.Removals.Execute != 0 ||
		!strings.Contains(rep.Plan.Removals.Withheld, "more than the cap of 20") {
		t.Errorf("started %v, removals %+v", startedNames(rep), rep.Plan.Removals)
	}
	// A raised cap lets them go.
	f = newWorld()
	for i := range 25 {
		id := fmt.Sprintf("i-0%016x", 0x100+i)
		f.zones[corp] = append(f.zones[corp], owned{fqdn: fqdn("web-prod", id, corp), ip: "10.1.0.1", ttl: 300})
	}
	h, _ = newHandler(t, f, io.Discard, config.EnvRemovalFloor, "30")
	rep = mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if rep.Plan.Removals.Execute != 26 || len(rep.Started) != 27 {
		t.Errorf("with floor 30: removals %+v, started %d", rep.Plan.Removals, len(rep.Started))
	}
}

// manyRecords gives corp n records of gone instances, plus the world's.
func manyRecords(f *fakeAWS, n int) {
	for i := range n {
		id := fmt.Sprintf("i-0%016x", 0x1000+i)
		f.zones[corp] = append(f.zones[corp], owned{fqdn: fqdn("old", id, corp), ip: "10.2.0.1", ttl: 300})
	}
}

// TestListingPages: reading costs one command per page, pages after the
// first are read too, and a page that fails leaves its zone incomplete:
// no removal there, while the other zone is repaired.
func TestListingPages(t *testing.T) {
	apiMeta := astypes.LifecycleHook{LifecycleHookName: aws.String(launchHook), LifecycleTransition: aws.String(hookLaunching),
		NotificationMetadata: aws.String(`{"zone":"api.example.com"}`)}
	world := func() *fakeAWS {
		f := newWorld()
		manyRecords(f, 117) // 120 in corp: 3 pages
		f.hooks["api-prod"] = []astypes.LifecycleHook{apiMeta}
		f.zones[apiZone] = []owned{{fqdn: fqdn("api-prod", iC, apiZone), ip: "10.0.0.3", ttl: 300}}
		return f
	}
	for _, tc := range []struct {
		name     string
		fault    map[string]pageFault
		offline  []string
		complete bool
		commands int
		problem  string
	}{
		{name: "all pages", complete: true, commands: 4},
		{name: "page 2 fails", fault: map[string]pageFault{corp + "/2": {status: ssmtypes.CommandInvocationStatusFailed,
			stdout: `{"asgdns":1,"outcome":"dns-error","rcode":"SERVFAIL","message":"reading zone corp.example.com failed"}` + "\n"}},
			commands: 4, problem: "page 2: command cmd-"},
		{name: "page 1 does not parse", fault: map[string]pageFault{corp + "/1": {status: ssmtypes.CommandInvocationStatusSuccess, stdout: "garbage\n"}},
			commands: 4, problem: "does not parse"},
		{name: "page 0 times out", fault: map[string]pageFault{corp + "/0": {status: ssmtypes.CommandInvocationStatusTimedOut}},
			commands: 2, problem: "page 0: command"},
		{name: "a DC offline", offline: []string{dc1}, complete: true, commands: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := world()
			if tc.fault != nil {
				f.pageFaults = tc.fault
			}
			for _, dc := range tc.offline {
				f.offline[dc] = true
			}
			// A floor above the records, so only completeness holds removals back.
			h, _ := newHandler(t, f, io.Discard, config.EnvRemovalFloor, "200")
			rep := mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
			if rep.Reads.Commands != tc.commands || rep.Reads.Zones != 2 {
				t.Errorf("reads %+v, want %d commands for 2 zones", rep.Reads, tc.commands)
			}
			var corpZone reconcile.ZoneReport
			for _, z := range rep.Plan.Zones {
				if z.Zone == corp {
					corpZone = z
				}
			}
			if corpZone.Complete != tc.complete || rep.Succeeded != tc.complete {
				t.Errorf("corp complete %v, succeeded %v, want %v: %+v", corpZone.Complete, rep.Succeeded, tc.complete, corpZone)
			}
			var removedCorp, removedAPI int
			for _, s := range rep.Started {
				switch {
				case s.Op == reconcile.OpRemove && strings.HasSuffix(s.FQDN, "."+corp):
					removedCorp++
				case s.Op == reconcile.OpRemove:
					removedAPI++
				}
			}
			if removedAPI != 1 {
				t.Errorf("api.example.com removals %d, want 1: a broken zone holds back only itself", removedAPI)
			}
			if !tc.complete {
				if removedCorp != 0 {
					t.Errorf("%d removals from an incomplete zone", removedCorp)
				}
				if !strings.Contains(strings.Join(rep.Errors, "\n"), tc.problem) || !strings.Contains(corpZone.Note, tc.problem) {
					t.Errorf("errors %q, note %q lack %q", rep.Errors, corpZone.Note, tc.problem)
				}
			} else if removedCorp != 118 {
				t.Errorf("corp removals %d, want the 118 stale records", removedCorp)
			}
			for _, dc := range tc.offline {
				// Found offline once per zone read at most (page 0s run
				// concurrently), then skipped.
				tried := 0
				for _, in := range f.sent {
					if in.InstanceIds[0] == dc {
						tried++
					}
				}
				if tried > 2 {
					t.Errorf("%d commands tried %s after it was found offline", tried, dc)
				}
			}
		})
	}
}

// TestListingOfAnotherAccount: a listing whose records name another
// account is not this account's: the zone is incomplete, nothing of it
// used.
func TestListingOfAnotherAccount(t *testing.T) {
	f := newWorld()
	for i := range f.zones[corp] {
		f.zones[corp][i].owner = "999999999999/" + ownerOf(f.zones[corp][i].fqdn)
	}
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if rep.Succeeded || len(rep.Started) != 0 || rep.Plan.Zones[0].Complete || rep.Plan.Zones[0].Owned != 0 {
		t.Errorf("started %v, zones %+v", startedNames(rep), rep.Plan.Zones)
	}
}

// TestIdempotentStarts: a retried run (the same run id) starts nothing
// twice: what exists counts as already started.
func TestIdempotentStarts(t *testing.T) {
	f := newWorld()
	var logs bytes.Buffer
	h, _ := newHandler(t, f, &logs)
	first := mustHandle(t, h, `{"mode":"sync"}`)
	second := mustHandle(t, h, `{"mode":"sync"}`)
	if first.Run != "req-0d5c1f6e" || second.Run != first.Run {
		t.Fatalf("runs %s, %s: want the request id", first.Run, second.Run)
	}
	if !slices.Equal(startedNames(first), startedNames(second)) || len(first.Started) != 2 {
		t.Fatalf("first %v, second %v", startedNames(first), startedNames(second))
	}
	for i := range first.Started {
		if first.Started[i].Already || !second.Started[i].Already {
			t.Errorf("already: first %v, second %v", first.Started[i].Already, second.Started[i].Already)
		}
	}
	if len(f.executions) != 2 {
		t.Errorf("%d executions, want 2", len(f.executions))
	}
	// A start that fails is reported; the others go on.
	f = newWorld()
	f.startErr["reconcile-run-1-"+iA+"-register"] = lambdatest.APIError("ThrottlingException", "Rate exceeded")
	h, _ = newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if len(rep.Started) != 1 || rep.Started[0].Op != reconcile.OpRemove || rep.Succeeded ||
		!strings.Contains(strings.Join(rep.Errors, "\n"), "throttled") {
		t.Errorf("started %v, errors %q", startedNames(rep), rep.Errors)
	}
}

// TestLaunchHookOpen: an instance in Pending:Wait is desired only when
// asgdns's launch hook is on its group; with only another team's, its
// record is kept as it is and none is made.
func TestLaunchHookOpen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ours    bool
		desired bool
	}{{"asgdns's launch hook", true, true}, {"another team's only", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newWorld()
			f.groups["web-prod"] = append(f.groups["web-prod"], asMember(iP, "Pending:Wait"))
			f.instances[iP] = ec2Instance(iP, "10.0.0.9", "running", "web-prod")
			if !tc.ours {
				f.hooks["web-prod"] = f.hooks["web-prod"][:1]
			}
			h, _ := newHandler(t, f, io.Discard)
			rep := mustHandle(t, h, `{"mode":"upsert","run":"run-1"}`)
			registered := slices.Contains(startedNames(rep), "reconcile-run-1-"+iP+"-register")
			if registered != tc.desired {
				t.Errorf("registered %v, want %v (started %v)", registered, tc.desired, startedNames(rep))
			}
		})
	}
}

// TestOneASG: a run limited to one ASG reads only it and keeps the
// records it cannot place in it.
func TestOneASG(t *testing.T) {
	f := newWorld()
	f.groups["api-prod"] = []astypes.Instance{asMember(iX, "InService")}
	f.instances[iX] = ec2Instance(iX, "10.0.0.7", "running", "api-prod")
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"mode":"sync","asg":"web-prod","run":"run-1"}`)
	if got := startedNames(rep); !slices.Equal(got, []string{"reconcile-run-1-" + iA + "-register"}) {
		t.Errorf("started %v: the gone instance's record is not proven web-prod's", got)
	}
	if !slices.Equal(rep.ASGs, []string{"web-prod"}) {
		t.Errorf("asgs %v", rep.ASGs)
	}
}

// TestDesiredStateUnreadable: a run that cannot read the desired state
// fails with the routed error, and lists nothing.
func TestDesiredStateUnreadable(t *testing.T) {
	var logs bytes.Buffer
	f := newWorld()
	f.asErr = lambdatest.APIError("AccessDenied", "not authorized to perform autoscaling:DescribeAutoScalingGroups")
	h, _ := newHandler(t, f, &logs)
	rep, err := handle(t, h, `{"mode":"sync"}`)
	lambdatest.Failure(t, rep, err, "AccessDenied", "autoscaling:DescribeAutoScalingGroups", "reconciler's role")
	if f.count("SendCommand")+f.count("StartExecution") != 0 {
		t.Errorf("calls %v", f.Calls())
	}
	lambdatest.LogsContain(t, logs.String(), `"ReconcileSucceeded":0`)
}

// TestMissingASG: a configured ASG Auto Scaling does not return is
// reported; the run goes on.
func TestMissingASG(t *testing.T) {
	f := newWorld()
	delete(f.groups, "api-prod")
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"run":"run-1"}`)
	if rep.Succeeded || !strings.Contains(strings.Join(rep.Errors, "\n"), "ASG api-prod is configured") {
		t.Errorf("errors %q", rep.Errors)
	}
}

// TestInvalidInput: nothing is read or changed.
func TestInvalidInput(t *testing.T) {
	produced := lambdatest.Produced{}
	for _, tc := range []struct {
		name, input, want string
		inMsg             []string
		env               []string
	}{
		{"unknown mode", `{"mode":"delete"}`, "InvalidEvent", []string{`mode "delete"`, "report, upsert or sync"}, nil},
		{"ASG not configured", `{"asg":"batch"}`, "InvalidConfig", []string{`asg "batch"`, "web-prod, api-prod", config.EnvASGNames}, nil},
		{"unknown key", `{"mode":"sync","drainDeadletters":true}`, "InvalidEvent", []string{"drainDeadletters"}, nil},
		{"not JSON", `mode=sync`, "InvalidEvent", []string{"input"}, nil},
		{"run id with a slash", `{"run":"a/b"}`, "InvalidEvent", []string{`run "a/b"`}, nil},
		{"run id too long", `{"run":"` + strings.Repeat("r", 37) + `"}`, "InvalidEvent", []string{"1-36"}, nil},
		{"drain without a drain function", `{"drainDeadLetters":true}`, "InvalidConfig", []string{config.EnvDrainFunction}, nil},
		{"dry run misspelt", `{"mode":"sync","dryrun":true}`, "InvalidEvent", []string{`unknown key "dryrun"`}, nil},
		{"dry run not a bool", `{"dryRun":"yes"}`, "InvalidEvent", []string{"dryRun"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newWorld()
			var logs bytes.Buffer
			h, _ := newHandler(t, f, &logs, tc.env...)
			rep, err := handle(t, h, tc.input)
			lambdatest.Failure(t, rep, err, tc.want, tc.inMsg...)
			produced[workflow.Routed(err)] = true
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("calls %v", calls)
			}
			if strings.Contains(logs.String(), `"_aws"`) {
				t.Error("metrics written for a run that never started")
			}
		})
	}
	produced.Expect(t, "InvalidEvent", "InvalidConfig")
	// The empty input, and null, are the default run.
	for _, input := range []string{``, `null`, `{}`} {
		h, _ := newHandler(t, newWorld(), io.Discard)
		if rep := mustHandle(t, h, input); rep.Mode != reconcile.ModeReport || rep.Run != "req-0d5c1f6e" {
			t.Errorf("%q: mode %s run %s", input, rep.Mode, rep.Run)
		}
	}
}

// TestExecutionNames: within Step Functions' limits for the longest run
// id, distinct per removal of one instance.
func TestExecutionNames(t *testing.T) {
	run := strings.Repeat("r", 36)
	a := reconcile.Action{Op: reconcile.OpRemove, InstanceID: iA, FQDN: "a.corp.example.com"}
	b := a
	b.FQDN = "b.corp.example.com"
	reg := reconcile.Action{Op: reconcile.OpRegister, InstanceID: iA}
	for _, name := range []string{executionName(run, a), executionName(run, reg)} {
		if len(name) > 80 {
			t.Errorf("%s is %d characters", name, len(name))
		}
	}
	if executionName(run, a) == executionName(run, b) {
		t.Error("two removals of one instance share a name")
	}
	if id := eventID("x"); len(id) != 36 || strings.Count(id, "-") != 4 || id == eventID("y") {
		t.Errorf("event id %q is not a UUID per name", id)
	}
}

// TestDryRun: the plan is the mode's, exactly as that mode would carry it
// out, and nothing is started or drained.
func TestDryRun(t *testing.T) {
	f := newWorld()
	f.queue = []sqstypes.Message{message("m1", string(lambdatest.Event(t, "launch-from-warm-pool")))}
	h, _ := newHandler(t, f, io.Discard, config.EnvDrainFunction, drainFn)
	rep := mustHandle(t, h, `{"mode":"sync","dryRun":true,"drainDeadLetters":true,"run":"run-1"}`)
	if !rep.DryRun || rep.Mode != reconcile.ModeSync || rep.Plan.Mode != reconcile.ModeSync {
		t.Errorf("dryRun %v, mode %s, plan mode %s", rep.DryRun, rep.Mode, rep.Plan.Mode)
	}
	// What sync starts in this world (TestModes), planned to execute.
	var would []string
	for _, a := range rep.Plan.Executed() {
		would = append(would, executionName(runID, a))
	}
	sync := mustHandle(t, func() *Handler { h, _ := newHandler(t, newWorld(), io.Discard); return h }(), `{"mode":"sync","run":"run-1"}`)
	if !slices.Equal(would, startedNames(sync)) || len(would) != 2 {
		t.Errorf("a dry run would start %v, sync started %v", would, startedNames(sync))
	}
	if n := f.count("StartExecution") + f.count("Invoke "+drainFn) + f.count("ReceiveMessage"); n != 0 || len(rep.Started) != 0 || rep.DeadLetters.Drained {
		t.Errorf("a dry run changed something: %v, started %v, dead letters %+v", f.Calls(), rep.Started, rep.DeadLetters)
	}
	if !rep.Succeeded {
		t.Errorf("errors %q", rep.Errors)
	}
}

// TestListInvocations: at most ListConcurrency list-zone invocations at a
// time, each RequestResponse with the page's request; a list-zone the
// Lambda service cannot run leaves its zones incomplete, and says why.
func TestListInvocations(t *testing.T) {
	f := newWorld()
	manyRecords(f, 500) // 503 in corp: 11 pages
	h, _ := newHandler(t, f, io.Discard)
	rep := mustHandle(t, h, `{"run":"run-1"}`)
	if rep.Reads.Pages != 11 || f.lambda.maxInFlight > ListConcurrency || len(f.lambda.invoked) != 11 {
		t.Errorf("reads %+v, %d invocations, %d at most in flight", rep.Reads, len(f.lambda.invoked), f.lambda.maxInFlight)
	}
	var req contract.ListRequest
	if err := json.Unmarshal(f.lambda.invoked[0].Payload, &req); err != nil || req.Run != runID || req.Zone != corp || req.Page != 0 ||
		!slices.Equal(req.DCInstanceIDs, []string{dc1, dc2}) || req.DocumentName != "asgdns-dns-record" || req.DCPlatform != "Windows" {
		t.Errorf("request %s: %v", f.lambda.invoked[0].Payload, err)
	}

	f = newWorld()
	h, _ = newHandler(t, f, io.Discard)
	f.lambda.failures[listFn] = lambdatest.APIError("TooManyRequestsException", "Rate exceeded")
	rep = mustHandle(t, h, `{"mode":"sync","run":"run-1"}`)
	if rep.Succeeded || rep.Plan.Zones[0].Complete || rep.Reads.Commands != 0 || len(rep.Started) != 0 ||
		!strings.Contains(strings.Join(rep.Errors, "\n"), "lambda:Invoke "+listFn) {
		t.Errorf("zones %+v, errors %q, started %v", rep.Plan.Zones, rep.Errors, startedNames(rep))
	}
}

// TestFunctionError: the error payload of a function that failed becomes
// the routed error its errorType names, with its message; a runtime error
// stays what it is.
func TestFunctionError(t *testing.T) {
	for _, name := range workflow.ErrorNames {
		err := functionError(listFn, []byte(`{"errorMessage":"command cmd-1 on i-1: it broke","errorType":"`+name+`"}`))
		if workflow.Routed(err) != name || err.Error() != "command cmd-1 on i-1: it broke" {
			t.Errorf("%s: %T %v", name, err, err)
		}
	}
	for payload, want := range map[string]string{
		`{"errorMessage":"Task timed out after 240.00 seconds","errorType":"Sandbox.Timedout"}`: listFn + " failed: Sandbox.Timedout: Task timed out",
		`{"errorMessage":"exit status 1"}`: listFn + " failed: : exit status 1",
		`not json`:                         `error payload "not json"`,
	} {
		err := functionError(listFn, []byte(payload))
		if workflow.Routed(err) != "" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", payload, err, want)
		}
	}
}
