package cloud

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestHappyChain walks one instance through what the state machine does,
// at the API level: scale out → the launch event reaches the rule's target
// (the template's pattern) → DescribeInstances → AssumeRole (trusted yes,
// untrusted no) → SendCommand runs the Linux step against named → the
// name resolves → CompleteLifecycleAction CONTINUE → InService; then scale
// in → terminate event → deregister → the name is gone → terminated.
func TestHappyChain(t *testing.T) {
	w, dns := dnsWorld(t, withFakeClock())
	ctx := context.Background()

	rule, err := LoadRule(appTemplate, appDeployment, []string{"web-prod"})
	if err != nil {
		t.Fatal(err)
	}
	executions := &recorder{} // stands in for Step Functions StartExecution
	rule.Target = executions.target
	if err := w.cloud.OnEvent(rule); err != nil {
		t.Fatal(err)
	}
	// The hooks the application stack puts on the named groups.
	hooks := []HookSpec{
		{Name: "asgdns-launch", Transition: Launching, HeartbeatTimeout: time.Hour, DefaultResult: "ABANDON",
			NotificationMetadata: `{"zone":"corp.example.com"}`},
		{Name: "asgdns-terminate", Transition: Terminating, HeartbeatTimeout: time.Hour, DefaultResult: "CONTINUE"},
	}
	for _, name := range []string{"web-prod", "not-ours"} {
		if err := w.cloud.CreateGroup(GroupSpec{Name: name, Max: 3, Hooks: hooks, Tags: map[string]string{"Name": name}}); err != nil {
			t.Fatal(err)
		}
	}
	app := w.asg(keyCreds(keyAppOperator))

	// 1. Scale out by one; only web-prod's event reaches the target.
	for _, name := range []string{"not-ours", "web-prod"} {
		if _, err := app.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
	}
	launch := decodeEvent(t, executions.waitEvents(t, 1)[0])
	id, token := launch.Detail["EC2InstanceId"], launch.Detail["LifecycleActionToken"]
	if launch.DetailType != "EC2 Instance-launch Lifecycle Action" || launch.Detail["AutoScalingGroupName"] != "web-prod" ||
		launch.Detail["LifecycleHookName"] != "asgdns-launch" || launch.Detail["NotificationMetadata"] != `{"zone":"corp.example.com"}` {
		t.Fatalf("launch event = %+v", launch)
	}

	// 2. DescribeInstance: the instance, its address and AZ.
	described, err := w.ec2(keyCreds(keyAppOperator)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := described.Reservations[0].Instances[0]
	ip := aws.ToString(inst.PrivateIpAddress)
	if ip == "" || inst.State.Name == ec2types.InstanceStateNameTerminated {
		t.Fatalf("instance = %+v", inst)
	}

	// 3. AssumeRole: refused to an untrusted role, granted to ours.
	_, err = w.sts(keyCreds(keyUntrusted)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(w.cloud.RoleARN(AppAccount)),
		RoleSessionName: aws.String("asgdns-" + id), SourceIdentity: aws.String("asgdns-" + id)})
	wantCode(t, err, "AccessDenied")
	shared := w.ssm(w.assume(keySendCommand, id))

	// 4. SendCommand registers the record on the DC's named.
	host := "web-prod-" + id
	reg := send(t, shared, registerParams("register", host, ip, id))
	done := waitInvocation(t, shared, aws.ToString(reg.CommandId), linuxStep)
	if done.Status != ssmtypes.CommandInvocationStatusSuccess || !strings.Contains(aws.ToString(done.StandardOutputContent), `"outcome":"created"`) {
		t.Fatalf("register: %s %q %q", done.Status, aws.ToString(done.StandardOutputContent), aws.ToString(done.StandardErrorContent))
	}
	if got := lookup(t, dns, "A", host+"."+zone); got != ip {
		t.Fatalf("dig %s = %q, want %s", host, got, ip)
	}

	// 5. CompleteLifecycleAction CONTINUE: in service once booted.
	if _, err := app.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("web-prod"), LifecycleHookName: aws.String("asgdns-launch"),
		LifecycleActionResult: aws.String("CONTINUE"), LifecycleActionToken: aws.String(token), InstanceId: aws.String(id),
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(bootTime)
	if _, states := groupState(t, w, "web-prod"); states[id] != "InService" {
		t.Fatalf("after CONTINUE: %v", states)
	}

	// 6. Scale in: the terminate event, deregistration, completion.
	if _, err := app.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String("web-prod"), DesiredCapacity: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	term := decodeEvent(t, executions.waitEvents(t, 2)[1])
	if term.DetailType != "EC2 Instance-terminate Lifecycle Action" || term.Detail["EC2InstanceId"] != id {
		t.Fatalf("terminate event = %+v", term)
	}
	dereg := send(t, shared, registerParams("deregister", host, ip, id))
	if out := waitInvocation(t, shared, aws.ToString(dereg.CommandId), linuxStep); !strings.Contains(aws.ToString(out.StandardOutputContent), `"outcome":"deleted"`) {
		t.Fatalf("deregister: %q %q", aws.ToString(out.StandardOutputContent), aws.ToString(out.StandardErrorContent))
	}
	if got := lookup(t, dns, "A", host+"."+zone); got != "" {
		t.Fatalf("dig after deregister = %q", got)
	}
	if _, err := app.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("web-prod"), LifecycleHookName: aws.String("asgdns-terminate"),
		LifecycleActionResult: aws.String("CONTINUE"), LifecycleActionToken: aws.String(term.Detail["LifecycleActionToken"]),
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(shutdownTime)
	gone, err := w.ec2(keyCreds(keyAppOperator)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if s := gone.Reservations[0].Instances[0].State.Name; s != ec2types.InstanceStateNameTerminated {
		t.Errorf("EC2 state = %s, want terminated", s)
	}
	if desired, states := groupState(t, w, "web-prod"); desired != 0 || len(states) != 0 {
		t.Errorf("group: desired %d, %v", desired, states)
	}
	// Nothing else reached the target: not-ours is not in AsgNames, and
	// the Launch/Terminate Successful events are not lifecycle actions.
	// (Deliveries are asynchronous: a late one would show here or in a
	// later run, never fail a correct build.)
	time.Sleep(100 * time.Millisecond)
	if n := len(executions.all()); n != 2 {
		var seen []string
		for _, ev := range executions.all() {
			seen = append(seen, string(ev))
		}
		t.Errorf("the rule delivered %d events, want 2:\n%s", n, strings.Join(seen, "\n"))
	}
}
