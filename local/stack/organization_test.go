package stack

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/cloud"
)

// A StackSets roll-out in organization mode: the application stacks are
// named StackSet-<set>-<uuid>, so CloudFormation cuts the function roles'
// generated names (…-WaitForCommandFunctionRol-…), and the shared-services
// roles trust asgdns's principal tag in each account, not names. A launch
// goes through end to end; a look-alike role without the tag, and a tagged
// role of another account, are refused.
func TestOrganizationTrustWithStackSetsNames(t *testing.T) {
	t.Parallel()
	const stackName = "StackSet-asgdns-app-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	const asg = "org-web"
	ctx := testContext(t, executionDeadline+3*time.Minute)
	s, err := Start(ctx, Options{RepoRoot: h.root, ASGNames: []string{asg}, Accounts: []string{AppAccount, OtherAppAccount},
		StackName: stackName, TrustByOrganization: true})
	if err != nil {
		t.Fatalf("start a second stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})

	// The roles as CloudFormation names them: both halves cut.
	a := s.Deployment(AppAccount)
	for _, fn := range []string{"AssumeRoleFunction", "SendCommandFunction", "WaitForCommandFunction"} {
		role := a.Roles[fn]
		name := role[strings.LastIndex(role, "/")+1:]
		if !strings.HasPrefix(name, stackName[:25]+"-") || strings.Contains(name, stackName) || len(name) > 64 {
			t.Errorf("%s's role %s: want the stack name cut to 25 characters (aws-facts §8)", fn, name)
		}
	}
	if role := a.Roles["WaitForCommandFunction"]; !strings.Contains(role, "-WaitForCommandFunctionRol-") {
		t.Errorf("WaitForCommand's role %s: want the logical id cut to 25 characters (…-WaitForCommandFunctionRol-…)", role)
	}

	// A launch, end to end.
	if err := s.Cloud.CreateGroup(cloud.GroupSpec{Name: asg, Max: 1, Desired: 1, Hooks: []cloud.HookSpec{
		{Name: "asgdns-launch", Transition: cloud.Launching}, {Name: "asgdns-terminate", Transition: cloud.Terminating, DefaultResult: "CONTINUE"},
	}}); err != nil {
		t.Fatal(err)
	}
	opCfg := aws.Config{Region: Region, BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider(OperatorKeyID, OperatorSecret, "")}
	client := sfn.NewFromConfig(opCfg)
	var e *sfn.DescribeExecutionOutput
	err = poll(ctx, executionDeadline, func() (bool, error) {
		list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(s.StateMachineARN)})
		if err != nil || len(list.Executions) == 0 || list.Executions[0].Status == sfntypes.ExecutionStatusRunning {
			return false, err
		}
		e, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("no launch execution ended: %v", err)
	}
	if e.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("launch: %s %s: %s", e.Status, aws.ToString(e.Error), aws.ToString(e.Cause))
	}
	instances := s.Cloud.GroupInstances(asg)
	if len(instances) != 1 {
		t.Fatalf("group %s: %+v", asg, instances)
	}
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", fmt.Sprintf("127.0.0.1:%d", s.DNS.Port()))
	}}
	name := asg + "-" + instances[0].ID + "." + Zone + "."
	if got, err := resolver.LookupHost(ctx, name); err != nil || len(got) != 1 || got[0] != instances[0].PrivateIP {
		t.Errorf("resolve %s = %v, %v; want [%s]", name, got, err, instances[0].PrivateIP)
	}

	// Who else may assume account A's registrar role.
	assume := func(key, roleARN, registrar string, tags map[string]string) error {
		t.Helper()
		if err := s.Cloud.AddCredentials(key, "test-secret", roleARN); err != nil {
			t.Fatal(err)
		}
		if tags != nil {
			if err := s.Cloud.TagRole(roleARN, tags); err != nil {
				t.Fatal(err)
			}
		}
		cfg := opCfg.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, "test-secret", "")
		_, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(registrar),
			RoleSessionName: aws.String("probe"), ExternalId: aws.String(ExternalID), SourceIdentity: aws.String(sourceIdentity)})
		return err
	}
	registrarA, registrarB := s.Cloud.RoleARN(AppAccount), s.Cloud.RoleARN(OtherAppAccount)
	// A role of A's account, named as CloudFormation would name a function
	// role of the same stack set, without asgdns's tag.
	lookalike := "arn:aws:iam::" + AppAccount + ":role/" + cfn.GeneratedRoleName(stackName, "SomethingFunctionRole")
	if err := assume("AKIAORGLOOKALIKE0001", lookalike, registrarA, nil); apiErrorCode(err) != "AccessDenied" {
		t.Errorf("untagged %s: %v, want AccessDenied", lookalike, err)
	}
	// B's SendCommand function role: tagged, trusted by B's role only.
	roleB := s.Deployment(OtherAppAccount).Roles["SendCommandFunction"]
	if err := assume("AKIAORGTENANTB000001", roleB, registrarA, nil); apiErrorCode(err) != "AccessDenied" {
		t.Errorf("B's tagged %s assuming A's role: %v, want AccessDenied", roleB, err)
	}
	if err := assume("AKIAORGTENANTB000001", roleB, registrarB, nil); err != nil {
		t.Errorf("B's tagged %s assuming B's role: %v", roleB, err)
	}
	// The same role name in A's account, tagged: trusted. Then without
	// the tag: refused — the tag decides, not the name.
	if err := assume("AKIAORGTAGGEDA000001", lookalike, registrarA, map[string]string{"asgdns-function": "SendCommand"}); err != nil {
		t.Errorf("tagged %s: %v", lookalike, err)
	}
	if err := assume("AKIAORGTAGGEDA000001", lookalike, registrarA, map[string]string{}); apiErrorCode(err) != "AccessDenied" {
		t.Errorf("%s with its tag removed: %v, want AccessDenied", lookalike, err)
	}
}
