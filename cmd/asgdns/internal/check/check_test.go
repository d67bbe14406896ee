package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/statemachine"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// run runs the command with --output json and decodes the report.
func run(t *testing.T, w *world, args ...string) (int, Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), w.env(&stdout, &stderr), append(args, "--output", "json"))
	var rep Report
	if code != ExitUsage && stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("--output json: %v\n%s", err, stdout.String())
		}
	}
	return code, rep, stderr.String()
}

// expect is a result the report must hold: every non-empty field must
// match, and the message contain each of contains.
type expect struct {
	status   Status
	check    string
	asg      string
	field    string
	err      string
	contains []string
}

func (e expect) matches(r Result) bool {
	if r.Status != e.status || (e.check != "" && r.Check != e.check) || r.ASG != e.asg ||
		(e.field != "" && r.Field != e.field) || (e.err != "" && r.Error != e.err) {
		return false
	}
	for _, c := range e.contains {
		if !strings.Contains(r.Message, c) {
			return false
		}
	}
	return true
}

func hasResult(rep Report, e expect) bool {
	for _, r := range rep.Results {
		if e.matches(r) {
			return true
		}
	}
	return false
}

func dump(rep Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "  %s %s asg=%q field=%q error=%q: %s\n", r.Status, r.Check, r.ASG, r.Field, r.Error, r.Message)
	}
	return b.String()
}

func requiredSeconds(t *testing.T) int {
	t.Helper()
	d, err := statemachine.RequiredHeartbeatTimeout()
	if err != nil {
		t.Fatal(err)
	}
	return seconds(d)
}

func TestCheck(t *testing.T) {
	need := requiredSeconds(t)
	longName := "web_" + strings.Repeat("x", 56) // 60 characters, with a '_'
	for _, tc := range []struct {
		name  string
		setup func(w *world)
		args  []string
		code  int
		want  []expect
		// none: no result may have this status
		none []Status
		sent func(t *testing.T, w *world)
	}{
		{
			name: "clean deployment",
			args: []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code: ExitOK,
			none: []Status{StatusProblem, StatusError, StatusNotChecked},
			want: []expect{
				{status: StatusOK, check: "hook", asg: "web", field: "lifecycle hook asgdns-launch", contains: []string{"HeartbeatTimeout 3600 s", fmt.Sprintf("at least %d s", need)}},
				{status: StatusOK, check: "hook", asg: "api", field: "lifecycle hook asgdns-terminate"},
				{status: StatusOK, check: "hostname", asg: "web", contains: []string{"web-9abcdef0.corp.example.com"}},
				{status: StatusOK, check: "dc-online", field: "DC " + dc1},
				{status: StatusOK, check: "dc-tag", field: "DC " + dc1},
				{status: StatusOK, check: "document", field: "document " + documentName},
				{status: StatusOK, check: "role", field: "AssumeRole function " + assumeRoleFn, contains: []string{"assumed arn:aws:sts::" + sharedAcct}},
			},
			sent: func(t *testing.T, w *world) {
				// The function is invoked with a state DescribeInstance
				// could have produced, which the AssumeRole step accepts.
				var in *lambda.InvokeInput
				for _, s := range w.app.sent {
					if v, ok := s.(*lambda.InvokeInput); ok {
						in = v
					}
				}
				if in == nil || aws.ToString(in.FunctionName) != assumeRoleFn {
					t.Fatalf("lambda:Invoke %+v, want %s", in, assumeRoleFn)
				}
				req, err := workflow.DecodeRequest(in.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if i := req.State.Instance; i == nil || i.Action != workflow.ActionRegister || i.InstanceID != SampleInstanceID || i.ASG != "web" {
					t.Errorf("synthetic instance %+v", req.State.Instance)
				}
				if _, err := workflow.PlanFor(req.State.Event, workflow.HookNames{"asgdns-launch"}); err != nil {
					t.Errorf("synthetic event: %v", err)
				}
				// The DCs and the document are read in the shared-services
				// account, never in the application account.
				for _, op := range []string{"ssm:DescribeInstanceInformation", "ssm:DescribeDocument", "ec2:DescribeInstances"} {
					if w.app.called(op) != 0 || w.shared.called(op) == 0 {
						t.Errorf("%s: %d calls in the application account, %d in shared services", op, w.app.called(op), w.shared.called(op))
					}
				}
			},
		},
		{
			name: "without shared-services credentials the DCs and document are NOT CHECKED, which is no failure",
			args: []string{"--stack-name", stackName},
			code: ExitOK,
			none: []Status{StatusProblem, StatusError},
			want: []expect{
				{status: StatusNotChecked, check: "dc", field: "DC " + dc1, contains: []string{"--shared-services-profile"}},
				{status: StatusNotChecked, check: "document", field: "document " + documentName, contains: []string{"--shared-services-profile"}},
			},
			sent: func(t *testing.T, w *world) {
				if n := len(w.shared.calls); n != 0 {
					t.Errorf("%d calls to the shared-services account: %v", n, w.shared.calls)
				}
			},
		},
		{
			name: "an ASG name that is no label, with {asg}",
			setup: func(w *world) {
				w.setParam("AsgNames", longName)
				w.setParam("HostnameTemplate", "{asg}-{short-id}")
				w.app.groups = append(w.app.groups, group(longName))
				w.app.hooks[longName] = standardHooks(longName, "")
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "hostname", asg: longName, field: "hostname (stack parameter HostnameTemplate)", err: "InvalidHostname",
				contains: []string{`{asg} "` + longName + `": contains '_', which a DNS label cannot hold`}}},
		},
		{
			name: "{asg-label} makes the same name a label",
			setup: func(w *world) {
				w.setParam("AsgNames", longName)
				w.app.groups = append(w.app.groups, group(longName))
				w.app.hooks[longName] = standardHooks(longName, "")
			},
			args: []string{"--stack-name", stackName},
			code: ExitOK,
			want: []expect{{status: StatusOK, check: "hostname", asg: longName, contains: []string{"web-xxxx"}}},
		},
		{
			name: "a tag the template uses is on the group but not propagated",
			setup: func(w *world) {
				w.app.groups[0] = group("web", tagSpec{"Team", "payments", false})
				w.app.hooks["web"] = standardHooks("web", `{"hostnameTemplate":"{tag:Team}-{short-id}"}`)
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "hostname", asg: "web", field: "tag Team", err: "InvalidHostname",
				contains: []string{`tag "Team" of ` + SampleInstanceID + `: is not set`, "set PropagateAtLaunch true"}}},
		},
		{
			name:  "a tag the template uses is not on the group at all",
			setup: func(w *world) { w.setParam("HostnameTemplate", "{tag:Team}-{short-id}") },
			args:  []string{"--stack-name", stackName, "--asg", "web"},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "hostname", asg: "web", field: "tag Team", err: "InvalidHostname",
				contains: []string{"tag the group with Team"}}},
		},
		{
			name:  "the other group has the tag",
			setup: func(w *world) { w.setParam("HostnameTemplate", "{tag:Team}-{short-id}") },
			args:  []string{"--stack-name", stackName, "--asg", "api"},
			code:  ExitOK,
			want:  []expect{{status: StatusOK, check: "hostname", asg: "api", contains: []string{"payments-9abcdef0.corp.example.com"}}},
		},
		{
			name:  "invalid metadata",
			setup: func(w *world) { w.app.hooks["web"] = standardHooks("web", `{"ttl": 5}`) },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "metadata", asg: "web", field: "lifecycle hook asgdns-launch NotificationMetadata", err: "InvalidConfig",
				contains: []string{`detail.NotificationMetadata.ttl of ASG "web" "5": is outside 30-86400 seconds`}}},
		},
		{
			name:  "metadata that is not JSON",
			setup: func(w *world) { w.app.hooks["api"] = standardHooks("api", "zone=corp") },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want:  []expect{{status: StatusProblem, check: "metadata", asg: "api", err: "InvalidConfig", contains: []string{"is not a JSON object"}}},
		},
		{
			name:  "a template not unique per instance, in the stack",
			setup: func(w *world) { w.setParam("HostnameTemplate", "{asg}") },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "config", field: "stack parameter HostnameTemplate", err: "InvalidConfig",
				contains: []string{"gives every instance of the ASG the same name"}}},
		},
		{
			name: "a template not unique per instance, in metadata",
			setup: func(w *world) {
				w.app.hooks["web"] = standardHooks("web", `{"hostnameTemplate":"web-primary"}`)
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "metadata", asg: "web", err: "InvalidConfig", contains: []string{"gives every instance of the ASG the same name"}}},
		},
		{
			name: "sharedHostname says one name is meant",
			setup: func(w *world) {
				w.app.hooks["web"] = standardHooks("web", `{"hostnameTemplate":"web-primary","sharedHostname":true}`)
			},
			args: []string{"--stack-name", stackName},
			code: ExitOK,
			want: []expect{{status: StatusOK, check: "hostname", asg: "web", contains: []string{"web-primary.corp.example.com"}}},
		},
		{
			name: "a missing terminate hook, another team's hook for the same transition",
			setup: func(w *world) {
				w.app.hooks["web"] = []astypes.LifecycleHook{
					hook("web", "asgdns-launch", transitionLaunching, 3600, ""),
					hook("web", "drain", transitionTerminating, 300, ""),
				}
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "hook", asg: "web", field: "lifecycle hook asgdns-terminate",
				contains: []string{`lifecycle hook "asgdns-terminate": is missing`, `the group's hook "drain" is not asgdns's`}}},
		},
		{
			name: "a heartbeat timeout below what the state machine needs",
			setup: func(w *world) {
				w.app.hooks["api"][0] = hook("api", "asgdns-launch", transitionLaunching, 60, "")
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "heartbeat", asg: "api", field: "lifecycle hook asgdns-launch HeartbeatTimeout",
				contains: []string{`"60": is below ` + fmt.Sprint(need) + " s", fmt.Sprintf("at least %d", need)}}},
		},
		{
			name:  "the stack's HookHeartbeatTimeout below the need",
			setup: func(w *world) { w.setParam("HookHeartbeatTimeout", "120") },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want:  []expect{{status: StatusProblem, check: "heartbeat", field: "stack parameter HookHeartbeatTimeout"}},
		},
		{
			name:  "hook names from the stack",
			setup: func(w *world) { w.setParam("LaunchHookName", "dns-launch") },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "hook", asg: "web", field: "lifecycle hook dns-launch",
				contains: []string{`the group's hook "asgdns-launch" is not asgdns's`}}},
		},
		{
			name: "a hook with asgdns's name for the wrong transition",
			setup: func(w *world) {
				w.app.hooks["web"][1] = hook("web", "asgdns-terminate", transitionLaunching, 3600, "")
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "hook", asg: "web", field: "lifecycle hook asgdns-terminate LifecycleTransition"}},
		},
		{
			name:  "a group that does not exist",
			setup: func(w *world) { w.app.groups = w.app.groups[:1] },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "asg", asg: "api", field: "stack parameter AsgNames",
				contains: []string{`ASG "api": does not exist in account 111111111111, region eu-west-1`}}},
		},
		{
			name: "--asg names a group outside AsgNames",
			setup: func(w *world) {
				w.app.groups = append(w.app.groups, group("batch"))
				w.app.hooks["batch"] = standardHooks("batch", "")
			},
			args: []string{"--stack-name", stackName, "--asg", "batch"},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "asg", asg: "batch", contains: []string{"is not in AsgNames"}}},
		},
		{
			name: "terminate metadata that resolves to another name",
			setup: func(w *world) {
				w.app.hooks["web"][1].NotificationMetadata = aws.String(`{"zone":"other.example.com"}`)
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "metadata", asg: "web", field: "lifecycle hook asgdns-terminate NotificationMetadata",
				contains: []string{"web-9abcdef0.other.example.com", "web-9abcdef0.corp.example.com"}}},
		},
		{
			name: "a DC that is offline, one without the tag, one that is no managed node",
			setup: func(w *world) {
				w.app.hooks["api"] = standardHooks("api", `{"dcInstanceIds":["`+dc2+`","i-0dc00000000000003"]}`)
				w.shared.nodes[0].PingStatus = ssmtypes.PingStatusConnectionLost
				w.shared.instances[1] = dcInstance(dc2, ec2types.Tag{Key: aws.String("Name"), Value: aws.String("dc-2")})
				w.shared.instances = append(w.shared.instances, dcInstance("i-0dc00000000000003"))
			},
			args: []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code: ExitProblems,
			want: []expect{
				{status: StatusProblem, check: "dc-online", field: "DC " + dc1, contains: []string{"PingStatus ConnectionLost", "the stack's defaults"}},
				{status: StatusOK, check: "dc-tag", field: "DC " + dc1},
				{status: StatusProblem, check: "dc-tag", field: "DC " + dc2, contains: []string{"is not tagged asgdns-dc=true", `ASG "api"`}},
				{status: StatusOK, check: "dc-online", field: "DC " + dc2},
				{status: StatusProblem, check: "dc-online", field: "DC i-0dc00000000000003", contains: []string{"is not an SSM managed node", "correct dcInstanceIds in the hook's NotificationMetadata"}},
			},
		},
		{
			name:  "a DC that is no instance",
			setup: func(w *world) { w.shared.instances, w.shared.nodes = w.shared.instances[1:], w.shared.nodes[1:] },
			args:  []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "dc-tag", field: "DC " + dc1,
				contains: []string{"is not an instance in the shared-services account 222222222222", "correct the stack parameter DcInstanceIds"}}},
		},
		{
			name:  "a DC of another platform",
			setup: func(w *world) { w.shared.nodes[0].PlatformType = ssmtypes.PlatformTypeWindows },
			args:  []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code:  ExitProblems,
			want:  []expect{{status: StatusProblem, check: "dc-platform", field: "DC " + dc1, contains: []string{"is a Windows node", "expect Linux"}}},
		},
		{
			name:  "a missing document",
			setup: func(w *world) { w.setParam("DocumentName", "asgdns-dns-recrod") },
			args:  []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code:  ExitProblems,
			want: []expect{{status: StatusProblem, check: "document", field: "document asgdns-dns-recrod-" + appAccount, err: "CommandRejected",
				contains: []string{"does not exist in the shared-services account", "DocumentNamePrefix"}}},
		},
		{
			name: "a shared-services API refused is an ERROR, not a pass",
			setup: func(w *world) {
				w.shared.ssmErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}
			},
			args: []string{"--stack-name", stackName, "--shared-services-profile", "shared"},
			code: ExitProblems,
			want: []expect{{status: StatusError, check: "dc-online", field: "DC " + dc1, contains: []string{"AccessDeniedException"}}},
		},
		{
			name: "a role the function cannot assume",
			setup: func(w *world) {
				w.app.invoke = errorInvoke("AccessDenied", "sts:AssumeRole "+sharedRoleARN+": call failed: AccessDenied: not authorized; fix: check that the shared-services role trusts this function's role")
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "role", field: "AssumeRole function " + assumeRoleFn, err: "AccessDenied",
				contains: []string{"AccessDenied: sts:AssumeRole " + sharedRoleARN}}},
		},
		{
			name:  "a throttled session is an ERROR: run again",
			setup: func(w *world) { w.app.invoke = errorInvoke("Throttled", "sts:AssumeRole: Rate exceeded") },
			args:  []string{"--stack-name", stackName},
			code:  ExitProblems,
			want:  []expect{{status: StatusError, check: "role", err: "Throttled"}},
		},
		{
			name: "the operator may not invoke the function",
			setup: func(w *world) {
				w.app.invoke = func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform lambda:InvokeFunction"}
				}
			},
			args: []string{"--stack-name", stackName},
			code: ExitProblems,
			want: []expect{{status: StatusError, check: "role", contains: []string{"lambda:Invoke", "AccessDeniedException"}}},
		},
		{
			name: "parameters only: account from STS, the role NOT CHECKED",
			args: []string{"--parameter-overrides", "AsgNames=web", "Zone=corp.example.com", "DcInstanceIds=" + dc1,
				"SharedServicesAccountId=" + sharedAcct, "HostnameTemplate={asg-label}-{short-id}"},
			code: ExitOK,
			want: []expect{
				{status: StatusNotChecked, check: "role", contains: []string{"--assume-role-function"}},
				{status: StatusNotChecked, check: "document", field: "document asgdns-dns-record-" + appAccount},
				{status: StatusOK, check: "hook", asg: "web"},
			},
			sent: func(t *testing.T, w *world) {
				if w.app.called("cloudformation:DescribeStacks") != 0 || w.app.called("sts:GetCallerIdentity") != 1 {
					t.Errorf("calls %v", w.app.calls)
				}
			},
		},
		{
			name: "overrides replace the stack's parameters",
			args: []string{"--stack-name", stackName, "--parameter-overrides", "RecordTTL=5"},
			code: ExitProblems,
			want: []expect{{status: StatusProblem, check: "config", field: "stack parameter RecordTTL", err: "InvalidConfig"}},
		},
		{
			name: "--assume-role-function without a stack",
			args: []string{"--parameter-overrides", "AsgNames=web", "Zone=corp.example.com", "DcInstanceIds=" + dc1,
				"SharedServicesAccountId=" + sharedAcct, "--assume-role-function", "asgdns-AssumeRole"},
			code: ExitOK,
			want: []expect{{status: StatusOK, check: "role", field: "AssumeRole function asgdns-AssumeRole"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := cleanWorld()
			if tc.setup != nil {
				tc.setup(w)
			}
			code, rep, stderr := run(t, w, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q; results:\n%s", code, tc.code, stderr, dump(rep))
			}
			for _, e := range tc.want {
				if !hasResult(rep, e) {
					t.Errorf("no result %+v; results:\n%s", e, dump(rep))
				}
			}
			for _, r := range rep.Results {
				for _, s := range tc.none {
					if r.Status == s {
						t.Errorf("unexpected %s: %+v", s, r)
					}
				}
				if r.Status == StatusProblem && (r.Field == "" || r.Message == "" || !strings.Contains(r.Message, "fix") && r.Fix == "") {
					t.Errorf("a problem must name the field and the fix: %+v", r)
				}
			}
			if tc.sent != nil {
				tc.sent(t, w)
			}
		})
	}
}

// TestHostnameIsDescribeInstances pins that a hostname problem's message is
// the one DescribeInstance fails the execution with, character for
// character.
func TestHostnameIsDescribeInstances(t *testing.T) {
	w := cleanWorld()
	w.setParam("HostnameTemplate", "{asg}-{instance-id}")
	name := "Web.Prod"
	w.setParam("AsgNames", name)
	w.app.groups = []astypes.AutoScalingGroup{group(name)}
	w.app.hooks[name] = standardHooks(name, "")
	_, rep, _ := run(t, w, "--stack-name", stackName)

	env := parameters(stackParams(name)).environment(appAccount)
	defaults, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	defaults.HostnameTemplate = "{asg}-{instance-id}"
	_, want := defaults.Record(config.Instance{ID: SampleInstanceID, ASG: name, AZ: region + "a"})
	if want == nil {
		t.Fatal("the template should fail for this name")
	}
	if !hasResult(rep, expect{status: StatusProblem, check: "hostname", asg: name, err: "InvalidHostname", contains: []string{want.Error()}}) {
		t.Errorf("want the message %q; results:\n%s", want.Error(), dump(rep))
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
		// calls is how many AWS calls may be made before the error.
		calls bool
	}{
		{name: "nothing to check", args: nil, stderr: "--stack-name or --parameter-overrides is required"},
		{name: "unknown flag", args: []string{"--stak", "x"}, stderr: "flag provided but not defined: -stak"},
		{name: "bad output", args: []string{"--stack-name", "s", "--output", "yaml"}, stderr: `--output "yaml": want text or json`},
		{name: "bad stack name", args: []string{"--stack-name", "my stack"}, stderr: `--stack-name "my stack" is not a CloudFormation stack name`},
		{name: "two stacks", args: []string{"--stack-name", "a", "--stack", "b"}, stderr: `--stack-name "a" and --stack "b": give one`},
		{name: "override without =", args: []string{"--parameter-overrides", "Zone"}, stderr: `--parameter-overrides "Zone": want Key=Value`},
		{name: "override of no parameter", args: []string{"--stack-name", "s", "--parameter-overrides", "Zones=x"}, stderr: "template.yaml has no parameter Zones"},
		{name: "override given twice", args: []string{"--stack-name", "s", "--parameter-overrides", "Zone=a.example", "Zone=b.example"}, stderr: "gives Zone twice"},
		{name: "overrides without values", args: []string{"--parameter-overrides", "--stack-name", "s"}, stderr: "--parameter-overrides needs Key=Value arguments"},
		{name: "parameters missing without a stack", args: []string{"--parameter-overrides", "AsgNames=web"},
			stderr: "--parameter-overrides without --stack-name must give SharedServicesAccountId, Zone, DcInstanceIds"},
		{name: "stray argument", args: []string{"--stack-name", "s", "web"}, stderr: `unexpected argument "web"`},
		{name: "empty shared profile", args: []string{"--stack-name", "s", "--shared-services-profile", ""}, stderr: "--shared-services-profile is empty"},
		{name: "bad function", args: []string{"--stack-name", "s", "--assume-role-function", "a b"}, stderr: `--assume-role-function "a b" is not a Lambda function name`},
		{name: "empty --asg", args: []string{"--stack-name", "s", "--asg", "web,"}, stderr: "empty name"},
		{name: "json and text", args: []string{"--stack-name", "s", "--json", "--output", "text"}, stderr: "--json and --output text: give one"},
		{name: "a stack that does not exist", args: []string{"--stack-name", "nope"}, calls: true,
			stderr: `--stack-name "nope": Stack with id nope does not exist`},
		{name: "a bad account", args: []string{"--stack-name", stackName, "--parameter-overrides", "SharedServicesAccountId=12"}, calls: true,
			stderr: `parameter SharedServicesAccountId "12" is not a 12-digit account id`},
		{name: "a shared profile of another account", args: []string{"--stack-name", stackName, "--shared-services-profile", "app-again"}, calls: true,
			stderr: "--shared-services-profile app-again signs as account 111111111111, but SharedServicesAccountId is 222222222222"},
		{name: "a shared profile that does not exist", args: []string{"--stack-name", stackName, "--shared-services-profile", "nope"}, calls: true,
			stderr: "--shared-services-profile nope: failed to get shared config profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := cleanWorld()
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), w.env(&stdout, &stderr), tc.args)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if !strings.Contains(stderr.String(), tc.stderr) || !strings.Contains(stderr.String(), "Run 'asgdns check -h' for usage.") {
				t.Errorf("stderr %q, want it to contain %q and the pointer to -h", stderr.String(), tc.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if n := len(w.app.calls) + len(w.shared.calls); n > 0 && !tc.calls {
				t.Errorf("%d AWS calls before a usage error: %v", n, w.app.calls)
			}
			if len(w.app.calls) > 0 && w.app.called("lambda:Invoke")+w.app.called("autoscaling:DescribeAutoScalingGroups") > 0 {
				t.Errorf("checks ran despite the usage error: %v", w.app.calls)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), cleanWorld().env(&stdout, &stderr), []string{"-h"})
	if code != ExitOK || !strings.Contains(stderr.String(), "Usage: asgdns check") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	// Every flag the usage names is one the command takes.
	for _, f := range []string{"--stack-name", "--stack", "--parameter-overrides", "--asg", "--shared-services-profile",
		"--assume-role-function", "--output", "--json", "--profile", "--region"} {
		if !regexp.MustCompile(regexp.QuoteMeta(f) + `[^-a-z]`).MatchString(usage) {
			t.Errorf("usage does not document %s", f)
		}
	}
}

func TestOverrideForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want parameters
	}{
		{[]string{"--parameter-overrides", "Zone=a.example", "HostnameTemplate={asg}-{id}"}, parameters{"Zone": "a.example", "HostnameTemplate": "{asg}-{id}"}},
		{[]string{"--parameter-overrides=Zone=a.example", "DcInstanceIds=i-0123456789abcdef0,i-0123456789abcdef1"},
			parameters{"Zone": "a.example", "DcInstanceIds": "i-0123456789abcdef0,i-0123456789abcdef1"}},
		{[]string{"--parameter-overrides", "ParameterKey=Zone,ParameterValue=a.example", "ExternalId="}, parameters{"Zone": "a.example", "ExternalId": ""}},
		{[]string{"--parameter-overrides", "Zone=a.example", "--asg", "web", "--parameter-overrides", "RecordTTL=60"},
			parameters{"Zone": "a.example", "RecordTTL": "60"}},
	} {
		o, err := parseArgs(append([]string{"--stack-name", "s"}, tc.args...))
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if fmt.Sprint(o.overrides) != fmt.Sprint(tc.want) {
			t.Errorf("%q: overrides %v, want %v", tc.args, o.overrides, tc.want)
		}
	}
}

func TestTextReport(t *testing.T) {
	w := cleanWorld()
	w.app.hooks["web"] = standardHooks("web", `{"ttl": 5}`)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), w.env(&stdout, &stderr), []string{"--stack-name", stackName})
	if code != ExitProblems {
		t.Errorf("exit %d", code)
	}
	out := stdout.String()
	for _, want := range []string{
		"asgdns check: stack asgdns, account 111111111111, region eu-west-1, shared-services account 222222222222; 2 ASG(s): web, api\n",
		"PROBLEM      web  lifecycle hook asgdns-launch NotificationMetadata",
		`detail.NotificationMetadata.ttl of ASG "web" "5": is outside 30-86400 seconds; fix: use a TTL such as 300`,
		"NOT CHECKED  -    DC " + dc1,
		"2 problem(s), 0 error(s), 2 not checked,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i > 0 && !strings.HasPrefix(line, "ok ") && !strings.HasPrefix(line, "PROBLEM ") && !strings.HasPrefix(line, "NOT CHECKED ") &&
			!strings.HasPrefix(line, "ERROR ") && !strings.Contains(line, "problem(s)") {
			t.Errorf("line %d is not a result: %q", i, line)
		}
	}
}

// The metadata of both hooks counts: a terminate hook's bad metadata fails
// terminations, and its DCs are checked too.
func TestBothHooksMetadata(t *testing.T) {
	w := cleanWorld()
	w.app.hooks["web"][1].NotificationMetadata = aws.String(`{"dcInstanceIds":["` + dc2 + `"]}`)
	_, rep, _ := run(t, w, "--stack-name", stackName, "--shared-services-profile", "shared")
	if !hasResult(rep, expect{status: StatusOK, check: "dc-online", field: "DC " + dc2}) {
		t.Errorf("the terminate hook's DC is not checked:\n%s", dump(rep))
	}
	var in *ssm.DescribeInstanceInformationInput
	for _, s := range w.shared.sent {
		if v, ok := s.(*ssm.DescribeInstanceInformationInput); ok {
			in = v
		}
	}
	if in == nil || fmt.Sprint(in.Filters[0].Values) != fmt.Sprint([]string{dc1, dc2}) {
		t.Errorf("DescribeInstanceInformation %+v, want both DCs in one call", in)
	}
}

func TestDefaultHookNames(t *testing.T) {
	names, err := config.LoadHookNames(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != fmt.Sprint(workflow.HookNames{defaultLaunchHook, defaultTerminateHook}) {
		t.Errorf("config's default hook names %v, the check's %s and %s", names, defaultLaunchHook, defaultTerminateHook)
	}
}
