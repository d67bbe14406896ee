package runtimecheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/functions/hold-instance/hold"
	"github.com/asgdns/asgdns/functions/send-command/send"
	"github.com/asgdns/asgdns/functions/wait-for-command/wait"
	"github.com/asgdns/asgdns/local/lambdahost"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

// The functions, by their folder under functions/.
const (
	assumeRole        = "assume-role"
	completeLifecycle = "complete-lifecycle"
	describeInstance  = "describe-instance"
	holdInstance      = "hold-instance"
	sendCommand       = "send-command"
	waitForCommand    = "wait-for-command"
)

// What the functions' fixtures hold (testdata/*.input.json).
const (
	fixtureInstance = "i-0a1b2c3d4e5f60718"
	execution       = "0d5c1f6e-asgdns-test-execution"
	// sessionName is what crossaccount.Names derives for the fixtures.
	sessionName = "asgdns-" + fixtureInstance + "-" + execution
	launchToken = "b9784c10-c448-48d1-b6cd-b8489f4ebc34"
	dc1         = "i-0123456789abcdef0"
	commandID   = "4f1c2a9e-7b3d-4e6f-9a8b-0c1d2e3f4a5b" // SendCommand's answer, WaitForCommand's input
	fqdn        = "web-prod-i-0a1b2c3d4e5f60718.corp.example.com"
	owner       = "111111111111/i-0ffffffffffffffff" // another instance of the account
	pendingWait = "Pending:Wait"
	noAction    = "No active Lifecycle Action found with instance ID " + fixtureInstance
)

// The functions' configuration.
const (
	roleARN = "arn:aws:iam::222222222222:role/asgdns-dns"
	// The ExternalIds AssumeRole and SendCommand/WaitForCommand are given.
	assumeExternalID  = "asgdns-ext-7f3a9c21"
	commandExternalID = "asgdns-external-id-test"
	// hooks names the lifecycle hooks the fixture events name.
	hooks = config.EnvHookNames + "=dns-launch,dns-terminate"
)

var (
	describeEnv = []string{hooks, config.EnvZone + "=apps.example.com",
		config.EnvDCInstanceIDs + "=i-0123456789abcdef0,i-0fedcba9876543210", config.EnvDocumentName + "=asgdns-dns-record"}
	assumeEnv = []string{config.EnvRoleARN + "=" + roleARN, config.EnvExternalID + "=" + assumeExternalID}
	sendEnv   = []string{config.EnvRoleARN + "=" + roleARN, config.EnvExternalID + "=" + commandExternalID,
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=DEBUG"}
	waitEnv = []string{config.EnvRoleARN + "=" + roleARN, config.EnvExternalID + "=" + commandExternalID, hooks,
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=DEBUG"}
)

// Key material as a DC's tools can print it (WaitForCommand redacts it).
const (
	// The secret of a malformed key, as nsupdate quotes it back.
	badKeySecret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	// What nsupdate prints of that malformed key.
	badKeyStderr = "could not create key from hmac-sha256:asgdns:" + badKeySecret + "!!!: bad base64 encoding\n"
	// An hmac-sha256 secret as dnssec-keygen / tsig-keygen write it.
	tsigSecret = "q3Jx9vZt1Lk0pQ2mN8bR4sW7yE6uH5gC+aD/fT0iVnM="
	// A 128-bit key in hex.
	hexKey = "8f14e45fceea167a5a36dedd4bea2543"
	// A secret too short and too plain for the generic rule.
	shortSecret = "hunter2hunter2"
)

// secrets must never appear in a payload, an errorMessage or a log line:
// the fake STS's credentials, the ExternalIds (not secret in AWS's model,
// but asgdns keeps them out too) and key material.
var secrets = []string{lambdatest.FakeAccessKeyID, lambdatest.FakeSecretAccessKey, lambdatest.FakeSessionToken,
	assumeExternalID, commandExternalID, badKeySecret, tsigSecret, hexKey, shortSecret}

// anyCalls: the case's check asserts on the calls itself.
const anyCalls = "*"

// runtimeCase is one invocation of one function's real bootstrap.
type runtimeCase struct {
	fn   string // the function: its folder under functions/
	name string
	// input is a Task payload in the function's testdata (launch:
	// testdata/launch.input.json), changed by state if set; or, starting
	// with "{", the event itself.
	input string
	state func(state map[string]any)
	// env is the function's configuration, KEY=VALUE (a later one wins).
	env []string
	// aws, if set, is the AWS endpoint the function's SDK is pointed at.
	aws *awsFake

	// errType is the errorType the function reports ("": it succeeds),
	// with inMsg in its errorMessage.
	errType string
	inMsg   []string
	// initFails names the setting an init failure's log names: the
	// process exits at cold start (Runtime.ExitError). notInLogs must not
	// be logged (a setting's bad value).
	initFails string
	notInLogs []string
	// calls are the AWS operations called, in order, comma-separated;
	// checked whenever aws is set.
	calls string
	// check asserts on the rest: the payload, the requests, the logs.
	check func(t *testing.T, r result)
}

// TestThroughLambdaRuntime runs each function's real main through
// aws-lambda-go's own invocation path under lambdahost's Runtime API, with
// the real SDK talking to a fake AWS endpoint over HTTP, and checks what
// Step Functions would see.
func TestThroughLambdaRuntime(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.fn+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			event := []byte(tc.input)
			if !strings.HasPrefix(tc.input, "{") {
				event = input(t, tc.fn, tc.input, tc.state)
			}
			r := invoke(t, tc.fn, event, tc.env, tc.aws)
			for _, s := range secrets {
				for what, text := range map[string]string{"payload": string(r.payload), "errorMessage": r.errMsg, "logs": r.logs} {
					if strings.Contains(text, s) {
						t.Errorf("%s contains %q:\n%s", what, s, text)
					}
				}
			}
			switch {
			case tc.initFails != "":
				if r.errType != lambdahost.ErrorTypeExit || !strings.Contains(r.logs, "invalid configuration") || !strings.Contains(r.logs, tc.initFails) {
					t.Fatalf("want an init failure naming %s, got %s %q %s; logs:\n%s", tc.initFails, r.errType, r.errMsg, r.payload, r.logs)
				}
				for _, s := range tc.notInLogs {
					if strings.Contains(r.logs, s) {
						t.Errorf("logs repeat %q:\n%s", s, r.logs)
					}
				}
			case r.errType != tc.errType:
				t.Fatalf("errorType %q (%s), want %q; payload %s", r.errType, r.errMsg, tc.errType, r.payload)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(r.errMsg, s) {
					t.Errorf("errorMessage %q lacks %q", r.errMsg, s)
				}
			}
			if tc.aws != nil && tc.calls != anyCalls {
				if calls := strings.Join(r.calls(), ","); calls != tc.calls {
					t.Errorf("calls %q, want %q", calls, tc.calls)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func cases() []runtimeCase {
	var cs []runtimeCase
	add := func(more ...runtimeCase) { cs = append(cs, more...) }

	// DescribeInstance.
	add(runtimeCase{fn: describeInstance, name: "success", input: "launch", env: describeEnv,
		aws: &awsFake{answers: map[string]string{"DescribeAutoScalingInstances": groupAnswer(pendingWait), "DescribeInstances": instancesAnswer},
			status: http.StatusBadRequest, code: "UnexpectedRequest"},
		calls: "DescribeAutoScalingInstances,DescribeInstances",
		check: func(t *testing.T, r result) {
			var got workflow.InstanceResult
			r.decode(t, &got)
			if got.Record == nil || got.Record.FQDN != fqdn || got.PrivateIP != "10.20.30.40" || got.LifecycleState != pendingWait || !got.Complete {
				t.Errorf("unexpected result %s", r.payload)
			}
			// Both services were asked about the fixture instance only.
			if sent := r.sent("DescribeAutoScalingInstances"); len(sent) != 1 || sent[0].form.Get("InstanceIds.member.1") != fixtureInstance {
				t.Errorf("DescribeAutoScalingInstances sent %v", sent)
			}
			if sent := r.sent("DescribeInstances"); len(sent) != 1 || sent[0].form.Get("InstanceId.1") != fixtureInstance {
				t.Errorf("DescribeInstances sent %v", sent)
			}
		}})
	add(runtimeCase{fn: describeInstance, name: "launch outlived its instance", input: "launch-outlived", env: describeEnv,
		aws:   &awsFake{answers: map[string]string{"DescribeAutoScalingInstances": groupAnswer("Terminating:Wait")}, code: "InternalError", message: "unexpected call"},
		calls: "DescribeAutoScalingInstances",
		check: func(t *testing.T, r result) {
			var got workflow.InstanceResult
			r.decode(t, &got)
			if got.Action != workflow.ActionDeregister || got.Complete || got.Record == nil || got.LifecycleState != "Terminating:Wait" {
				t.Errorf("unexpected result %s", r.payload)
			}
		}})
	for _, tc := range []struct {
		name, input, code, want, calls string
		status                         int
	}{
		{name: "invalid event", input: `{"execution":"x","state":{"source":"aws.ec2"}}`, want: "InvalidEvent"},
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "throttled", code: "RequestLimitExceeded", status: 503, want: "Throttled", calls: "DescribeAutoScalingInstances,DescribeInstances"},
		{name: "access denied", code: "UnauthorizedOperation", status: 403, want: "AccessDenied", calls: "DescribeAutoScalingInstances,DescribeInstances"},
		{name: "not found", code: "InvalidInstanceID.NotFound", status: 400, want: "InstanceNotFound", calls: "DescribeAutoScalingInstances,DescribeInstances"},
		{name: "server error", code: "InternalError", status: 500, want: "Unavailable", calls: "DescribeAutoScalingInstances,DescribeInstances"},
		{name: "group throttled", code: "Throttling", status: 400, want: "Throttled", calls: "DescribeAutoScalingInstances"},
		{name: "group access denied", code: "AccessDenied", status: 403, want: "AccessDenied", calls: "DescribeAutoScalingInstances"},
	} {
		answers := map[string]string{"DescribeAutoScalingInstances": groupAnswer(pendingWait)}
		if strings.HasPrefix(tc.name, "group") {
			answers = nil
		}
		add(runtimeCase{fn: describeInstance, name: tc.name, input: or(tc.input, "launch"), env: describeEnv,
			aws: &awsFake{answers: answers, status: tc.status, code: tc.code}, errType: tc.want, calls: tc.calls})
	}
	// The deployment's default hook names are asgdns-launch and
	// asgdns-terminate: the fixtures' dns-launch is someone else's.
	add(runtimeCase{fn: describeInstance, name: "default hook names", input: "launch", env: without(describeEnv, hooks),
		aws: &awsFake{code: "InternalError", message: "unexpected call"}, calls: "",
		check: func(t *testing.T, r result) {
			if !strings.Contains(string(r.payload), `"action":"none"`) ||
				!strings.Contains(string(r.payload), `lifecycle hook \"dns-launch\" is not one of asgdns's (asgdns-launch, asgdns-terminate)`) {
				t.Errorf("payload %s", r.payload)
			}
		}})
	add(
		runtimeCase{fn: describeInstance, name: "missing configuration fails init", input: "launch",
			env: append(slices.Clone(describeEnv), config.EnvZone+"="), initFails: config.EnvZone},
		runtimeCase{fn: describeInstance, name: "invalid hook names fail init", input: "launch",
			env: append(slices.Clone(describeEnv), config.EnvHookNames+"=dns-launch,dns terminate"), initFails: config.EnvHookNames},
	)

	// AssumeRole.
	add(runtimeCase{fn: assumeRole, name: "success", input: "launch", env: assumeEnv,
		aws:   &awsFake{answers: map[string]string{"AssumeRole": lambdatest.AssumeRoleResponse(roleARN, sessionName)}, code: "InternalFailure", message: "unexpected call"},
		calls: "AssumeRole",
		check: func(t *testing.T, r result) {
			var got workflow.SessionResult
			r.decode(t, &got)
			if got.RoleARN != roleARN || got.Account != "222222222222" || got.SessionName != sessionName ||
				got.AssumedRoleARN != "arn:aws:sts::222222222222:assumed-role/asgdns-dns/"+sessionName || got.Expires.IsZero() {
				t.Errorf("unexpected result %s", r.payload)
			}
		}})
	add(runtimeCase{fn: assumeRole, name: "session in the wrong account", input: "launch", env: assumeEnv,
		aws: &awsFake{answers: map[string]string{"AssumeRole": lambdatest.AssumeRoleResponse("arn:aws:iam::999999999999:role/asgdns-dns", sessionName)},
			code: "InternalFailure", message: "unexpected call"},
		errType: "AccessDenied", inMsg: []string{"999999999999"}, calls: "AssumeRole"})
	for _, tc := range []struct {
		name, input, code, want string
		status                  int
	}{
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "no DNS work", input: `{"execution":"x","state":{"instance":{"action":"none","instanceId":"i-0a1b2c3d4e5f60718"}}}`, want: "InvalidEvent"},
		{name: "trust refused", code: "AccessDenied", status: 403, want: "AccessDenied"},
		{name: "region disabled", code: "RegionDisabledException", status: 403, want: "AccessDenied"},
		{name: "throttled", code: "Throttling", status: 400, want: "Throttled"},
		{name: "server error", code: "InternalFailure", status: 500, want: "Unavailable"},
		{name: "expired token", code: "ExpiredToken", status: 400, want: "Unavailable"},
	} {
		calls := "AssumeRole" // once: the function's SDK makes one attempt
		if tc.code == "" {
			calls = "" // a validation failure calls nothing
		}
		add(runtimeCase{fn: assumeRole, name: tc.name, input: or(tc.input, "launch"), env: assumeEnv,
			aws: &awsFake{status: tc.status, code: tc.code}, errType: tc.want, calls: calls})
	}
	add(
		runtimeCase{fn: assumeRole, name: "missing role ARN fails init", input: "launch",
			env: []string{config.EnvRoleARN + "="}, initFails: config.EnvRoleARN},
		runtimeCase{fn: assumeRole, name: "invalid external id fails init", input: "launch",
			env: []string{config.EnvRoleARN + "=" + roleARN, config.EnvExternalID + "=bad id!"}, initFails: config.EnvExternalID, notInLogs: []string{"bad id!"}},
	)

	// CompleteLifecycle.
	for _, tc := range []struct {
		name, input, result string
		state               func(map[string]any)
		env                 []string
	}{
		{name: "success", input: "launch", result: "CONTINUE"},
		{name: "hold expired: the ASG's policy", input: "launch-failed", result: "ABANDON", env: []string{config.EnvOnFailure + "=CONTINUE"}},
		{name: "hold expired without instance: the default", input: "launch-failed", result: "CONTINUE", env: []string{config.EnvOnFailure + "=CONTINUE"},
			state: func(s map[string]any) { delete(s, "instance") }},
		{name: "terminal: never replaced", input: "launch-failed-without-instance", result: "CONTINUE", env: []string{config.EnvOnFailure + "=ABANDON"}},
	} {
		add(runtimeCase{fn: completeLifecycle, name: tc.name, input: tc.input, state: tc.state, env: append(tc.env, hooks),
			aws:   &awsFake{answers: map[string]string{"CompleteLifecycleAction": completeAnswer}, status: http.StatusBadRequest, code: "UnexpectedRequest"},
			calls: "CompleteLifecycleAction",
			check: func(t *testing.T, r result) {
				var got workflow.LifecycleResult
				r.decode(t, &got)
				if !got.Completed || string(got.Result) != tc.result {
					t.Errorf("unexpected result %s", r.payload)
				}
				want := map[string]string{"AutoScalingGroupName": "web-prod", "LifecycleHookName": "dns-launch",
					"LifecycleActionToken": launchToken, "InstanceId": fixtureInstance, "LifecycleActionResult": tc.result}
				for _, sent := range r.sent("CompleteLifecycleAction") {
					for k, v := range want {
						if sent.form.Get(k) != v {
							t.Errorf("CompleteLifecycleAction sent %s=%q, want %q", k, sent.form.Get(k), v)
						}
					}
				}
			}})
	}
	add(runtimeCase{fn: completeLifecycle, name: "no active lifecycle action, instance in service: success", input: "launch", env: []string{hooks},
		aws:   &awsFake{answers: map[string]string{"DescribeAutoScalingInstances": groupAnswer("InService")}, status: http.StatusBadRequest, code: "ValidationError", message: noAction},
		calls: "CompleteLifecycleAction,DescribeAutoScalingInstances",
		check: func(t *testing.T, r result) {
			var got workflow.LifecycleResult
			r.decode(t, &got)
			if got.Completed || !got.AlreadyCompleted || got.Result != workflow.Continue {
				t.Errorf("unexpected result %s", r.payload)
			}
		}})
	add(runtimeCase{fn: completeLifecycle, name: "no active lifecycle action, instance terminating: InstanceNotFound", input: "launch", env: []string{hooks},
		aws:     &awsFake{answers: map[string]string{"DescribeAutoScalingInstances": groupAnswer("Terminating:Wait")}, status: http.StatusBadRequest, code: "ValidationError", message: noAction},
		errType: "InstanceNotFound", inMsg: []string{"Terminating:Wait"}, calls: "CompleteLifecycleAction,DescribeAutoScalingInstances"})
	for _, tc := range []struct {
		name, input string
		env         []string
	}{
		{name: "no token: nothing sent", input: "launch-no-token", env: []string{hooks}},
		{name: "undone launch: nothing sent", input: "launch-undone", env: []string{hooks}},
		// The deployment's default hook names: dns-launch is not asgdns's.
		{name: "another team's hook: nothing sent", input: "launch"},
	} {
		add(runtimeCase{fn: completeLifecycle, name: tc.name, input: tc.input, env: tc.env,
			aws: &awsFake{code: "InternalFailure", message: "unexpected call"}, calls: "",
			check: func(t *testing.T, r result) {
				if !strings.Contains(string(r.payload), `"completed":false`) || !strings.Contains(string(r.payload), `"alreadyCompleted":false`) {
					t.Errorf("payload %s", r.payload)
				}
			}})
	}
	for _, tc := range []struct {
		name, input, code, message, want string
		status                           int
	}{
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "invalid event", input: `{"execution":"x","state":{"source":"aws.ec2"}}`, want: "InvalidEvent"},
		{name: "no such hook", code: "ValidationError", message: "No Lifecycle Hook found with name dns-launch", status: 400, want: "InvalidEvent"},
		{name: "throttled", code: "Throttling", message: "Rate exceeded", status: 400, want: "Throttled"},
		{name: "access denied", code: "AccessDenied", message: "not authorized", status: 403, want: "AccessDenied"},
		{name: "server error", code: "InternalFailure", message: "internal", status: 500, want: "Unavailable"},
		{name: "resource contention", code: "ResourceContention", message: "pending update", status: 500, want: "Unavailable"},
	} {
		calls := "CompleteLifecycleAction"
		if tc.code == "" {
			calls = ""
		}
		add(runtimeCase{fn: completeLifecycle, name: tc.name, input: or(tc.input, "launch"), env: []string{hooks},
			aws: &awsFake{status: tc.status, code: tc.code, message: tc.message}, errType: tc.want, calls: calls})
	}
	add(
		runtimeCase{fn: completeLifecycle, name: "invalid default policy fails init", input: "launch",
			env: []string{config.EnvOnFailure + "=RETRY"}, initFails: config.EnvOnFailure},
		runtimeCase{fn: completeLifecycle, name: "invalid hook names fail init", input: "launch",
			env: []string{config.EnvHookNames + "=dns-launch;x"}, initFails: config.EnvHookNames},
	)
	// Logging as Lambda configures it (LogFormat JSON), the real binary
	// writes the metrics document on one line of its own output.
	add(runtimeCase{fn: completeLifecycle, name: "metrics", input: "launch-failed",
		env: []string{hooks, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO"},
		aws: &awsFake{answers: map[string]string{"CompleteLifecycleAction": completeAnswer}, status: http.StatusBadRequest, code: "UnexpectedRequest"},
		// launch-failed: ABANDON, the fixture ASG's onFailure policy.
		calls: "CompleteLifecycleAction",
		check: func(t *testing.T, r result) {
			data := emftest.Data(t, []byte(r.logs))
			if len(emftest.Find(data, "Completed")) != 2 || len(emftest.Find(data, "Failures")) != 2 {
				t.Fatalf("got %v in:\n%s", data, r.logs)
			}
			for _, d := range emftest.Find(data, "Abandoned") {
				if d.Value != 1 {
					t.Errorf("%s, want 1", d)
				}
			}
			if !strings.Contains(r.logs, `"message":"metrics"`) {
				t.Errorf("not Lambda's JSON format:\n%s", r.logs)
			}
		}})

	// HoldInstance.
	add(runtimeCase{fn: holdInstance, name: "held", input: "launch-unavailable", env: []string{hooks},
		aws:   &awsFake{answers: map[string]string{"RecordLifecycleActionHeartbeat": heartbeatAnswer}, code: "InternalFailure", message: "unexpected"},
		calls: "RecordLifecycleActionHeartbeat",
		check: func(t *testing.T, r result) {
			var got workflow.HoldResult
			r.decode(t, &got)
			// The real clock and jitter: the first wait is 5-10 s.
			if got.Holds != 1 || got.Expired || got.WaitSeconds < 5 || got.WaitSeconds > 10 || got.BudgetSeconds != 1800 ||
				got.Heartbeat != hold.HeartbeatRecorded || time.Since(got.Since) > time.Minute {
				t.Errorf("unexpected result %+v", got)
			}
		}})
	add(runtimeCase{fn: holdInstance, name: "budget from the stack", input: "launch-expired",
		// Held since long before this test ran: past any budget.
		state: func(s map[string]any) { s["hold"].(map[string]any)["since"] = "2000-01-01T00:00:00Z" },
		env:   []string{hooks, hold.EnvHoldBudget + "=600"},
		aws:   &awsFake{answers: map[string]string{"RecordLifecycleActionHeartbeat": heartbeatAnswer}, code: "InternalFailure", message: "unexpected"},
		// The heartbeat still goes out: the hook holds the instance while
		// the execution releases it.
		calls: "RecordLifecycleActionHeartbeat",
		check: func(t *testing.T, r result) {
			var got workflow.HoldResult
			r.decode(t, &got)
			// One hold more than the input's.
			var in struct {
				State struct {
					Hold workflow.HoldResult `json:"hold"`
				} `json:"state"`
			}
			if err := json.Unmarshal(input(t, holdInstance, "launch-expired", nil), &in); err != nil || in.State.Hold.Holds == 0 {
				t.Fatalf("launch-expired's hold: %+v, %v", in.State.Hold, err)
			}
			if !got.Expired || got.BudgetSeconds != 600 || got.WaitSeconds != 0 || got.Holds != in.State.Hold.Holds+1 {
				t.Errorf("unexpected result %+v, want hold %d", got, in.State.Hold.Holds+1)
			}
		}})
	add(runtimeCase{fn: holdInstance, name: "action ended", input: "launch-unavailable", env: []string{hooks},
		aws:   &awsFake{status: http.StatusBadRequest, code: "ValidationError", message: noAction},
		calls: "RecordLifecycleActionHeartbeat",
		check: func(t *testing.T, r result) {
			var got workflow.HoldResult
			r.decode(t, &got)
			if got.Heartbeat != hold.HeartbeatGone || got.Expired {
				t.Errorf("unexpected result %+v", got)
			}
		}})
	// With the deployment's default hook names, dns-launch is not asgdns's.
	add(runtimeCase{fn: holdInstance, name: "another team's hook is not touched", input: "launch-unavailable",
		aws: &awsFake{code: "InternalFailure", message: "unexpected call"}, calls: "",
		check: func(t *testing.T, r result) {
			var got workflow.HoldResult
			r.decode(t, &got)
			if got.Heartbeat != hold.HeartbeatNone {
				t.Errorf("unexpected result %+v", got)
			}
		}})
	for _, tc := range []struct {
		name, input, code, want string
		status                  int
	}{
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "no backoff", input: `{"execution":"x","state":{}}`, want: "InvalidConfig"},
		{name: "throttled", code: "Throttling", status: 400, want: "Throttled"},
		{name: "access denied", code: "AccessDenied", status: 403, want: "AccessDenied"},
		{name: "server error", code: "InternalFailure", status: 500, want: "Unavailable"},
	} {
		calls := "RecordLifecycleActionHeartbeat"
		if tc.code == "" {
			calls = ""
		}
		add(runtimeCase{fn: holdInstance, name: tc.name, input: or(tc.input, "launch-unavailable"), env: []string{hooks},
			aws: &awsFake{status: tc.status, code: tc.code}, errType: tc.want, calls: calls})
	}
	add(
		runtimeCase{fn: holdInstance, name: "bad budget fails init", input: "launch-unavailable",
			env: []string{hold.EnvHoldBudget + "=30m"}, initFails: hold.EnvHoldBudget},
		runtimeCase{fn: holdInstance, name: "bad hook names fail init", input: "launch-unavailable",
			env: []string{config.EnvHookNames + "=dns launch"}, initFails: config.EnvHookNames},
	)
	// Logging as Lambda configures it, the metrics document is on a line of
	// its own.
	add(runtimeCase{fn: holdInstance, name: "metrics", input: "launch-unavailable",
		env:   []string{hooks, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO"},
		aws:   &awsFake{answers: map[string]string{"RecordLifecycleActionHeartbeat": heartbeatAnswer}, code: "InternalFailure", message: "unexpected"},
		calls: "RecordLifecycleActionHeartbeat",
		check: func(t *testing.T, r result) {
			data := emftest.Data(t, []byte(r.logs))
			if len(emftest.Find(data, "HeldInstances")) != 2 || len(emftest.Find(data, "HeldSeconds")) != 2 {
				t.Fatalf("got %v in:\n%s", data, r.logs)
			}
		}})

	// SendCommand: the real SDK assumes the role, then calls SSM.
	assumed := lambdatest.AssumeRoleResponse(roleARN, sessionName)
	add(runtimeCase{fn: sendCommand, name: "sent", input: "launch", env: sendEnv,
		aws:   &awsFake{answers: map[string]string{"AssumeRole": assumed, "SendCommand": sendCommandAnswer}, code: "InternalServerError"},
		calls: "AssumeRole,SendCommand",
		check: func(t *testing.T, r result) {
			var got workflow.CommandResult
			r.decode(t, &got)
			if got.CommandID != commandID || got.DCInstanceID != dc1 || got.Attempt != 1 || got.Step != workflow.StepWindows || got.SentAt.IsZero() {
				t.Errorf("unexpected result %s", r.payload)
			}
			// The command is counted on a line of Lambda's JSON log.
			if sentTo := emftest.Find(emftest.Data(t, []byte(r.logs)), send.MetricCommandsSent); len(sentTo) != 1 || sentTo[0].Dimensions[send.DimensionDC] != dc1 {
				t.Errorf("CommandsSent %v, want one for %s in:\n%s", sentTo, dc1, r.logs)
			}
			// SSM must be signed with the assumed shared-services session,
			// STS with the function's own credentials.
			for _, sent := range r.sent("SendCommand") {
				if !strings.Contains(sent.auth, "Credential="+lambdatest.FakeAccessKeyID+"/") || sent.token != lambdatest.FakeSessionToken {
					t.Errorf("SendCommand was not signed with the assumed role: %q", sent.auth)
				}
			}
			for _, sent := range r.sent("AssumeRole") {
				if !strings.Contains(sent.auth, "Credential=AKIDLAMBDATEST/") {
					t.Errorf("AssumeRole was not signed with the function's credentials: %q", sent.auth)
				}
			}
			if !strings.Contains(r.logs, `"commandId":"`+commandID+`"`) {
				t.Errorf("process output lacks the command log line:\n%s", r.logs)
			}
		}})
	for _, tc := range []struct {
		name, input, code, want, calls string
		state                          func(map[string]any)
		status                         int
		noAssumeRole                   bool
	}{
		{name: "throttled", code: "ThrottlingException", status: 400, want: "Throttled", calls: "AssumeRole,SendCommand"},
		{name: "document missing", code: "InvalidDocument", status: 400, want: "CommandRejected", calls: "AssumeRole,SendCommand"},
		{name: "server error", code: "InternalServerError", status: 500, want: "Unavailable", calls: "AssumeRole,SendCommand"},
		{name: "no DC online", code: "InvalidInstanceId", status: 400, want: "Unavailable", calls: "AssumeRole,SendCommand,SendCommand"},
		{name: "role refused", code: "AccessDenied", status: 403, noAssumeRole: true, want: "AccessDenied", calls: "AssumeRole"},
		{name: "nothing to send", state: func(s map[string]any) { s["instance"].(map[string]any)["action"] = "none" }, want: "InvalidEvent"},
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
	} {
		answers := map[string]string{"AssumeRole": assumed}
		if tc.noAssumeRole {
			answers = nil
		}
		add(runtimeCase{fn: sendCommand, name: tc.name, input: or(tc.input, "launch"), state: tc.state, env: sendEnv,
			aws: &awsFake{answers: answers, status: tc.status, code: tc.code}, errType: tc.want, calls: tc.calls})
	}
	add(runtimeCase{fn: sendCommand, name: "missing role fails init", input: "launch",
		env: []string{config.EnvRoleARN + "="}, initFails: config.EnvRoleARN})

	// WaitForCommand: the real SDK assumes the role, then polls SSM.
	add(runtimeCase{fn: waitForCommand, name: "succeeded", input: "launch", env: waitEnv,
		aws: &awsFake{answers: map[string]string{"AssumeRole": assumed,
			"GetCommandInvocation": invocationBody("Success", "Success", 0, resultLine("created", "")+"\n", badKeyStderr)},
			code: "InternalServerError"},
		calls: "AssumeRole,GetCommandInvocation",
		check: func(t *testing.T, r result) {
			var got workflow.InvocationResult
			r.decode(t, &got)
			if !got.Done || got.Polls != 1 || got.Status != "Success" || got.Result == nil || got.Result.Outcome != "created" {
				t.Errorf("unexpected result %s", r.payload)
			}
			if !strings.Contains(r.logs, `"outcome":"created"`) {
				t.Errorf("process output lacks the outcome log line:\n%s", r.logs)
			}
		}})
	add(runtimeCase{fn: waitForCommand, name: "still running polls with real sleeps", input: "launch",
		env: append([]string{wait.EnvPollBudget + "=2"}, waitEnv...),
		aws: &awsFake{answers: map[string]string{"AssumeRole": assumed,
			"GetCommandInvocation": invocationBody("InProgress", "In Progress", -1, "", ""), "RecordLifecycleActionHeartbeat": heartbeatAnswer},
			code: "InternalServerError"},
		calls: anyCalls,
		check: func(t *testing.T, r result) {
			var got workflow.InvocationResult
			r.decode(t, &got)
			if got.Done || got.Polls != 1 || got.NextWaitSeconds != 5 || got.Status != "InProgress" {
				t.Errorf("unexpected result %s", r.payload)
			}
			// Polls at 0 and 1 s within a 2 s budget, one AssumeRole for
			// both, then the heartbeat that keeps the hook holding the
			// instance.
			calls := r.calls()
			if len(calls) < 4 || calls[0] != "AssumeRole" || slices.Index(calls[1:], "AssumeRole") >= 0 ||
				calls[len(calls)-1] != "RecordLifecycleActionHeartbeat" || slices.Index(calls, "RecordLifecycleActionHeartbeat") != len(calls)-1 {
				t.Errorf("calls %v, want one AssumeRole, at least two GetCommandInvocation, then one RecordLifecycleActionHeartbeat", calls)
			}
		}})
	add(runtimeCase{fn: waitForCommand, name: "no verdict: held, with a heartbeat", input: "launch", env: waitEnv,
		aws: &awsFake{answers: map[string]string{"AssumeRole": assumed,
			"GetCommandInvocation": invocationBody("Success", "Success", 0, "done\n", ""), "RecordLifecycleActionHeartbeat": heartbeatAnswer},
			code: "InternalServerError"},
		errType: "CommandFailed", inMsg: []string{"without printing an asgdns result line"},
		calls: "AssumeRole,GetCommandInvocation,RecordLifecycleActionHeartbeat"})
	add(runtimeCase{fn: waitForCommand, name: "conflict", input: "launch", env: waitEnv,
		aws: &awsFake{answers: map[string]string{"AssumeRole": assumed,
			"GetCommandInvocation": invocationBody("Failed", "Failed", 30, conflictLine(owner, "taken")+"\n", ""), "RecordLifecycleActionHeartbeat": heartbeatAnswer},
			code: "InternalServerError"},
		errType: "Conflict", calls: "AssumeRole,GetCommandInvocation,RecordLifecycleActionHeartbeat"})
	for _, tc := range []struct {
		name, input, code, want, calls string
		state                          func(map[string]any)
		status                         int
		noAssumeRole                   bool
	}{
		{name: "throttled", code: "ThrottlingException", status: 400, want: "Throttled", calls: "AssumeRole,GetCommandInvocation"},
		{name: "step not in document", code: "InvalidPluginName", status: 400, want: "CommandRejected", calls: "AssumeRole,GetCommandInvocation"},
		{name: "server error", code: "InternalServerError", status: 500, want: "Unavailable", calls: "AssumeRole,GetCommandInvocation"},
		// The input's command was sent days ago: far beyond the grace period.
		{name: "invocation never appeared", code: "InvocationDoesNotExist", status: 400, want: "Unavailable", calls: "AssumeRole,GetCommandInvocation"},
		{name: "role refused", code: "AccessDenied", status: 403, noAssumeRole: true, want: "AccessDenied", calls: "AssumeRole"},
		{name: "no command", state: func(s map[string]any) { delete(s, "command") }, want: "InvalidEvent"},
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
	} {
		answers := map[string]string{"AssumeRole": assumed}
		if tc.noAssumeRole {
			answers = nil
		}
		add(runtimeCase{fn: waitForCommand, name: tc.name, input: or(tc.input, "launch"), state: tc.state, env: waitEnv,
			aws: &awsFake{answers: answers, status: tc.status, code: tc.code}, errType: tc.want, calls: tc.calls})
	}
	for _, tc := range []struct{ name, env, want string }{
		{"missing role fails init", config.EnvRoleARN + "=", config.EnvRoleARN},
		{"bad budget fails init", wait.EnvPollBudget + "=20s", wait.EnvPollBudget},
		{"bad hook names fail init", config.EnvHookNames + "=dns launch", config.EnvHookNames},
	} {
		add(runtimeCase{fn: waitForCommand, name: tc.name, input: "launch",
			env: append(slices.Clone(waitEnv), tc.env), initFails: tc.want})
	}
	return cs
}

// TestEveryFunction: the table runs each of the six functions.
func TestEveryFunction(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range cases() {
		if _, ok := handlerPackages[tc.fn]; !ok {
			t.Errorf("case %s: no function %s", tc.name, tc.fn)
		}
		seen[tc.fn] = true
	}
	for fn := range handlerPackages {
		if !seen[fn] {
			t.Errorf("no case runs %s", fn)
		}
	}
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// without is env less the entry drop.
func without(env []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return kv == drop })
}

// AWS's answers, in each service's wire format.

// groupAnswer is Auto Scaling's DescribeAutoScalingInstances answer for the
// fixture instance in lifecycle state state.
func groupAnswer(state string) string {
	return fmt.Sprintf(`<DescribeAutoScalingInstancesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
<DescribeAutoScalingInstancesResult><AutoScalingInstances><member>
<InstanceId>%s</InstanceId><AutoScalingGroupName>web-prod</AutoScalingGroupName><AvailabilityZone>eu-west-1b</AvailabilityZone>
<LifecycleState>%s</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn>
</member></AutoScalingInstances></DescribeAutoScalingInstancesResult>
<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>`, fixtureInstance, state)
}

// instancesAnswer is EC2's DescribeInstances answer for the fixture instance.
const instancesAnswer = `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>
<reservationSet><item><reservationId>r-0123</reservationId><instancesSet><item>
<instanceId>` + fixtureInstance + `</instanceId><privateIpAddress>10.20.30.40</privateIpAddress>
<placement><availabilityZone>eu-west-1b</availabilityZone></placement>
<instanceState><code>0</code><name>pending</name></instanceState>
<tagSet><item><key>Name</key><value>web</value></item></tagSet>
</item></instancesSet></item></reservationSet></DescribeInstancesResponse>`

// completeAnswer is Auto Scaling's CompleteLifecycleAction answer.
const completeAnswer = `<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">` +
	`<CompleteLifecycleActionResult/><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>`

// heartbeatAnswer is Auto Scaling's RecordLifecycleActionHeartbeat answer.
const heartbeatAnswer = `<RecordLifecycleActionHeartbeatResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">` +
	`<RecordLifecycleActionHeartbeatResult/><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></RecordLifecycleActionHeartbeatResponse>`

// sendCommandAnswer is a SendCommand response body as SSM sends it.
const sendCommandAnswer = `{"Command":{"CommandId":"` + commandID + `","DocumentName":"asgdns-dns-record","DocumentVersion":"$DEFAULT",
"Comment":"asgdns register web-prod-i-0a1b2c3d4e5f60718.corp.example.com 0d5c1f6e-asgdns-test-execution","ExpiresAfter":1.79396655E9,
"Parameters":{"action":["register"]},"InstanceIds":["` + dc1 + `"],"Targets":[],"RequestedDateTime":1.79396295E9,"Status":"Pending",
"StatusDetails":"Pending","OutputS3Region":"eu-west-1","MaxConcurrency":"1","MaxErrors":"0","TargetCount":1,"CompletedCount":0,
"ErrorCount":0,"DeliveryTimedOutCount":0,"ServiceRole":"","NotificationConfig":{"NotificationArn":"","NotificationEvents":[],"NotificationType":""},
"CloudWatchOutputConfig":{"CloudWatchLogGroupName":"","CloudWatchOutputEnabled":true},"TimeoutSeconds":60,"TriggeredAlarms":[]}}`

// invocationBody is a GetCommandInvocation response body as SSM sends it.
func invocationBody(status, details string, code int, stdout, stderr string) string {
	b, _ := json.Marshal(map[string]any{
		"CommandId": commandID, "InstanceId": dc1, "DocumentName": "asgdns-dns-record", "DocumentVersion": "1",
		"Comment": "asgdns register " + fqdn + " " + execution, "PluginName": workflow.StepWindows,
		"ResponseCode": code, "ExecutionStartDateTime": "2026-11-20T08:15:51.604Z", "ExecutionElapsedTime": "PT1.317S",
		"ExecutionEndDateTime": "2026-11-20T08:15:52.921Z", "Status": status, "StatusDetails": details,
		"StandardOutputContent": stdout, "StandardOutputUrl": "", "StandardErrorContent": stderr, "StandardErrorUrl": "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": true},
	})
	return string(b)
}

// docLine is the DNS command's last line on stdout, printed as the
// document's result function prints it: every field, empty or not.
func docLine(o workflow.CommandOutcome) string {
	return fmt.Sprintf(`{"asgdns":1,"outcome":"%s","fqdn":"%s","ip":"%s","ptr":"%s","rcode":"%s","owner":"%s","message":"%s"}`,
		o.Outcome, o.FQDN, o.IP, o.PTR, o.Rcode, o.Owner, o.Message)
}

// resultLine is the result line for the launch input's instance.
func resultLine(outcome, message string) string {
	return docLine(workflow.CommandOutcome{Outcome: outcome, FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Message: message})
}

// conflictLine is the result line of a command that found the name held
// by holder.
func conflictLine(holder, message string) string {
	return docLine(workflow.CommandOutcome{Outcome: "conflict", FQDN: fqdn, IP: "10.20.30.40", PTR: "off", Owner: holder, Message: message})
}
