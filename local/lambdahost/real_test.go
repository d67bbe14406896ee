package lambdahost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/syncio"
)

// The repository's DescribeInstance function, run from its real bootstrap.
const (
	describeDir      = "describe-instance"
	fixtureInstance  = "i-0a1b2c3d4e5f60718"
	fakeAccessKeyID  = "AKIDLAMBDAHOSTTEST"
	describeFixtures = "functions/describe-instance/describe/testdata/"
)

// describeEnv is the function's configuration, as its handler tests use it.
func describeEnv(endpoint string) map[string]string {
	return map[string]string{
		"ASGDNS_ZONE":            "apps.example.com",
		"ASGDNS_DC_INSTANCE_IDS": "i-0123456789abcdef0,i-0fedcba9876543210",
		"ASGDNS_DOCUMENT_NAME":   "asgdns-dns-record",
		"ASGDNS_HOOK_NAMES":      "dns-launch,dns-terminate", // the fixtures' hooks
		// What a deployment sets differently: the endpoint and credentials.
		"AWS_ENDPOINT_URL":      endpoint,
		"AWS_ACCESS_KEY_ID":     fakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": "lambdahost-test-secret",
		"AWS_MAX_ATTEMPTS":      "1",
	}
}

// fakeEC2 answers DescribeInstances for the fixture instance in EC2's
// query/XML protocol, as the real service does, and remembers who asked.
// It also answers Auto Scaling's DescribeAutoScalingInstances (same query
// protocol, one endpoint for every service): the instance is Pending:Wait.
type fakeEC2 struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newFakeEC2(t testing.TB) *fakeEC2 {
	f := &fakeEC2{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") == "DescribeAutoScalingInstances" && r.Form.Get("InstanceIds.member.1") == fixtureInstance {
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<DescribeAutoScalingInstancesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
<DescribeAutoScalingInstancesResult><AutoScalingInstances><member><InstanceId>%s</InstanceId>
<AutoScalingGroupName>web-prod</AutoScalingGroupName><LifecycleState>Pending:Wait</LifecycleState>
<HealthStatus>HEALTHY</HealthStatus><AvailabilityZone>eu-west-1b</AvailabilityZone><ProtectedFromScaleIn>false</ProtectedFromScaleIn>
</member></AutoScalingInstances></DescribeAutoScalingInstancesResult>
<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>`, fixtureInstance)
			return
		}
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
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
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEC2) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, describeFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDescribeInstance runs the real DescribeInstance bootstrap: its errors
// arrive by name, its init failure as Lambda reports it, its success as the
// InstanceResult its handler tests expect, with logs kept apart.
func TestDescribeInstance(t *testing.T) {
	ec2 := newFakeEC2(t)
	logs, noZoneLogs := &syncio.Buffer{}, &syncio.Buffer{}
	noZone := describeEnv(ec2.URL)
	delete(noZone, "ASGDNS_ZONE")
	h := newHost(t,
		Function{Name: "asgdns-DescribeInstance", Dir: describeDir, Timeout: 15 * time.Second, LogFormat: "JSON", Env: describeEnv(ec2.URL), Logs: logs},
		Function{Name: "asgdns-DescribeInstance-NoZone", Dir: describeDir, Env: noZone, Logs: noZoneLogs},
	)
	ctx := context.Background()

	t.Run("invalid event", func(t *testing.T) {
		_, err := h.Invoke(ctx, "asgdns-DescribeInstance", []byte(`{"execution":"x","state":{"source":"aws.ec2"}}`))
		fe := functionError(t, err, "InvalidEvent")
		var cause map[string]any
		if err := json.Unmarshal([]byte(fe.ErrorCause()), &cause); err != nil || cause["errorType"] != "InvalidEvent" || cause["errorMessage"] != fe.Message {
			t.Errorf("cause %s", fe.ErrorCause())
		}
		if len(ec2.calls()) != 0 {
			t.Error("EC2 was called for an invalid event")
		}
	})

	t.Run("launch", func(t *testing.T) {
		out, err := h.Invoke(ctx, "asgdns-DescribeInstance", fixture(t, "launch.input.json"))
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("result %s: %v", out, err)
		}
		if err := json.Unmarshal(fixture(t, "launch.golden.json"), &want); err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("result\n%s\nwant (the handler's golden file)\n%s", gotJSON, wantJSON)
		}
		calls := ec2.calls()
		if len(calls) != 1 || !strings.Contains(calls[0], "Credential="+fakeAccessKeyID+"/") {
			t.Errorf("EC2 calls %q: want one, signed with the function's credentials", calls)
		}
		// Logs arrive through a pipe, a little after the answer.
		eventually(t, "the function's JSON log line of the launch", func() bool {
			return contains(logs.String(), `"execution":"0d5c1f6e-asgdns-test-execution"`, `"instanceId":"i-0a1b2c3d4e5f60718"`) == nil
		})
		if strings.Contains(string(out), "execution") {
			t.Error("log lines in the result")
		}
	})

	t.Run("missing configuration", func(t *testing.T) {
		_, err := h.Invoke(ctx, "asgdns-DescribeInstance-NoZone", fixture(t, "launch.input.json"))
		fe := functionError(t, err, "Runtime.ExitError")
		if !strings.HasPrefix(fe.Message, "RequestId: ") || !strings.HasSuffix(fe.Message, " Error: Runtime exited with error: exit status 1") {
			t.Errorf("message %q", fe.Message)
		}
		// The process has exited, so its output is all there.
		if err := contains(noZoneLogs.String(), "ASGDNS_ZONE", "Runtime.ExitError"); err != nil {
			t.Errorf("logs should name the missing variable and the error: %v", err)
		}
	})
}
