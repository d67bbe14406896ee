package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/local/bind"
	sharedservices "github.com/asgdns/asgdns/shared-services"
)

const (
	zone          = "corp.example.com"
	owner         = "i-0a1b2c3d4e5f60718"
	linuxStep     = "manageLinuxDns"
	windowsStep   = "manageWindowsDns"
	documentName  = "asgdns-dns-record-111111111111"
	launchedOwner = "i-0fedcba9876543210"
)

// startBind runs a real named for the tests' zone and its reverse zone.
func startBind(t *testing.T) *bind.Server {
	t.Helper()
	if err := bind.Require(); err != nil {
		t.Fatal(err) // the error names the install command
	}
	s, err := bind.Start(bind.Options{Zone: zone, ReverseZones: []string{"20.10.in-addr.arpa"}, Records: []string{"manual IN A 10.20.99.99"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dnsWorld is a world whose DC runs the document against a real named.
func dnsWorld(t *testing.T, opts ...worldOption) (*world, *bind.Server) {
	t.Helper()
	dns := startBind(t)
	w := newWorld(t, append([]worldOption{func(o *Options) { o.DNSConfigPath = dns.ConfigPath() }}, opts...)...)
	if err := w.cloud.RegisterDC(dcID, "Linux"); err != nil {
		t.Fatal(err)
	}
	return w, dns
}

func registerParams(action, host, ip, ownerID string) map[string][]string {
	return map[string][]string{
		"action": {action}, "hostname": {host}, "zone": {zone}, "ipv4Address": {ip},
		"ownerInstanceId": {ownerID}, "ttl": {"300"}, "ptr": {"true"},
	}
}

// send sends the document as the SendCommand function does.
func send(t *testing.T, client *ssm.Client, params map[string][]string) *types.Command {
	t.Helper()
	out, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{
		DocumentName: aws.String(documentName), DocumentVersion: aws.String("$DEFAULT"), InstanceIds: []string{dcID},
		Parameters: params, Comment: aws.String("asgdns register web-1.corp.example.com exec-1"),
		TimeoutSeconds: aws.Int32(60), MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
		CloudWatchOutputConfig: &types.CloudWatchOutputConfig{CloudWatchOutputEnabled: true},
	})
	if err != nil {
		t.Fatalf("SendCommand: %v", err)
	}
	return out.Command
}

// waitInvocation polls GetCommandInvocation (as WaitForCommand does)
// until the step reaches a terminal status.
func waitInvocation(t *testing.T, client *ssm.Client, commandID, step string) *ssm.GetCommandInvocationOutput {
	t.Helper()
	var out *ssm.GetCommandInvocationOutput
	eventually(t, "the command to finish", func() (bool, string) {
		var err error
		out, err = client.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{
			CommandId: aws.String(commandID), InstanceId: aws.String(dcID), PluginName: aws.String(step)})
		if code, _ := apiCode(err); code == "InvocationDoesNotExist" {
			return false, "InvocationDoesNotExist"
		} else if err != nil {
			t.Fatalf("GetCommandInvocation: %v", err)
		}
		switch out.Status {
		case types.CommandInvocationStatusPending, types.CommandInvocationStatusInProgress, types.CommandInvocationStatusDelayed:
			return false, string(out.Status)
		}
		return true, ""
	})
	return out
}

func lookup(t *testing.T, dns *bind.Server, qtype, name string) string {
	t.Helper()
	out, err := dns.Lookup(qtype, name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSendCommandRunsTheLinuxStep(t *testing.T) {
	w, dns := dnsWorld(t)
	client := w.ssm(w.assume(keySendCommand, owner))
	ctx := context.Background()

	cmd := send(t, client, registerParams("register", "web-1", "10.20.1.10", owner))
	if cmd.Status != types.CommandStatusPending || aws.ToString(cmd.DocumentName) != documentName ||
		len(aws.ToString(cmd.CommandId)) != 36 || cmd.TargetCount != 1 || aws.ToInt32(cmd.TimeoutSeconds) != 60 {
		t.Errorf("command = %+v", cmd)
	}
	inv := waitInvocation(t, client, aws.ToString(cmd.CommandId), linuxStep)
	want := `{"asgdns":1,"outcome":"created","fqdn":"web-1.corp.example.com","ip":"10.20.1.10","ptr":"written","rcode":"","owner":"","message":"A record created; PTR written in 20.10.in-addr.arpa"}`
	if inv.Status != types.CommandInvocationStatusSuccess || aws.ToString(inv.StatusDetails) != "Success" ||
		inv.ResponseCode != 0 || strings.TrimSpace(aws.ToString(inv.StandardOutputContent)) != want ||
		aws.ToString(inv.PluginName) != linuxStep || aws.ToString(inv.ExecutionStartDateTime) == "" ||
		!strings.HasPrefix(aws.ToString(inv.ExecutionElapsedTime), "PT") {
		t.Fatalf("invocation = %s %s %d\nstdout %q\nstderr %q", inv.Status, aws.ToString(inv.StatusDetails), inv.ResponseCode,
			aws.ToString(inv.StandardOutputContent), aws.ToString(inv.StandardErrorContent))
	}
	if got := lookup(t, dns, "A", "web-1.corp.example.com"); got != "10.20.1.10" {
		t.Errorf("A = %q", got)
	}
	if got := lookup(t, dns, "TXT", "web-1.corp.example.com"); got != `"asgdns-owner=`+AppAccount+"/"+owner+`"` {
		t.Errorf("TXT = %q", got)
	}
	if got := lookup(t, dns, "PTR", "10.1.20.10.in-addr.arpa"); got != "web-1.corp.example.com." {
		t.Errorf("PTR = %q", got)
	}

	// The Windows step was skipped by its precondition, as the agent reports it.
	win := waitInvocation(t, client, aws.ToString(cmd.CommandId), windowsStep)
	if win.Status != types.CommandInvocationStatusSuccess || aws.ToString(win.StandardOutputContent) !=
		`Step execution skipped due to unsatisfied preconditions: '"StringEquals": [platformType, Windows]'. Step name: manageWindowsDns` {
		t.Errorf("windows step = %s %q", win.Status, aws.ToString(win.StandardOutputContent))
	}
	// Without a step name, a two-step document reports only the status.
	whole, err := client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.CommandId, InstanceId: aws.String(dcID)})
	if err != nil || whole.Status != types.CommandInvocationStatusSuccess || aws.ToString(whole.StandardOutputContent) != "" {
		t.Errorf("without PluginName: %v %+v", err, whole)
	}
	_, err = client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.CommandId, InstanceId: aws.String(dcID), PluginName: aws.String("nope")})
	wantCode(t, err, "InvalidPluginName")

	// ListCommandInvocations --details would show every command's output
	// in the account: the registrar role has no right to it; the
	// shared-services account's own administrators do.
	_, err = client.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: cmd.CommandId, Details: true})
	if msg := wantCode(t, err, "AccessDeniedException"); !strings.Contains(msg, "ssm:ListCommandInvocations") {
		t.Errorf("the registrar's ListCommandInvocations: %s", msg)
	}
	list, err := w.ssm(keyCreds(keySharedAdmin)).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: cmd.CommandId, Details: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CommandInvocations) != 1 || len(list.CommandInvocations[0].CommandPlugins) != 2 ||
		list.CommandInvocations[0].Status != types.CommandInvocationStatusSuccess ||
		!strings.Contains(aws.ToString(list.CommandInvocations[0].CommandPlugins[1].Output), `"outcome":"created"`) {
		t.Errorf("ListCommandInvocations = %+v", list.CommandInvocations)
	}

	// Idempotent: the same registration again changes nothing.
	again := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("register", "web-1", "10.20.1.10", owner)).CommandId), linuxStep)
	if !strings.Contains(aws.ToString(again.StandardOutputContent), `"outcome":"unchanged"`) {
		t.Errorf("again: %q", aws.ToString(again.StandardOutputContent))
	}
	// Someone else's name: the script's exit code 30 is the ResponseCode.
	conflict := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("register", "web-1", "10.20.1.11", launchedOwner)).CommandId), linuxStep)
	if conflict.Status != types.CommandInvocationStatusFailed || aws.ToString(conflict.StatusDetails) != "Failed" || conflict.ResponseCode != 30 ||
		!strings.HasSuffix(aws.ToString(conflict.StandardErrorContent), "failed to run commands: exit status 30") ||
		!strings.Contains(aws.ToString(conflict.StandardOutputContent), `"outcome":"conflict"`) {
		t.Errorf("conflict = %s %d %q %q", conflict.Status, conflict.ResponseCode, aws.ToString(conflict.StandardOutputContent), aws.ToString(conflict.StandardErrorContent))
	}
	// Deregister removes the record and its PTR.
	del := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("deregister", "web-1", "10.20.1.10", owner)).CommandId), linuxStep)
	if !strings.Contains(aws.ToString(del.StandardOutputContent), `"outcome":"deleted"`) {
		t.Errorf("deregister: %q %q", aws.ToString(del.StandardOutputContent), aws.ToString(del.StandardErrorContent))
	}
	if got := lookup(t, dns, "A", "web-1.corp.example.com"); got != "" {
		t.Errorf("A after deregister = %q", got)
	}
	if got := lookup(t, dns, "PTR", "10.1.20.10.in-addr.arpa"); got != "" {
		t.Errorf("PTR after deregister = %q", got)
	}

	// named down: the step reports a DNS server error (exit 20).
	dns.Stop()
	down := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("register", "web-2", "10.20.1.12", owner)).CommandId), linuxStep)
	if down.Status != types.CommandInvocationStatusFailed || down.ResponseCode != 20 ||
		!strings.Contains(aws.ToString(down.StandardOutputContent), `"outcome":"dns-error"`) {
		t.Errorf("with named stopped: %s %d %q", down.Status, down.ResponseCode, aws.ToString(down.StandardOutputContent))
	}
}

func TestSendCommandRefusals(t *testing.T) {
	w, _ := dnsWorld(t)
	ctx := context.Background()
	if err := w.cloud.RegisterManagedNode(ManagedNode{InstanceID: "i-0beef000000000001", Platform: "Linux",
		Tags: map[string]string{"Name": "jump-host"}}); err != nil {
		t.Fatal(err)
	}
	registrar := w.ssm(w.assume(keySendCommand, owner))
	valid := func() *ssm.SendCommandInput {
		return &ssm.SendCommandInput{DocumentName: aws.String(documentName), InstanceIds: []string{dcID},
			Parameters: registerParams("register", "web-1", "10.20.1.10", owner)}
	}
	const lambdaARN = "arn:aws:sts::111111111111:assumed-role/asgdns-SendCommandFunctionRole-4D5E6F/asgdns-SendCommandFunction"
	const registrarSession = "arn:aws:sts::222222222222:assumed-role/asgdns-dns-registrar-111111111111/asgdns-" + owner + "-exec1"
	for _, tc := range []struct {
		name    string
		client  *ssm.Client
		mod     func(*ssm.SendCommandInput)
		code    string
		message string
	}{
		{"the Lambda's own credentials (application account)", w.ssm(keyCreds(keySendCommand)), nil, "AccessDeniedException",
			"User: " + lambdaARN + " is not authorized to perform: ssm:SendCommand on resource: arn:aws:ssm:eu-west-1:111111111111:document/asgdns-dns-record-111111111111 because no identity-based policy allows the ssm:SendCommand action"},
		{"another document", registrar, func(i *ssm.SendCommandInput) { i.DocumentName = aws.String("AWS-RunShellScript") }, "AccessDeniedException",
			"User: " + registrarSession + " is not authorized to perform: ssm:SendCommand on resource: arn:aws:ssm:eu-west-1:222222222222:document/AWS-RunShellScript because no identity-based policy allows the ssm:SendCommand action"},
		{"an instance not tagged asgdns-dc=true", registrar, func(i *ssm.SendCommandInput) { i.InstanceIds = []string{"i-0beef000000000001"} }, "AccessDeniedException",
			"User: " + registrarSession + " is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:eu-west-1:222222222222:instance/i-0beef000000000001 because no identity-based policy allows the ssm:SendCommand action"},
		{"a DC that is not a managed node", registrar, func(i *ssm.SendCommandInput) { i.InstanceIds = []string{"i-0123456789abcdef0"} }, "InvalidInstanceId",
			"Instances [[i-0123456789abcdef0]] not in a valid state for account 222222222222"},
		{"an unknown document", w.ssm(keyCreds(keySharedAdmin)), func(i *ssm.SendCommandInput) { i.DocumentName = aws.String("asgdns-typo") }, "InvalidDocument",
			"Document with name asgdns-typo does not exist."},
		{"an unknown document version", registrar, func(i *ssm.SendCommandInput) { i.DocumentVersion = aws.String("7") }, "InvalidDocumentVersion", ""},
		{"a hostname the allowedPattern refuses", registrar, func(i *ssm.SendCommandInput) { i.Parameters["hostname"] = []string{"Web_1; rm -rf /"} }, "InvalidParameters",
			`Parameter "hostname" has value "Web_1; rm -rf /" not matching "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$|^$".`},
		{"an undeclared parameter", registrar, func(i *ssm.SendCommandInput) { i.Parameters["commands"] = []string{"id"} }, "InvalidParameters",
			`Parameter "commands" is not defined in document asgdns-dns-record-111111111111.`},
		{"a missing required parameter", registrar, func(i *ssm.SendCommandInput) { delete(i.Parameters, "zone") }, "InvalidParameters",
			`Parameter "zone" is required by document asgdns-dns-record-111111111111 but was not provided.`},
		{"a comment over 100 characters", registrar, func(i *ssm.SendCommandInput) { i.Comment = aws.String(strings.Repeat("x", 101)) }, "ValidationException", ""},
		{"a timeout under 30 s", registrar, func(i *ssm.SendCommandInput) { i.TimeoutSeconds = aws.Int32(5) }, "ValidationException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			if tc.mod != nil {
				tc.mod(in)
			}
			_, err := tc.client.SendCommand(ctx, in)
			if msg := wantCode(t, err, tc.code); tc.message != "" && msg != tc.message {
				t.Errorf("message =\n%s\nwant\n%s", msg, tc.message)
			}
		})
	}
	// Defaults fill what is not sent; the shared-services admin may send it too.
	in := valid()
	delete(in.Parameters, "ttl")
	delete(in.Parameters, "ptr")
	out, err := w.ssm(keyCreds(keySharedAdmin)).SendCommand(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Command.Parameters; got["ttl"][0] != "300" || got["ptr"][0] != "false" {
		t.Errorf("parameters with defaults = %v", got)
	}
	_, err = registrar.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String("00000000-0000-4000-8000-000000000000"), InstanceId: aws.String(dcID)})
	wantCode(t, err, "InvocationDoesNotExist")
	_, err = w.ssm(keyCreds(keyAppOperator)).GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(dcID)})
	wantCode(t, err, "AccessDeniedException")
}

func TestUnreachableDC(t *testing.T) {
	w, _ := dnsWorld(t, withFakeClock())
	client := w.ssm(w.assume(keySendCommand, owner))
	ctx := context.Background()

	// Offline: not picked up, so not visible; after TimeoutSeconds the
	// delivery times out.
	if err := w.cloud.SetReachability(dcID, DeliveryTimesOut); err != nil {
		t.Fatal(err)
	}
	cmd := send(t, client, registerParams("register", "web-1", "10.20.1.10", owner))
	get := &ssm.GetCommandInvocationInput{CommandId: cmd.CommandId, InstanceId: aws.String(dcID), PluginName: aws.String(linuxStep)}
	_, err := client.GetCommandInvocation(ctx, get)
	wantCode(t, err, "InvocationDoesNotExist")
	list, err := w.ssm(keyCreds(keySharedAdmin)).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: cmd.CommandId})
	if err != nil || len(list.CommandInvocations) != 1 || list.CommandInvocations[0].Status != types.CommandInvocationStatusPending {
		t.Fatalf("list while pending: %v %+v", err, list)
	}
	w.clock.Advance(60 * time.Second)
	out, err := client.GetCommandInvocation(ctx, get)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.CommandInvocationStatusTimedOut || aws.ToString(out.StatusDetails) != "Delivery Timed Out" || out.ResponseCode != -1 {
		t.Errorf("after the delivery timeout: %s %q %d", out.Status, aws.ToString(out.StatusDetails), out.ResponseCode)
	}

	// Gone: undeliverable at once.
	if err := w.cloud.SetReachability(dcID, Undeliverable); err != nil {
		t.Fatal(err)
	}
	cmd = send(t, client, registerParams("register", "web-1", "10.20.1.10", owner))
	out, err = client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.CommandId, InstanceId: aws.String(dcID), PluginName: aws.String(linuxStep)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.CommandInvocationStatusFailed || aws.ToString(out.StatusDetails) != "Undeliverable" {
		t.Errorf("undeliverable: %s %q", out.Status, aws.ToString(out.StatusDetails))
	}

	// Back: commands run again.
	if err := w.cloud.SetReachability(dcID, Reachable); err != nil {
		t.Fatal(err)
	}
	ok := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("register", "web-1", "10.20.1.10", owner)).CommandId), linuxStep)
	if ok.Status != types.CommandInvocationStatusSuccess {
		t.Errorf("reachable again: %s %q", ok.Status, aws.ToString(ok.StandardErrorContent))
	}
}

// testDocument is a one-step document for agent behaviour the real one
// does not show (timeouts, long output, environment).
func testDocument(script string, timeout time.Duration) *Document {
	var step sharedservices.Step
	step.Name, step.Action = "run", "aws:runShellScript"
	step.Precondition = map[string][]string{"StringEquals": {"platformType", "Linux"}}
	step.Inputs.RunCommand = []string{script}
	return &Document{
		Name: documentName,
		Content: sharedservices.Document{SchemaVersion: "2.2", MainSteps: []sharedservices.Step{step},
			Parameters: map[string]sharedservices.Parameter{
				"word":  {Type: "String", AllowedPattern: "^[a-z]+$", InterpolationType: "ENV_VAR"},
				"plain": {Type: "String", Default: "pasted"},
			}},
		StepTimeouts: map[string]time.Duration{"run": timeout},
	}
}

func TestAgentTimeoutOutputLimitsAndEnvironment(t *testing.T) {
	script := `#!/bin/bash
echo "word=$SSM_word plain={{ plain }} instance=$AWS_SSM_INSTANCE_ID region=$AWS_SSM_REGION_NAME bash=${BASH_VERSION:+yes}"
head -c 30000 /dev/zero | tr '\0' o
head -c 9000 /dev/zero | tr '\0' e >&2
sleep 60`
	w, _ := dnsWorld(t, func(o *Options) { o.Document = testDocument(script, 2*time.Second) })
	client := w.ssm(keyCreds(keySharedAdmin))
	out, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(documentName),
		InstanceIds: []string{dcID}, Parameters: map[string][]string{"word": {"hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	inv := waitInvocation(t, client, aws.ToString(out.Command.CommandId), "run")
	stdout, stderr := aws.ToString(inv.StandardOutputContent), aws.ToString(inv.StandardErrorContent)
	if inv.Status != types.CommandInvocationStatusTimedOut || aws.ToString(inv.StatusDetails) != "Execution Timed Out" || inv.ResponseCode != 137 {
		t.Errorf("status = %s %q %d", inv.Status, aws.ToString(inv.StatusDetails), inv.ResponseCode)
	}
	first := strings.SplitN(stdout, "\n", 2)[0]
	if want := fmt.Sprintf("word=hello plain=pasted instance=%s region=eu-west-1 bash=yes", dcID); first != want {
		t.Errorf("first line = %q, want %q", first, want)
	}
	if len(stdout) != 24000 || len(stderr) != 8000 || strings.Trim(stderr, "e") != "" {
		t.Errorf("stdout %d characters, stderr %d (%q…), want 24000 and 8000", len(stdout), len(stderr), stderr[:20])
	}
}

func TestSSMCLI(t *testing.T) {
	w, dns := dnsWorld(t)
	session := w.assume(keySendCommand, owner)
	params := `{"action":["register"],"hostname":["cli-1"],"zone":["corp.example.com"],"ipv4Address":["10.20.1.30"],"ownerInstanceId":["` + owner + `"]}`
	var sent struct {
		Command struct {
			CommandID  string `json:"CommandId"`
			Status     string
			Parameters map[string][]string
		}
	}
	w.cliJSON(session, &sent, "ssm", "send-command", "--document-name", documentName, "--instance-ids", dcID,
		"--parameters", params, "--comment", "asgdns register cli-1.corp.example.com", "--timeout-seconds", "60")
	if sent.Command.Status != "Pending" || sent.Command.Parameters["ttl"][0] != "300" {
		t.Errorf("send-command = %+v", sent)
	}
	var inv struct {
		Status, StatusDetails, StandardOutputContent, PluginName string
		ResponseCode                                             int
	}
	eventually(t, "get-command-invocation Success", func() (bool, string) {
		out, errOut, exit := w.cli(session, "ssm", "get-command-invocation", "--command-id", sent.Command.CommandID,
			"--instance-id", dcID, "--plugin-name", linuxStep)
		if exit != 0 {
			if !strings.Contains(errOut, "(InvocationDoesNotExist)") {
				t.Fatalf("get-command-invocation: %s", errOut)
			}
			return false, errOut
		}
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatal(err)
		}
		return inv.Status == "Success" || inv.Status == "Failed", out
	})
	if inv.Status != "Success" || inv.ResponseCode != 0 || !strings.Contains(inv.StandardOutputContent, `"outcome":"created"`) {
		t.Errorf("invocation = %+v", inv)
	}
	if got := lookup(t, dns, "A", "cli-1."+zone); got != "10.20.1.30" {
		t.Errorf("dig = %q", got)
	}
	var list struct {
		CommandInvocations []struct {
			Status         string
			CommandPlugins []struct{ Name, Status, Output string }
		}
	}
	w.cliJSON(keyCreds(keySharedAdmin), &list, "ssm", "list-command-invocations", "--command-id", sent.Command.CommandID, "--details")
	if len(list.CommandInvocations) != 1 || len(list.CommandInvocations[0].CommandPlugins) != 2 ||
		list.CommandInvocations[0].CommandPlugins[1].Name != linuxStep {
		t.Errorf("list-command-invocations = %+v", list)
	}
	_, msg := w.cliError(keyCreds(keyAppOperator), "AccessDeniedException", "ssm", "send-command", "--document-name", documentName,
		"--instance-ids", dcID, "--parameters", params)
	if !strings.Contains(msg, "is not authorized to perform: ssm:SendCommand") {
		t.Errorf("message = %q", msg)
	}
}
