package stack

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// happyLaunch are the states a launch that registers at once goes through
// (the poll loop may add "Pause before next poll" and more polls).
var happyStart = []string{"Describe instance", "Route by event", "Assume shared-services role", "Send DNS command", "Wait for DNS command", "DNS command finished?"}
var happyEnd = []string{"Complete lifecycle action", "Done"}

// TestSDKWorkflow drives the whole workflow with the AWS SDK for Go v2 over
// real HTTP, as the demo and asgdns do: an ASG with asgdns's hooks scales
// out (each instance held in Pending:Wait until its record exists, then
// InService, with a name that resolves), the executions and their
// histories, the DNS commands in the shared-services account, an event the
// rule does not match, and a scale-in that removes exactly one name.
func TestSDKWorkflow(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	since := time.Now().Add(-time.Second)

	createGroup(ctx, t, asgSDK, 5, 0, standardHooks(""))
	setDesired(ctx, t, asgSDK, 2)
	instances := waitGroup(ctx, t, asgSDK, "2 InService", allInService(2))
	launches := waitExecutions(ctx, t, asgSDK, since, 2, ofTransition("launch"))

	ips := map[string]string{}
	for _, i := range instances {
		id := aws.ToString(i.InstanceId)
		ip, state := privateIP(ctx, t, id)
		if state != "running" || !strings.HasPrefix(ip, "10.20.") {
			t.Errorf("EC2 says %s is %s at %q, want running in 10.20.0.0/16", id, state, ip)
		}
		ips[id] = ip
	}
	var commands []workflowState
	for _, e := range launches {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("launch execution %v, want SUCCEEDED", e)
		}
		if _, ok := ips[e.Instance]; !ok {
			t.Errorf("launch execution %s is for %s, not an InService instance of %s", e.Name, e.Instance, asgSDK)
		}
		st := parseState(t, e.Output)
		if st.Lifecycle == nil || !st.Lifecycle.Completed || st.Lifecycle.Result != "CONTINUE" {
			t.Errorf("execution %s: $.lifecycle = %+v, want completed with CONTINUE", e.Name, st.Lifecycle)
		}
		if st.Instance == nil || st.Instance.Record == nil || st.Instance.Record.FQDN != fqdn(asgSDK, e.Instance) || st.Instance.PrivateIP != ips[e.Instance] {
			t.Errorf("execution %s: $.instance = %+v, want the record %s → %s", e.Name, st.Instance, fqdn(asgSDK, e.Instance), ips[e.Instance])
		}
		commands = append(commands, st)

		states := statesEntered(history(ctx, t, e.ARN))
		if !slices.Equal(states[:min(len(states), len(happyStart))], happyStart) || !slices.Equal(states[max(0, len(states)-2):], happyEnd) ||
			slices.Contains(states, "Release instance") {
			t.Errorf("execution %s went through %q, want %q … %q", e.Name, states, happyStart, happyEnd)
		}
	}
	for id, ip := range ips {
		got, err := resolve(ctx, fqdn(asgSDK, id))
		if err != nil || !slices.Equal(got, []string{ip}) {
			t.Errorf("resolve %s = %v, %v; want [%s]", fqdn(asgSDK, id), got, err, ip)
		}
		// The local deployment has CreatePtr=true.
		if got, err := h.dns.LookupAddr(ctx, ip); err != nil || !slices.Equal(got, []string{fqdn(asgSDK, id) + "."}) {
			t.Errorf("reverse lookup %s = %v, %v; want [%s.]", ip, got, err, fqdn(asgSDK, id))
		}
	}

	// The DNS commands, read in the shared-services account.
	shared := sharedSSM(ctx, t)
	for _, st := range commands {
		cmd := st.Command
		if cmd == nil || cmd.DCInstanceID != DC {
			t.Fatalf("$.command = %+v, want a command on %s", cmd, DC)
		}
		// Not ListCommandInvocations: with --details it returns every
		// command's output in the account, and the role may not.
		_, err := shared.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: aws.String(cmd.CommandID), Details: true})
		if code := apiErrorCode(err); code != "AccessDeniedException" {
			t.Errorf("the registrar role's ListCommandInvocations %s: %v, want AccessDeniedException", cmd.CommandID, err)
		}
		got, err := shared.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
			CommandId: aws.String(cmd.CommandID), InstanceId: aws.String(DC), PluginName: aws.String(cmd.Step)})
		if err != nil {
			t.Fatalf("GetCommandInvocation %s: %v", cmd.CommandID, err)
		}
		if got.Status != ssmtypes.CommandInvocationStatusSuccess || got.ResponseCode != 0 || aws.ToString(got.InstanceId) != DC ||
			!strings.Contains(aws.ToString(got.StandardOutputContent), st.Instance.Record.FQDN) {
			t.Errorf("GetCommandInvocation %s: %s, exit %d, stdout %q; want Success, 0, naming %s", cmd.CommandID,
				got.Status, got.ResponseCode, aws.ToString(got.StandardOutputContent), st.Instance.Record.FQDN)
		}
		start, err1 := time.Parse(time.RFC3339, aws.ToString(got.ExecutionStartDateTime))
		end, err2 := time.Parse(time.RFC3339, aws.ToString(got.ExecutionEndDateTime))
		if err := errors.Join(err1, err2); err != nil || end.Before(start) {
			t.Errorf("GetCommandInvocation %s: execution %q to %q: %v", cmd.CommandID, aws.ToString(got.ExecutionStartDateTime), aws.ToString(got.ExecutionEndDateTime), err)
		}
	}

	// The operator, an administrator of the application account, has no
	// way into the shared-services account: no SSM there, no role to
	// assume.
	_, err := ssm.NewFromConfig(h.cfg).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{})
	if code := apiErrorCode(err); code != "AccessDeniedException" {
		t.Errorf("the operator's ListCommandInvocations: %v, want AccessDeniedException", err)
	}
	_, err = sts.NewFromConfig(h.cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(sharedRoleARN), RoleSessionName: aws.String("operator"),
		ExternalId: aws.String(ExternalID), SourceIdentity: aws.String(sourceIdentity)})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Errorf("the operator's AssumeRole of the shared-services role: %v, want AccessDenied", err)
	}

	// An event the rule does not match: a look-alike of a launch event
	// from a custom source. EventBridge accepts it and starts nothing. (A
	// look-alike claiming aws.autoscaling is refused outright.)
	var victim string
	for id := range ips {
		victim = id
	}
	putAt := time.Now().Add(-time.Second)
	detail, _ := json.Marshal(map[string]string{"AutoScalingGroupName": asgSDK, "EC2InstanceId": victim,
		"LifecycleHookName": "asgdns-launch", "LifecycleTransition": launching, "LifecycleActionToken": "87654321-4321-4321-4321-210987654321"})
	put, err := h.ev.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.asgdns-test"), DetailType: aws.String("EC2 Instance-launch Lifecycle Action"), Detail: aws.String(string(detail))},
		{Source: aws.String("aws.autoscaling"), DetailType: aws.String("EC2 Instance-launch Lifecycle Action"), Detail: aws.String(string(detail))},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if put.FailedEntryCount != 1 || aws.ToString(put.Entries[0].EventId) == "" || aws.ToString(put.Entries[1].ErrorCode) != "NotAuthorizedForSourceException" {
		t.Errorf("PutEvents: %d failed, entries %+v; want the custom one accepted and aws.autoscaling refused", put.FailedEntryCount, put.Entries)
	}

	// Scale in by one: its record goes, the other stays.
	scaleIn := time.Now().Add(-time.Second)
	setDesired(ctx, t, asgSDK, 1)
	left := waitGroup(ctx, t, asgSDK, "1 InService", allInService(1))
	terms := waitExecutions(ctx, t, asgSDK, scaleIn, 1, ofTransition("terminate"))
	if terms[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("terminate execution %v, want SUCCEEDED", terms[0])
	}
	kept := aws.ToString(left[0].InstanceId)
	gone := terms[0].Instance
	if gone == kept || ips[gone] == "" {
		t.Fatalf("terminated %s, kept %s: want one of %v each", gone, kept, ips)
	}
	if got, err := resolve(ctx, fqdn(asgSDK, gone)); !isNotFound(err) {
		t.Errorf("resolve %s after scale-in = %v, %v; want NXDOMAIN", fqdn(asgSDK, gone), got, err)
	}
	if got, err := resolve(ctx, fqdn(asgSDK, kept)); err != nil || !slices.Equal(got, []string{ips[kept]}) {
		t.Errorf("resolve %s after scale-in = %v, %v; want [%s]", fqdn(asgSDK, kept), got, err, ips[kept])
	}
	if got, err := h.dns.LookupAddr(ctx, ips[gone]); !isNotFound(err) {
		t.Errorf("reverse lookup %s after scale-in = %v, %v; want NXDOMAIN", ips[gone], got, err)
	}
	if got, err := h.dns.LookupAddr(ctx, ips[kept]); err != nil || !slices.Equal(got, []string{fqdn(asgSDK, kept) + "."}) {
		t.Errorf("reverse lookup %s after scale-in = %v, %v; want [%s.]", ips[kept], got, err, fqdn(asgSDK, kept))
	}

	// By now the custom event has long been delivered, had it matched.
	all, err := executionsSince(ctx, putAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Source != "aws.autoscaling" {
			t.Errorf("execution %s started from a %q event: the rule matches aws.autoscaling only", e.Name, e.Source)
		}
	}
}

// apiErrorCode is the AWS error code of err ("" if none).
func apiErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
