package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// lifecycleEvents registers a rule for the group's lifecycle action events.
func lifecycleEvents(t *testing.T, w *world) *recorder {
	t.Helper()
	rec := &recorder{}
	if err := w.cloud.OnEvent(Rule{Name: "lifecycle", Target: rec.target, Pattern: json.RawMessage(
		`{"source":["aws.autoscaling"],"detail-type":[{"suffix":"Lifecycle Action"}]}`)}); err != nil {
		t.Fatal(err)
	}
	return rec
}

type eventDoc struct {
	Version    string            `json:"version"`
	ID         string            `json:"id"`
	DetailType string            `json:"detail-type"`
	Source     string            `json:"source"`
	Account    string            `json:"account"`
	Time       string            `json:"time"`
	Region     string            `json:"region"`
	Resources  []string          `json:"resources"`
	Detail     map[string]string `json:"detail"`
}

// decodeEvent decodes an event; detail values that are not strings are
// kept as their JSON.
func decodeEvent(t *testing.T, raw json.RawMessage) eventDoc {
	t.Helper()
	var ev eventDoc
	var generic struct {
		Detail map[string]json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	withoutDetail := map[string]json.RawMessage{}
	_ = json.Unmarshal(raw, &withoutDetail)
	delete(withoutDetail, "detail")
	b, _ := json.Marshal(withoutDetail)
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	ev.Detail = map[string]string{}
	for k, v := range generic.Detail {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		ev.Detail[k] = s
	}
	return ev
}

// keysOf lists a JSON object's keys (and its detail's, prefixed).
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	var detail map[string]json.RawMessage
	_ = json.Unmarshal(m["detail"], &detail)
	for k := range detail {
		keys = append(keys, "detail."+k)
	}
	sort.Strings(keys)
	return keys
}

func groupState(t *testing.T, w *world, name string) (desired int, states map[string]string) {
	t.Helper()
	out, err := w.asg(keyCreds(keyAppOperator)).DescribeAutoScalingGroups(context.Background(),
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("groups = %d", len(out.AutoScalingGroups))
	}
	g := out.AutoScalingGroups[0]
	states = map[string]string{}
	for _, i := range g.Instances {
		states[aws.ToString(i.InstanceId)] = string(i.LifecycleState)
	}
	return int(aws.ToInt32(g.DesiredCapacity)), states
}

func TestLifecycleHooks(t *testing.T) {
	w := newWorld(t, withFakeClock())
	rec := lifecycleEvents(t, w)
	ctx := context.Background()
	client := w.asg(keyCreds(keyAppOperator))
	_, err := client.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(0),
		LaunchTemplate:    &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		AvailabilityZones: []string{"eu-west-1a", "eu-west-1b"},
		Tags:              []types.Tag{{Key: aws.String("Team"), Value: aws.String("payments"), PropagateAtLaunch: aws.Bool(true)}},
		LifecycleHookSpecificationList: []types.LifecycleHookSpecification{
			{LifecycleHookName: aws.String("dns-launch"), LifecycleTransition: aws.String(Launching), HeartbeatTimeout: aws.Int32(60),
				DefaultResult: aws.String("ABANDON"), NotificationMetadata: aws.String(`{"zone":"corp.example.com","ttl":300}`)},
			{LifecycleHookName: aws.String("dns-terminate"), LifecycleTransition: aws.String(Terminating), HeartbeatTimeout: aws.Int32(60),
				DefaultResult: aws.String("CONTINUE")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := client.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("web-prod")})
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks.LifecycleHooks) != 2 || aws.ToInt32(hooks.LifecycleHooks[0].GlobalTimeout) != 6000 ||
		aws.ToString(hooks.LifecycleHooks[1].DefaultResult) != "CONTINUE" {
		t.Fatalf("hooks = %+v", hooks.LifecycleHooks)
	}

	// Scale out by one: the instance waits in Pending:Wait and the launch
	// event has the shape of the real one.
	if _, err := client.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String("web-prod"), DesiredCapacity: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	raw := rec.waitEvents(t, 1)[0]
	fixture, err := os.ReadFile("../../workflow/testdata/events/launch.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keysOf(t, raw), keysOf(t, fixture); !reflect.DeepEqual(got, want) {
		t.Errorf("launch event keys =\n%v\nwant (as the fixture)\n%v", got, want)
	}
	ev := decodeEvent(t, raw)
	first := ev.Detail["EC2InstanceId"]
	if ev.DetailType != "EC2 Instance-launch Lifecycle Action" || ev.Source != "aws.autoscaling" || ev.Account != AppAccount ||
		ev.Region != DefaultRegion || ev.Time != "2026-11-20T08:00:00Z" || len(ev.Resources) != 1 ||
		!strings.HasSuffix(ev.Resources[0], ":autoScalingGroupName/web-prod") ||
		ev.Detail["LifecycleHookName"] != "dns-launch" || ev.Detail["LifecycleTransition"] != Launching ||
		ev.Detail["NotificationMetadata"] != `{"zone":"corp.example.com","ttl":300}` ||
		ev.Detail["Origin"] != "EC2" || ev.Detail["Destination"] != "AutoScalingGroup" || len(ev.Detail["LifecycleActionToken"]) != 36 {
		t.Errorf("launch event = %s", raw)
	}
	if _, states := groupState(t, w, "web-prod"); states[first] != "Pending:Wait" {
		t.Fatalf("states = %v", states)
	}

	// A heartbeat extends the hook; without more, DefaultResult (ABANDON)
	// applies when the timeout passes: the instance is terminated and
	// replaced.
	w.clock.Advance(50 * time.Second)
	if _, err := client.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String("web-prod"), LifecycleHookName: aws.String("dns-launch"),
		LifecycleActionToken: aws.String(ev.Detail["LifecycleActionToken"]), InstanceId: aws.String(first),
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(50 * time.Second) // 100 s after launch, 50 s after the heartbeat
	if _, states := groupState(t, w, "web-prod"); states[first] != "Pending:Wait" {
		t.Fatalf("after the heartbeat: %v", states)
	}
	w.clock.Advance(11 * time.Second)
	if _, states := groupState(t, w, "web-prod"); len(states) != 0 {
		t.Fatalf("after the timeout the abandoned instance should be gone: %v", states)
	}
	_, err = client.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("web-prod"), LifecycleHookName: aws.String("dns-launch"),
		LifecycleActionResult: aws.String("CONTINUE"), LifecycleActionToken: aws.String(ev.Detail["LifecycleActionToken"]),
	})
	if msg := wantCode(t, err, "ValidationError"); msg != "No active Lifecycle Action found with token "+ev.Detail["LifecycleActionToken"] {
		t.Errorf("message = %q", msg)
	}
	w.clock.Advance(replaceDelay)
	second := decodeEvent(t, rec.waitEvents(t, 2)[1]).Detail["EC2InstanceId"]
	if second == first || second == "" {
		t.Fatalf("replacement = %q", second)
	}

	// CONTINUE by instance id puts it in service once it is running;
	// completing again finds nothing.
	complete := &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("web-prod"), LifecycleHookName: aws.String("dns-launch"),
		LifecycleActionResult: aws.String("CONTINUE"), InstanceId: aws.String(second),
	}
	if _, err := client.CompleteLifecycleAction(ctx, complete); err != nil {
		t.Fatal(err)
	}
	if _, states := groupState(t, w, "web-prod"); states[second] != "Pending:Proceed" {
		t.Errorf("before boot: %v", states)
	}
	w.clock.Advance(bootTime)
	if _, states := groupState(t, w, "web-prod"); states[second] != "InService" {
		t.Errorf("after boot: %v", states)
	}
	_, err = client.CompleteLifecycleAction(ctx, complete)
	if msg := wantCode(t, err, "ValidationError"); msg != "No active Lifecycle Action found with instance ID "+second {
		t.Errorf("message = %q", msg)
	}
	inst, err := client.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.AutoScalingInstances) != 1 || aws.ToString(inst.AutoScalingInstances[0].LifecycleState) != "InService" ||
		aws.ToString(inst.AutoScalingInstances[0].HealthStatus) != "HEALTHY" ||
		aws.ToString(inst.AutoScalingInstances[0].AutoScalingGroupName) != "web-prod" {
		t.Errorf("DescribeAutoScalingInstances = %+v", inst.AutoScalingInstances)
	}

	// Scale in: the terminate hook holds it; its DefaultResult (CONTINUE)
	// lets it terminate when the timeout passes.
	if _, err := client.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod"), DesiredCapacity: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	term := decodeEvent(t, rec.waitEvents(t, 3)[2])
	if term.DetailType != "EC2 Instance-terminate Lifecycle Action" || term.Detail["EC2InstanceId"] != second ||
		term.Detail["LifecycleTransition"] != Terminating || term.Detail["Origin"] != "AutoScalingGroup" ||
		term.Detail["Destination"] != "EC2" || term.Detail["LifecycleHookName"] != "dns-terminate" {
		t.Errorf("terminate event = %+v", term)
	}
	if _, states := groupState(t, w, "web-prod"); states[second] != "Terminating:Wait" {
		t.Errorf("scale-in: %v", states)
	}
	w.clock.Advance(61 * time.Second)
	if desired, states := groupState(t, w, "web-prod"); desired != 0 || len(states) != 0 {
		t.Errorf("after the terminate hook timed out: desired %d, %v", desired, states)
	}
	if s := w.instanceState(second); s != "shutting-down" {
		t.Errorf("EC2 state = %s", s)
	}

	// Bounds are checked as Auto Scaling checks them.
	_, err = client.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web-prod"), DesiredCapacity: aws.Int32(5)})
	if msg := wantCode(t, err, "ValidationError"); msg != "New SetDesiredCapacity value 5 is above max value 4 for the AutoScalingGroup." {
		t.Errorf("message = %q", msg)
	}
	_, err = client.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("nope"), DesiredCapacity: aws.Int32(1)})
	if msg := wantCode(t, err, "ValidationError"); msg != "AutoScalingGroup name not found - AutoScalingGroup: nope not found" {
		t.Errorf("message = %q", msg)
	}
	_, err = client.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: aws.String("web-prod"),
		LifecycleHookName: aws.String("h"), LifecycleTransition: aws.String(Launching), HeartbeatTimeout: aws.Int32(10)})
	wantCode(t, err, "ValidationError")
}

func TestLifecycleGlobalTimeoutAndDeletedHook(t *testing.T) {
	w := newWorld(t, withFakeClock())
	rec := lifecycleEvents(t, w)
	ctx := context.Background()
	client := w.asg(keyCreds(keyAppOperator))
	if err := w.cloud.CreateGroup(GroupSpec{Name: "g", Max: 2, Desired: 1, Hooks: []HookSpec{
		{Name: "launch", Transition: Launching, HeartbeatTimeout: 30 * time.Second, DefaultResult: "CONTINUE"},
	}}); err != nil {
		t.Fatal(err)
	}
	id := decodeEvent(t, rec.waitEvents(t, 1)[0]).Detail["EC2InstanceId"]
	// Heartbeats every 20 s keep it waiting, but never past the global
	// timeout (100 × 30 s): then DefaultResult (CONTINUE) applies.
	for elapsed := 20 * time.Second; elapsed < 3000*time.Second; elapsed += 20 * time.Second {
		w.clock.Advance(20 * time.Second)
		if _, err := client.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
			AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("launch"), InstanceId: aws.String(id),
		}); err != nil {
			t.Fatalf("heartbeat at %s: %v", elapsed, err)
		}
	}
	if _, states := groupState(t, w, "g"); states[id] != "Pending:Wait" {
		t.Fatalf("at 2980 s: %v", states)
	}
	w.clock.Advance(20 * time.Second)
	if _, states := groupState(t, w, "g"); states[id] != "InService" {
		t.Fatalf("at the global timeout: %v", states)
	}

	// Deleting a hook completes its outstanding launch actions with ABANDON.
	if err := w.cloud.SetDesiredCapacity("g", 2); err != nil {
		t.Fatal(err)
	}
	other := decodeEvent(t, rec.waitEvents(t, 2)[1]).Detail["EC2InstanceId"]
	if _, err := client.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{
		AutoScalingGroupName: aws.String("g"), LifecycleHookName: aws.String("launch")}); err != nil {
		t.Fatal(err)
	}
	if _, states := groupState(t, w, "g"); states[other] != "" {
		t.Errorf("after DeleteLifecycleHook: %v", states)
	}
	// Without hooks the replacement goes straight into service.
	w.clock.Advance(replaceDelay + bootTime)
	if desired, states := groupState(t, w, "g"); desired != 2 || len(states) != 2 {
		t.Errorf("replacement: desired %d, %v", desired, states)
	}
	for _, gi := range w.cloud.GroupInstances("g") {
		if gi.LifecycleState != "InService" || gi.State != "running" {
			t.Errorf("instance %+v", gi)
		}
	}
}

func TestAutoScalingCLI(t *testing.T) {
	w := newWorld(t)
	rec := lifecycleEvents(t, w)
	op := keyCreds(keyAppOperator)
	w.cliJSON(op, nil, "autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "demo",
		"--launch-template", "LaunchTemplateName=demo", "--min-size", "0", "--max-size", "3", "--desired-capacity", "0",
		"--availability-zones", "eu-west-1a", "eu-west-1b", "--tags", "Key=Name,Value=demo,PropagateAtLaunch=true")
	w.cliJSON(op, nil, "autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", "demo",
		"--lifecycle-hook-name", "asgdns-launch", "--lifecycle-transition", Launching, "--heartbeat-timeout", "3600")
	var hooks struct {
		LifecycleHooks []struct{ LifecycleHookName, DefaultResult string }
	}
	w.cliJSON(op, &hooks, "autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", "demo")
	if len(hooks.LifecycleHooks) != 1 || hooks.LifecycleHooks[0].DefaultResult != "ABANDON" {
		t.Errorf("hooks = %+v", hooks)
	}
	w.cliJSON(op, nil, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "demo", "--desired-capacity", "1")
	id := decodeEvent(t, rec.waitEvents(t, 1)[0]).Detail["EC2InstanceId"]

	var groups struct {
		AutoScalingGroups []struct {
			AutoScalingGroupName string
			DesiredCapacity      int
			Instances            []struct{ InstanceId, LifecycleState string }
			Tags                 []struct{ Key, Value string }
		}
	}
	w.cliJSON(op, &groups, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "demo")
	if g := groups.AutoScalingGroups; len(g) != 1 || g[0].DesiredCapacity != 1 || len(g[0].Instances) != 1 ||
		g[0].Instances[0].InstanceId != id || g[0].Instances[0].LifecycleState != "Pending:Wait" || len(g[0].Tags) != 1 {
		t.Fatalf("describe-auto-scaling-groups = %+v", groups)
	}
	args := []string{"autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", "demo",
		"--lifecycle-hook-name", "asgdns-launch", "--lifecycle-action-result", "CONTINUE", "--instance-id", id}
	w.cliJSON(op, nil, args...)
	_, msg := w.cliError(op, "ValidationError", args...)
	if msg != "No active Lifecycle Action found with instance ID "+id {
		t.Errorf("second complete-lifecycle-action: %q", msg)
	}
	eventually(t, "InService", func() (bool, string) {
		var out struct {
			AutoScalingInstances []struct{ LifecycleState string }
		}
		w.cliJSON(op, &out, "autoscaling", "describe-auto-scaling-instances", "--instance-ids", id)
		return len(out.AutoScalingInstances) == 1 && out.AutoScalingInstances[0].LifecycleState == "InService", fmt.Sprint(out)
	})
}

// instanceState reads an instance's EC2 state from the world.
func (w *world) instanceState(id string) string {
	w.cloud.mu.Lock()
	defer w.cloud.mu.Unlock()
	if inst := w.cloud.instances[id]; inst != nil {
		return inst.state
	}
	return ""
}

func TestTerminateInstanceAndGroupValidation(t *testing.T) {
	w := newWorld(t, withFakeClock())
	ctx := context.Background()
	client := w.asg(keyCreds(keyAppOperator))
	create := func(mod func(*autoscaling.CreateAutoScalingGroupInput)) error {
		in := &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(2),
			LaunchConfigurationName: aws.String("lc"), VPCZoneIdentifier: aws.String("subnet-020a0000000000000,subnet-020b0000000000000"),
			TerminationPolicies: []string{"NewestInstance"},
		}
		mod(in)
		_, err := client.CreateAutoScalingGroup(ctx, in)
		return err
	}
	for _, tc := range []struct {
		name    string
		mod     func(*autoscaling.CreateAutoScalingGroupInput)
		message string
	}{
		{"no launch template", func(i *autoscaling.CreateAutoScalingGroupInput) { i.LaunchConfigurationName = nil },
			"Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter."},
		{"no AZ or subnet", func(i *autoscaling.CreateAutoScalingGroupInput) { i.VPCZoneIdentifier = nil },
			"At least one Availability Zone or VPC Subnet is required."},
		{"unknown subnet", func(i *autoscaling.CreateAutoScalingGroupInput) { i.VPCZoneIdentifier = aws.String("subnet-0nope") },
			"The subnet ID 'subnet-0nope' does not exist"},
		{"desired out of bounds", func(i *autoscaling.CreateAutoScalingGroupInput) { i.DesiredCapacity = aws.Int32(4) },
			"Desired capacity:4 must be between the specified min size:1 and max size:3"},
		{"max under min", func(i *autoscaling.CreateAutoScalingGroupInput) { i.MaxSize = aws.Int32(0) },
			"Max bound, 0, must be greater than or equal to min bound, 1"},
	} {
		if msg := wantCode(t, create(tc.mod), "ValidationError"); msg != tc.message {
			t.Errorf("%s: %q, want %q", tc.name, msg, tc.message)
		}
	}
	if err := create(func(*autoscaling.CreateAutoScalingGroupInput) {}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, create(func(*autoscaling.CreateAutoScalingGroupInput) {}), "AlreadyExists")
	w.clock.Advance(bootTime)
	groups, err := client.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	g := groups.AutoScalingGroups[0]
	if aws.ToString(g.VPCZoneIdentifier) != "subnet-020a0000000000000,subnet-020b0000000000000" ||
		!reflect.DeepEqual(g.AvailabilityZones, []string{"eu-west-1a", "eu-west-1b"}) || len(g.Instances) != 2 ||
		aws.ToString(g.LaunchConfigurationName) != "lc" || !reflect.DeepEqual(g.TerminationPolicies, []string{"NewestInstance"}) {
		t.Fatalf("group = %+v", g)
	}
	victim := aws.ToString(g.Instances[0].InstanceId)

	// Without decrementing, the group replaces the instance.
	out, err := client.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(victim), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Activity.Description) != "Terminating EC2 instance: "+victim || out.Activity.StatusCode != "InProgress" {
		t.Errorf("activity = %+v", out.Activity)
	}
	desired, states := groupState(t, w, "g")
	if desired != 2 || len(states) != 2 || states[victim] != "" {
		t.Errorf("after terminate without decrement: desired %d, %v", desired, states)
	}
	// Decrementing to the minimum is fine, below it is not.
	w.clock.Advance(bootTime)
	_, states = groupState(t, w, "g")
	var ids []string
	for id := range states {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if _, err := client.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(ids[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = client.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(ids[1]), ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if msg := wantCode(t, err, "ValidationError"); !strings.HasPrefix(msg, "Currently, desiredSize equals minSize (1).") {
		t.Errorf("message = %q", msg)
	}
	_, err = client.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String("i-0123456789abcdef0"), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	wantCode(t, err, "ValidationError")
	if desired, states := groupState(t, w, "g"); desired != 1 || len(states) != 1 {
		t.Errorf("after terminate with decrement: desired %d, %v", desired, states)
	}

	// Raising the minimum raises the desired capacity with it.
	if _, err := client.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if desired, states := groupState(t, w, "g"); desired != 3 || len(states) != 3 {
		t.Errorf("after raising the minimum: desired %d, %v", desired, states)
	}
	// Scale-in picks the newest first under NewestInstance.
	w.clock.Advance(bootTime)
	newest := w.cloud.GroupInstances("g")[2].ID
	if _, err := client.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), DesiredCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, states := groupState(t, w, "g"); states[newest] != "" || len(states) != 2 {
		t.Errorf("NewestInstance scale-in kept %v, expected %s gone", states, newest)
	}
	_, err = client.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(9)})
	wantCode(t, err, "ValidationError")
}
