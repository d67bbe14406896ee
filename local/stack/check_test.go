package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/asgdns/asgdns/local/cloud"
)

// The groups and DCs of TestCheck: its own, so nothing another test does
// to the stack's DCs changes what it finds.
var (
	checkLongName   = "check_" + strings.Repeat("long", 13) + "x" // 60 characters, with a '_'
	checkUntagged   = "check-untagged-team"
	checkTTL        = "check-ttl"
	checkNoTerm     = "check-no-terminate"
	checkShortHold  = "check-short-heartbeat"
	checkBadDCs     = "check-bad-dcs"
	checkMissing    = "check-never-created"
	checkClean      = "check-clean"
	checkCleanOther = "check-clean-other"
)

const (
	checkDC         = "i-0dc0000000000c001" // online, tagged: the deployment's DC in these runs
	checkOfflineDC  = "i-0dc0000000000c002"
	checkUntaggedDC = "i-0dc0000000000c003"

	checkSharedKey = "AKIACHECKSHAREDADMIN"
)

// checkDoc is `asgdns check --output json`.
type checkDoc struct {
	Stack   string `json:"stack"`
	Account string `json:"account"`
	Results []struct {
		Status  string `json:"status"`
		Check   string `json:"check"`
		ASG     string `json:"asg"`
		Field   string `json:"field"`
		Error   string `json:"error"`
		Message string `json:"message"`
		Fix     string `json:"fix"`
	} `json:"results"`
	Summary struct {
		OK, Problems, Errors, NotChecked int
	} `json:"summary"`
}

// TestCheck plants every problem `asgdns check` looks for on the local
// stack and runs the operator's binary against it, as an operator would
// (the deployed stack by name, the shared-services account through a
// profile): each problem is found, named with its group and field; then a
// clean setup passes with exit 0, every check run (none NOT CHECKED),
// the role included: the deployed AssumeRole function is invoked and
// assumes the shared-services role.
func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 5*time.Minute)
	if err := h.s.Cloud.RegisterDC(checkDC, "Linux"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.RegisterDC(checkOfflineDC, "Linux"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.SetReachability(checkOfflineDC, cloud.DeliveryTimesOut); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.RegisterManagedNode(cloud.ManagedNode{InstanceID: checkUntaggedDC, Platform: "Linux",
		Tags: map[string]string{"Name": "dns-admin"}}); err != nil {
		t.Fatal(err)
	}
	config := sharedServicesProfile(t)

	// The problems, one group each.
	createGroup(ctx, t, checkLongName, 1, 0, standardHooks(`{"hostnameTemplate":"{asg}-{short-id}"}`))
	createGroupTagged(ctx, t, checkUntagged, standardHooks(`{"hostnameTemplate":"{tag:Team}-{short-id}"}`),
		astypes.Tag{Key: aws.String("Team"), Value: aws.String("payments"), PropagateAtLaunch: aws.Bool(false)})
	createGroup(ctx, t, checkTTL, 1, 0, standardHooks(`{"ttl": 5}`))
	createGroup(ctx, t, checkNoTerm, 1, 0, standardHooks("")[:1])
	createGroup(ctx, t, checkShortHold, 1, 0, []hookSpec{
		{transition: launching, heartbeat: 60, defaultResult: "ABANDON"},
		{transition: terminating, heartbeat: 3600, defaultResult: "CONTINUE"},
	})
	createGroup(ctx, t, checkBadDCs, 1, 0, standardHooks(`{"dcInstanceIds":["`+checkOfflineDC+`","`+checkUntaggedDC+`"]}`))

	problems := []string{checkLongName, checkUntagged, checkTTL, checkNoTerm, checkShortHold, checkBadDCs, checkMissing}
	doc, code, stderr := runCheck(t, config, "--stack-name", StackName, "--shared-services-profile", "shared", "--output", "json",
		"--parameter-overrides", "AsgNames="+strings.Join(problems, ","), "DcInstanceIds="+checkDC, "DocumentName=asgdns-dns-recrod")
	if code != 1 {
		t.Errorf("exit %d with problems planted, want 1; stderr:\n%s", code, stderr)
	}
	document := "asgdns-dns-recrod-" + AppAccount
	for _, want := range []struct{ status, check, asg, field, contains string }{
		{"problem", "hostname", checkLongName, "hostname (lifecycle hook asgdns-launch NotificationMetadata.hostnameTemplate)",
			`contains '_'`},
		{"problem", "hostname", checkUntagged, "tag Team", "set PropagateAtLaunch true"},
		{"problem", "metadata", checkTTL, "lifecycle hook asgdns-launch NotificationMetadata", `detail.NotificationMetadata.ttl of ASG "check-ttl" "5": is outside 30-86400 seconds`},
		{"problem", "hook", checkNoTerm, "lifecycle hook asgdns-terminate", "is missing"},
		{"problem", "heartbeat", checkShortHold, "lifecycle hook asgdns-launch HeartbeatTimeout", `"60": is below`},
		{"problem", "asg", checkMissing, "stack parameter AsgNames", "does not exist in account " + AppAccount},
		{"problem", "dc-online", "", "DC " + checkOfflineDC, "PingStatus ConnectionLost"},
		{"problem", "dc-tag", "", "DC " + checkUntaggedDC, "is not tagged asgdns-dc=true"},
		{"problem", "document", "", "document " + document, "does not exist in the shared-services account " + SharedAccount},
		{"ok", "dc-online", "", "DC " + checkDC, "PingStatus Online"},
		{"ok", "role", "", "AssumeRole function asgdns-AssumeRole", "assumed arn:aws:sts::" + SharedAccount + ":assumed-role/asgdns-dns-registrar-" + AppAccount + "/"},
	} {
		if !doc.has(want.status, want.check, want.asg, want.field, want.contains) {
			t.Errorf("no %s %s for ASG %q, field %q, containing %q; results:\n%s", want.status, want.check, want.asg, want.field, want.contains, doc.dump())
		}
	}
	for _, r := range doc.Results {
		// The long name's message is DescribeInstance's own.
		if r.ASG == checkLongName && r.Check == "hostname" &&
			(r.Error != "InvalidHostname" || !strings.HasPrefix(r.Message, `{asg} "`+checkLongName+`": contains '_', which a DNS label cannot hold`)) {
			t.Errorf("the long name's problem is not the InvalidHostname DescribeInstance reports: %+v", r)
		}
		if r.Status == "problem" && r.ASG != "" && !slices.Contains(problems, r.ASG) {
			t.Errorf("a problem with a group that has none: %+v", r)
		}
		if r.Status == "not-checked" || r.Status == "error" {
			t.Errorf("with a profile for the shared-services account every check runs: %+v", r)
		}
	}

	// A clean setup: exit 0, and everything checked.
	createGroup(ctx, t, checkClean, 1, 0, standardHooks(""))
	createGroup(ctx, t, checkCleanOther, 1, 0, standardHooks(`{"hostnameTemplate":"{asg-label}-{az}-{short-id}","ttl":60}`))
	doc, code, stderr = runCheck(t, config, "--stack-name", StackName, "--shared-services-profile", "shared", "--output", "json",
		"--parameter-overrides", "AsgNames="+checkClean+","+checkCleanOther, "DcInstanceIds="+checkDC)
	if code != 0 || doc.Summary.Problems+doc.Summary.Errors+doc.Summary.NotChecked != 0 {
		t.Errorf("clean setup: exit %d, summary %+v; stderr:\n%s\nresults:\n%s", code, doc.Summary, stderr, doc.dump())
	}
	if doc.Stack != StackName || doc.Account != AppAccount {
		t.Errorf("stack %q, account %q", doc.Stack, doc.Account)
	}
	for _, want := range []struct{ check, asg, contains string }{
		{"hostname", checkClean, "check-clean-i-0123456789abcdef0." + Zone},
		{"hostname", checkCleanOther, "check-clean-other-" + Region + "a-9abcdef0." + Zone},
		{"document", "", "Active Command document"},
		{"dc-tag", "", "tagged asgdns-dc=true"},
		{"role", "", "assumed"},
	} {
		if !doc.has("ok", want.check, want.asg, "", want.contains) {
			t.Errorf("clean setup: no ok %s for %q containing %q:\n%s", want.check, want.asg, want.contains, doc.dump())
		}
	}

	// Without the profile the shared-services checks are NOT CHECKED,
	// which is no failure; the text report says so line by line.
	stdout, stderr, code := runCheckText(t, config, "--stack-name", StackName, "--parameter-overrides",
		"AsgNames="+checkClean, "DcInstanceIds="+checkDC)
	if code != 0 || !strings.Contains(stdout, "NOT CHECKED  -") || !strings.Contains(stdout, "--shared-services-profile") {
		t.Errorf("without the shared-services profile: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func (d checkDoc) has(status, check, asg, field, contains string) bool {
	for _, r := range d.Results {
		if r.Status == status && r.Check == check && r.ASG == asg && (field == "" || r.Field == field) && strings.Contains(r.Message, contains) {
			return true
		}
	}
	return false
}

func (d checkDoc) dump() string {
	var b strings.Builder
	for _, r := range d.Results {
		b.WriteString("  " + r.Status + " " + r.Check + " asg=" + r.ASG + " field=" + r.Field + ": " + r.Message + "\n")
	}
	return b.String()
}

// createGroupTagged is createGroup (no instances) with tags of the
// test's choosing.
func createGroupTagged(ctx context.Context, t *testing.T, name string, hooks []hookSpec, tags ...astypes.Tag) {
	t.Helper()
	var specs []astypes.LifecycleHookSpecification
	for _, hk := range hooks {
		hookName := "asgdns-launch"
		if hk.transition == terminating {
			hookName = "asgdns-terminate"
		}
		specs = append(specs, astypes.LifecycleHookSpecification{
			LifecycleHookName: aws.String(hookName), LifecycleTransition: aws.String(hk.transition),
			HeartbeatTimeout: aws.Int32(hk.heartbeat), DefaultResult: aws.String(hk.defaultResult),
			NotificationMetadata: aws.String(hk.metadata),
		})
	}
	_, err := h.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
		LaunchTemplate:                 &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name)},
		AvailabilityZones:              []string{Region + "a", Region + "b"},
		Tags:                           tags,
		LifecycleHookSpecificationList: specs,
	})
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
}

// sharedServicesProfile writes an AWS config file whose profile "shared"
// is an administrator of the shared-services account.
func sharedServicesProfile(t *testing.T) string {
	t.Helper()
	if err := h.s.Cloud.AddCredentials(checkSharedKey, OperatorSecret, "arn:aws:iam::"+SharedAccount+":user/dns-admin"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config")
	body := "[profile shared]\naws_access_key_id = " + checkSharedKey + "\naws_secret_access_key = " + OperatorSecret + "\nregion = us-east-1\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCheck runs `asgdns check` with the operator's environment and config
// as the AWS config file, and decodes its JSON report.
func runCheck(t *testing.T, config string, args ...string) (checkDoc, int, string) {
	t.Helper()
	stdout, stderr, code := runCheckText(t, config, args...)
	var doc checkDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("asgdns check %s: exit %d, not a JSON report: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, stdout, stderr)
	}
	return doc, code, stderr
}

func runCheckText(t *testing.T, config string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	asgdns(t, "help") // builds the binary once
	cmd := exec.Command(h.asgdnsBin, append([]string{"check"}, args...)...)
	for _, kv := range h.s.OperatorEnv() {
		if !strings.HasPrefix(kv, "AWS_CONFIG_FILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE="+config, "PATH="+os.Getenv("PATH"), "HOME="+h.tmp)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("asgdns check: %v", err)
	}
	return out.String(), errOut.String(), code
}
