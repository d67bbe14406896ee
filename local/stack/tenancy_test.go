package stack

// Several application accounts on one domain controller, and what must not
// leak out of it: the end-to-end proofs of the per-account shared-services
// stack (shared-services/template.yaml's Fn::ForEach::Tenants), with the
// real functions, state machines and BIND.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/asgdns/asgdns/local/cloud"
)

// Two accounts whose hostname templates give the same name: the first to
// register it owns it; the other can neither take it over on launch nor
// remove it on terminate, and its role cannot send the first's document.
func TestTwoAccountsOneName(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 2*executionDeadline+2*time.Minute)
	const name = "web-1." + Zone
	// One literal name for every instance of the group, in both accounts.
	meta := `{"hostnameTemplate":"web-1","sharedHostname":true,"onFailure":"CONTINUE"}`

	// A registers web-1.
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgTenant, 1, 1, standardHooks(meta))
	launchA := waitExecutions(ctx, t, asgTenant, since, 1, ofTransition("launch"))[0]
	if launchA.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("A's launch: %v", launchA)
	}
	ipA, _ := privateIP(ctx, t, launchA.Instance)
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ipA}) {
		t.Fatalf("resolve %s = %v, %v; want A's [%s]", name, got, err, ipA)
	}

	// B: same group name, same template, its own deployment.
	b := h.s.Deployment(OtherAppAccount)
	bAS := autoscaling.NewFromConfig(h.operatorConfig(OtherAppAccount))
	since = time.Now().Add(-time.Second)
	createGroupWith(ctx, t, bAS, asgTenant, 1, 1, standardHooks(meta))
	launchB := waitExecutionsOf(ctx, t, b.StateMachineARN, asgTenant, since, 1, ofTransition("launch"))[0]
	owner := AppAccount + "/" + launchA.Instance
	if launchB.Status != sfntypes.ExecutionStatusFailed || launchB.Error != "Conflict" ||
		!strings.Contains(launchB.Cause, "conflict") || !strings.Contains(launchB.Cause, owner) || !strings.Contains(launchB.Cause, "CONTINUE") {
		t.Errorf("B's launch: %v\ncause: %s\nwant FAILED, Conflict naming the owner %s, the instance kept (CONTINUE)", launchB, launchB.Cause, owner)
	}
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ipA}) {
		t.Errorf("after B's launch: resolve %s = %v, %v; want A's [%s]", name, got, err, ipA)
	}

	// B terminates its instance: the deregister is refused too.
	since = time.Now().Add(-time.Second)
	if _, err := bAS.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(asgTenant), DesiredCapacity: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	termB := waitExecutionsOf(ctx, t, b.StateMachineARN, asgTenant, since, 1, ofTransition("terminate"))[0]
	if termB.Status != sfntypes.ExecutionStatusFailed || termB.Error != "Conflict" || !strings.Contains(termB.Cause, owner) {
		t.Errorf("B's terminate: %v\ncause: %s\nwant FAILED, Conflict, naming the owner %s", termB, termB.Cause, owner)
	}
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ipA}) {
		t.Errorf("after B's terminate: resolve %s = %v, %v; want A's [%s]", name, got, err, ipA)
	}

	// B's session (its own function role, its own registrar role) may not
	// send A's document.
	bShared := tenantSSM(ctx, t, OtherAppAccount, b.Roles["SendCommandFunction"])
	_, err := bShared.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String(h.s.Cloud.DocumentName(AppAccount)), InstanceIds: []string{DC},
		Parameters: map[string][]string{"action": {"deregister"}, "hostname": {"web-1"}, "zone": {Zone}, "ownerInstanceId": {launchA.Instance}},
	})
	if code := apiErrorCode(err); code != "AccessDeniedException" {
		t.Errorf("B's session sending A's document: %v, want AccessDeniedException", err)
	}
	if got, err := resolve(ctx, name); err != nil || !slices.Equal(got, []string{ipA}) {
		t.Errorf("at the end: resolve %s = %v, %v; want A's [%s]", name, got, err, ipA)
	}
}

// tenantSSM is an SSM client in the shared-services account, in a session
// of an account's registrar role assumed as one of its function roles
// (roleARN, which the stack tagged and trusts).
func tenantSSM(ctx context.Context, t testing.TB, account, roleARN string) *ssm.Client {
	t.Helper()
	key := "AKIATESTFN" + account
	if err := h.s.Cloud.AddCredentials(key, "test-secret", roleARN); err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, "test-secret", "")
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(h.s.Cloud.RoleARN(account)), RoleSessionName: aws.String("asgdns-test"),
		ExternalId: aws.String(ExternalID), SourceIdentity: aws.String(sourceIdentity),
	})
	if err != nil {
		t.Fatalf("assume %s's registrar role as %s: %v", account, roleARN, err)
	}
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return ssm.NewFromConfig(cfg)
}

// A key file the DC's administrators got wrong: nsupdate quotes the secret
// in its error. The launch fails with the DNS response code, and the
// secret reaches no execution, history event or log line.
func TestMalformedKeyDoesNotLeak(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, executionDeadline+time.Minute)
	const (
		secret  = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0!!!"
		body    = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" // its base64 part
		decoded = "secretsecretsecretsecretsecret"
		leakyDC = "i-0dc00000000000003"
		keyName = "asgdns-key"
	)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", keyName, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dns.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s\n", h.s.DNS.Port(), keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.RegisterManagedNode(cloud.ManagedNode{InstanceID: leakyDC, Platform: "Linux",
		Tags: map[string]string{"asgdns-dc": "true", "Name": "dc-bad-key"}, DNSConfigPath: conf}); err != nil {
		t.Fatal(err)
	}

	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgLeak, 1, 1, standardHooks(`{"dcInstanceIds":["`+leakyDC+`"],"onFailure":"CONTINUE"}`))
	e := waitExecutions(ctx, t, asgLeak, since, 1, ofTransition("launch"))[0]
	// The server refuses the key: every instance would fail the same way,
	// so nothing is held or replaced.
	if e.Status != sfntypes.ExecutionStatusFailed || e.Error != "AccessDenied" ||
		!strings.Contains(e.Cause, "dns-error") || !strings.Contains(e.Cause, "REFUSED") {
		t.Fatalf("launch with a malformed key: %v\ncause: %s\nwant FAILED, AccessDenied, dns-error REFUSED", e, e.Cause)
	}

	// Proof the secret was there to leak: nsupdate, as the DC runs it,
	// prints it.
	if out, _ := runNsupdate(keyFile); !strings.Contains(out, secret) {
		t.Fatalf("nsupdate -k with the malformed key does not print the secret (%q): the test proves nothing", out)
	}

	leaks := func(where, text string) {
		t.Helper()
		for _, s := range []string{body, decoded} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the key's secret (%q):\n%.2000s", where, s, text)
			}
		}
	}
	leaks("the execution's input, output, error and cause", e.Input+e.Output+e.Error+e.Cause)
	events := history(ctx, t, e.ARN)
	raw, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	leaks("GetExecutionHistory", string(raw))

	// The logs: the endpoint's (API calls, commands sent, and the command
	// output the shared-services account's CloudWatch Logs would hold) and
	// the functions' (the application account's CloudWatch Logs). The DNS
	// command must print nothing secret, so even the shared-services
	// account's copy of its output is held to it here.
	for _, f := range []string{"stack.log", "functions.log"} {
		text, err := os.ReadFile(filepath.Join(h.tmp, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), e.Instance) && f == "functions.log" {
			t.Errorf("%s does not mention the instance %s: not the log the functions write", f, e.Instance)
		}
		leaks(f, string(text))
	}
}

// runNsupdate sends one update to the stack's named with a key file, as
// the DNS command does, and returns what nsupdate printed.
func runNsupdate(keyFile string) (string, error) {
	cmd := exec.Command("nsupdate", "-t", "5", "-k", keyFile)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server 127.0.0.1 %d\nzone %s\nupdate add probe.%s 60 A 10.20.99.1\nsend\n", h.s.DNS.Port(), Zone, Zone))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
