package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/local/awscli"
	"github.com/asgdns/asgdns/local/cfn"
)

// The principals the tests call as. The two function roles are the
// TrustedRoleArns of the shared-services stack in these tests.
const (
	assumeRoleFnRole = "arn:aws:iam::111111111111:role/asgdns-AssumeRoleFunctionRole-1A2B3C"
	sendCommandRole  = "arn:aws:iam::111111111111:role/asgdns-SendCommandFunctionRole-4D5E6F"
	untrustedRole    = "arn:aws:iam::111111111111:role/some-other-team-role"

	keyAssumeRoleFn = "AKIAASSUMEROLEFN0001"
	keySendCommand  = "AKIASENDCOMMANDFN001"
	keyUntrusted    = "AKIAUNTRUSTEDROLE001"
	keyAppOperator  = "AKIAAPPOPERATOR00001"
	keySharedAdmin  = "AKIASHAREDADMIN00001"
	testSecret      = "test-secret-not-a-real-one"

	sharedTemplate = "../../shared-services/template.yaml"
	appTemplate    = "../../template.yaml"
	dcID           = "i-0dc0000000000001a"
)

var testStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// appDeployment is the application stack the tests deploy: asgdns in
// AppAccount.
var appDeployment = cfn.AppDeployment{Region: DefaultRegion, Account: AppAccount, StackName: "asgdns"}

// appParams are its parameters (those without a default).
var appParams = map[string]any{"AsgNames": []string{"web-prod"}}

// world is a Cloud behind a real HTTP server, with the test principals.
type world struct {
	t     *testing.T
	cloud *Cloud
	url   string
	clock *FakeClock // nil when the world runs on the real clock
}

type worldOption func(*Options)

func withFakeClock() worldOption {
	return func(o *Options) { o.Clock = NewFakeClock(testStart) }
}

func newWorld(t *testing.T, opts ...worldOption) *world {
	t.Helper()
	o := Options{
		SharedServicesTemplate: sharedTemplate,
		TenantAccountIDs:       []string{AppAccount},
		TenantZones:            []string{AppAccount + ":" + zone},
		TrustedRoleARNs:        []string{assumeRoleFnRole, sendCommandRole},
	}
	for _, f := range opts {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	for key, arn := range map[string]string{
		keyAssumeRoleFn: "arn:aws:sts::111111111111:assumed-role/asgdns-AssumeRoleFunctionRole-1A2B3C/asgdns-AssumeRoleFunction",
		keySendCommand:  "arn:aws:sts::111111111111:assumed-role/asgdns-SendCommandFunctionRole-4D5E6F/asgdns-SendCommandFunction",
		keyUntrusted:    "arn:aws:sts::111111111111:assumed-role/some-other-team-role/someone",
		keyAppOperator:  "arn:aws:iam::111111111111:user/operator",
		keySharedAdmin:  "arn:aws:iam::222222222222:user/dc-admin",
	} {
		if err := c.AddCredentials(key, testSecret, arn); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, cloud: c, url: srv.URL}
	w.clock, _ = o.Clock.(*FakeClock)
	return w
}

// creds are the credentials an SDK client signs with.
type creds struct{ key, secret, token string }

func keyCreds(key string) creds { return creds{key: key, secret: testSecret} }

func (w *world) config(c creds) aws.Config {
	return aws.Config{
		Region:           DefaultRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(c.key, c.secret, c.token),
		BaseEndpoint:     aws.String(w.url),
		RetryMaxAttempts: 1,
	}
}

func (w *world) ec2(c creds) *ec2.Client { return ec2.NewFromConfig(w.config(c)) }
func (w *world) asg(c creds) *autoscaling.Client {
	return autoscaling.NewFromConfig(w.config(c))
}
func (w *world) sts(c creds) *sts.Client { return sts.NewFromConfig(w.config(c)) }
func (w *world) ssm(c creds) *ssm.Client { return ssm.NewFromConfig(w.config(c)) }
func (w *world) events(c creds) *eventbridge.Client {
	return eventbridge.NewFromConfig(w.config(c))
}
func (w *world) sqs(c creds) *sqs.Client { return sqs.NewFromConfig(w.config(c)) }

// assume assumes the shared-services role as the AssumeRole function does.
func (w *world) assume(key, instanceID string) creds {
	w.t.Helper()
	out, err := w.sts(keyCreds(key)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(w.cloud.RoleARN(AppAccount)), RoleSessionName: aws.String("asgdns-" + instanceID + "-exec1"),
		SourceIdentity: aws.String("asgdns-" + instanceID), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		w.t.Fatalf("AssumeRole as %s: %v", key, err)
	}
	return creds{*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken}
}

// apiCode returns the AWS error code the SDK parsed from err.
func apiCode(err error) (code, message string) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	return "", ""
}

func wantCode(t *testing.T, err error, code string) string {
	t.Helper()
	got, msg := apiCode(err)
	if got != code {
		t.Fatalf("error code = %q (%v), want %s", got, err, code)
	}
	return msg
}

// eventually waits (generously) for cond, failing with what it last saw.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out waiting for %s; last saw: %s", what, last)
}

// recorder is a rule target that keeps what it receives.
type recorder struct {
	mu     sync.Mutex
	events []json.RawMessage
	fail   int // fail this many deliveries first
}

func (r *recorder) target(_ context.Context, ev json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("target unavailable")
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) all() []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage(nil), r.events...)
}

// waitEvents waits until the recorder has n events and returns them.
func (r *recorder) waitEvents(t *testing.T, n int) []json.RawMessage {
	t.Helper()
	eventually(t, "events", func() (bool, string) {
		got := r.all()
		var seen []string
		for _, ev := range got {
			seen = append(seen, string(ev))
		}
		return len(got) >= n, strings.Join(seen, "\n")
	})
	return r.all()
}

// cli runs the AWS CLI v1 against the world, as key (and token), and
// returns stdout, stderr and the exit code. It fails (not skips) when the
// CLI is not installed.
func (w *world) cli(c creds, args ...string) (stdout, stderr string, exit int) {
	w.t.Helper()
	cmd := exec.Command(awscli.Path(w.t), append([]string{"--endpoint-url", w.url, "--region", DefaultRegion, "--output", "json"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+c.key, "AWS_SECRET_ACCESS_KEY="+c.secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	if c.token != "" {
		cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN="+c.token)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		exit = exitErr.ExitCode()
	} else if err != nil {
		w.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), exit
}

// cliJSON runs the CLI, requires success, and decodes its output.
func (w *world) cliJSON(c creds, v any, args ...string) {
	w.t.Helper()
	out, errOut, exit := w.cli(c, args...)
	if exit != 0 {
		w.t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), exit, errOut)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			w.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// cliError runs the CLI, requires it to fail with the AWS error code,
// and returns the exit code and the error's message (after the code and
// the operation, which the CLI prints first).
func (w *world) cliError(c creds, code string, args ...string) (exit int, message string) {
	w.t.Helper()
	out, errOut, exit := w.cli(c, args...)
	if exit == 0 {
		w.t.Fatalf("aws %s succeeded, want %s:\n%s", strings.Join(args, " "), code, out)
	}
	// The CLI exits 255 (v1) or 254 (v2) when the service returned an error.
	if exit != 255 && exit != 254 {
		w.t.Fatalf("aws %s: exit %d, want 254 or 255 for a service error:\n%s", strings.Join(args, " "), exit, errOut)
	}
	line := strings.TrimSpace(errOut)
	prefix := "An error occurred (" + code + ") when calling the "
	i := strings.Index(line, prefix)
	if i < 0 {
		w.t.Fatalf("aws %s: exit %d, stderr does not report %s:\n%s", strings.Join(args, " "), exit, code, line)
	}
	_, message, _ = strings.Cut(line[i+len(prefix):], ": ")
	return exit, message
}
