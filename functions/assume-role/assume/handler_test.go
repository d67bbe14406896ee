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

func session(t testing.TB, extID string) config.Session {
	t.Helper()
	env := map[string]string{config.EnvRoleARN: roleARN, config.EnvExternalID: extID}
	s, err := config.LoadSession(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newHandler returns a Handler over f; a session f hands out expires at
// expires unless the case says otherwise, so golden files do not change
// from run to run.
func newHandler(t testing.TB, f *lambdatest.FakeSTS, extID string, logs io.Writer) *Handler {
	if f.Expires.IsZero() {
		f.Expires = expires
	}
	return &Handler{Roles: crossaccount.New(f, session(t, extID)), Log: lambdatest.JSONLogger(logs, slog.LevelInfo)}
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
			f := &lambdatest.FakeSTS{}
			got, err := newHandler(t, f, externalID, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
			calls := f.Calls()
			if len(calls) != want {
				t.Fatalf("AssumeRole called %d times, want %d", len(calls), want)
			}
			if want == 1 {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				checkSent(t, calls[0], sessionName, "asgdns-"+instanceID, externalID)
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
			f := &lambdatest.FakeSTS{}
			input := withState(t, func(req, _ map[string]any) { req["execution"] = tc.execution })
			got, err := newHandler(t, f, tc.extID, io.Discard).Handle(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			calls := f.Calls()
			if len(calls) != 1 {
				t.Fatalf("AssumeRole called %d times, want 1", len(calls))
			}
			checkSent(t, calls[0], tc.wantSession, "asgdns-"+instanceID, tc.extID)
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

// TestErrors lists every error name AssumeRole can return, with what causes
// it and whether STS was called.
func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		input     []byte
		sts       *lambdatest.FakeSTS
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
		{name: "trust refused", sts: &lambdatest.FakeSTS{Err: lambdatest.HTTPError("AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/asgdns-assume-role/x is not authorized to perform: sts:AssumeRole on resource: "+roleARN, 403)},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"sts:AssumeRole " + roleARN, "not authorized", "fix:", "ExternalId"}},
		{name: "STS disabled in the region", sts: &lambdatest.FakeSTS{Err: lambdatest.HTTPError("RegionDisabledException", "STS is not activated in this region", 403)},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"RegionDisabledException"}},
		{name: "session in the wrong account", sts: &lambdatest.FakeSTS{Account: "999999999999"},
			wantCalls: 1, wantType: "AccessDenied", wantInMsg: []string{"arn:aws:sts::999999999999:assumed-role", "account 222222222222", config.EnvRoleARN}},
		{name: "no session returned", sts: &lambdatest.FakeSTS{NoSession: true}, wantCalls: 1, wantType: "Unavailable", wantInMsg: []string{"no session"}},
		{name: "throttled", sts: &lambdatest.FakeSTS{Err: lambdatest.APIError("Throttling", "Rate exceeded")}, wantCalls: 1, wantType: "Throttled",
			wantInMsg: []string{"sts:AssumeRole", "Rate exceeded"}},
		{name: "throttled (exception code)", sts: &lambdatest.FakeSTS{Err: lambdatest.APIError("ThrottlingException", "Rate exceeded")}, wantCalls: 1, wantType: "Throttled"},
		{name: "server error", sts: &lambdatest.FakeSTS{Err: lambdatest.HTTPError("InternalError", "try again", 500)},
			wantCalls: 1, wantType: "Unavailable"},
		{name: "function credentials expired", sts: &lambdatest.FakeSTS{Err: lambdatest.APIError("ExpiredToken", "The security token included in the request is expired")},
			wantCalls: 1, wantType: "Unavailable"},
		{name: "timeout", sts: &lambdatest.FakeSTS{Err: fmt.Errorf("operation error STS: AssumeRole: %w", context.DeadlineExceeded)},
			wantCalls: 1, wantType: "Unavailable", wantInMsg: []string{"timed out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.sts
			if f == nil {
				f = &lambdatest.FakeSTS{}
			}
			got, err := newHandler(t, f, externalID, io.Discard).Handle(context.Background(), lambdatest.InputOr(t, tc.input, "launch"))
			lambdatest.Failure(t, got, err, tc.wantType, tc.wantInMsg...)
			if calls := f.Calls(); len(calls) != tc.wantCalls {
				t.Errorf("AssumeRole called %d times, want %d", len(calls), tc.wantCalls)
			}
		})
	}
}

// secrets must never appear in an output, an error or a log line. The
// ExternalId is not a secret in AWS's model, but asgdns keeps it out too.
var secrets = lambdatest.Secrets(externalID)

func TestNoSecretsInOutputOrLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  *lambdatest.FakeSTS
	}{
		{name: "success", sts: &lambdatest.FakeSTS{}},
		{name: "wrong account", sts: &lambdatest.FakeSTS{Account: "999999999999"}},
		{name: "access denied", sts: &lambdatest.FakeSTS{Err: lambdatest.APIError("AccessDenied", "not authorized")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			got, err := newHandler(t, tc.sts, externalID, &logs).Handle(context.Background(), lambdatest.Input(t, "launch"))
			lambdatest.CheckNoSecrets(t, outcome(got, err), err, logs.String(), secrets)
		})
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(t, &lambdatest.FakeSTS{}, "", &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	lambdatest.LogsContain(t, logs.String(), `"execution":"`+execution+`"`, `"instanceId":"`+instanceID+`"`, `"asg":"web-prod"`,
		`"assumedRoleArn":"arn:aws:sts::222222222222:assumed-role/asgdns-dns/`+sessionName+`"`)
}

func BenchmarkHandle(b *testing.B) {
	f := &lambdatest.FakeSTS{}
	h := newHandler(b, f, externalID, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.Reset() // keep the fake's record out of the count
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}
