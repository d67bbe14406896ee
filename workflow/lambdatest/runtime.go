// Package lambdatest runs a function's real binary (its main, lambda.Start)
// under a fake Lambda Runtime API, so tests see exactly what aws-lambda-go reports:
// the response payload, or the errorType and errorMessage Step Functions
// would route on. It also answers AWS API calls with the wire-format errors
// of each protocol, so the real SDK parses them.
package lambdatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// binary is the function under test, built by Main.
var binary string

// Main builds the function's main package (dir, relative to the test's
// package) the way the Makefile builds it, but for this machine, runs the
// tests, and removes the build. Call it from TestMain.
func Main(m *testing.M, dir string) {
	tmp, err := os.MkdirTemp("", "lambdatest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(tmp, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc,nethttpomithttp2", "-o", binary, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n%s", dir, err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// Result is what the function reported for one invocation.
type Result struct {
	// Payload is the response on success.
	Payload json.RawMessage
	// ErrorType and ErrorMessage are set when the function returned an
	// error (or failed to initialise: then InitError is true).
	ErrorType    string
	ErrorMessage string
	InitError    bool
	// Output is everything the function process wrote to stdout and
	// stderr (its logs), complete: the process has exited.
	Output string
}

const runtimePrefix = "/2018-06-01/runtime/"

// Invoke starts the function built by Main, hands it one event through the
// Runtime API and returns what it reported. env is added to the function's
// environment.
func Invoke(t testing.TB, event []byte, env ...string) Result {
	t.Helper()
	done := make(chan Result, 1)
	var delivered atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, runtimePrefix)
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodGet && path == "invocation/next":
			if delivered.Swap(true) {
				// One invocation per test: hold the function here until
				// the test ends and kills it.
				<-r.Context().Done()
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-test")
			_, _ = w.Write(event)
		case path == "invocation/req-1/response":
			done <- Result{Payload: body}
			w.WriteHeader(http.StatusAccepted)
		case path == "invocation/req-1/error", path == "init/error":
			var e struct {
				Message string `json:"errorMessage"`
				Type    string `json:"errorType"`
			}
			_ = json.Unmarshal(body, &e)
			done <- Result{ErrorType: e.Type, ErrorMessage: e.Message, InitError: path == "init/error"}
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	if binary == "" {
		t.Fatal("lambdatest.Invoke needs the function built: call lambdatest.Main from TestMain")
	}
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), append(env, "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start function: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var res Result
	select {
	case res = <-done:
		_ = cmd.Process.Kill()
		<-exited
	case err := <-exited:
		// log.Fatal or os.Exit at init: it never reached the Runtime API.
		res = Result{InitError: true, ErrorType: "exit", ErrorMessage: fmt.Sprintf("%v: %s", err, out.String())}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("function did not answer within 60s; output:\n%s", out.String())
	}
	// The process has exited, so its output is complete and no longer written.
	res.Output = out.String()
	return res
}

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
