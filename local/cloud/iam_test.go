package cloud

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestParsePrincipal(t *testing.T) {
	for _, tc := range []struct {
		arn, wantARN, role string
		session            bool
	}{
		{"arn:aws:iam::111111111111:user/ops/alice", "arn:aws:iam::111111111111:user/ops/alice", "", false},
		{"arn:aws:iam::111111111111:root", "arn:aws:iam::111111111111:root", "", false},
		{"arn:aws:iam::111111111111:role/service-role/fn-role", "arn:aws:sts::111111111111:assumed-role/fn-role/local",
			"arn:aws:iam::111111111111:role/service-role/fn-role", true},
		{"arn:aws:sts::111111111111:assumed-role/fn-role/fn", "arn:aws:sts::111111111111:assumed-role/fn-role/fn",
			"arn:aws:iam::111111111111:role/fn-role", true},
	} {
		p, err := parsePrincipal(tc.arn)
		if err != nil {
			t.Errorf("%s: %v", tc.arn, err)
			continue
		}
		if p.ARN != tc.wantARN || p.RoleARN != tc.role || p.roleSession() != tc.session || p.Account != AppAccount {
			t.Errorf("%s: %+v", tc.arn, p)
		}
	}
	for _, bad := range []string{"", "operator", "arn:aws:iam::1234:user/x", "arn:aws:s3:::bucket",
		"arn:aws:sts::111111111111:assumed-role/only-role", "arn:aws:iam::111111111111:group/admins"} {
		if _, err := parsePrincipal(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// A role restricted with SetRolePolicy gets each service's refusal.
func TestRolePolicies(t *testing.T) {
	w := newWorld(t)
	if err := w.cloud.SetRolePolicy(sendCommandRole, json.RawMessage(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111"},
		{"Effect":"Allow","Action":"autoscaling:Describe*","Resource":"*"},
		{"Effect":"Deny","Action":"autoscaling:DescribeLifecycleHooks","Resource":"*"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.SetRolePolicy(sendCommandRole, json.RawMessage(`not json`)); err == nil {
		t.Error("a malformed policy was accepted")
	}
	if err := w.cloud.CreateGroup(GroupSpec{Name: "web", Max: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fn := keyCreds(keySendCommand)
	const who = "arn:aws:sts::111111111111:assumed-role/asgdns-SendCommandFunctionRole-4D5E6F/asgdns-SendCommandFunction"

	_, err := w.ec2(fn).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if msg := wantCode(t, err, "UnauthorizedOperation"); msg != "You are not authorized to perform this operation. User: "+who+
		" is not authorized to perform: ec2:DescribeInstances on resource: * because no identity-based policy allows the ec2:DescribeInstances action" {
		t.Errorf("message = %q", msg)
	}
	if httpStatus(err) != 403 {
		t.Errorf("status = %d", httpStatus(err))
	}
	if _, err := w.asg(fn).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
		t.Errorf("allowed by autoscaling:Describe*: %v", err)
	}
	_, err = w.asg(fn).DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("web")})
	wantCode(t, err, "AccessDenied") // the explicit Deny wins
	_, err = w.asg(fn).SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1)})
	wantCode(t, err, "AccessDenied")
	_, err = w.events(fn).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("a.b"), DetailType: aws.String("x"), Detail: aws.String("{}")}}})
	wantCode(t, err, "AccessDeniedException")
	// What the policy allows still works, and the trust policy still decides.
	w.assume(keySendCommand, owner)
	if _, err := w.sts(fn).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity needs no permission: %v", err)
	}
}

// SendCommand can target the DCs by tag, as the role's policy is written.
func TestSendCommandByTag(t *testing.T) {
	w, dns := dnsWorld(t)
	if err := w.cloud.RegisterDC("i-0dc0000000000002b", "Linux"); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.RegisterDC("i-0dc0000000000002b", "Linux"); err == nil {
		t.Error("a DC registered twice")
	}
	if err := w.cloud.RegisterDC("dc-1", "Linux"); err == nil {
		t.Error("a DC with a malformed id")
	}
	if err := w.cloud.RegisterManagedNode(ManagedNode{InstanceID: "i-0dc0000000000003c", Platform: "Solaris"}); err == nil {
		t.Error("a DC on another platform")
	}
	if err := w.cloud.SetReachability("i-0123456789abcdef0", Undeliverable); err == nil {
		t.Error("SetReachability of an unknown node")
	}
	client := w.ssm(w.assume(keySendCommand, owner))
	out, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{
		DocumentName: aws.String(documentName), Targets: []ssmtypes.Target{{Key: aws.String("tag:asgdns-dc"), Values: []string{"true"}}},
		Parameters: registerParams("register", "tagged", "10.20.1.40", owner),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Command.TargetCount != 2 {
		t.Errorf("TargetCount = %d, want both DCs", out.Command.TargetCount)
	}
	for _, dc := range []string{dcID, "i-0dc0000000000002b"} {
		eventually(t, "the invocation on "+dc, func() (bool, string) {
			inv, err := client.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{
				CommandId: out.Command.CommandId, InstanceId: aws.String(dc), PluginName: aws.String(linuxStep)})
			return err == nil && inv.Status == ssmtypes.CommandInvocationStatusSuccess, ""
		})
	}
	if got := lookup(t, dns, "A", "tagged."+zone); got != "10.20.1.40" {
		t.Errorf("dig = %q", got)
	}
	_, err = client.SendCommand(context.Background(), &ssm.SendCommandInput{
		DocumentName: aws.String(documentName), InstanceIds: []string{dcID, dcID}, Parameters: registerParams("register", "x", "10.20.1.41", owner)})
	wantCode(t, err, "DuplicateInstanceId")
	_, err = client.SendCommand(context.Background(), &ssm.SendCommandInput{
		DocumentName: aws.String(documentName), Targets: []ssmtypes.Target{{Key: aws.String("resource-groups:Name"), Values: []string{"x"}}},
		Parameters: registerParams("register", "x", "10.20.1.41", owner)})
	wantCode(t, err, "InvalidParameters")
}
