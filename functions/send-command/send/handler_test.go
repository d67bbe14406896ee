package send

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	fixtureInstance = "i-0a1b2c3d4e5f60718"
	execution       = "0d5c1f6e-asgdns-test-execution"
	dc1             = "i-0123456789abcdef0"
	dc2             = "i-0fedcba9876543210"
	commandID       = "4f1c2a9e-7b3d-4e6f-9a8b-0c1d2e3f4a5b"
	roleARN         = "arn:aws:iam::222222222222:role/asgdns-dns"
	externalID      = "asgdns-external-id-test"
)

var sentAt = time.Date(2026, 11, 20, 8, 15, 50, 0, time.UTC)

// sendCall is one SendCommand call as the fake saw it.
type sendCall = lambdatest.Call[ssm.SendCommandInput, ssm.Options]

// fakeSSM records what was sent and answers with a command id (commandID
// unless id says otherwise) or an error: err for every DC, or the DC's own
// from dcErr.
type fakeSSM struct {
	calls []sendCall
	err   error
	dcErr map[string]error
	id    string
	// noCommand answers without a command, as no real SSM does.
	noCommand bool
}

func (f *fakeSSM) SendCommand(_ context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	f.calls = append(f.calls, sendCall{In: in, OptFns: optFns})
	if f.err != nil {
		return nil, f.err
	}
	if len(in.InstanceIds) == 1 && f.dcErr[in.InstanceIds[0]] != nil {
		return nil, f.dcErr[in.InstanceIds[0]]
	}
	if f.noCommand {
		return &ssm.SendCommandOutput{}, nil
	}
	id := f.id
	if id == "" {
		id = commandID
	}
	return &ssm.SendCommandOutput{Command: &types.Command{CommandId: aws.String(id), Status: types.CommandStatusPending}}, nil
}

// sentTo lists the DCs the calls went to, in order.
func (f *fakeSSM) sentTo() []string {
	var dcs []string
	for _, c := range f.calls {
		dcs = append(dcs, strings.Join(c.In.InstanceIds, "+"))
	}
	return dcs
}

func newHandler(f *fakeSSM, s *lambdatest.Sessions, logs io.Writer) *Handler {
	return &Handler{SSM: f, Credentials: s.For, Now: func() time.Time { return sentAt }, Log: lambdatest.JSONLogger(logs, slog.LevelDebug)}
}

// withInstance changes $.instance of the launch input.
func withInstance(t testing.TB, change func(inst map[string]any)) []byte {
	return lambdatest.WithState(t, "launch", func(s map[string]any) { change(s["instance"].(map[string]any)) })
}

func withTarget(t testing.TB, change func(target map[string]any)) []byte {
	return withInstance(t, func(i map[string]any) { change(i["target"].(map[string]any)) })
}

// fixtures are the states SendCommand receives in testdata, with the
// command id SSM gives the command and when it is sent.
var fixtures = []struct {
	name, commandID string
	at              time.Time
}{
	{"launch", commandID, sentAt},
	{"launch-from-warm-pool", "0b6e2d1c-5a4f-4e3d-9c2b-1a0f9e8d7c6b", time.Date(2026, 11, 20, 8, 15, 46, 0, time.UTC)},
	{"launch-no-token", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", time.Date(2026, 11, 20, 8, 16, 58, 0, time.UTC)},
	{"terminate", "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a", time.Date(2026, 11, 20, 8, 16, 10, 0, time.UTC)},
	// After a hold for the first DC's failure: the next DC.
	{"launch-resend", "c3b2a190-8f7e-4d6c-9b5a-4f3e2d1c0b9a", time.Date(2026, 11, 20, 8, 16, 3, 0, time.UTC)},
	// A termination held for its DNS server's failure: the next DC.
	{"terminate-held", "2b1a0f9e-8d7c-4b6a-9584-736251403f2e", time.Date(2026, 11, 20, 8, 16, 23, 0, time.UTC)},
	// A launch that outlived its instance removes its record, on the next DC.
	{"launch-undo", "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9", time.Date(2026, 11, 20, 8, 15, 58, 0, time.UTC)},
}

// TestFixtures runs each testdata input and compares the result, and the
// request SSM received, with golden files.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			f, s := &fakeSSM{id: fx.commandID}, &lambdatest.Sessions{}
			h := newHandler(f, s, io.Discard)
			h.Now = func() time.Time { return fx.at }
			got, err := h.Handle(context.Background(), lambdatest.Input(t, fx.name))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(f.calls) != 1 {
				t.Fatalf("SendCommand called %d times, want 1", len(f.calls))
			}
			lambdatest.Golden(t, "testdata/"+fx.name+".golden.json", got)
			lambdatest.Golden(t, "testdata/"+fx.name+".sent.json", f.calls[0].In)
		})
	}
}

// TestWhatIsSent spells out the request for a launch and a termination.
func TestWhatIsSent(t *testing.T) {
	for _, tc := range []struct {
		input   string
		action  workflow.Action
		ip      string
		comment string
	}{
		{"launch", workflow.ActionRegister, "10.20.30.40",
			"asgdns register web-prod-i-0a1b2c3d4e5f60718.corp.example.com 0d5c1f6e-asgdns-test-execution"},
		{"terminate", workflow.ActionDeregister, "10.20.30.40",
			"asgdns deregister web-prod-i-0a1b2c3d4e5f60718.corp.example.com 0d5c1f6e-asgdns-test-execution"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			f, s := &fakeSSM{}, &lambdatest.Sessions{}
			got, err := newHandler(f, s, io.Discard).Handle(context.Background(), lambdatest.Input(t, tc.input))
			if err != nil {
				t.Fatal(err)
			}
			in := f.calls[0].In
			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("DocumentName", aws.ToString(in.DocumentName), "asgdns-dns-record")
			check("DocumentVersion", aws.ToString(in.DocumentVersion), "$DEFAULT")
			check("InstanceIds", strings.Join(in.InstanceIds, ","), dc1)
			check("Comment", aws.ToString(in.Comment), tc.comment)
			check("MaxConcurrency", aws.ToString(in.MaxConcurrency), "1")
			check("MaxErrors", aws.ToString(in.MaxErrors), "0")
			if len(aws.ToString(in.Comment)) > 100 {
				t.Errorf("comment is %d bytes, SSM allows 100", len(aws.ToString(in.Comment)))
			}
			if aws.ToInt32(in.TimeoutSeconds) != 60 {
				t.Errorf("TimeoutSeconds = %d, want 60", aws.ToInt32(in.TimeoutSeconds))
			}
			if in.CloudWatchOutputConfig == nil || !in.CloudWatchOutputConfig.CloudWatchOutputEnabled ||
				in.CloudWatchOutputConfig.CloudWatchLogGroupName != nil {
				t.Errorf("CloudWatchOutputConfig = %+v, want enabled with the default group", in.CloudWatchOutputConfig)
			}
			if len(in.Targets) != 0 || in.OutputS3BucketName != nil || in.ServiceRoleArn != nil {
				t.Errorf("unexpected targets, S3 output or service role: %+v", in)
			}
			wantParams := map[string][]string{
				"action": {string(tc.action)}, "hostname": {"web-prod-i-0a1b2c3d4e5f60718"}, "zone": {"corp.example.com"},
				"ipv4Address": {tc.ip}, "ownerInstanceId": {fixtureInstance}, "ttl": {"300"}, "ptr": {"false"},
			}
			gotParams, _ := json.Marshal(in.Parameters)
			wantJSON, _ := json.Marshal(wantParams)
			if !bytes.Equal(gotParams, wantJSON) {
				t.Errorf("Parameters = %s, want %s", gotParams, wantJSON)
			}
			// The call must carry the shared-services session of this
			// instance's execution, not the function's own credentials.
			if c, ok := f.calls[0].Options().Credentials.(*lambdatest.Session); !ok || *c != (lambdatest.Session{InstanceID: fixtureInstance, Execution: execution}) {
				t.Errorf("SendCommand credentials = %#v, want the session for %s/%s", f.calls[0].Options().Credentials, fixtureInstance, execution)
			}
			if len(s.Asked) != 1 {
				t.Errorf("asked for %d sessions, want 1", len(s.Asked))
			}
			want := workflow.CommandResult{CommandID: commandID, DCInstanceID: dc1, Step: workflow.StepWindows,
				DocumentName: "asgdns-dns-record", Action: tc.action, Attempt: 1, SentAt: sentAt}
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) || got.Skipped != nil {
				t.Errorf("result %+v, want %+v", *got, want)
			}
		})
	}
}

// withAttempt is the launch input after attempt DCs were tried (a command
// sent to the last of them), with the DC list dcs (nil: the fixture's two).
func withAttempt(t testing.TB, attempt any, dcs []any) []byte {
	return lambdatest.WithState(t, "launch", func(s map[string]any) {
		if attempt != nil {
			s["command"] = map[string]any{"commandId": "c-old", "dcInstanceId": dc1, "step": workflow.StepWindows,
				"documentName": "asgdns-dns-record", "action": "register", "attempt": attempt, "sentAt": "2026-11-20T08:15:50Z"}
		}
		if dcs != nil {
			s["instance"].(map[string]any)["target"].(map[string]any)["dcInstanceIds"] = dcs
		}
	})
}

// TestRoundRobin: which DC a try goes to is decided by the DCs tried so far
// in this execution ($.command.attempt): the next one, wrapping around the
// list. Nothing else counts (an ASL retry of a throttled call, say).
func TestRoundRobin(t *testing.T) {
	dc3 := "i-0aaaaaaaaaaaaaaaa"
	three := []any{dc1, dc2, dc3}
	for _, tc := range []struct {
		previous any // the previous command's attempt; nil for none
		dcs      []any
		want     string
		attempt  int
	}{
		{nil, nil, dc1, 1},
		{nil, three, dc1, 1},
		{0, nil, dc1, 1}, // a command without an attempt counts as none
		{-3, nil, dc1, 1},
		{1, nil, dc2, 2},
		{2, nil, dc1, 3},
		{3, nil, dc2, 4},
		{1, three, dc2, 2},
		{2, three, dc3, 3},
		{3, three, dc1, 4},
		{7, three, dc2, 8},
		{5, []any{dc2}, dc2, 6},
	} {
		t.Run(fmt.Sprintf("after %v of %d", tc.previous, max(len(tc.dcs), 2)), func(t *testing.T) {
			f := &fakeSSM{}
			got, err := newHandler(f, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), withAttempt(t, tc.previous, tc.dcs))
			if err != nil {
				t.Fatal(err)
			}
			if sent := strings.Join(f.sentTo(), ","); sent != tc.want || got.DCInstanceID != tc.want {
				t.Errorf("sent to %s, reported %s, want %s", sent, got.DCInstanceID, tc.want)
			}
			if got.Attempt != tc.attempt || got.Skipped != nil {
				t.Errorf("attempt %d, skipped %v; want %d, none", got.Attempt, got.Skipped, tc.attempt)
			}
		})
	}
	// The retry count of the Task is not part of the contract any more:
	// a payload that still carries one goes to the same DC.
	var req map[string]any
	if err := json.Unmarshal(withAttempt(t, 1, nil), &req); err != nil {
		t.Fatal(err)
	}
	req["retryCount"] = 1
	input, _ := json.Marshal(req)
	f := &fakeSSM{}
	if got, err := newHandler(f, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), input); err != nil || got.DCInstanceID != dc2 || got.Attempt != 2 {
		t.Errorf("with a retry count: %+v, %v; want %s, attempt 2", got, err, dc2)
	}
}

// TestSkipsDCsNotOnline: a DC SSM does not have online (InvalidInstanceId)
// is passed over for the next one in the same invocation, and counts as
// tried; if none is online nothing was sent, and the error is transient.
func TestSkipsDCsNotOnline(t *testing.T) {
	dc3 := "i-0aaaaaaaaaaaaaaaa"
	three := []any{dc1, dc2, dc3}
	offline := apiError("InvalidInstanceId")
	for _, tc := range []struct {
		name     string
		previous any
		dcs      []any
		offline  []string
		wantSent []string // SendCommand calls, by DC
		want     string   // where the command went; "" for none
		skipped  []string
		attempt  int
	}{
		{name: "first DC offline", offline: []string{dc1}, wantSent: []string{dc1, dc2}, want: dc2, skipped: []string{dc1}, attempt: 2},
		{name: "second DC offline, wraps around", previous: 1, offline: []string{dc2}, wantSent: []string{dc2, dc1}, want: dc1, skipped: []string{dc2}, attempt: 3},
		{name: "two of three offline", previous: 3, dcs: three, offline: []string{dc1, dc2}, wantSent: []string{dc1, dc2, dc3}, want: dc3,
			skipped: []string{dc1, dc2}, attempt: 6},
		{name: "another DC offline", dcs: three, offline: []string{dc2}, wantSent: []string{dc1}, want: dc1, attempt: 1},
		{name: "all offline", offline: []string{dc1, dc2}, wantSent: []string{dc1, dc2}},
		{name: "all three offline, after two tries", previous: 2, dcs: three, offline: []string{dc1, dc2, dc3}, wantSent: []string{dc3, dc1, dc2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSSM{dcErr: map[string]error{}}
			for _, dc := range tc.offline {
				f.dcErr[dc] = offline
			}
			var logs bytes.Buffer
			got, err := newHandler(f, &lambdatest.Sessions{}, &logs).Handle(context.Background(), withAttempt(t, tc.previous, tc.dcs))
			if sent := f.sentTo(); strings.Join(sent, ",") != strings.Join(tc.wantSent, ",") {
				t.Errorf("sent to %v, want %v", sent, tc.wantSent)
			}
			if tc.want == "" {
				if workflow.Routed(err) != "Unavailable" || got != nil {
					t.Fatalf("got %+v, %v; want Unavailable and no command", got, err)
				}
				lambdatest.ErrorContains(t, err, "ssm:SendCommand "+`"`+strings.Join(tc.wantSent, ",")+`"`, "no DC is online in Systems Manager (InvalidInstanceId)",
					"Fleet Manager", "instances are held meanwhile (up to the hold budget)")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := workflow.CommandResult{CommandID: commandID, DCInstanceID: tc.want, Step: workflow.StepWindows, DocumentName: "asgdns-dns-record",
				Action: workflow.ActionRegister, Attempt: tc.attempt, Skipped: tc.skipped, SentAt: sentAt}
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
			for _, dc := range tc.skipped {
				if !slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(l string) bool {
					return strings.Contains(l, `"msg":"DC not online, trying the next"`) && strings.Contains(l, `"dc":"`+dc+`"`)
				}) {
					t.Errorf("logs do not say %s was skipped:\n%s", dc, logs.String())
				}
			}
		})
	}
}

// TestThrottledKeepsTheDC: a throttled SendCommand sent nothing, so it
// records no command; the state is unchanged and the next invocation (the
// ASL's retry, or the hold loop's next round) goes to the same DC.
func TestThrottledKeepsTheDC(t *testing.T) {
	for _, previous := range []any{nil, 1} {
		want := dc1
		if previous != nil {
			want = dc2
		}
		t.Run(fmt.Sprintf("after %v", previous), func(t *testing.T) {
			input := withAttempt(t, previous, nil)
			f := &fakeSSM{err: apiError("ThrottlingException")}
			got, err := newHandler(f, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), input)
			if workflow.Routed(err) != "Throttled" || got != nil {
				t.Fatalf("got %+v, %v; want Throttled and no command", got, err)
			}
			if sent := strings.Join(f.sentTo(), ","); sent != want {
				t.Errorf("throttled call went to %s, want %s only: a throttle is not a DC tried", sent, want)
			}
			f.err = nil
			again, err := newHandler(f, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			if sent := f.sentTo(); len(sent) != 2 || sent[1] != want || again.DCInstanceID != want {
				t.Errorf("next invocation sent to %v, reported %s; want %s again", sent, again.DCInstanceID, want)
			}
		})
	}
}

func TestLinuxDCRunsTheLinuxStep(t *testing.T) {
	input := withTarget(t, func(tg map[string]any) { tg["dcPlatform"] = "Linux" })
	got, err := newHandler(&fakeSSM{}, &lambdatest.Sessions{}, io.Discard).Handle(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != workflow.StepLinux {
		t.Errorf("step %q, want %q", got.Step, workflow.StepLinux)
	}
}

func TestComment(t *testing.T) {
	long := strings.Repeat("a", 63) + ".corp.example.com"
	exec80 := strings.Repeat("e", 80)
	for _, tc := range []struct {
		name, fqdn, execution, want string
	}{
		{"fits", "web-1.corp.example.com", "exec-1", "asgdns register web-1.corp.example.com exec-1"},
		{"exactly 100", strings.Repeat("h", 100-len("asgdns register  x")), "x",
			"asgdns register " + strings.Repeat("h", 100-len("asgdns register  x")) + " x"},
		{"fqdn gives way", long, "0d5c1f6e-asgdns-test-execution",
			"asgdns register " + long[:len(long)-(16+80+1+30-100)-3] + "… 0d5c1f6e-asgdns-test-execution"},
		{"longest execution", long, exec80, "asgdns register … " + exec80},
		{"unicode execution", "w.example.com", strings.Repeat("é", 60), "asgdns register … " + strings.Repeat("é", 40)},
		// 100 bytes would end inside an "é": cut before it.
		{"unicode execution, odd offset", "w.example.com", "x" + strings.Repeat("é", 60), "asgdns register … x" + strings.Repeat("é", 39)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := comment(workflow.ActionRegister, tc.fqdn, tc.execution)
			if got != tc.want {
				t.Errorf("comment\n got %q\nwant %q", got, tc.want)
			}
			if len(got) > maxComment || !utf8Valid(got) {
				t.Errorf("comment %q is %d bytes or not UTF-8", got, len(got))
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from fake"}
}

// stsError is how the SDK reports a refused AssumeRole made while signing an
// SSM call: an SSM operation error wrapping the STS one.
func stsError(code string) error {
	return lambdatest.CredentialsError("SSM", "SendCommand", apiError(code))
}

// TestErrors lists every error this step can return and what causes it.
// InvalidConfig happens only at init (the rig's local/runtimecheck runs it);
// InstanceNotFound and CommandFailed belong to other steps.
func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		input     []byte
		err       error // from SendCommand
		noCommand bool
		wantType  string
		wantCalls int // SendCommand calls
		wantInMsg []string
	}{
		// Validation: nothing sent, no role assumed.
		{name: "malformed JSON", input: []byte(`{"execution":"x","state":`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "no instance", input: lambdatest.WithState(t, "launch", func(s map[string]any) { delete(s, "instance") }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.instance", "is missing"}},
		{name: "action none", input: withInstance(t, func(i map[string]any) {
			i["action"], i["reason"] = "none", "returning to the warm pool, not terminating: the record stays"
		}), wantType: "InvalidEvent", wantInMsg: []string{`state.instance.action "none"`, "nothing to send", "warm pool", "Choice"}},
		{name: "unknown action", input: withInstance(t, func(i map[string]any) { i["action"] = "upsert" }),
			wantType: "InvalidEvent", wantInMsg: []string{`"upsert"`, "register or deregister"}},
		{name: "no target", input: withInstance(t, func(i map[string]any) { delete(i, "target") }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.instance.target", "missing"}},
		{name: "no DCs", input: withTarget(t, func(tg map[string]any) { tg["dcInstanceIds"] = []any{} }),
			wantType: "InvalidEvent", wantInMsg: []string{"dcInstanceIds", "no DC"}},
		{name: "DC id with shell", input: withTarget(t, func(tg map[string]any) { tg["dcInstanceIds"] = []any{dc1, "i-0123;reboot"} }),
			wantType: "InvalidEvent", wantInMsg: []string{`dcInstanceIds "i-0123;reboot"`}},
		{name: "unknown platform", input: withTarget(t, func(tg map[string]any) { tg["dcPlatform"] = "linux" }),
			wantType: "InvalidEvent", wantInMsg: []string{`dcPlatform "linux"`, "Windows or Linux"}},
		{name: "no document", input: withTarget(t, func(tg map[string]any) { tg["documentName"] = "" }),
			wantType: "InvalidEvent", wantInMsg: []string{"documentName", "empty"}},
		{name: "no record", input: withInstance(t, func(i map[string]any) { delete(i, "record") }),
			wantType: "InvalidEvent", wantInMsg: []string{"state.instance.record"}},
		{name: "register without IP", input: withInstance(t, func(i map[string]any) { delete(i, "privateIp") }),
			wantType: "InvalidEvent", wantInMsg: []string{"privateIp", "no address"}},
		{name: "IP with shell", input: withInstance(t, func(i map[string]any) { i["privateIp"] = "10.0.0.1;reboot" }),
			wantType: "InvalidEvent", wantInMsg: []string{"privateIp", "IPv4"}},
		{name: "owner with shell", input: withInstance(t, func(i map[string]any) { i["instanceId"] = "i-0a1b2c3d$(id)" }),
			wantType: "InvalidEvent", wantInMsg: []string{"ownerInstanceId", `"i-0a1b2c3d$(id)"`}},
		{name: "hostname with command substitution", input: withInstance(t, func(i map[string]any) {
			i["record"].(map[string]any)["hostname"] = "web$(reboot)"
		}), wantType: "InvalidHostname", wantInMsg: []string{"document parameter hostname", `"web$(reboot)"`, "allowedPattern"}},
		{name: "zone with newline", input: withInstance(t, func(i map[string]any) {
			i["record"].(map[string]any)["zone"] = "corp.example.com\nreboot"
		}), wantType: "InvalidHostname", wantInMsg: []string{"document parameter zone", `\n`}},
		// SSM refused the command: terminal, nothing ran.
		{name: "document missing", err: apiError("InvalidDocument"), wantCalls: 1, wantType: "CommandRejected",
			wantInMsg: []string{"ssm:SendCommand " + dc1, "InvalidDocument", "deploy the shared-services stack's document"}},
		{name: "parameters refused", err: apiError("InvalidParameters"), wantCalls: 1, wantType: "CommandRejected"},
		{name: "document version", err: apiError("InvalidDocumentVersion"), wantCalls: 1, wantType: "CommandRejected"},
		{name: "wrong platform", err: apiError("UnsupportedPlatformType"), wantCalls: 1, wantType: "CommandRejected"},
		// Permissions.
		{name: "SSM access denied", err: apiError("AccessDeniedException"), wantCalls: 1, wantType: "AccessDenied",
			wantInMsg: []string{"ssm:SendCommand " + dc1, "may ssm:SendCommand"}},
		{name: "AssumeRole refused", err: stsError("AccessDenied"), wantCalls: 1, wantType: "AccessDenied",
			wantInMsg: []string{"sts:AssumeRole (credentials for ssm:SendCommand " + dc1 + ")", "trusts this function's role"}},
		// Transient.
		{name: "throttled", err: apiError("ThrottlingException"), wantCalls: 1, wantType: "Throttled"},
		{name: "AssumeRole throttled", err: stsError("Throttling"), wantCalls: 1, wantType: "Throttled"},
		{name: "server error", err: apiError("InternalServerError"), wantCalls: 1, wantType: "Unavailable"},
		{name: "no DC online", err: apiError("InvalidInstanceId"), wantCalls: 2, wantType: "Unavailable",
			wantInMsg: []string{`ssm:SendCommand "` + dc1 + "," + dc2 + `"`, "no DC is online", "Fleet Manager"}},
		{name: "timeout", err: fmt.Errorf("operation error SSM: SendCommand: %w", context.DeadlineExceeded), wantCalls: 1, wantType: "Unavailable"},
		{name: "no command id", noCommand: true, wantCalls: 1, wantType: "Unavailable", wantInMsg: []string{"no command id"}},
	}
	seen := lambdatest.Produced{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, s := &fakeSSM{err: tc.err, noCommand: tc.noCommand}, &lambdatest.Sessions{}
			got, err := newHandler(f, s, io.Discard).Handle(context.Background(), lambdatest.InputOr(t, tc.input, "launch"))
			lambdatest.Failure(t, got, err, tc.wantType, tc.wantInMsg...)
			seen[tc.wantType] = true
			if len(f.calls) != tc.wantCalls {
				t.Errorf("SendCommand called %d times, want %d", len(f.calls), tc.wantCalls)
			}
			if got != nil {
				t.Errorf("a failure with a result: %+v", got)
			}
			if tc.wantCalls == 0 && len(s.Asked) != 0 {
				t.Errorf("asked for credentials %v after a validation failure", s.Asked)
			}
		})
	}
	seen.Expect(t, "InvalidEvent", "InvalidHostname", "CommandRejected", "AccessDenied", "Throttled", "Unavailable")
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(&fakeSSM{}, &lambdatest.Sessions{}, &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"execution":"`+execution+`"`, `"instanceId":"`+fixtureInstance+`"`, `"asg":"web-prod"`,
		`"dc":"`+dc1+`"`, `"commandId":"`+commandID+`"`)
}

// sendCommandAnswer is a SendCommand response body as SSM sends it.
const sendCommandAnswer = `{"Command":{"CommandId":"` + commandID + `","DocumentName":"asgdns-dns-record","DocumentVersion":"$DEFAULT",
"Comment":"asgdns register web-prod-i-0a1b2c3d4e5f60718.corp.example.com 0d5c1f6e-asgdns-test-execution","ExpiresAfter":1.79396655E9,
"Parameters":{"action":["register"]},"InstanceIds":["` + dc1 + `"],"Targets":[],"RequestedDateTime":1.79396295E9,"Status":"Pending",
"StatusDetails":"Pending","OutputS3Region":"eu-west-1","MaxConcurrency":"1","MaxErrors":"0","TargetCount":1,"CompletedCount":0,
"ErrorCount":0,"DeliveryTimedOutCount":0,"ServiceRole":"","NotificationConfig":{"NotificationArn":"","NotificationEvents":[],"NotificationType":""},
"CloudWatchOutputConfig":{"CloudWatchLogGroupName":"","CloudWatchOutputEnabled":true},"TimeoutSeconds":60,"TriggeredAlarms":[]}}`

var secrets = lambdatest.Secrets(externalID)

// TestNoSecretsInOutputOrLogs runs the handler in-process with the real SDK
// and the real cross-account provider against a fake AWS endpoint, and
// checks neither the result, the error nor the logs repeat the assumed
// credentials or the ExternalId.
func TestNoSecretsInOutputOrLogs(t *testing.T) {
	for _, tc := range []struct {
		name, code     string
		assume, answer bool // answer AssumeRole, SendCommand
		wantErr        string
	}{
		{name: "sent", assume: true, answer: true},
		{name: "SSM refuses", code: "AccessDeniedException", assume: true, wantErr: "AccessDenied"},
		{name: "STS refuses", code: "AccessDenied", wantErr: "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[string]string{}
			if tc.assume {
				answers["AssumeRole"] = lambdatest.AssumeRoleResponse(roleARN, "asgdns-"+fixtureInstance+"-"+execution)
			}
			if tc.answer {
				answers["SendCommand"] = sendCommandAnswer
			}
			srv := lambdatest.NewAWS(t, answers, http.StatusForbidden, tc.code, "refused by the test endpoint")
			cfg := srv.SDKConfig(credentials.NewStaticCredentialsProvider("AKIDLAMBDATEST", "lambdatest-secret", ""))
			roles := crossaccount.New(sts.NewFromConfig(cfg), config.Session{RoleARN: roleARN, Account: "222222222222", ExternalID: externalID})
			var logs bytes.Buffer
			h := &Handler{SSM: ssm.NewFromConfig(cfg), Credentials: roles.For, Now: time.Now, Log: lambdatest.JSONLogger(&logs, slog.LevelDebug)}
			got, err := h.Handle(context.Background(), lambdatest.Input(t, "launch"))
			srv.CheckAssumedFirst(t, err, tc.wantErr)
			lambdatest.CheckNoSecrets(t, got, err, logs.String(), secrets)
		})
	}
}

func BenchmarkHandle(b *testing.B) {
	f, s := &fakeSSM{}, &lambdatest.Sessions{}
	h := newHandler(f, s, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.calls, s.Asked = f.calls[:0], s.Asked[:0]
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}
