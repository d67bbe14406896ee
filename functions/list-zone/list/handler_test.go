package list

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	account = "111111111111"
	dc1     = "i-0123456789abcdef0"
	dc2     = "i-0fedcba9876543210"
	corp    = "corp.example.com"
)

var clockStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// answer is one GetCommandInvocation reply (or error).
type answer struct {
	status ssmtypes.CommandInvocationStatus
	stdout string
	err    error
}

// fakeSSM runs list commands: each command's invocation answers from
// polls in turn (the last one repeats); offline DCs refuse SendCommand.
type fakeSSM struct {
	offline map[string]bool
	sendErr error
	polls   []answer
	now     *time.Time

	sent  []lambdatest.Call[ssm.SendCommandInput, ssm.Options]
	gets  []lambdatest.Call[ssm.GetCommandInvocationInput, ssm.Options]
	asked int
}

func (f *fakeSSM) SendCommand(_ context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	f.sent = append(f.sent, lambdatest.Call[ssm.SendCommandInput, ssm.Options]{In: in, OptFns: optFns})
	if f.offline[in.InstanceIds[0]] {
		return nil, lambdatest.APIError("InvalidInstanceId", "Instances [["+in.InstanceIds[0]+"]] not in a valid state for account")
	}
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(fmt.Sprintf("cmd-%03d", len(f.sent)))}}, nil
}

func (f *fakeSSM) GetCommandInvocation(_ context.Context, in *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	f.gets = append(f.gets, lambdatest.Call[ssm.GetCommandInvocationInput, ssm.Options]{In: in, OptFns: optFns})
	a := f.polls[min(f.asked, len(f.polls)-1)]
	f.asked++
	if a.err != nil {
		return nil, a.err
	}
	return &ssm.GetCommandInvocationOutput{Status: a.status, StatusDetails: aws.String(string(a.status)), ResponseCode: 20,
		StandardOutputContent: aws.String(a.stdout)}, nil
}

// page prints page p of n owned names in zone, as the document does.
func page(zone string, p, n int) string {
	var b strings.Builder
	pages := (n + workflow.ListPageSize - 1) / workflow.ListPageSize
	for i := p * workflow.ListPageSize; i < min((p+1)*workflow.ListPageSize, n); i++ {
		id := fmt.Sprintf("i-0%016x", 0x100+i)
		line, _ := json.Marshal(map[string]any{"fqdn": fmt.Sprintf("web-%s.%s", id, zone), "ips": []string{"10.0.0.1"}, "ttl": 300,
			"owner": account + "/" + id})
		b.Write(line)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, `{"asgdns":1,"outcome":"listed","zone":%q,"page":%d,"pages":%d,"owned":%d,"otherOwners":2,"unmarked":3,"conflicts":0,"message":"page"}`+"\n",
		zone, p, pages, n)
	return b.String()
}

func listed(stdout string) []answer {
	return []answer{{status: ssmtypes.CommandInvocationStatusInProgress}, {status: ssmtypes.CommandInvocationStatusSuccess, stdout: stdout}}
}

func newHandler(f *fakeSSM, logs io.Writer) (*Handler, *lambdatest.Sessions) {
	now := clockStart
	f.now = &now
	s := &lambdatest.Sessions{}
	return &Handler{SSM: f, Credentials: s.For, Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
		Log:   lambdatest.JSONLogger(logs, slog.LevelDebug)}, s
}

func request(p int, extra string) string {
	return fmt.Sprintf(`{"run":"run-1","zone":%q,"page":%d,"dcInstanceIds":[%q,%q],"dcPlatform":"Linux","documentName":"asgdns-dns-record"%s}`,
		corp, p, dc1, dc2, extra)
}

// TestPage: one command on the page's DC, with the run's shared-services
// session, the list action's parameters only, polled until it ends; the
// page as parsed comes back.
func TestPage(t *testing.T) {
	f := &fakeSSM{polls: listed(page(corp, 1, 120))}
	var logs bytes.Buffer
	h, sessions := newHandler(f, &logs)
	res, err := h.Handle(context.Background(), []byte(request(1, "")))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 1 || res.DC != dc2 || res.CommandID != "cmd-001" || len(res.Offline) != 0 {
		t.Fatalf("sent %d, result %+v: page 1 goes to the second DC first", len(f.sent), res)
	}
	p := res.Listing
	if p.Zone != corp || p.Page != 1 || p.Pages != 3 || p.OwnedTotal != 120 || len(p.Owned) != 50 || p.OtherOwners != 2 || p.Owned[0].OwnerAccount != account {
		t.Errorf("listing %+v", p)
	}
	in := f.sent[0].In
	if aws.ToString(in.DocumentName) != "asgdns-dns-record" || in.Parameters[workflow.ParamAction][0] != workflow.ListAction ||
		in.Parameters[workflow.ParamPage][0] != "1" || len(in.Parameters) != 3 || aws.ToString(in.MaxConcurrency) != "1" ||
		len(aws.ToString(in.Comment)) > 100 || !strings.Contains(aws.ToString(in.Comment), "reconcile run-1") {
		t.Errorf("SendCommand %+v", in)
	}
	want := lambdatest.Session{InstanceID: contract.CredentialsSubject, Execution: "run-1"}
	for _, o := range []ssm.Options{f.sent[0].Options(), f.gets[0].Options(), f.gets[1].Options()} {
		if s, ok := o.Credentials.(*lambdatest.Session); !ok || *s != want {
			t.Errorf("credentials %#v, want the run's session", o.Credentials)
		}
	}
	if len(sessions.Asked) != 1 || sessions.Asked[0] != want {
		t.Errorf("sessions %v", sessions.Asked)
	}
	if g := f.gets[0].In; aws.ToString(g.PluginName) != workflow.StepLinux || aws.ToString(g.CommandId) != "cmd-001" || aws.ToString(g.InstanceId) != dc2 {
		t.Errorf("GetCommandInvocation %+v", g)
	}
	lambdatest.LogsContain(t, logs.String(), `"msg":"page read"`, `"zone":"corp.example.com"`, `"run":"run-1"`, `"commandId":"cmd-001"`)
	lambdatest.CheckNoSecrets(t, res, nil, logs.String(), lambdatest.Secrets())
	// The result is what reconcile decodes.
	data, _ := json.Marshal(res)
	var back contract.ListResult
	if err := json.Unmarshal(data, &back); err != nil || back.Listing.OwnedTotal != 120 || len(back.Listing.Owned) != 50 {
		t.Errorf("round trip %s: %v", data, err)
	}
}

// TestOfflineDCs: a DC the run found offline is skipped; one SSM answers
// InvalidInstanceId for is skipped for the next and reported; none online
// is Unavailable.
func TestOfflineDCs(t *testing.T) {
	f := &fakeSSM{polls: listed(page(corp, 0, 3)), offline: map[string]bool{dc1: true}}
	h, _ := newHandler(f, io.Discard)
	res, err := h.Handle(context.Background(), []byte(request(0, "")))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 2 || res.DC != dc2 || len(res.Offline) != 1 || res.Offline[0] != dc1 {
		t.Errorf("sent %d, result %+v", len(f.sent), res)
	}
	// Told dc1 is offline: never tried.
	f = &fakeSSM{polls: listed(page(corp, 0, 3))}
	h, _ = newHandler(f, io.Discard)
	if res, err := h.Handle(context.Background(), []byte(request(0, fmt.Sprintf(`,"offline":[%q]`, dc1)))); err != nil || len(f.sent) != 1 || res.DC != dc2 {
		t.Errorf("sent %d, %+v, %v", len(f.sent), res, err)
	}
	f = &fakeSSM{polls: listed(page(corp, 0, 3)), offline: map[string]bool{dc1: true, dc2: true}}
	h, _ = newHandler(f, io.Discard)
	res, err = h.Handle(context.Background(), []byte(request(0, "")))
	lambdatest.Failure(t, res, err, "Unavailable", "no DC is online", dc1)
}

// TestFailures: what a page that cannot be read returns. A command that
// ran and ended without a page is CommandFailed (what reconcile counts as
// a command); a refused call is routed as SendCommand's.
func TestFailures(t *testing.T) {
	produced := lambdatest.Produced{}
	dnsError := `{"asgdns":1,"outcome":"dns-error","rcode":"SERVFAIL","message":"reading zone corp.example.com failed"}` + "\n"
	notAllowed := `{"asgdns":1,"outcome":"zone-not-allowed","message":"zone corp.example.com is not allowed for this account"}` + "\n"
	for _, tc := range []struct {
		name    string
		polls   []answer
		sendErr error
		want    string
		inMsg   []string
	}{
		{"list reports a DNS error", []answer{{status: ssmtypes.CommandInvocationStatusFailed, stdout: dnsError}}, nil,
			"CommandFailed", []string{"command cmd-001 on " + dc1, "ended Failed", "dns-error (SERVFAIL)", "zone transfer"}},
		{"zone not allowed", []answer{{status: ssmtypes.CommandInvocationStatusFailed, stdout: notAllowed}}, nil,
			"CommandFailed", []string{"zone-not-allowed", "TenantZones"}},
		{"output does not parse", []answer{{status: ssmtypes.CommandInvocationStatusSuccess, stdout: "garbage\n"}}, nil,
			"CommandFailed", []string{"does not parse"}},
		{"another page than asked", listed(page(corp, 1, 120)), nil, "CommandFailed", []string{"page 1, not the zone corp.example.com page 0"}},
		{"timed out", []answer{{status: ssmtypes.CommandInvocationStatusTimedOut}}, nil, "CommandFailed", []string{"ended TimedOut", "aws/ssm/asgdns-dns-record"}},
		{"never finishes", []answer{{status: ssmtypes.CommandInvocationStatusInProgress}}, nil, "CommandFailed", []string{"did not finish within 3m"}},
		{"invocation never appears", []answer{{err: lambdatest.APIError("InvocationDoesNotExist", "no")}}, nil, "Unavailable", []string{"InvocationDoesNotExist"}},
		{"SendCommand denied", nil, lambdatest.APIError("AccessDenied", "not authorized to perform ssm:SendCommand"), "AccessDenied",
			[]string{"ssm:SendCommand " + dc1, "list action"}},
		{"SendCommand throttled", nil, lambdatest.APIError("ThrottlingException", "Rate exceeded"), "Throttled", []string{"throttled"}},
		{"the session refused", nil, lambdatest.CredentialsError("STS", "AssumeRole", lambdatest.APIError("AccessDenied", "not trusted")),
			"AccessDenied", []string{"sts:AssumeRole"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSSM{polls: tc.polls, sendErr: tc.sendErr}
			h, _ := newHandler(f, io.Discard)
			res, err := h.Handle(context.Background(), []byte(request(0, "")))
			lambdatest.Failure(t, res, err, tc.want, tc.inMsg...)
			produced[workflow.Routed(err)] = true
			if len(f.sent) != 1 {
				t.Errorf("sent %d commands, want 1", len(f.sent))
			}
		})
	}
	produced.Expect(t, "CommandFailed", "Unavailable", "AccessDenied", "Throttled")
}

// TestNotVisibleYet: InvocationDoesNotExist just after SendCommand is
// waited out.
func TestNotVisibleYet(t *testing.T) {
	f := &fakeSSM{polls: append([]answer{{err: lambdatest.APIError("InvocationDoesNotExist", "no")}}, listed(page(corp, 0, 1))...)}
	h, _ := newHandler(f, io.Discard)
	if res, err := h.Handle(context.Background(), []byte(request(0, ""))); err != nil || res.Listing.OwnedTotal != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
}

// TestInvalidInput: nothing is sent.
func TestInvalidInput(t *testing.T) {
	produced := lambdatest.Produced{}
	for _, tc := range []struct{ name, input, want, inMsg string }{
		{"not JSON", `zone=corp`, "InvalidEvent", "input"},
		{"unknown key", `{"Zone":"corp.example.com"}`, "InvalidEvent", `unknown key "Zone"`},
		{"no run", strings.Replace(request(0, ""), `"run-1"`, `""`, 1), "InvalidEvent", "run"},
		{"no DCs", strings.Replace(request(0, ""), fmt.Sprintf(`[%q,%q]`, dc1, dc2), `[]`, 1), "InvalidEvent", "1-10 DCs"},
		{"a DC not an instance", strings.Replace(request(0, ""), dc1, "dc-1", 1), "InvalidEvent", `"dc-1"`},
		{"platform", strings.Replace(request(0, ""), "Linux", "BeOS", 1), "InvalidEvent", "Windows or Linux"},
		{"document", strings.Replace(request(0, ""), "asgdns-dns-record", "a b", 1), "InvalidEvent", "SSM document"},
		{"zone", strings.Replace(request(0, ""), corp, "corp..example.com", 1), "InvalidHostname", "allowedPattern"},
		{"page", request(-1, ""), "InvalidEvent", "is not a page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSSM{}
			h, _ := newHandler(f, io.Discard)
			res, err := h.Handle(context.Background(), []byte(tc.input))
			lambdatest.Failure(t, res, err, tc.want, tc.inMsg)
			produced[workflow.Routed(err)] = true
			if len(f.sent) != 0 {
				t.Errorf("sent %d", len(f.sent))
			}
		})
	}
	produced.Expect(t, "InvalidEvent", "InvalidHostname")
}
