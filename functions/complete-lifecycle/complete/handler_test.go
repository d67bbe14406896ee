package complete

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// TestMain builds the function (the main package one folder up) for the
// tests that run it through the Lambda Runtime API.
func TestMain(m *testing.M) { lambdatest.Main(m, "..") }

const (
	instanceID  = "i-0a1b2c3d4e5f60718"
	launchToken = "b9784c10-c448-48d1-b6cd-b8489f4ebc34"
	termToken   = "fed1b025-e7b0-43db-b656-7ed399294135"
)

// fakeAutoScaling records what was asked and answers with err (nil: done).
type fakeAutoScaling struct {
	calls []*autoscaling.CompleteLifecycleActionInput
	err   error
}

func (f *fakeAutoScaling) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

func newHandler(f *fakeAutoScaling, onFailure workflow.FailurePolicy, logs io.Writer) *Handler {
	return &Handler{AutoScaling: f, OnFailure: onFailure, Log: slog.New(slog.NewJSONHandler(logs, nil))}
}

// sent is the CompleteLifecycleAction call a case expects.
type sent struct{ hook, token, result string }

// checkSent asserts exactly one call was made, for the fixtures' ASG and
// instance, with the expected hook, token and result.
func checkSent(t *testing.T, calls []*autoscaling.CompleteLifecycleActionInput, want sent) {
	t.Helper()
	if len(calls) != 1 {
		t.Fatalf("CompleteLifecycleAction called %d times, want 1", len(calls))
	}
	in := calls[0]
	got := map[string]string{
		"AutoScalingGroupName": aws.ToString(in.AutoScalingGroupName), "LifecycleHookName": aws.ToString(in.LifecycleHookName),
		"LifecycleActionToken": aws.ToString(in.LifecycleActionToken), "InstanceId": aws.ToString(in.InstanceId),
		"LifecycleActionResult": aws.ToString(in.LifecycleActionResult),
	}
	wantFields := map[string]string{
		"AutoScalingGroupName": "web-prod", "LifecycleHookName": want.hook, "LifecycleActionToken": want.token,
		"InstanceId": instanceID, "LifecycleActionResult": want.result,
	}
	for k, v := range wantFields {
		if got[k] != v {
			t.Errorf("%s %q, want %q", k, got[k], v)
		}
	}
}

// outcome is what a golden file holds: the step's output, or the error Step
// Functions would see.
func outcome(res *workflow.LifecycleResult, err error) any {
	if err != nil {
		return map[string]string{"errorType": workflow.Routed(err), "errorMessage": err.Error()}
	}
	return res
}

// failureInputs are states a Catch leads to CompleteLifecycle with; the rest
// of testdata is the success state of every fixture event.
var failureInputs = []string{"launch-failed", "terminate-failed", "launch-failed-without-instance"}

// TestFixtures runs the state of every fixture event (and of the failures)
// against the golden output and checks what was sent: nothing when the event
// has no lifecycle action token.
func TestFixtures(t *testing.T) {
	want := map[string]*sent{
		"launch":                         {"dns-launch", launchToken, "CONTINUE"},
		"launch-from-warm-pool":          {"dns-launch", "6f4838bc-935e-408b-b484-e02750cd804d", "CONTINUE"},
		"launch-into-warm-pool":          {"dns-launch", "ea44fe9b-a536-49bc-a1e0-c4787d93f748", "CONTINUE"},
		"launch-successful":              nil,
		"terminate":                      {"dns-terminate", termToken, "CONTINUE"},
		"terminate-to-warm-pool":         {"dns-terminate", "85a44d94-ded1-4d64-8a64-a4fcef24ccda", "CONTINUE"},
		"test-notification":              nil,
		"unknown":                        nil,
		"launch-failed":                  {"dns-launch", launchToken, "ABANDON"},
		"terminate-failed":               {"dns-terminate", termToken, "CONTINUE"},
		"launch-failed-without-instance": {"dns-launch", launchToken, "ABANDON"},
	}
	for _, name := range append(lambdatest.Fixtures(t), failureInputs...) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("input %s has no expectation here", name)
			}
			f := &fakeAutoScaling{}
			got, err := newHandler(f, config.DefaultOnFailure, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if w == nil {
				if len(f.calls) != 0 || got.Completed || got.Result != "" {
					t.Errorf("nothing to complete, yet %d calls and %+v", len(f.calls), got)
				}
			} else {
				checkSent(t, f.calls, *w)
				if !got.Completed || string(got.Result) != w.result {
					t.Errorf("got %+v, want completed with %s", got, w.result)
				}
			}
			lambdatest.Golden(t, "testdata/"+name+".golden.json", outcome(got, err))
		})
	}
}

func TestInputsAreFixtureEvents(t *testing.T) {
	events := map[string]string{"launch-failed": "launch", "terminate-failed": "terminate"}
	for _, name := range lambdatest.Fixtures(t) {
		events[name] = name
	}
	// launch-failed-without-instance is left out on purpose: its metadata
	// is broken so that DescribeInstance had failed.
	for input, event := range events {
		t.Run(input, func(t *testing.T) { lambdatest.CheckInputIsEvent(t, input, event) })
	}
}

func setOnFailure(p string) func(map[string]any) {
	return func(s map[string]any) { s["instance"].(map[string]any)["onFailure"] = p }
}

// TestPolicy covers how the result is chosen beyond the fixtures: the ASG's
// own policy, the deployment default, and terminations that always proceed.
func TestPolicy(t *testing.T) {
	cases := []struct {
		name       string
		input      []byte
		envDefault workflow.FailurePolicy
		want       workflow.FailurePolicy
		wantReason string
	}{
		{name: "success ignores the failure policy", input: lambdatest.Input(t, "launch"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS registered: CONTINUE"},
		{name: "deregistered", input: lambdatest.Input(t, "terminate"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS deregistered: CONTINUE"},
		{name: "warm pool move", input: lambdatest.Input(t, "launch-into-warm-pool"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "no DNS work (launching into the warm pool: no record until it enters the group): CONTINUE"},
		{name: "failed launch, ASG says ABANDON", input: lambdatest.Input(t, "launch-failed"), envDefault: workflow.Continue,
			want: workflow.Abandon, wantReason: "DNS work failed (CommandFailed): ABANDON per onFailure policy"},
		{name: "failed launch, ASG says CONTINUE", input: lambdatest.WithState(t, "launch-failed", setOnFailure("CONTINUE")), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (CommandFailed): CONTINUE per onFailure policy"},
		{name: "failed launch without instance, default ABANDON", input: lambdatest.Input(t, "launch-failed-without-instance"), envDefault: workflow.Abandon,
			want: workflow.Abandon, wantReason: "DNS work failed (InvalidConfig): ABANDON per the deployment's default onFailure policy"},
		{name: "failed launch without instance, default CONTINUE", input: lambdatest.Input(t, "launch-failed-without-instance"), envDefault: workflow.Continue,
			want: workflow.Continue, wantReason: "DNS work failed (InvalidConfig): CONTINUE per the deployment's default onFailure policy"},
		{name: "failed launch with a bogus policy in the state", input: lambdatest.WithState(t, "launch-failed", setOnFailure("RETRY")), envDefault: workflow.Continue,
			want: workflow.Continue, wantReason: "per the deployment's default onFailure policy"},
		{name: "failed launch into the warm pool", input: lambdatest.WithState(t, "launch-into-warm-pool", func(s map[string]any) {
			s["error"] = map[string]any{"Error": "Lambda.ServiceException", "Cause": "x"}
		}), envDefault: workflow.Continue, want: workflow.Abandon, wantReason: "DNS work failed (Lambda.ServiceException): ABANDON per onFailure policy"},
		{name: "failed termination, ASG says ABANDON", input: lambdatest.Input(t, "terminate-failed"), envDefault: workflow.Abandon,
			want: workflow.Continue, wantReason: "DNS work failed (CommandFailed): CONTINUE, the instance terminates either way"},
		{name: "failed termination without instance", input: lambdatest.WithState(t, "terminate-failed", func(s map[string]any) { delete(s, "instance") }),
			envDefault: workflow.Abandon, want: workflow.Continue, wantReason: "the instance terminates either way"},
		{name: "failure without a name", input: lambdatest.WithState(t, "launch-failed", func(s map[string]any) { s["error"] = map[string]any{} }),
			envDefault: workflow.Abandon, want: workflow.Abandon, wantReason: "DNS work failed (unknown error): ABANDON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{}
			got, err := newHandler(f, tc.envDefault, io.Discard).Handle(context.Background(), tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 1 || aws.ToString(f.calls[0].LifecycleActionResult) != string(tc.want) {
				t.Fatalf("sent %d calls, want one with %s", len(f.calls), tc.want)
			}
			if !got.Completed || got.AlreadyCompleted || got.Result != tc.want || !strings.Contains(got.Reason, tc.wantReason) {
				t.Errorf("got %+v, want completed with %s and a reason containing %q", got, tc.want, tc.wantReason)
			}
		})
	}
}

// TestNothingToComplete: events without a token are never completed, whatever
// happened to the DNS work, and the reason says so.
func TestNothingToComplete(t *testing.T) {
	cases := []struct {
		name, wantReason string
		input            []byte
	}{
		{name: "launch successful", input: lambdatest.Input(t, "launch-successful"),
			wantReason: "DNS registered; nothing to complete: the event carries no lifecycle action token"},
		{name: "launch successful, DNS failed", input: lambdatest.WithState(t, "launch-successful", func(s map[string]any) {
			s["error"] = map[string]any{"Error": "CommandFailed", "Cause": "x"}
		}), wantReason: "DNS work failed (CommandFailed); nothing to complete"},
		{name: "replay after the hook expired, token removed", input: lambdatest.WithState(t, "launch", func(s map[string]any) {
			delete(s["detail"].(map[string]any), "LifecycleActionToken")
		}), wantReason: "DNS registered; nothing to complete"},
		{name: "test notification", input: lambdatest.Input(t, "test-notification"), wantReason: "Auto Scaling test notification: nothing to do"},
		{name: "unknown event", input: lambdatest.Input(t, "unknown"), wantReason: "is not one asgdns acts on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{}
			got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 0 {
				t.Errorf("CompleteLifecycleAction called %d times, want none", len(f.calls))
			}
			if got.Completed || got.AlreadyCompleted || got.Result != "" || !strings.Contains(got.Reason, tc.wantReason) {
				t.Errorf("got %+v, want nothing completed and a reason containing %q", got, tc.wantReason)
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

// TestAlreadyCompleted: no active lifecycle action means a replay, a second
// execution or an expired hook. The instance has been released already, so
// this is success, reported as such.
func TestAlreadyCompleted(t *testing.T) {
	for _, tc := range []struct {
		name, input, message string
		want                 sent
	}{
		{name: "by instance id", input: "launch", message: "No active Lifecycle Action found with instance ID " + instanceID,
			want: sent{"dns-launch", launchToken, "CONTINUE"}},
		{name: "by token", input: "terminate", message: "No active Lifecycle Action found with token " + termToken,
			want: sent{"dns-terminate", termToken, "CONTINUE"}},
		{name: "after a failed launch", input: "launch-failed", message: "No active Lifecycle Action found with instance ID " + instanceID,
			want: sent{"dns-launch", launchToken, "ABANDON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: apiError("ValidationError", tc.message)}
			var logs bytes.Buffer
			got, err := newHandler(f, workflow.Abandon, &logs).Handle(context.Background(), lambdatest.Input(t, tc.input))
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			checkSent(t, f.calls, tc.want)
			if got.Completed || !got.AlreadyCompleted || string(got.Result) != tc.want.result ||
				!strings.Contains(got.Reason, "already completed or the hook timed out") {
				t.Errorf("got %+v", got)
			}
			if !strings.Contains(logs.String(), tc.message) {
				t.Errorf("logs lack Auto Scaling's answer:\n%s", logs.String())
			}
		})
	}
}

// TestErrors lists every error name CompleteLifecycle can return, with what
// causes it and whether Auto Scaling was called.
func TestErrors(t *testing.T) {
	detail := func(change func(d map[string]any)) []byte {
		return lambdatest.WithState(t, "launch", func(s map[string]any) { change(s["detail"].(map[string]any)) })
	}
	cases := []struct {
		name      string
		input     []byte
		err       error
		wantType  string
		wantInMsg []string
	}{
		{name: "malformed JSON", input: []byte(`{"execution": "x", "state": {`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "wrong source", input: lambdatest.WithState(t, "launch", func(s map[string]any) { s["source"] = "aws.ec2" }),
			wantType: "InvalidEvent", wantInMsg: []string{`source "aws.ec2"`}},
		{name: "transition contradicts detail-type", input: detail(func(d map[string]any) { d["LifecycleTransition"] = workflow.TransitionTerminating }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleTransition"}},
		{name: "token not a UUID", input: detail(func(d map[string]any) { d["LifecycleActionToken"] = "x$(id)" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleActionToken"}},
		{name: "hook name missing", input: detail(func(d map[string]any) { delete(d, "LifecycleHookName") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleHookName"}},
		{name: "ASG missing", input: detail(func(d map[string]any) { delete(d, "AutoScalingGroupName") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.AutoScalingGroupName"}},
		{name: "instance id malformed", input: detail(func(d map[string]any) { d["EC2InstanceId"] = "i-XYZ" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "no such hook", err: apiError("ValidationError", "No Lifecycle Hook found with name dns-launch for group web-prod"),
			wantType: "InvalidEvent", wantInMsg: []string{`detail.LifecycleHookName "dns-launch"`, `ASG "web-prod"`, "No Lifecycle Hook found", "fix:"}},
		{name: "throttled", err: apiError("Throttling", "Rate exceeded"), wantType: "Throttled",
			wantInMsg: []string{"autoscaling:CompleteLifecycleAction web-prod", "Rate exceeded"}},
		{name: "access denied", err: &httpError{smithy.GenericAPIError{Code: "AccessDenied",
			Message: "User: arn:aws:sts::111111111111:assumed-role/asgdns-complete/x is not authorized to perform: autoscaling:CompleteLifecycleAction"}, 403},
			wantType: "AccessDenied", wantInMsg: []string{"not authorized", `fix: allow autoscaling:CompleteLifecycleAction on ASG "web-prod"`}},
		{name: "server error", err: &httpError{smithy.GenericAPIError{Code: "InternalFailure", Message: "internal"}, 500}, wantType: "Unavailable"},
		{name: "resource contention", err: apiError("ResourceContention", "You already have a pending update to an Auto Scaling resource"),
			wantType: "Unavailable"},
		{name: "timeout", err: fmt.Errorf("operation error Auto Scaling: CompleteLifecycleAction: %w", context.DeadlineExceeded),
			wantType: "Unavailable", wantInMsg: []string{"timed out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAutoScaling{err: tc.err}
			input := tc.input
			if input == nil {
				input = lambdatest.Input(t, "launch")
			}
			got, err := newHandler(f, workflow.Abandon, io.Discard).Handle(context.Background(), input)
			if err == nil {
				t.Fatalf("got %+v, want a %s", got, tc.wantType)
			}
			if name := workflow.Routed(err); name != tc.wantType {
				t.Fatalf("error %T (%v), want %s", err, err, tc.wantType)
			}
			if tc.err == nil && len(f.calls) != 0 {
				t.Errorf("CompleteLifecycleAction called after a validation failure")
			}
			if tc.err != nil {
				checkSent(t, f.calls, sent{"dns-launch", launchToken, "CONTINUE"})
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err.Error(), s)
				}
			}
		})
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, &logs).Handle(context.Background(), lambdatest.Input(t, "launch-failed")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"execution":"0d5c1f6e-asgdns-test-execution"`, `"instanceId":"` + instanceID + `"`,
		`"asg":"web-prod"`, `"result":"ABANDON"`, `"reason":"DNS work failed (CommandFailed): ABANDON per onFailure policy"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

// autoScalingEndpoint answers CompleteLifecycleAction in Auto Scaling's XML
// when the form carries exactly want, and fails the request otherwise, so the
// test sees what went over the wire.
func autoScalingEndpoint(t *testing.T, want url.Values) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		for k := range want {
			if r.Form.Get(k) != want.Get(k) {
				http.Error(w, fmt.Sprintf("%s is %q, want %q", k, r.Form.Get(k), want.Get(k)), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">`+
			`<CompleteLifecycleActionResult/><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestThroughLambdaRuntime runs the real main through aws-lambda-go's own
// invocation path against a fake Runtime API, with the real SDK talking to a
// fake Auto Scaling over HTTP, and checks what Step Functions would see.
func TestThroughLambdaRuntime(t *testing.T) {
	wire := func(token, result string) url.Values {
		return url.Values{"Action": {"CompleteLifecycleAction"}, "AutoScalingGroupName": {"web-prod"}, "LifecycleHookName": {"dns-launch"},
			"LifecycleActionToken": {token}, "InstanceId": {instanceID}, "LifecycleActionResult": {result}}
	}
	for _, tc := range []struct {
		name, input, result string
		env                 []string
	}{
		{name: "success", input: "launch", result: "CONTINUE"},
		{name: "failed launch uses the ASG's policy", input: "launch-failed", result: "ABANDON", env: []string{config.EnvOnFailure + "=CONTINUE"}},
		{name: "failed launch without instance uses the default", input: "launch-failed-without-instance", result: "CONTINUE",
			env: []string{config.EnvOnFailure + "=CONTINUE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := autoScalingEndpoint(t, wire(launchToken, tc.result))
			res := lambdatest.Invoke(t, lambdatest.Input(t, tc.input), append(tc.env, lambdatest.SDKEnv(srv.URL)...)...)
			if res.ErrorType != "" {
				t.Fatalf("error %s: %s", res.ErrorType, res.ErrorMessage)
			}
			var got workflow.LifecycleResult
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Completed || string(got.Result) != tc.result {
				t.Errorf("unexpected result %s", res.Payload)
			}
		})
	}
	t.Run("no active lifecycle action is success", func(t *testing.T) {
		as := lambdatest.ErrorServer(t, http.StatusBadRequest, "ValidationError", "No active Lifecycle Action found with instance ID "+instanceID)
		res := lambdatest.Invoke(t, lambdatest.Input(t, "launch"), as.Env()...)
		if res.ErrorType != "" {
			t.Fatalf("error %s: %s", res.ErrorType, res.ErrorMessage)
		}
		var got workflow.LifecycleResult
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got.Completed || !got.AlreadyCompleted || got.Result != workflow.Continue {
			t.Errorf("unexpected result %s", res.Payload)
		}
		if calls := as.Calls(); len(calls) != 1 || calls[0] != "CompleteLifecycleAction" {
			t.Errorf("calls %v, want one CompleteLifecycleAction", calls)
		}
	})
	t.Run("no token: nothing sent", func(t *testing.T) {
		as := lambdatest.ErrorServer(t, http.StatusInternalServerError, "InternalFailure", "unexpected call")
		res := lambdatest.Invoke(t, lambdatest.Input(t, "launch-successful"), as.Env()...)
		if res.ErrorType != "" || !strings.Contains(string(res.Payload), `"completed":false`) {
			t.Fatalf("got %+v", res)
		}
		if calls := as.Calls(); len(calls) != 0 {
			t.Errorf("Auto Scaling called without a token: %v", calls)
		}
	})
	for _, tc := range []struct {
		name, code, message, want string
		status                    int
		input                     string
	}{
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "invalid event", input: `{"execution":"x","state":{"source":"aws.ec2"}}`, want: "InvalidEvent"},
		{name: "no such hook", code: "ValidationError", message: "No Lifecycle Hook found with name dns-launch", status: 400, want: "InvalidEvent"},
		{name: "throttled", code: "Throttling", message: "Rate exceeded", status: 400, want: "Throttled"},
		{name: "access denied", code: "AccessDenied", message: "not authorized", status: 403, want: "AccessDenied"},
		{name: "server error", code: "InternalFailure", message: "internal", status: 500, want: "Unavailable"},
		{name: "resource contention", code: "ResourceContention", message: "pending update", status: 500, want: "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			as := lambdatest.ErrorServer(t, status, tc.code, tc.message)
			input := []byte(tc.input)
			if tc.input == "" {
				input = lambdatest.Input(t, "launch")
			}
			res := lambdatest.Invoke(t, input, as.Env()...)
			if res.ErrorType != tc.want {
				t.Fatalf("errorType %q (%s), want %q", res.ErrorType, res.ErrorMessage, tc.want)
			}
			if calls := as.Calls(); tc.code == "" && len(calls) != 0 {
				t.Errorf("Auto Scaling called after a validation failure: %v", calls)
			}
		})
	}
	t.Run("invalid default policy fails init", func(t *testing.T) {
		res := lambdatest.Invoke(t, lambdatest.Input(t, "launch"), config.EnvOnFailure+"=RETRY")
		if !res.InitError || !strings.Contains(res.ErrorMessage, config.EnvOnFailure) {
			t.Fatalf("want an init failure naming %s, got %+v", config.EnvOnFailure, res)
		}
	})
}

func BenchmarkHandle(b *testing.B) {
	f := &fakeAutoScaling{}
	h := newHandler(f, workflow.Abandon, io.Discard)
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

// TestFailureCause: the Fail state's cause names what failed and what became
// of the instance, whether the caught cause is a Lambda error or plain text.
func TestFailureCause(t *testing.T) {
	for _, tc := range []struct{ caught, want string }{
		{`{"errorMessage":"zone corp.example.com is not served; fix: serve it","errorType":"CommandFailed"}`,
			`zone corp.example.com is not served; fix: serve it. For instance i-0a1b2c3d4e5f60718 of ASG "web-prod": DNS work failed (States.Timeout): ABANDON`},
		{"Task timed out after 30 seconds", `Task timed out after 30 seconds. For instance i-0a1b2c3d4e5f60718 of ASG "web-prod"`},
	} {
		input := lambdatest.WithState(t, "launch", func(s map[string]any) {
			s["error"] = map[string]any{"Error": "States.Timeout", "Cause": tc.caught}
		})
		got, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, io.Discard).Handle(context.Background(), input)
		if err != nil {
			t.Fatal(err)
		}
		if got.Error != "States.Timeout" || !strings.HasPrefix(got.Cause, tc.want) {
			t.Errorf("error %q cause %q, want %q…", got.Error, got.Cause, tc.want)
		}
	}
	ok, err := newHandler(&fakeAutoScaling{}, workflow.Abandon, io.Discard).Handle(context.Background(), lambdatest.Input(t, "launch"))
	if err != nil || ok.Error != "" || ok.Cause != "" {
		t.Errorf("success carries a failure: %+v %v", ok, err)
	}
}
