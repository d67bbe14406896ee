package assume

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	roleARN    = "arn:aws:iam::222222222222:role/asgdns-dns"
	externalID = "asgdns-ext-7f3a9c21"
	execution  = "0d5c1f6e-asgdns-test-execution"
	instanceID = "i-0a1b2c3d4e5f60718"
	// sessionName is what crossaccount.Names derives for the fixtures.
	sessionName = "asgdns-i-0a1b2c3d4e5f60718-0d5c1f6e-asgdns-test-execution"
)

// expires is fixed so golden files do not change from run to run.
var expires = time.Date(2026, 11, 20, 8, 31, 0, 0, time.UTC)

// fakeSTS records what was asked and answers like STS: a session of the
// role in assumedAccount, with the fake credentials tests look for in
// outputs and logs, or err.
type fakeSTS struct {
	calls          []*sts.AssumeRoleInput
	assumedAccount string
	noSession      bool
	err            error
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	if f.noSession {
		return &sts.AssumeRoleOutput{}, nil
	}
	account := f.assumedAccount
	if account == "" {
		account = "222222222222"
	}
	name := aws.ToString(in.RoleArn)[strings.LastIndex(aws.ToString(in.RoleArn), "/")+1:]
	return &sts.AssumeRoleOutput{
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String(fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, name, aws.ToString(in.RoleSessionName))),
			AssumedRoleId: aws.String("AROAFAKE:" + aws.ToString(in.RoleSessionName)),
		},
		Credentials: &types.Credentials{
			AccessKeyId:     aws.String(lambdatest.FakeAccessKeyID),
			SecretAccessKey: aws.String(lambdatest.FakeSecretAccessKey),
			SessionToken:    aws.String(lambdatest.FakeSessionToken),
			Expiration:      aws.Time(expires),
		},
		SourceIdentity: in.SourceIdentity,
	}, nil
}

func session(t testing.TB, extID string) config.Session {
	t.Helper()
	env := map[string]string{config.EnvRoleARN: roleARN, config.EnvExternalID: extID}
	s, err := config.LoadSession(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newHandler(t testing.TB, f *fakeSTS, extID string, logs io.Writer) *Handler {
	return &Handler{Roles: crossaccount.New(f, session(t, extID)), Log: slog.New(slog.NewJSONHandler(logs, nil))}
}

// awsSafe is the character set STS accepts in RoleSessionName and
// SourceIdentity, with the 2-64 length limit.
var awsSafe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// checkSent asserts the AssumeRole call is the one DESIGN §5.2 asks for.
func checkSent(t *testing.T, in *sts.AssumeRoleInput, wantSession, wantSource, wantExtID string) {
	t.Helper()
	if got := aws.ToString(in.RoleArn); got != roleARN {
		t.Errorf("RoleArn %q, want %q", got, roleARN)
	}
	if got := aws.ToString(in.RoleSessionName); got != wantSession || !awsSafe.MatchString(got) {
		t.Errorf("RoleSessionName %q, want %q (2-64 of [\\w+=,.@-])", got, wantSession)
	}
	if got := aws.ToString(in.SourceIdentity); got != wantSource || !awsSafe.MatchString(got) {
		t.Errorf("SourceIdentity %q, want %q (2-64 of [\\w+=,.@-])", got, wantSource)
	}
	switch {
	case wantExtID == "" && in.ExternalId != nil:
		t.Errorf("ExternalId %q sent although none is configured", *in.ExternalId)
	case wantExtID != "" && aws.ToString(in.ExternalId) != wantExtID:
		t.Errorf("ExternalId %v, want %q", in.ExternalId, wantExtID)
	}
	// Role chaining caps a session at one hour; STS's floor is 15 minutes.
	if d := aws.ToInt32(in.DurationSeconds); d < 900 || d > 3600 {
		t.Errorf("DurationSeconds %d, want 900-3600", d)
	}
	if in.Policy != nil || len(in.PolicyArns) != 0 || len(in.Tags) != 0 {
		t.Errorf("unexpected session policy or tags: %+v", in)
	}
}

// outcome is what a golden file holds: the step's output, or the error Step
// Functions would see.
func outcome(res *workflow.SessionResult, err error) any {
	if err != nil {
		return map[string]string{"errorType": workflow.Routed(err), "errorMessage": err.Error()}
	}
	return res
}

// TestFixtures runs the state every fixture event leads to, and the states
// of a hold loop's next round and of an undone launch, and compares with
// the golden output. Events without DNS work never reach AssumeRole in the
// state machine; if one does, it is refused without calling STS.
func TestFixtures(t *testing.T) {
	wantCalls := map[string]int{
		"launch": 1, "launch-from-warm-pool": 1, "launch-no-token": 1, "terminate": 1,
		"launch-into-warm-pool": 0, "terminate-to-warm-pool": 0, "launch-successful": 0, "test-notification": 0, "unknown": 0,
		"launch-held": 1, "terminate-held": 1, "launch-outlived": 1,
	}
	for _, name := range append(lambdatest.Fixtures(t), "launch-held", "terminate-held", "launch-outlived") {
		t.Run(name, func(t *testing.T) {
			want, ok := wantCalls[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation here", name)
			}
			f := &fakeSTS{}
			got, err := newHandler(t, f, externalID, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
			if len(f.calls) != want {
				t.Fatalf("AssumeRole called %d times, want %d", len(f.calls), want)
			}
			if want == 1 {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				checkSent(t, f.calls[0], sessionName, "asgdns-"+instanceID, externalID)
			} else if workflow.Routed(err) != "InvalidEvent" {
				t.Fatalf("got %+v, %v; want InvalidEvent", got, err)
			}
			lambdatest.Golden(t, "testdata/"+name+".golden.json", outcome(got, err))
		})
	}
}

func TestInputsAreFixtureEvents(t *testing.T) {
	for _, name := range lambdatest.Fixtures(t) {
		t.Run(name, func(t *testing.T) { lambdatest.CheckInputIsEvent(t, name, name) })
	}
}

// withState returns the launch input with its request changed.
func withState(t testing.TB, change func(req, instance map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(lambdatest.Input(t, "launch"), &req); err != nil {
		t.Fatal(err)
	}
	inst, _ := req["state"].(map[string]any)["instance"].(map[string]any)
	change(req, inst)
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSent covers what reaches STS beyond the fixtures: no ExternalId unless
// configured, and session names that stay within STS's limits whatever the
// execution is called.
func TestSent(t *testing.T) {
	long := strings.Repeat("e", 80) // the longest execution name Step Functions allows
	cases := []struct {
		name, extID, execution string
		wantSession            string
	}{
		{name: "with external id", extID: externalID, execution: execution, wantSession: sessionName},
		{name: "without external id", execution: execution, wantSession: sessionName},
		{name: "long execution name", execution: long, wantSession: ("asgdns-" + instanceID + "-" + long)[:64]},
		{name: "execution name with unsafe characters", execution: "run 1/ü:x", wantSession: "asgdns-" + instanceID + "-run1x"},
		{name: "no execution name", execution: "", wantSession: "asgdns-" + instanceID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSTS{}
			input := withState(t, func(req, _ map[string]any) { req["execution"] = tc.execution })
			got, err := newHandler(t, f, tc.extID, io.Discard).Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 1 {
				t.Fatalf("AssumeRole called %d times, want 1", len(f.calls))
			}
			checkSent(t, f.calls[0], tc.wantSession, "asgdns-"+instanceID, tc.extID)
			want := workflow.SessionResult{
				RoleARN: roleARN, Account: "222222222222", SessionName: tc.wantSession, SourceIdentity: "asgdns-" + instanceID,
				AssumedRoleARN: "arn:aws:sts::222222222222:assumed-role/asgdns-dns/" + tc.wantSession, Expires: expires,
			}
			if *got != want {
				t.Errorf("got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func apiError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

// httpError is an API error as the SDK returns it, with the HTTP status.
type httpError struct {
	smithy.GenericAPIError
	status int
}

func (e *httpError) HTTPStatusCode() int { return e.status }

// TestErrors lists every error name AssumeRole can return, with what causes
// it and whether STS was called.
func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		input     []byte
		sts       *fakeSTS
		wantType  string
		wantCalls int
		wantInMsg []string
	}{
		{name: "malformed JSON", input: []byte(`{"execution": "x", "state": {`), wantType: "InvalidEvent",
			wantInMsg: []string{"input", "task payload", "fix:"}},
		{name: "no instance section", input: withState(t, func(req, _ map[string]any) { delete(req["state"].(map[string]any), "instance") }),
			wantType: "InvalidEvent", wantInMsg: []string{"instance", "DescribeInstance"}},
		{name: "action none", input: withState(t, func(_, inst map[string]any) { inst["action"] = "none" }),
			wantType: "InvalidEvent", wantInMsg: []string{`instance.action "none"`, "no DNS work", "Choice"}},
		{name: "action missing", input: withState(t, func(_, inst map[string]any) { delete(inst, "action") }),
			wantType: "InvalidEvent", wantInMsg: []string{"instance.action"}},
		{name: "instance id missing", input: withState(t, func(_, inst map[string]any) { delete(inst, "instanceId") }),
			wantType: "InvalidEvent", wantInMsg: []string{"instance.instanceId"}},
		{name: "instance id with shell", input: withState(t, func(_, inst map[string]any) { inst["instanceId"] = "i-0a1b2c3d;id" }),
			wantType: "InvalidEvent", wantInMsg: []string{`instance.instanceId "i-0a1b2c3d;id"`}},
		{name: "trust refused", sts: &fakeSTS{err: &httpError{smithy.GenericAPIError{Code: "AccessDenied",
			Message: "User: arn:aws:sts::111111111111:assumed-role/asgdns-assume-role/x is not authorized to perform: sts:AssumeRole on resource: " + roleARN}, 403}},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"sts:AssumeRole " + roleARN, "not authorized", "fix:", "ExternalId"}},
		{name: "STS disabled in the region", sts: &fakeSTS{err: &httpError{smithy.GenericAPIError{Code: "RegionDisabledException",
			Message: "STS is not activated in this region"}, 403}},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"RegionDisabledException"}},
		{name: "session in the wrong account", sts: &fakeSTS{assumedAccount: "999999999999"},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"arn:aws:sts::999999999999:assumed-role", "account 222222222222", config.EnvRoleARN}},
		{name: "no session returned", sts: &fakeSTS{noSession: true}, wantCalls: 1, wantType: "Unavailable", wantInMsg: []string{"no session"}},
		{name: "throttled", sts: &fakeSTS{err: apiError("Throttling", "Rate exceeded")}, wantCalls: 1, wantType: "Throttled",
			wantInMsg: []string{"sts:AssumeRole", "Rate exceeded"}},
		{name: "throttled (exception code)", sts: &fakeSTS{err: apiError("ThrottlingException", "Rate exceeded")}, wantCalls: 1, wantType: "Throttled"},
		{name: "server error", sts: &fakeSTS{err: &httpError{smithy.GenericAPIError{Code: "InternalError", Message: "try again"}, 500}},
			wantCalls: 1, wantType: "Unavailable"},
		{name: "function credentials expired", sts: &fakeSTS{err: apiError("ExpiredToken", "The security token included in the request is expired")},
			wantCalls: 1, wantType: "Unavailable"},
		{name: "timeout", sts: &fakeSTS{err: fmt.Errorf("operation error STS: AssumeRole: %w", context.DeadlineExceeded)},
			wantCalls: 1, wantType: "Unavailable", wantInMsg: []string{"timed out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.sts
			if f == nil {
				f = &fakeSTS{}
			}
			input := tc.input
			if input == nil {
				input = lambdatest.Input(t, "launch")
			}
			got, err := newHandler(t, f, externalID, io.Discard).Handle(context.Background(), input)
			if err == nil {
				t.Fatalf("got %+v, want a %s", got, tc.wantType)
			}
			if name := workflow.Routed(err); name != tc.wantType {
				t.Fatalf("error %T (%v), want %s", err, err, tc.wantType)
			}
			if len(f.calls) != tc.wantCalls {
				t.Errorf("AssumeRole called %d times, want %d", len(f.calls), tc.wantCalls)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err.Error(), s)
				}
			}
		})
	}
}

// secrets must never appear in an output, an error or a log line. The
// ExternalId is not a secret in AWS's model, but asgdns keeps it out too.
var secrets = []string{lambdatest.FakeAccessKeyID, lambdatest.FakeSecretAccessKey, lambdatest.FakeSessionToken, externalID}

func TestNoSecretsInOutputOrLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  *fakeSTS
	}{
		{name: "success", sts: &fakeSTS{}},
		{name: "wrong account", sts: &fakeSTS{assumedAccount: "999999999999"}},
		{name: "access denied", sts: &fakeSTS{err: apiError("AccessDenied", "not authorized")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			got, err := newHandler(t, tc.sts, externalID, &logs).Handle(context.Background(), lambdatest.Input(t, "launch"))
			out, _ := json.Marshal(outcome(got, err))
			if logs.Len() == 0 {
				t.Fatal("nothing logged: the check below would prove nothing")
			}
			for _, s := range secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("output contains %q: %s", s, out)
				}
				if strings.Contains(logs.String(), s) {
					t.Errorf("logs contain %q:\n%s", s, logs.String())
				}
			}
		})
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(t, &fakeSTS{}, "", &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"execution":"` + execution + `"`, `"instanceId":"` + instanceID + `"`, `"asg":"web-prod"`,
		`"assumedRoleArn":"arn:aws:sts::222222222222:assumed-role/asgdns-dns/` + sessionName + `"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

func BenchmarkHandle(b *testing.B) {
	f := &fakeSTS{}
	h := newHandler(b, f, externalID, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.calls = f.calls[:0] // keep the fake's record out of the count
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}
