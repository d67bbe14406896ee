// Package lambdatest is the functions' test support: fixture events and
// Task payloads, golden files compared as JSON, a fake AWS endpoint that
// answers AWS API calls in each protocol's wire format (EC2 query, AWS
// query, JSON 1.1), so the real SDK parses its answers and errors, and the
// in-process fakes (STS, shared-services sessions, SDK errors) and
// assertions (routed failures, logs, secrets) the steps' tests share.
//
// Running a function's real binary under the Lambda Runtime API is the
// rig's job (local/lambdahost, tested across the functions in
// local/runtimecheck), not this package's.
package lambdatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/asgdns/asgdns/workflow"
)

// AWS is a fake AWS endpoint speaking each protocol's wire format (EC2
// query, AWS query, JSON 1.1) well enough for the real SDK. Operations with
// an answer in Answers get it (HTTP 200); every other call fails with the
// configured error code, in the error format of the protocol it used.
type AWS struct {
	*httptest.Server
	// Answers maps an operation name (DescribeInstances, AssumeRole,
	// SendCommand, ...) to the raw response body.
	Answers map[string]string

	mu    sync.Mutex
	calls []string
}

func (a *AWS) record(call string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
}

// Calls lists the operations called so far.
func (a *AWS) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// ErrorServer starts an AWS endpoint that fails every call with code.
func ErrorServer(t testing.TB, status int, code, message string) *AWS {
	return NewAWS(t, nil, status, code, message)
}

// NewAWS starts an AWS endpoint that answers the operations in answers and
// fails every other call with code.
func NewAWS(t testing.TB, answers map[string]string, status int, code, message string) *AWS {
	a := &AWS{Answers: answers}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		target := r.Header.Get("X-Amz-Target")
		op := r.Form.Get("Action")
		if target != "" {
			op = target[strings.LastIndex(target, ".")+1:]
		}
		a.record(op)
		if body, ok := a.Answers[op]; ok {
			if target != "" {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			} else {
				w.Header().Set("Content-Type", "text/xml")
			}
			_, _ = io.WriteString(w, body)
			return
		}
		if target != "" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		if r.Form.Get("Version") == "2016-11-15" { // EC2's query dialect
			fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>r-1</RequestID></Response>`, code, message)
			return
		}
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`, code, message)
	}))
	t.Cleanup(a.Close)
	return a
}

// Fake credentials the fake STS hands out. Tests assert none of these ever
// appears in a step's output or logs.
const (
	FakeAccessKeyID     = "ASIAFAKEASGDNSTEST01"
	FakeSecretAccessKey = "fake-secret-asgdns-must-never-leak"
	FakeSessionToken    = "fake-session-token-asgdns-must-never-leak"
)

// AssumeRoleResponse is an STS AssumeRole answer for roleARN
// (arn:aws:iam::ACCOUNT:role/NAME) and session, with the fake credentials.
func AssumeRoleResponse(roleARN, session string) string {
	account := strings.Split(roleARN, ":")[4]
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	exp := time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<SourceIdentity>asgdns</SourceIdentity>
<AssumedRoleUser><Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROAFAKE:%s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		account, name, session, session, FakeAccessKeyID, FakeSecretAccessKey, FakeSessionToken, exp)
}

// SDKConfig is an SDK configuration that points every client at this server,
// in SDKEnv's region and without retries, signing with creds (the
// function's own credentials).
func (a *AWS) SDKConfig(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(a.URL), RetryMaxAttempts: 1, Credentials: creds}
}

// CheckAssumedFirst asserts a step's err is routed as want ("" for
// success) and that the first call this endpoint saw was AssumeRole: a
// case in which the role was never assumed proves nothing about the
// credentials leaking.
func (a *AWS) CheckAssumedFirst(t testing.TB, err error, want string) {
	t.Helper()
	if name := workflow.Routed(err); name != want {
		t.Fatalf("error %v (%s), want %q", err, name, want)
	}
	if calls := a.Calls(); len(calls) == 0 || calls[0] != "AssumeRole" {
		t.Fatalf("calls %v: the role was never assumed, so this test proves nothing", calls)
	}
}

// Env returns the environment that points the SDK at this server.
func (a *AWS) Env() []string { return SDKEnv(a.URL) }

// SDKEnv returns the environment that points the SDK at endpoint with static,
// obviously fake credentials, no retries and no shared config files.
func SDKEnv(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIDLAMBDATEST",
		"AWS_SECRET_ACCESS_KEY=lambdatest-secret",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}
