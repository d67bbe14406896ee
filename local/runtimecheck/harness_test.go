package runtimecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/lambdahost"
	"github.com/asgdns/asgdns/local/syncio"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// repoRoot is the repository holding this module.
var repoRoot, _ = filepath.Abs("../..")

// handlerPackages maps each function (its folder under functions/) to its
// handler package, whose testdata holds the Task payloads the cases send.
var handlerPackages = map[string]string{
	"assume-role":        "assume",
	"complete-lifecycle": "complete",
	"describe-instance":  "describe",
	"hold-instance":      "hold",
	"send-command":       "send",
	"wait-for-command":   "wait",
}

// binaries are the functions' bootstraps, built once by TestMain.
var binaries = map[string]string{}

// TestMain builds the six bootstraps once, as lambdahost builds them for
// the local stack (the Makefile's flags, this machine's OS and
// architecture), into a cache of its own; every case then runs its
// function on a host of its own from the same binary.
func TestMain(m *testing.M) {
	cache, err := os.MkdirTemp("", "runtimecheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var fns []lambdahost.Function
	for _, dir := range slices.Sorted(maps.Keys(handlerPackages)) {
		fns = append(fns, lambdahost.Function{Name: dir, Dir: dir})
	}
	h, err := lambdahost.New(lambdahost.Options{RepoRoot: repoRoot, CacheDir: cache, Functions: fns})
	if err == nil {
		err = h.Build(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(cache)
		os.Exit(2)
	}
	for _, fn := range fns {
		binaries[fn.Name] = h.Binary(fn.Name)
	}
	_ = h.Close()
	code := m.Run()
	_ = os.RemoveAll(cache)
	os.Exit(code)
}

// awsFake configures a case's AWS endpoint (lambdatest.NewAWS): it answers
// the operations in answers and fails every other call with code, in the
// error format of the protocol the call used.
type awsFake struct {
	answers map[string]string
	status  int    // default 500
	code    string // the error code of every unanswered call
	message string // default "from the test endpoint"
}

// endpoint is a case's AWS endpoint: lambdatest's fake behind a recorder of
// the requests the function sent.
type endpoint struct {
	fake *lambdatest.AWS
	*httptest.Server

	mu       sync.Mutex
	requests []request
}

// request is one AWS call as it went over the wire.
type request struct {
	op    string     // the operation (Action, or X-Amz-Target's suffix)
	form  url.Values // the query protocols' parameters
	auth  string     // Authorization: who signed it
	token string     // X-Amz-Security-Token: the session it was signed with
}

func newEndpoint(t *testing.T, f awsFake) *endpoint {
	status, message := f.status, f.message
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if message == "" {
		message = "from the test endpoint"
	}
	e := &endpoint{fake: lambdatest.NewAWS(t, f.answers, status, f.code, message)}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		op := form.Get("Action")
		if target := r.Header.Get("X-Amz-Target"); target != "" {
			op = target[strings.LastIndex(target, ".")+1:]
		}
		e.mu.Lock()
		e.requests = append(e.requests, request{op: op, form: form, auth: r.Header.Get("Authorization"), token: r.Header.Get("X-Amz-Security-Token")})
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.fake.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

// result is what one invocation reported.
type result struct {
	// payload is the response on success.
	payload []byte
	// errType and errMsg are the function error's errorType and
	// errorMessage (lambdahost.FunctionError).
	errType, errMsg string
	// logs is everything the function's process wrote, complete: the host
	// is closed, so the process has exited.
	logs string
	// aws is the case's AWS endpoint, if it had one.
	aws *endpoint
}

// calls are the AWS operations called, in order, as the fake counted them.
func (r result) calls() []string {
	if r.aws == nil {
		return nil
	}
	return r.aws.fake.Calls()
}

// sent is the requests for op, in order.
func (r result) sent(op string) []request {
	if r.aws == nil {
		return nil
	}
	r.aws.mu.Lock()
	defer r.aws.mu.Unlock()
	var out []request
	for _, req := range r.aws.requests {
		if req.op == op {
			out = append(out, req)
		}
	}
	return out
}

// decode unmarshals the payload of a successful invocation into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if r.errType != "" {
		t.Fatalf("error %s: %s", r.errType, r.errMsg)
	}
	if err := json.Unmarshal(r.payload, v); err != nil {
		t.Fatalf("payload %s: %v", r.payload, err)
	}
}

// invoke runs fn's bootstrap once on a host of its own with env (KEY=VALUE,
// a later one wins) as the function's environment, hands it event through
// the Runtime API and returns what it reported. With f set, the SDK is
// pointed at a new fake AWS endpoint (lambdatest.SDKEnv: fake static
// credentials, one attempt per call).
func invoke(t *testing.T, fn string, event []byte, env []string, f *awsFake) result {
	t.Helper()
	var res result
	if f != nil {
		res.aws = newEndpoint(t, *f)
		env = append(slices.Clone(env), lambdatest.SDKEnv(res.aws.URL)...)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("env %q is not KEY=VALUE", kv)
		}
		vars[k] = v
	}
	logs := &syncio.Buffer{}
	h, err := lambdahost.New(lambdahost.Options{RepoRoot: repoRoot, Region: "eu-west-1", AccountID: "111111111111",
		Functions: []lambdahost.Function{{Name: "asgdns-" + fn, Binary: binaries[fn], Timeout: 30 * time.Second, Env: vars, Logs: logs}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Build(context.Background()); err != nil { // a given Binary: nothing to build
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.Invoke(ctx, "asgdns-"+fn, event)
	// Closing kills the sandbox and waits for its process, so the logs are
	// complete when the test reads them.
	_ = h.Close()
	res.logs = logs.String()
	var fe *lambdahost.FunctionError
	switch {
	case err == nil:
		res.payload = out
	case errors.As(err, &fe):
		res.errType, res.errMsg = fe.Type, fe.Message
	default:
		t.Fatalf("invoke %s: %v\nlogs:\n%s", fn, err, res.logs)
	}
	return res
}

// input is the function's Task payload testdata/<name>.input.json, with
// its state document changed by change (if not nil).
func input(t *testing.T, fn, name string, change func(state map[string]any)) []byte {
	t.Helper()
	path := filepath.Join(repoRoot, "functions", fn, handlerPackages[fn], "testdata", name+".input.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the case's input: %v", err)
	}
	if change == nil {
		return data
	}
	var req map[string]any
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	change(req["state"].(map[string]any))
	if data, err = json.Marshal(req); err != nil {
		t.Fatal(err)
	}
	return data
}
