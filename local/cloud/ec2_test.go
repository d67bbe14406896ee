package cloud

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestDescribeInstancesSDK(t *testing.T) {
	w := newWorld(t, withFakeClock())
	if err := w.cloud.CreateGroup(GroupSpec{Name: "web", Min: 0, Max: 5, Desired: 3,
		Tags: map[string]string{"Team": "payments", "Name": "web"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := w.ec2(keyCreds(keyAppOperator))
	all, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Reservations) != 3 {
		t.Fatalf("reservations = %d, want 3", len(all.Reservations))
	}
	azs := map[string]bool{}
	vpc := netip.MustParsePrefix(VPCCIDR)
	for _, r := range all.Reservations {
		if aws.ToString(r.OwnerId) != AppAccount {
			t.Errorf("owner = %s", aws.ToString(r.OwnerId))
		}
		inst := r.Instances[0]
		azs[aws.ToString(inst.Placement.AvailabilityZone)] = true
		if ip := netip.MustParseAddr(aws.ToString(inst.PrivateIpAddress)); !vpc.Contains(ip) {
			t.Errorf("private IP %s is not in %s", ip, VPCCIDR)
		}
		if inst.State.Name != types.InstanceStateNamePending || aws.ToInt32(inst.State.Code) != 0 {
			t.Errorf("state = %s/%d, want pending/0", inst.State.Name, aws.ToInt32(inst.State.Code))
		}
		if !strings.HasPrefix(aws.ToString(inst.SubnetId), "subnet-") || aws.ToString(inst.VpcId) == "" {
			t.Errorf("subnet %q vpc %q", aws.ToString(inst.SubnetId), aws.ToString(inst.VpcId))
		}
		tags := map[string]string{}
		for _, tg := range inst.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if tags["Team"] != "payments" || tags["Name"] != "web" || tags["aws:autoscaling:groupName"] != "web" {
			t.Errorf("tags = %v", tags)
		}
	}
	if len(azs) != 3 {
		t.Errorf("instances spread over %v, want the three AZs", azs)
	}

	// pending → running once booted (world time).
	w.clock.Advance(bootTime)
	id := aws.ToString(all.Reservations[0].Instances[0].InstanceId)
	one, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := one.Reservations[0].Instances[0]; aws.ToString(got.InstanceId) != id || got.State.Name != types.InstanceStateNameRunning {
		t.Errorf("got %s %s, want %s running", aws.ToString(got.InstanceId), got.State.Name, id)
	}

	// Filters.
	byTag, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:Team"), Values: []string{"pay*"}},
		{Name: aws.String("availability-zone"), Values: []string{aws.ToString(one.Reservations[0].Instances[0].Placement.AvailabilityZone)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byTag.Reservations) != 1 {
		t.Errorf("tag+AZ filter matched %d reservations, want 1", len(byTag.Reservations))
	}
	if _, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("no-such-filter"), Values: []string{"x"}}}}); err == nil {
		t.Error("unknown filter accepted")
	} else {
		wantCode(t, err, "InvalidParameterValue")
	}

	// Unknown and malformed ids; other accounts' instances are unknown too.
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if msg := wantCode(t, err, "InvalidInstanceID.NotFound"); msg != "The instance ID 'i-0123456789abcdef0' does not exist" {
		t.Errorf("message = %q", msg)
	}
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"web-1"}})
	wantCode(t, err, "InvalidInstanceID.Malformed")
	_, err = w.ec2(keyCreds(keySharedAdmin)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, "InvalidInstanceID.NotFound")

	// Terminated instances stay visible for a while, then go.
	if err := w.cloud.SetDesiredCapacity("web", 0); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(shutdownTime)
	gone, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if s := gone.Reservations[0].Instances[0].State.Name; s != types.InstanceStateNameTerminated {
		t.Errorf("state after scale-in = %s, want terminated", s)
	}
	w.clock.Advance(terminatedStays + time.Second)
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
}

func TestDescribeInstancesCLI(t *testing.T) {
	w := newWorld(t)
	if err := w.cloud.CreateGroup(GroupSpec{Name: "api", Max: 2, Desired: 1, Tags: map[string]string{"Name": "api"}}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Reservations []struct {
			Instances []struct {
				InstanceID       string `json:"InstanceId"`
				PrivateIPAddress string `json:"PrivateIpAddress"`
				Placement        struct{ AvailabilityZone string }
				State            struct{ Name string }
				Tags             []struct{ Key, Value string }
			}
		}
	}
	w.cliJSON(keyCreds(keyAppOperator), &out, "ec2", "describe-instances")
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("got %+v", out)
	}
	inst := out.Reservations[0].Instances[0]
	if !strings.HasPrefix(inst.InstanceID, "i-") || inst.PrivateIPAddress == "" || inst.Placement.AvailabilityZone != "eu-west-1a" {
		t.Errorf("instance = %+v", inst)
	}
	w.cliJSON(keyCreds(keyAppOperator), &out, "ec2", "describe-instances", "--instance-ids", inst.InstanceID,
		"--filters", "Name=tag:Name,Values=api")
	if len(out.Reservations) != 1 {
		t.Errorf("by id and tag: %+v", out)
	}
	_, msg := w.cliError(keyCreds(keyAppOperator), "InvalidInstanceID.NotFound", "ec2", "describe-instances", "--instance-ids", "i-0123456789abcdef0")
	if msg != "The instance ID 'i-0123456789abcdef0' does not exist" {
		t.Errorf("message = %q", msg)
	}
	// An empty account lists nothing, as an empty list.
	var empty map[string]any
	w.cliJSON(keyCreds(keySharedAdmin), &empty, "ec2", "describe-instances")
	if r, ok := empty["Reservations"].([]any); !ok || len(r) != 0 {
		t.Errorf("empty account: %v", empty)
	}
}
