package reconcile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// describeEnv is the stack configuration DescribeInstance's tests run with
// (functions/describe-instance/describe: testEnv).
var describeEnv = map[string]string{
	config.EnvZone:          "apps.example.com",
	config.EnvDCInstanceIDs: "i-0123456789abcdef0,i-0fedcba9876543210",
	config.EnvDocumentName:  "asgdns-dns-record",
}

func defaults(t testing.TB) config.Settings {
	t.Helper()
	s, err := config.Load(func(k string) (string, bool) { v, ok := describeEnv[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// observed is the instance of DescribeInstance's launch fixture.
func observed() Observed {
	return Observed{
		ASG: "web-prod", InstanceID: "i-0a1b2c3d4e5f60718", AZ: "eu-west-1b", PrivateIP: "10.20.30.40",
		State: "running", LifecycleState: StateInService, Tags: map[string]string{"Role": "API"},
		Metadata: `{"zone":"corp.example.com","ttl":300}`,
	}
}

// TestDeriveMatchesDescribeInstance derives the record of DescribeInstance's
// launch fixture and compares it with the record in DescribeInstance's
// golden output: reconciliation registers exactly the name, zone and
// address a launch does.
func TestDeriveMatchesDescribeInstance(t *testing.T) {
	dir := filepath.Join("..", "..", "functions", "describe-instance", "describe", "testdata")
	var input struct {
		State workflow.State `json:"state"`
	}
	readJSON(t, filepath.Join(dir, "launch.input.json"), &input)
	var golden workflow.InstanceResult
	readJSON(t, filepath.Join(dir, "launch.golden.json"), &golden)
	var detail workflow.LifecycleActionDetail
	if err := json.Unmarshal(input.State.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if golden.Record == nil || detail.NotificationMetadata == nil {
		t.Fatal("the launch fixture has no record or no metadata: pick a fixture that registers with overrides")
	}
	e, err := Derive(defaults(t), Observed{
		ASG: detail.AutoScalingGroupName, InstanceID: detail.EC2InstanceID, AZ: golden.AZ, PrivateIP: golden.PrivateIP,
		State: golden.State, LifecycleState: golden.LifecycleState, LaunchHookOpen: true, Metadata: *detail.NotificationMetadata,
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Desired == nil {
		t.Fatalf("not desired: %+v", e.Fact)
	}
	want := Desired{InstanceID: golden.InstanceID, ASG: golden.ASG, PrivateIP: golden.PrivateIP,
		LifecycleState: golden.LifecycleState, Record: *golden.Record}
	if *e.Desired != want {
		t.Errorf("derived %+v\nDescribeInstance's golden %+v", *e.Desired, want)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestDerive(t *testing.T) {
	fqdn := "web-prod-i-0a1b2c3d4e5f60718.corp.example.com"
	tests := []struct {
		name   string
		change func(*Observed)
		// fqdn when desired; status (and a reason substring) otherwise.
		fqdn   string
		status Status
		reason string
	}{
		{name: "InService", fqdn: fqdn},
		{name: "Pending:Wait, asgdns's launch hook open", change: func(o *Observed) { o.LifecycleState, o.LaunchHookOpen = "Pending:Wait", true }, fqdn: fqdn},
		{name: "Pending:Wait, asgdns's launch hook no longer open", change: func(o *Observed) { o.LifecycleState = "Pending:Wait" },
			status: StatusInGroup, reason: "launch hook no longer open"},
		{name: "Pending", change: func(o *Observed) { o.LifecycleState = "Pending" }, status: StatusInGroup, reason: "as Pending"},
		{name: "Standby", change: func(o *Observed) { o.LifecycleState = "Standby" }, status: StatusInGroup, reason: "as Standby"},
		{name: "warm pool, stopped", change: func(o *Observed) { o.LifecycleState = "Warmed:Stopped" }, status: StatusInGroup, reason: "warm pool"},
		{name: "launching into the warm pool, even with the hook open", change: func(o *Observed) { o.LifecycleState, o.LaunchHookOpen = "Warmed:Pending:Wait", true },
			status: StatusInGroup, reason: "no record is made until it enters the group"},
		{name: "warm pool, running", change: func(o *Observed) { o.LifecycleState = "Warmed:Running" }, status: StatusInGroup, reason: "warm pool"},
		{name: "terminating from the warm pool", change: func(o *Observed) { o.LifecycleState = "Warmed:Terminating:Wait" }, status: StatusLeaving},
		{name: "terminating", change: func(o *Observed) { o.LifecycleState = "Terminating:Wait" }, status: StatusLeaving, reason: "leaving ASG web-prod"},
		{name: "detached", change: func(o *Observed) { o.LifecycleState = "Detached" }, status: StatusLeaving},
		{name: "terminated in EC2 while Auto Scaling still lists it", change: func(o *Observed) { o.State = "shutting-down" }, status: StatusGone},
		{name: "tags and overrides", change: func(o *Observed) {
			o.Metadata = `{"zone":"Corp.Example.COM.","hostnameTemplate":"{tag:Role}-{short-id}","ttl":60,"ptr":true}`
		}, fqdn: "api-e5f60718.corp.example.com"},
		{name: "no metadata: the stack's zone", change: func(o *Observed) { o.Metadata = "" }, fqdn: "web-prod-i-0a1b2c3d4e5f60718.apps.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := observed()
			if tc.change != nil {
				tc.change(&o)
			}
			e, err := Derive(defaults(t), o)
			if err != nil {
				t.Fatal(err)
			}
			if e.InstanceID != o.InstanceID {
				t.Errorf("entry for %q", e.InstanceID)
			}
			if tc.fqdn != "" {
				if e.Desired == nil || e.Fact != nil {
					t.Fatalf("want desired, got %+v", e.Fact)
				}
				if e.Desired.Record.FQDN != tc.fqdn || e.Desired.PrivateIP != o.PrivateIP || e.Desired.ASG != o.ASG {
					t.Errorf("desired %+v, want fqdn %s", *e.Desired, tc.fqdn)
				}
				if err := config.CheckRecord(e.Desired.Record); err != nil {
					t.Error(err)
				}
				return
			}
			if e.Desired != nil || e.Fact == nil {
				t.Fatalf("want fact %s, got desired %+v", tc.status, e.Desired)
			}
			if e.Fact.Status != tc.status || !strings.Contains(e.Fact.Reason, tc.reason) || e.Fact.ASG != o.ASG {
				t.Errorf("fact %+v, want %s saying %q", *e.Fact, tc.status, tc.reason)
			}
		})
	}
}

func TestDeriveErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Observed)
		// errType is the error's type name; entry whether an in-group
		// entry comes with it.
		errType string
		want    string
		entry   bool
	}{
		{"instance id", func(o *Observed) { o.InstanceID = "i-0A" }, "*reconcile.InvalidInput", `instanceId "i-0A": is not an EC2 instance id`, false},
		{"ASG", func(o *Observed) { o.ASG = "" }, "*reconcile.InvalidInput", `asg of i-0a1b2c3d4e5f60718: must be 1-255 characters`, false},
		{"lifecycle state", func(o *Observed) { o.LifecycleState = "" }, "*reconcile.InvalidInput", `lifecycleState of i-0a1b2c3d4e5f60718: is empty`, false},
		{"metadata", func(o *Observed) { o.Metadata = `{"roleArn":"x"}` }, "*workflow.InvalidConfig",
			`detail.NotificationMetadata.roleArn of ASG "web-prod"`, true},
		{"a tag the template needs", func(o *Observed) { o.Metadata = `{"hostnameTemplate":"{tag:Team}-{short-id}"}` }, "*workflow.InvalidHostname",
			`tag "Team" of i-0a1b2c3d4e5f60718: is not set`, true},
		{"no private IPv4", func(o *Observed) { o.PrivateIP = "" }, "*reconcile.InvalidInput",
			`privateIp of i-0a1b2c3d4e5f60718: is not an IPv4 address`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := observed()
			tc.change(&o)
			e, err := Derive(defaults(t), o)
			if err == nil {
				t.Fatalf("no error: %+v", e)
			}
			if got := typeName(err); got != tc.errType {
				t.Errorf("error type %s, want %s", got, tc.errType)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %s\nwant it to hold %s", err, tc.want)
			}
			if e.Desired != nil {
				t.Errorf("desired despite the error: %+v", e.Desired)
			}
			if tc.entry != (e.Fact != nil) {
				t.Fatalf("fact %+v, want one: %v", e.Fact, tc.entry)
			}
			if tc.entry && (e.Fact.Status != StatusInGroup || !strings.Contains(e.Fact.Reason, "cannot be derived")) {
				t.Errorf("fact %+v, want in-group: its record kept", *e.Fact)
			}
		})
	}
}

func typeName(err error) string {
	var (
		ii *InvalidInput
		ic *workflow.InvalidConfig
		ih *workflow.InvalidHostname
	)
	switch {
	case errors.As(err, &ii):
		return "*reconcile.InvalidInput"
	case errors.As(err, &ic):
		return "*workflow.InvalidConfig"
	case errors.As(err, &ih):
		return "*workflow.InvalidHostname"
	}
	return "other"
}

func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		exists              bool
		state, asg, lcState string
		want                Status
	}{
		{false, "", "", "", StatusGone},
		{true, "terminated", "", "", StatusGone},
		{true, "shutting-down", "web", "Terminating", StatusGone},
		{true, "running", "", "", StatusOutside},
		{true, "running", "batch", "InService", StatusOutside},
		{true, "running", "batch", "Terminating:Wait", StatusLeaving},
		{true, "running", "batch", "Detaching", StatusLeaving},
	} {
		if got := Locate(tc.exists, tc.state, tc.asg, tc.lcState); got.Status != tc.want || got.Reason == "" || got.ASG != tc.asg {
			t.Errorf("Locate(%v, %q, %q, %q) = %+v, want %s", tc.exists, tc.state, tc.asg, tc.lcState, got, tc.want)
		}
	}
}

// TestDeriveIntoDecide runs the caller's loop: Derive each instance, Add it,
// Decide.
func TestDeriveIntoDecide(t *testing.T) {
	in := Input{Account: account, Mode: ModeUpsert}
	for _, o := range []Observed{
		{ASG: "web", InstanceID: ia, PrivateIP: "10.0.0.1", LifecycleState: "InService"},
		{ASG: "web", InstanceID: ib, PrivateIP: "10.0.0.2", LifecycleState: "Pending:Wait", LaunchHookOpen: true},
		{ASG: "web", InstanceID: ic, PrivateIP: "10.0.0.3", LifecycleState: "Pending:Wait"},
		{ASG: "web", InstanceID: id, PrivateIP: "10.0.0.4", LifecycleState: "Warmed:Stopped"},
	} {
		e, err := Derive(defaults(t), o)
		if err != nil {
			t.Fatal(err)
		}
		in.Add(e)
	}
	in.Zones = []Zone{listing("apps.example.com",
		own("web-"+ic, "apps.example.com", ic, "10.0.0.3"), own("web-"+id, "apps.example.com", id, "10.0.0.4"))}
	p, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"register missing web-" + ia + ".apps.example.com " + ia + " run",
		"register missing web-" + ib + ".apps.example.com " + ib + " run",
	}
	if got := briefs(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions\n got %q\nwant %q", got, want)
	}
	if p.Kept != 2 {
		t.Errorf("kept %d, want 2 (Pending:Wait without the hook, warm pool)", p.Kept)
	}
}
