package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/awscli"
)

// awsCLI runs the real AWS CLI against the stack with an environment of
// credentials (the operator's, or a role session's).
type awsCLI struct {
	path string // the aws executable
	env  []string
}

func operatorCLI(t testing.TB) awsCLI {
	t.Helper()
	// The integration tests need the real CLI as a client, and never skip without it.
	return awsCLI{path: awscli.Path(t), env: append(h.s.OperatorEnv(), "PATH="+os.Getenv("PATH"), "HOME="+h.tmp)}
}

// as is the CLI with other credentials, everything else the same.
func (c awsCLI) as(keyID, secret, token string) awsCLI {
	env := slices.DeleteFunc(slices.Clone(c.env), func(kv string) bool {
		return strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") || strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") || strings.HasPrefix(kv, "AWS_SESSION_TOKEN=")
	})
	env = append(env, "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret)
	if token != "" {
		env = append(env, "AWS_SESSION_TOKEN="+token)
	}
	return awsCLI{path: c.path, env: env}
}

// try runs `aws --endpoint-url URL --region REGION --output json ARGS` and
// decodes its JSON output into out (when there is output and out is not
// nil). It returns the exit code and stderr.
func (c awsCLI) try(t testing.TB, out any, args ...string) (int, string) {
	t.Helper()
	full := append([]string{"--endpoint-url", h.s.URL, "--region", Region, "--output", "json"}, args...)
	cmd := exec.Command(c.path, full...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	if code == 0 && out != nil && len(bytes.TrimSpace(stdout.Bytes())) > 0 {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout.Bytes())
		}
	}
	return code, stderr.String()
}

// run is try for a command that must succeed.
func (c awsCLI) run(t testing.TB, out any, args ...string) {
	t.Helper()
	if code, stderr := c.try(t, out, args...); code != 0 {
		t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
}

// cliTime is a timestamp as the CLI prints it: JSON-protocol services'
// as epoch seconds, query-protocol services' as ISO 8601.
type cliTime struct{ time.Time }

func (c *cliTime) UnmarshalJSON(b []byte) error {
	if f, err := strconv.ParseFloat(string(b), 64); err == nil {
		c.Time = time.UnixMilli(int64(f * 1000))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	c.Time = t
	return nil
}

// TestAWSCLI drives the workflow with the real AWS CLI as the only client:
// create an ASG with asgdns's hooks, scale it out, watch the instances go
// InService, read EC2, the executions and their histories, the DNS
// commands in the shared-services account, put an event the rule does not
// match, and scale in. Names are checked with dig.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	op := operatorCLI(t)
	since := time.Now().Add(-time.Second)

	hooks := `[{"LifecycleHookName":"asgdns-launch","LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING","HeartbeatTimeout":3600,"DefaultResult":"ABANDON"},` +
		`{"LifecycleHookName":"asgdns-terminate","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","HeartbeatTimeout":3600,"DefaultResult":"CONTINUE"}]`
	op.run(t, nil, "autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", asgCLI,
		"--min-size", "0", "--max-size", "4", "--desired-capacity", "0",
		"--launch-template", "LaunchTemplateName="+asgCLI, "--availability-zones", Region+"a", Region+"b",
		"--tags", "Key=Name,Value=web,PropagateAtLaunch=true", "--lifecycle-hook-specification-list", hooks)
	var described struct {
		LifecycleHooks []struct {
			LifecycleHookName, LifecycleTransition, DefaultResult string
			HeartbeatTimeout                                      int
		}
	}
	op.run(t, &described, "autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", asgCLI)
	if len(described.LifecycleHooks) != 2 || described.LifecycleHooks[0].HeartbeatTimeout != 3600 {
		t.Errorf("describe-lifecycle-hooks: %+v, want the two hooks as specified", described.LifecycleHooks)
	}

	op.run(t, nil, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", asgCLI, "--desired-capacity", "2")
	ids := cliWaitInService(t, op, 2)

	// EC2: running, private addresses, the group's tags propagated.
	var reservations struct {
		Reservations []struct {
			Instances []struct {
				InstanceID       string `json:"InstanceId"`
				PrivateIPAddress string `json:"PrivateIpAddress"`
				State            struct{ Name string }
				Placement        struct{ AvailabilityZone string }
				Tags             []struct{ Key, Value string }
			}
		}
	}
	op.run(t, &reservations, append([]string{"ec2", "describe-instances", "--instance-ids"}, ids...)...)
	ips := map[string]string{}
	for _, r := range reservations.Reservations {
		for _, i := range r.Instances {
			tags := map[string]string{}
			for _, tag := range i.Tags {
				tags[tag.Key] = tag.Value
			}
			if i.State.Name != "running" || !strings.HasPrefix(i.PrivateIPAddress, "10.20.") ||
				tags["Name"] != "web" || tags["aws:autoscaling:groupName"] != asgCLI {
				t.Errorf("ec2 describe-instances: %+v, want running in 10.20.0.0/16 with Name=web and aws:autoscaling:groupName=%s", i, asgCLI)
			}
			ips[i.InstanceID] = i.PrivateIPAddress
		}
	}
	if len(ips) != 2 {
		t.Fatalf("ec2 describe-instances %v: %d instances", ids, len(ips))
	}

	// Step Functions: one SUCCEEDED launch execution per instance.
	launches := cliExecutions(t, op, since, func(e cliExecution) bool {
		return ips[e.instance] != "" && e.transition == "autoscaling:EC2_INSTANCE_LAUNCHING"
	}, 2)
	var commandIDs []string
	var step string
	for _, e := range launches {
		if e.Status != "SUCCEEDED" {
			t.Fatalf("execution %s: %s (%s: %s), want SUCCEEDED", e.Name, e.Status, e.Error, e.Cause)
		}
		st := parseState(t, e.Output)
		if st.Lifecycle == nil || !st.Lifecycle.Completed || st.Command == nil {
			t.Fatalf("execution %s output: %s", e.Name, e.Output)
		}
		commandIDs = append(commandIDs, st.Command.CommandID)
		step = st.Command.Step

		var hist struct {
			Events []struct {
				Type                     string `json:"type"`
				StateEnteredEventDetails *struct {
					Name string `json:"name"`
				} `json:"stateEnteredEventDetails"`
			} `json:"events"`
		}
		op.run(t, &hist, "stepfunctions", "get-execution-history", "--execution-arn", e.ExecutionArn)
		var states []string
		for _, ev := range hist.Events {
			if ev.StateEnteredEventDetails != nil {
				states = append(states, ev.StateEnteredEventDetails.Name)
			}
		}
		if n := len(hist.Events); n == 0 || hist.Events[0].Type != "ExecutionStarted" || hist.Events[n-1].Type != "ExecutionSucceeded" ||
			!slices.Equal(states[:min(len(states), len(happyStart))], happyStart) || !slices.Equal(states[max(0, len(states)-2):], happyEnd) {
			t.Errorf("get-execution-history %s: states %q", e.Name, states)
		}
	}
	for id, ip := range ips {
		if got := dig(t, fqdn(asgCLI, id)); !slices.Equal(got, []string{ip}) {
			t.Errorf("dig %s = %v, want [%s]", fqdn(asgCLI, id), got, ip)
		}
	}

	// SSM lives in the shared-services account. The operator is refused
	// there, and cannot assume the role (it trusts the three function
	// roles only). What works is what the functions do: their role's
	// credentials, then sts assume-role with the ExternalId and an asgdns
	// SourceIdentity.
	if code, stderr := op.try(t, nil, "ssm", "list-command-invocations"); code == 0 || !strings.Contains(stderr, "AccessDeniedException") {
		t.Errorf("ssm list-command-invocations as the operator: exit %d, %s; want AccessDeniedException", code, stderr)
	}
	assume := []string{"sts", "assume-role", "--role-arn", sharedRoleARN, "--role-session-name", "asgdns-cli-test",
		"--external-id", ExternalID, "--source-identity", sourceIdentity}
	if code, stderr := op.try(t, nil, assume...); code == 0 || !strings.Contains(stderr, "AccessDenied") {
		t.Errorf("sts assume-role as the operator: exit %d, %s; want AccessDenied", code, stderr)
	}
	keyID, secret := functionCredentials(t, functionName("WaitForCommandFunction"))
	fn := op.as(keyID, secret, "")
	var session struct {
		Credentials struct{ AccessKeyID, SecretAccessKey, SessionToken string } `json:"Credentials"`
	}
	fn.run(t, &session, assume...)
	// encoding/json matches AccessKeyId to AccessKeyID case-insensitively.
	shared := op.as(session.Credentials.AccessKeyID, session.Credentials.SecretAccessKey, session.Credentials.SessionToken)
	var who struct{ Account, Arn string }
	shared.run(t, &who, "sts", "get-caller-identity")
	if who.Account != SharedAccount || !strings.Contains(who.Arn, ":assumed-role/asgdns-dns-registrar-"+AppAccount+"/") {
		t.Errorf("sts get-caller-identity in the session: %+v, want the shared-services role", who)
	}
	for _, id := range commandIDs {
		var list struct {
			CommandInvocations []struct {
				CommandID, InstanceID, Status, DocumentName string
				CommandPlugins                              []struct{ Name, Status, Output string }
			}
		}
		// The role reads one invocation at a time: ListCommandInvocations
		// --details would show every command's output in the account.
		if code, stderr := shared.try(t, &list, "ssm", "list-command-invocations", "--command-id", id, "--details"); code == 0 ||
			!strings.Contains(stderr, "AccessDeniedException") {
			t.Errorf("ssm list-command-invocations in the role's session: exit %d, %s; want AccessDeniedException", code, stderr)
		}
		var got struct {
			Status, StandardOutputContent, ExecutionStartDateTime, ExecutionEndDateTime, DocumentName, InstanceID string
			ResponseCode                                                                                          int
		}
		shared.run(t, &got, "ssm", "get-command-invocation", "--command-id", id, "--instance-id", DC, "--plugin-name", step)
		if got.Status != "Success" || got.ResponseCode != 0 || !strings.Contains(got.StandardOutputContent, `"outcome"`) || got.ExecutionEndDateTime == "" ||
			got.DocumentName != h.s.Cloud.DocumentName(AppAccount) || got.InstanceID != DC {
			t.Errorf("ssm get-command-invocation %s: %+v", id, got)
		}
	}

	// EventBridge: an event from a custom source, shaped like a launch,
	// that the rule must not match.
	putAt := time.Now().Add(-time.Second)
	var victim string
	for id := range ips {
		victim = id
	}
	detail := `{"AutoScalingGroupName":"` + asgCLI + `","EC2InstanceId":"` + victim + `","LifecycleHookName":"asgdns-launch","LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING"}`
	entries, _ := json.Marshal([]map[string]string{{"Source": "com.example.asgdns-cli", "DetailType": "EC2 Instance-launch Lifecycle Action", "Detail": detail}})
	var put struct {
		FailedEntryCount int
		Entries          []struct{ EventID string }
	}
	op.run(t, &put, "events", "put-events", "--entries", string(entries))
	if put.FailedEntryCount != 0 || len(put.Entries) != 1 || put.Entries[0].EventID == "" {
		t.Errorf("events put-events: %+v, want the event accepted", put)
	}

	// Scale in by one.
	scaleIn := time.Now().Add(-time.Second)
	op.run(t, nil, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", asgCLI, "--desired-capacity", "1")
	kept := cliWaitInService(t, op, 1)[0]
	terms := cliExecutions(t, op, scaleIn, func(e cliExecution) bool {
		return e.transition == "autoscaling:EC2_INSTANCE_TERMINATING" && e.asg == asgCLI
	}, 1)
	gone := terms[0].instance
	if terms[0].Status != "SUCCEEDED" || gone == kept || ips[gone] == "" {
		t.Fatalf("terminate execution %s for %s: %s; kept %s", terms[0].Name, gone, terms[0].Status, kept)
	}
	if got := dig(t, fqdn(asgCLI, gone)); len(got) != 0 {
		t.Errorf("dig %s after scale-in = %v, want no answer", fqdn(asgCLI, gone), got)
	}
	if got := dig(t, fqdn(asgCLI, kept)); !slices.Equal(got, []string{ips[kept]}) {
		t.Errorf("dig %s after scale-in = %v, want [%s]", fqdn(asgCLI, kept), got, ips[kept])
	}

	// The custom event, put before the scale-in, started nothing.
	custom := cliExecutions(t, op, putAt, func(e cliExecution) bool { return e.source == "com.example.asgdns-cli" }, 0)
	if len(custom) != 0 {
		t.Errorf("the custom-source event started %d executions, want none", len(custom))
	}
}

// cliWaitInService waits (describe-auto-scaling-groups) until the CLI
// group has exactly n instances, all InService, and returns their ids.
func cliWaitInService(t *testing.T, op awsCLI, n int) []string {
	t.Helper()
	var ids, last []string
	err := poll(t.Context(), stateDeadline, func() (bool, error) {
		var out struct {
			AutoScalingGroups []struct {
				Instances []struct{ InstanceID, LifecycleState string }
			}
		}
		op.run(t, &out, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", asgCLI)
		if len(out.AutoScalingGroups) != 1 {
			return false, errors.New("no group")
		}
		ids, last = nil, nil
		for _, i := range out.AutoScalingGroups[0].Instances {
			last = append(last, i.InstanceID+"="+i.LifecycleState)
			if i.LifecycleState == "InService" {
				ids = append(ids, i.InstanceID)
			}
		}
		return len(ids) == n && len(last) == n, nil
	})
	if err != nil {
		t.Fatalf("%s: want %d InService: %v; instances %v", asgCLI, n, err, last)
	}
	return ids
}

// cliExecution is describe-execution's output, with its input read.
type cliExecution struct {
	ExecutionArn, Name, Status, Input, Output, Error, Cause string
	StartDate                                               cliTime
	StopDate                                                *cliTime

	source, asg, instance, transition string
}

// cliExecutions lists executions started since since (list-executions,
// newest first) and describes them (describe-execution) until want of them
// match and have ended; with want 0 it looks once.
func cliExecutions(t *testing.T, op awsCLI, since time.Time, match func(cliExecution) bool, want int) []cliExecution {
	t.Helper()
	done := map[string]cliExecution{} // ended executions, by ARN
	var found []cliExecution
	check := func() (bool, error) {
		var list struct {
			Executions []struct {
				ExecutionArn, Status string
				StartDate            cliTime
			}
		}
		op.run(t, &list, "stepfunctions", "list-executions", "--state-machine-arn", h.s.StateMachineARN, "--max-items", "300")
		found = nil
		for _, item := range list.Executions {
			if item.StartDate.Before(since) {
				break
			}
			e, ok := done[item.ExecutionArn]
			if !ok {
				op.run(t, &e, "stepfunctions", "describe-execution", "--execution-arn", item.ExecutionArn)
				var in struct {
					Source string `json:"source"`
					Detail struct {
						ASG        string `json:"AutoScalingGroupName"`
						Instance   string `json:"EC2InstanceId"`
						Transition string `json:"LifecycleTransition"`
					} `json:"detail"`
				}
				_ = json.Unmarshal([]byte(e.Input), &in)
				e.source, e.asg, e.instance, e.transition = in.Source, in.Detail.ASG, in.Detail.Instance, in.Detail.Transition
				if e.Status != "RUNNING" {
					done[item.ExecutionArn] = e
				}
			}
			if match(e) && (e.Status != "RUNNING" || want == 0) {
				found = append(found, e)
			}
		}
		return len(found) >= want, nil
	}
	if want == 0 {
		_, _ = check()
		return found
	}
	if err := poll(t.Context(), executionDeadline, check); err != nil {
		t.Fatalf("stepfunctions list-executions: %d matching executions ended, want %d: %v", len(found), want, err)
	}
	return found
}
