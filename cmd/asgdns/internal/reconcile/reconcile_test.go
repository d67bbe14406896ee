package reconcile

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestUsageErrors(t *testing.T) {
	stack := []string{"--stack", testStack}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "neither stack nor function", args: nil, code: ExitUsage, stderr: "--stack or --function is required"},
		{name: "both stack and function", args: append(stack, "--function", testFunction), code: ExitUsage,
			stderr: "--stack and --function: give one, not both"},
		{name: "bad stack name", args: []string{"--stack", "9lives"}, code: ExitUsage, stderr: `--stack "9lives" is not a CloudFormation stack name`},
		{name: "bad function name", args: []string{"--function", "my function"}, code: ExitUsage,
			stderr: `--function "my function" is not a Lambda function name or ARN`},
		{name: "unknown mode", args: append(stack, "--mode", "delete"), code: ExitUsage,
			stderr: `--mode "delete": want report (the default: nothing changes), upsert or sync`},
		{name: "mode in capitals", args: append(stack, "--mode", "SYNC"), code: ExitUsage, stderr: `--mode "SYNC"`},
		{name: "asg without a value", args: append(stack, "--asg"), code: ExitUsage, stderr: "flag needs an argument: -asg"},
		{name: "asg swallowing the next flag", args: append(stack, "--asg", "--yes", "--mode", "sync"), code: ExitUsage,
			stderr: `--asg needs an Auto Scaling group name (got "--yes")`},
		{name: "empty asg", args: append(stack, "--asg="), code: ExitUsage, stderr: `--asg needs an Auto Scaling group name (got "")`},
		{name: "asg too long", args: append(stack, "--asg", strings.Repeat("a", 256)), code: ExitUsage, stderr: "longer than an Auto Scaling group name"},
		{name: "yes with report", args: append(stack, "--yes"), code: ExitUsage,
			stderr: "--yes with --mode report: report changes nothing and drains no dead letters"},
		{name: "empty profile", args: append(stack, "--profile", ""), code: ExitUsage, stderr: "--profile is empty"},
		{name: "unknown flag", args: append(stack, "--dry-run"), code: ExitUsage, stderr: "flag provided but not defined: -dry-run"},
		{name: "stray argument", args: append(stack, "sync"), code: ExitUsage, stderr: `unexpected argument "sync" (flags only)`},
		{name: "help", args: []string{"-h"}, code: ExitOK, stderr: "Usage: asgdns reconcile (--stack NAME | --function NAME)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(mixedWorld())
			te, code := runOn(t, f, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, te.stderr.String())
			}
			if !strings.Contains(te.stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", te.stderr.String(), tc.stderr)
			}
			if code == ExitUsage && !strings.Contains(te.stderr.String(), "Run 'asgdns reconcile -h' for usage.") {
				t.Errorf("stderr does not point at the usage:\n%s", te.stderr.String())
			}
			if te.connects != 0 || len(f.calls) != 0 {
				t.Errorf("AWS configuration loaded %d times, calls %v: a usage error calls nothing", te.connects, f.calls)
			}
			if te.stdout.Len() != 0 {
				t.Errorf("stdout: %s", te.stdout.String())
			}
		})
	}
}

func TestUsageSaysWhatRemoves(t *testing.T) {
	for _, s := range []string{"report  the default: nothing changes", "sync    upsert, and REMOVES records",
		"the only mode that removes", "only with --yes", "report never drains it", "Scheduled runs use the stack's ReconcileMode parameter"} {
		if !strings.Contains(usage, s) {
			t.Errorf("usage does not say %q", s)
		}
	}
}

func TestRun(t *testing.T) {
	const run = "cli-20261120T120000Z"
	for _, tc := range []struct {
		name  string
		world decision.Input
		args  []string
		code  int
		// cfn is whether the stack is read; req what the function is asked.
		cfn    bool
		req    Request
		stdout []string // phrases stdout must contain
		stderr string
	}{
		{name: "report: the plan, nothing drained", world: mixedWorld(), args: []string{"--stack", testStack}, cfn: true,
			req: Request{Mode: decision.ModeReport, Run: run},
			stdout: []string{
				"Reconcile of stack asgdns-prod (function " + testFunction + "), account 123456789012, run " + run,
				"Mode report: nothing changed; the plan is the output.",
				"register  missing        " + ia, "EXECUTES", "withheld: report mode: nothing executes; run upsert or sync to repair",
				"Executions started: none (report mode starts none).",
				"Dead letters: not drained (only --yes with upsert or sync drains them).",
			}},
		{name: "upsert without --yes plans as upsert, carries nothing out, and says so", world: mixedWorld(), args: []string{"--stack", testStack, "--mode", "upsert"}, cfn: true,
			req: Request{Mode: decision.ModeUpsert, DryRun: true, Run: run},
			stdout: []string{
				"Mode upsert without --yes: dry run, the function planned as upsert and nothing changed; below is what upsert would do.",
				"To apply: asgdns reconcile --stack asgdns-prod --mode upsert --yes",
				"WITH --yes", "withheld: upsert mode never removes: run sync to remove",
				"upsert never removes, run --mode sync --yes to remove them.",
			}},
		{name: "sync with --yes sends sync and drains", world: mixedWorld(), args: []string{"--stack", testStack, "--mode", "sync", "--yes"}, cfn: true,
			req: Request{Mode: decision.ModeSync, Run: run, DrainDeadLetters: true},
			stdout: []string{
				"Mode sync, applied:", "EXECUTES", "Removals: sync removes 1 record (of 1 due)",
				"Executions started: 5:", "Dead letters: 3 received, 1 started, 1 already started, 1 problem, 0 left in the queue.",
			}},
		{name: "by function, one group", world: mixedWorld(), args: []string{"--function", testFunction, "--asg", "web", "--mode", "sync"},
			req: Request{Mode: decision.ModeSync, DryRun: true, ASG: "web", Run: run},
			stdout: []string{"Reconcile of function " + testFunction + ",",
				"To apply: asgdns reconcile --function " + testFunction + " --mode sync --asg web --yes"}},
		{name: "over the cap: nothing removed, and why", world: staleWorld(31, 269, decision.Limits{}),
			args: []string{"--stack", testStack, "--mode", "sync", "--yes"}, cfn: true,
			req: Request{Mode: decision.ModeSync, Run: run, DrainDeadLetters: true},
			stdout: []string{"Removals: sync would remove 31 records; cap is 30 (max(20, 10% of 300 owned)): nothing removed — " +
				"check the ASG list, or raise ReconcileRemovalPercent.", "Executions started: none."}},
		{name: "over the cap, dry run: the same line", world: staleWorld(31, 269, decision.Limits{}),
			args: []string{"--stack", testStack, "--mode", "sync"}, cfn: true,
			req: Request{Mode: decision.ModeSync, DryRun: true, Run: run},
			stdout: []string{"Removals: sync would remove 31 records; cap is 30 (max(20, 10% of 300 owned)): nothing removed",
				"withheld: over the removal cap, sync removes nothing (see Removals)"}},
		{name: "within the cap: the cap with its parts", world: staleWorld(3, 27, decision.Limits{}),
			args: []string{"--stack", testStack}, cfn: true, req: Request{Mode: decision.ModeReport, Run: run},
			stdout: []string{"Removals: sync would remove 3 records; cap is 20 (max(20, 10% of 30 owned)): nothing removed in report mode.",
				"remove  stale  i-00000000000100000  gone-0.corp.example.com  10.1.0.1 → —      no"}},
		{name: "a stack without the reconciler", world: mixedWorld(), args: []string{"--stack", "asgdns-old"}, code: ExitUsage, cfn: true,
			stderr: `--stack "asgdns-old": Stack 'asgdns-old' does not exist (is it the asgdns application stack, deployed with the reconciler?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(tc.world)
			te, code := runOn(t, f, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, te.stderr.String())
			}
			if !strings.Contains(te.stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", te.stderr.String(), tc.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(te.stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, te.stdout.String())
				}
			}
			if got := len(f.cfn) > 0; got != tc.cfn {
				t.Errorf("stack read: %v, want %v", got, tc.cfn)
			}
			for _, in := range f.cfn {
				if aws.ToString(in.LogicalResourceId) != "ReconcileFunction" {
					t.Errorf("DescribeStackResource of %s, want ReconcileFunction", aws.ToString(in.LogicalResourceId))
				}
			}
			if tc.code == ExitUsage {
				if len(f.invokes) != 0 {
					t.Errorf("invoked the function %d times", len(f.invokes))
				}
				return
			}
			if len(f.invokes) != 1 {
				t.Fatalf("invoked %d times, want once", len(f.invokes))
			}
			in := f.invokes[0]
			if aws.ToString(in.FunctionName) != testFunction || in.InvocationType != types.InvocationTypeRequestResponse {
				t.Errorf("Invoke %s (%s), want %s (RequestResponse)", aws.ToString(in.FunctionName), in.InvocationType, testFunction)
			}
			if f.requests[0] != tc.req {
				t.Errorf("request %+v, want %+v", f.requests[0], tc.req)
			}
			// The wire form: asg only when given, drainDeadLetters always.
			var raw map[string]any
			if err := json.Unmarshal(in.Payload, &raw); err != nil {
				t.Fatal(err)
			}
			if _, ok := raw["drainDeadLetters"]; !ok {
				t.Errorf("payload %s has no drainDeadLetters", in.Payload)
			}
			if _, ok := raw["asg"]; ok != (tc.req.ASG != "") {
				t.Errorf("payload %s: asg present %v, want %v", in.Payload, ok, tc.req.ASG != "")
			}
		})
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(Request) (*lambda.InvokeOutput, error)
		errs    []any
		code    int
		stdout  string
		stderr  string
	}{
		{name: "the function failed", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"),
					Payload: []byte(`{"errorMessage":"parameter ReconcileAsgNames is empty; fix: name the groups","errorType":"InvalidConfig"}`)}, nil
			},
			stderr: "asgdns reconcile: the reconcile function " + testFunction + " failed: InvalidConfig: parameter ReconcileAsgNames is empty; fix: name the groups"},
		{name: "the function timed out", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"),
					Payload: []byte(`{"errorMessage":"2026-11-20T12:15:00Z 1f0c Task timed out after 900.00 seconds"}`)}, nil
			},
			stderr: "failed: Unhandled: 2026-11-20T12:15:00Z 1f0c Task timed out after 900.00 seconds"},
		{name: "not allowed to invoke", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: lambda:InvokeFunction"}
			},
			stderr: "fix: allow lambda:InvokeFunction on the reconcile function"},
		{name: "not a report", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`"done"`)}, nil
			},
			stderr: `returned no report`},
		{name: "a report of another mode", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"run":"x","mode":"sync","plan":{"mode":"sync"}}`)}, nil
			},
			stderr: "asked the function for mode report, its report says sync"},
		{name: "errors in the report", code: ExitFailed,
			errs: []any{"zone dev.example.com: page 2: the command timed out",
				map[string]any{"instanceId": ia, "error": "ExecutionLimitExceeded", "message": "could not start the execution"}},
			stdout: "2 errors:\n  zone dev.example.com: page 2: the command timed out\n  " + ia + ": ExecutionLimitExceeded: could not start the execution\n"},
		{name: "no plan: only errors", code: ExitFailed,
			respond: func(Request) (*lambda.InvokeOutput, error) {
				return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"run":"r","mode":"report","plan":null,"reads":{},"started":[],"errors":["list zone corp.example.com: AccessDenied"]}`)}, nil
			},
			stdout: "No plan: the run failed before it could decide (errors below).\n\nExecutions started: none (report mode starts none).\n" +
				"Dead letters: not drained (only --yes with upsert or sync drains them).\n\n1 error:\n  list zone corp.example.com: AccessDenied\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(mixedWorld())
			f.respond, f.reportErr = tc.respond, tc.errs
			te, code := runOn(t, f, "--function", testFunction)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, te.stderr.String())
			}
			if !strings.Contains(te.stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", te.stderr.String(), tc.stderr)
			}
			if !strings.Contains(te.stdout.String(), tc.stdout) {
				t.Errorf("stdout:\n%s\nwant it to contain %q", te.stdout.String(), tc.stdout)
			}
			if tc.stdout == "" && te.stdout.Len() > 0 {
				t.Errorf("a failed run printed a report:\n%s", te.stdout.String())
			}
		})
	}
}

// TestJSON: --json prints the report as the function returned it.
func TestJSON(t *testing.T) {
	for _, args := range [][]string{
		{"--stack", testStack, "--json"},
		{"--stack", testStack, "--json", "--mode", "sync", "--yes"},
	} {
		f := newFake(mixedWorld())
		f.already[ib] = true
		te, code := runOn(t, f, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, te.stderr.String())
		}
		var got, want any
		if err := json.Unmarshal(te.stdout.Bytes(), &got); err != nil {
			t.Fatalf("%v: stdout is not JSON: %v\n%s", args, err, te.stdout.String())
		}
		if err := json.Unmarshal(f.payloads[0], &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: --json is not the report as returned:\n%s\nwant\n%s", args, te.stdout.String(), f.payloads[0])
		}
		// And it reads back as the report the text is printed from.
		var rep Report
		if err := json.Unmarshal(te.stdout.Bytes(), &rep); err != nil || rep.Plan == nil || len(rep.Plan.Actions) != 9 {
			t.Errorf("%v: the JSON does not read back as a report with the plan's 9 actions (%v)", args, err)
		}
	}
}

// TestText pins the text output of each way to run it.
func TestText(t *testing.T) {
	for _, tc := range []struct {
		file  string
		world decision.Input
		args  []string
		code  int
	}{
		{file: "report.txt", world: mixedWorld(), args: []string{"--stack", testStack}},
		{file: "sync-dry-run.txt", world: mixedWorld(), args: []string{"--stack", testStack, "--mode", "sync"}},
		{file: "sync.txt", world: mixedWorld(), args: []string{"--stack", testStack, "--mode", "sync", "--yes"}},
		{file: "sync-over-cap.txt", world: staleWorld(3, 7, decision.Limits{RemovalFloor: 2}), args: []string{"--function", testFunction, "--mode", "sync", "--yes"}},
		{file: "in-sync.txt", world: staleWorld(0, 2, decision.Limits{}), args: []string{"--function", testFunction, "--mode", "upsert", "--yes"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFake(tc.world)
			f.already[ib] = true
			te, code := runOn(t, f, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, te.stderr.String())
			}
			golden(t, tc.file, te.stdout.Bytes())
		})
	}
}
