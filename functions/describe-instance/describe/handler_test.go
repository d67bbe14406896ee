package describe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// TestMain builds the function (the main package one folder up) for the
// tests that run it through the Lambda Runtime API.
func TestMain(m *testing.M) { lambdatest.Main(m, "..") }

// fakeEC2 records what was asked and answers with a canned instance or error.
type fakeEC2 struct {
	calls    []*ec2.DescribeInstancesInput
	instance *types.Instance
	err      error
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &ec2.DescribeInstancesOutput{}
	if f.instance != nil {
		out.Reservations = []types.Reservation{{Instances: []types.Instance{*f.instance}}}
	}
	return out, nil
}

const fixtureInstance = "i-0a1b2c3d4e5f60718"

func instance(state types.InstanceStateName, tags ...string) *types.Instance {
	inst := &types.Instance{
		InstanceId:       aws.String(fixtureInstance),
		PrivateIpAddress: aws.String("10.20.30.40"),
		Placement:        &types.Placement{AvailabilityZone: aws.String("eu-west-1b")},
		State:            &types.InstanceState{Name: state},
	}
	for i := 0; i+1 < len(tags); i += 2 {
		inst.Tags = append(inst.Tags, types.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
	}
	return inst
}

var testEnv = map[string]string{
	config.EnvZone:          "apps.example.com",
	config.EnvDCInstanceIDs: "i-0123456789abcdef0,i-0fedcba9876543210",
	config.EnvDocumentName:  "asgdns-dns-record",
}

func defaults(t testing.TB, extra ...string) config.Settings {
	t.Helper()
	env := map[string]string{}
	for k, v := range testEnv {
		env[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	s, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newHandler(t testing.TB, f *fakeEC2, logs io.Writer) *Handler {
	return &Handler{EC2: f, Defaults: defaults(t), Log: slog.New(slog.NewJSONHandler(logs, nil))}
}

// TestFixtures runs every fixture event and compares with its golden output,
// and checks EC2 is only asked when there is DNS work.
func TestFixtures(t *testing.T) {
	wantCalls := map[string]int{
		"launch": 1, "launch-from-warm-pool": 1, "launch-successful": 1, "terminate": 1,
		"launch-into-warm-pool": 0, "terminate-to-warm-pool": 0, "test-notification": 0, "unknown": 0,
	}
	for _, name := range lambdatest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			want, ok := wantCalls[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation here", name)
			}
			f := &fakeEC2{instance: instance(types.InstanceStateNamePending, "Name", "web")}
			got, err := newHandler(t, f, io.Discard).Handle(context.Background(), lambdatest.Input(t, name))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(f.calls) != want {
				t.Fatalf("DescribeInstances called %d times, want %d", len(f.calls), want)
			}
			if want == 1 && !equalStrings(f.calls[0].InstanceIds, []string{fixtureInstance}) {
				t.Errorf("DescribeInstances asked for %v", f.calls[0].InstanceIds)
			}
			lambdatest.Golden(t, "testdata/"+name+".golden.json", got)
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// withDetail returns the launch input with detail fields replaced.
func withDetail(t testing.TB, change func(detail map[string]any, event map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(lambdatest.Input(t, "launch"), &req); err != nil {
		t.Fatal(err)
	}
	event := req["state"].(map[string]any)
	change(event["detail"].(map[string]any), event)
	data, _ := json.Marshal(req)
	return data
}

func metadata(t testing.TB, md string) []byte {
	return withDetail(t, func(d, _ map[string]any) { d["NotificationMetadata"] = md })
}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from fake"}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		input     []byte
		ec2       *fakeEC2
		wantType  string
		wantCalls int
		wantInMsg []string
	}{
		{name: "malformed JSON", input: []byte(`{"execution": "x", "state": {`), wantType: "InvalidEvent", wantInMsg: []string{"input", "fix:"}},
		{name: "wrong source", input: withDetail(t, func(_, e map[string]any) { e["source"] = "aws.ec2" }),
			wantType: "InvalidEvent", wantInMsg: []string{`source "aws.ec2"`, "aws.autoscaling"}},
		{name: "missing detail-type", input: withDetail(t, func(_, e map[string]any) { delete(e, "detail-type") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail-type"}},
		{name: "transition contradicts detail-type", input: withDetail(t, func(d, _ map[string]any) { d["LifecycleTransition"] = workflow.TransitionTerminating }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleTransition"}},
		{name: "missing instance id", input: withDetail(t, func(d, _ map[string]any) { delete(d, "EC2InstanceId") }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "instance id with shell", input: withDetail(t, func(d, _ map[string]any) { d["EC2InstanceId"] = "i-0a1b2c3d;reboot" }),
			wantType: "InvalidEvent", wantInMsg: []string{`detail.EC2InstanceId "i-0a1b2c3d;reboot"`, "hex"}},
		{name: "upper-case instance id", input: withDetail(t, func(d, _ map[string]any) { d["EC2InstanceId"] = "i-0A1B2C3D4E5F60718" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.EC2InstanceId"}},
		{name: "bad token", input: withDetail(t, func(d, _ map[string]any) { d["LifecycleActionToken"] = "x$(id)" }),
			wantType: "InvalidEvent", wantInMsg: []string{"detail.LifecycleActionToken"}},
		{name: "metadata not JSON", input: metadata(t, "additional-info"),
			wantType: "InvalidConfig", wantInMsg: []string{`detail.NotificationMetadata of ASG "web-prod"`, `"additional-info"`, "JSON"}},
		{name: "metadata unknown field", input: metadata(t, `{"zone":"corp.example.com","zoen":"x"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"detail.NotificationMetadata.zoen", "not a known setting"}},
		{name: "metadata role override", input: metadata(t, `{"roleArn":"arn:aws:iam::999999999999:role/evil"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"roleArn", "per ASG"}},
		{name: "zone not a domain", input: metadata(t, `{"zone":"corp example;com"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"detail.NotificationMetadata.zone", `"corp example;com"`}},
		{name: "zone is an address", input: metadata(t, `{"zone":"10.0.0.1"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"zone", "numeric"}},
		{name: "ttl wrong type", input: metadata(t, `{"ttl":"300"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"ttl"}},
		{name: "template with semicolon", input: metadata(t, `{"hostnameTemplate":"{asg};reboot"}`),
			wantType: "InvalidConfig", wantInMsg: []string{"hostnameTemplate", `';'`}},
		{name: "tag with command substitution", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web$(reboot)")}, wantCalls: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`tag "Name" of i-0a1b2c3d4e5f60718 "web$(reboot)"`, "'$'"}},
		{name: "tag with backtick", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web`id`")}, wantCalls: 1, wantType: "InvalidHostname"},
		{name: "tag with quote", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", `web"x`)}, wantCalls: 1, wantType: "InvalidHostname"},
		{name: "tag with newline", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "web\nx")}, wantCalls: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`"web\nx"`}},
		{name: "tag with cyrillic look-alike", input: metadata(t, `{"hostnameTemplate":"{tag:Name}"}`),
			ec2: &fakeEC2{instance: instance("pending", "Name", "wеb")}, wantCalls: 1,
			wantType: "InvalidHostname", wantInMsg: []string{`"w\u0435b"`}},
		{name: "tag missing", input: metadata(t, `{"hostnameTemplate":"{tag:Role}"}`),
			ec2: &fakeEC2{instance: instance("pending")}, wantCalls: 1, wantType: "InvalidHostname", wantInMsg: []string{`tag "Role"`, "not set"}},
		{name: "hostname too long", input: metadata(t, `{"hostnameTemplate":"{asg}-{instance-id}-{instance-id}-{instance-id}"}`),
			ec2: &fakeEC2{instance: instance("pending")}, wantCalls: 1, wantType: "InvalidHostname", wantInMsg: []string{"hostname", "1-63"}},
		{name: "instance not found", ec2: &fakeEC2{err: apiError("InvalidInstanceID.NotFound")}, wantCalls: 1, wantType: "InstanceNotFound"},
		{name: "instance missing from answer", ec2: &fakeEC2{}, wantCalls: 1, wantType: "InstanceNotFound"},
		{name: "instance terminated", ec2: &fakeEC2{instance: instance(types.InstanceStateNameTerminated)}, wantCalls: 1,
			wantType: "InstanceNotFound", wantInMsg: []string{"terminated"}},
		{name: "access denied", ec2: &fakeEC2{err: apiError("UnauthorizedOperation")}, wantCalls: 1,
			wantType: "AccessDenied", wantInMsg: []string{"ec2:DescribeInstances", "allow ec2:DescribeInstances"}},
		{name: "throttled", ec2: &fakeEC2{err: apiError("RequestLimitExceeded")}, wantCalls: 1, wantType: "Throttled"},
		{name: "server error", ec2: &fakeEC2{err: apiError("InternalError")}, wantCalls: 1, wantType: "Unavailable"},
		{name: "timeout", ec2: &fakeEC2{err: fmt.Errorf("operation error EC2: DescribeInstances: %w", context.DeadlineExceeded)},
			wantCalls: 1, wantType: "Unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.ec2
			if f == nil {
				f = &fakeEC2{instance: instance("pending")}
			}
			input := tc.input
			if input == nil {
				input = lambdatest.Input(t, "launch")
			}
			got, err := newHandler(t, f, io.Discard).Handle(context.Background(), input)
			if err == nil {
				t.Fatalf("got %+v, want a %s", got, tc.wantType)
			}
			if name := workflow.Routed(err); name != tc.wantType {
				t.Fatalf("error %T (%v), want %s", err, err, tc.wantType)
			}
			if len(f.calls) != tc.wantCalls {
				t.Errorf("DescribeInstances called %d times, want %d", len(f.calls), tc.wantCalls)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err.Error(), s)
				}
			}
		})
	}
}

func TestMetadataOverrides(t *testing.T) {
	f := &fakeEC2{instance: instance("pending", "Role", "API")}
	md := `{"zone":"Corp.Example.COM.","hostnameTemplate":"{tag:Role}-{short-id}","ttl":60,"ptr":true,` +
		`"dcInstanceIds":["i-0aaaaaaaaaaaaaaaa"],"dcPlatform":"Linux","onFailure":"CONTINUE"}`
	got, err := newHandler(t, f, io.Discard).Handle(context.Background(), metadata(t, md))
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.Record{Hostname: "api-e5f60718", Zone: "corp.example.com", FQDN: "api-e5f60718.corp.example.com", TTL: 60, PTR: true}
	if *got.Record != want {
		t.Errorf("record %+v, want %+v", *got.Record, want)
	}
	if got.OnFailure != workflow.Continue || got.Target.DCPlatform != "Linux" || got.Target.DCInstanceIDs[0] != "i-0aaaaaaaaaaaaaaaa" {
		t.Errorf("overrides not applied: %+v %+v", got, got.Target)
	}
}

// TestWarmPoolIgnoresBadMetadata: an instance entering the warm pool needs no
// DNS, so a metadata mistake must not fail (and so abandon) it.
func TestWarmPoolIgnoresBadMetadata(t *testing.T) {
	var req map[string]any
	_ = json.Unmarshal(lambdatest.Input(t, "launch-into-warm-pool"), &req)
	req["state"].(map[string]any)["detail"].(map[string]any)["NotificationMetadata"] = "not json"
	data, _ := json.Marshal(req)
	got, err := newHandler(t, &fakeEC2{}, io.Discard).Handle(context.Background(), data)
	if err != nil || got.Action != workflow.ActionNone || !got.Complete || got.OnFailure != workflow.Abandon {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestLogsCarryContext(t *testing.T) {
	var logs bytes.Buffer
	if _, err := newHandler(t, &fakeEC2{instance: instance("pending")}, &logs).Handle(context.Background(), lambdatest.Input(t, "launch")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"execution":"0d5c1f6e-asgdns-test-execution"`, `"instanceId":"i-0a1b2c3d4e5f60718"`, `"asg":"web-prod"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

// ec2Endpoint answers DescribeInstances in EC2's XML, as the real service does.
func ec2Endpoint(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") != "DescribeInstances" || r.Form.Get("InstanceId.1") != fixtureInstance {
			http.Error(w, "unexpected request "+r.Form.Encode(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>
<reservationSet><item><reservationId>r-0123</reservationId><instancesSet><item>
<instanceId>%s</instanceId><privateIpAddress>10.20.30.40</privateIpAddress>
<placement><availabilityZone>eu-west-1b</availabilityZone></placement>
<instanceState><code>0</code><name>pending</name></instanceState>
<tagSet><item><key>Name</key><value>web</value></item></tagSet>
</item></instancesSet></item></reservationSet></DescribeInstancesResponse>`, fixtureInstance)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestThroughLambdaRuntime runs the real main through aws-lambda-go's own
// invocation path against a fake Runtime API, with the real SDK talking to
// HTTP endpoints, and checks the errorType Step Functions would see.
func TestThroughLambdaRuntime(t *testing.T) {
	env := []string{}
	for k, v := range testEnv {
		env = append(env, k+"="+v)
	}
	t.Run("success", func(t *testing.T) {
		srv := ec2Endpoint(t)
		res := lambdatest.Invoke(t, lambdatest.Input(t, "launch"), append(env, lambdatest.SDKEnv(srv.URL)...)...)
		if res.ErrorType != "" {
			t.Fatalf("error %s: %s", res.ErrorType, res.ErrorMessage)
		}
		var got workflow.InstanceResult
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got.Record == nil || got.Record.FQDN != "web-prod-i-0a1b2c3d4e5f60718.corp.example.com" || got.PrivateIP != "10.20.30.40" {
			t.Errorf("unexpected result %s", res.Payload)
		}
	})
	for _, tc := range []struct {
		name, code, want string
		status           int
		input            string
	}{
		{name: "invalid event", input: `{"execution":"x","state":{"source":"aws.ec2"}}`, want: "InvalidEvent"},
		{name: "malformed JSON", input: `{"state":`, want: "InvalidEvent"},
		{name: "throttled", code: "RequestLimitExceeded", status: 503, want: "Throttled"},
		{name: "access denied", code: "UnauthorizedOperation", status: 403, want: "AccessDenied"},
		{name: "not found", code: "InvalidInstanceID.NotFound", status: 400, want: "InstanceNotFound"},
		{name: "server error", code: "InternalError", status: 500, want: "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			aws := lambdatest.ErrorServer(t, status, tc.code, "from the test endpoint")
			input := []byte(tc.input)
			if tc.input == "" {
				input = lambdatest.Input(t, "launch")
			}
			res := lambdatest.Invoke(t, input, append(env, aws.Env()...)...)
			if res.ErrorType != tc.want {
				t.Fatalf("errorType %q (%s), want %q", res.ErrorType, res.ErrorMessage, tc.want)
			}
			if tc.code == "" && len(aws.Calls()) != 0 {
				t.Errorf("AWS called after a validation failure: %v", aws.Calls())
			}
		})
	}
	t.Run("missing configuration fails init", func(t *testing.T) {
		res := lambdatest.Invoke(t, lambdatest.Input(t, "launch"), config.EnvZone+"=")
		if !res.InitError || !strings.Contains(res.ErrorMessage, config.EnvZone) {
			t.Fatalf("want an init failure naming %s, got %+v", config.EnvZone, res)
		}
	})
}

func BenchmarkHandle(b *testing.B) {
	h := newHandler(b, &fakeEC2{instance: instance("pending", "Name", "web")}, io.Discard)
	input := lambdatest.Input(b, "launch")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, input); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeregisterGoneInstance: a terminate event replayed after the instance is
// gone still removes its record when the hostname needs only the event.
func TestDeregisterGoneInstance(t *testing.T) {
	for _, f := range []*fakeEC2{{err: apiError("InvalidInstanceID.NotFound")}, {}} {
		got, err := newHandler(t, f, io.Discard).Handle(context.Background(), lambdatest.Input(t, "terminate"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != workflow.ActionDeregister || got.State != "gone" || got.PrivateIP != "" ||
			got.Record == nil || got.Record.FQDN != "web-prod-i-0a1b2c3d4e5f60718.corp.example.com" || got.Target == nil {
			t.Errorf("got %+v", got)
		}
	}
	var req map[string]any
	_ = json.Unmarshal(lambdatest.Input(t, "terminate"), &req)
	req["state"].(map[string]any)["detail"].(map[string]any)["NotificationMetadata"] = `{"hostnameTemplate":"{tag:Name}"}`
	data, _ := json.Marshal(req)
	_, err := newHandler(t, &fakeEC2{}, io.Discard).Handle(context.Background(), data)
	if workflow.Routed(err) != "InstanceNotFound" || !strings.Contains(err.Error(), "tags or AZ") {
		t.Errorf("template needing tags: got %v", err)
	}
}
