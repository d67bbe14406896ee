package lambdahost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/syncio"
)

// TestEnvironmentAndHeaders: the function sees Lambda's standard variables
// and its own, nothing of the host's environment, and the Runtime API
// headers of its invocation.
func TestEnvironmentAndHeaders(t *testing.T) {
	t.Setenv("LAMBDAHOST_TEST_LEAK", "host secret")
	fn := testFunction("asgdns-Test")
	fn.Timeout, fn.MemoryMB, fn.LogFormat = 15*time.Second, 256, "JSON"
	fn.Env = map[string]string{"ASGDNS_ZONE": "corp.example.com", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
		"AWS_LAMBDA_RUNTIME_API": "10.0.0.1:9001"}
	h := newHost(t, fn)
	before := time.Now()
	r := invoke(t, h, "asgdns-Test", `{"echo":{"hello":"world"}}`)

	if string(r.Echo) != `{"hello":"world"}` {
		t.Errorf("echo %s", r.Echo)
	}
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "asgdns-Test",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/asgdns-Test",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                strings.TrimSuffix(testfn, "/bootstrap"),
		"ASGDNS_ZONE":                     "corp.example.com",
		"AWS_ENDPOINT_URL":                "http://127.0.0.1:1",
	}
	for k, v := range want {
		if r.Env[k] != v {
			t.Errorf("%s=%q, want %q", k, r.Env[k], v)
		}
	}
	if api := r.Env["AWS_LAMBDA_RUNTIME_API"]; !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(api) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API=%q, want the host's own loopback port", api)
	}
	if _, leaked := r.Env["LAMBDAHOST_TEST_LEAK"]; leaked {
		t.Error("the host's environment leaked into the function")
	}
	if r.ARN != "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-Test" {
		t.Errorf("arn %q", r.ARN)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.RequestID) {
		t.Errorf("request id %q is not a UUID", r.RequestID)
	}
	if !strings.HasPrefix(r.TraceID, "Root=1-") {
		t.Errorf("trace id %q", r.TraceID)
	}
	ms, err := strconv.ParseInt(r.Deadline, 10, 64)
	if err != nil {
		t.Fatalf("deadline %q: %v", r.Deadline, err)
	}
	if d := time.UnixMilli(ms); d.Before(before.Add(15*time.Second-time.Millisecond)) || d.After(time.Now().Add(15*time.Second)) {
		t.Errorf("deadline %s is not the invocation's start plus the 15 s timeout", d)
	}
}

// TestWarmReuse: an idle sandbox serves the next invocation, same process.
func TestWarmReuse(t *testing.T) {
	fn := testFunction("warm")
	fn.Concurrency = 1
	h := newHost(t, fn)
	first := invoke(t, h, "warm", `{}`)
	second := invoke(t, h, "warm", `{}`)
	if first.PID != second.PID {
		t.Errorf("second invocation ran in process %d, not the warm %d", second.PID, first.PID)
	}
	if first.RequestID == second.RequestID {
		t.Error("two invocations share a request id")
	}
	if n := h.liveSandboxes(); n != 1 {
		t.Errorf("%d sandboxes, want 1", n)
	}
}

// tracker counts invocations inside it at once. Each waits until `limit`
// are inside (or all `total` have come), so a limit the host honours is
// reached for certain and one it does not is exceeded.
type tracker struct {
	*httptest.Server
	mu                            sync.Mutex
	cond                          *sync.Cond
	active, max, entered, release int
	limit, total                  int
	stuck                         bool
}

func newTracker(t *testing.T, limit, total int) *tracker {
	tr := &tracker{limit: limit, total: total}
	tr.cond = sync.NewCond(&tr.mu)
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.active++
		tr.entered++
		tr.max = max(tr.max, tr.active)
		gen := tr.release
		if tr.active >= tr.limit || tr.entered == tr.total {
			tr.release++
			tr.cond.Broadcast()
		}
		timer := time.AfterFunc(time.Minute, func() {
			tr.mu.Lock()
			tr.stuck = true
			tr.release++
			tr.cond.Broadcast()
			tr.mu.Unlock()
		})
		for tr.release == gen {
			tr.cond.Wait()
		}
		timer.Stop()
		tr.active--
	}))
	t.Cleanup(tr.Close)
	return tr
}

// TestConcurrencyLimit: N parallel invocations never run more than the
// function's concurrency at once, and reach it.
func TestConcurrencyLimit(t *testing.T) {
	const limit, total = 3, 12
	fn := testFunction("limited")
	fn.Concurrency = limit
	h := newHost(t, fn)
	tr := newTracker(t, limit, total)

	var wg sync.WaitGroup
	pids := make(chan int, total)
	for range total {
		wg.Go(func() {
			pids <- invoke(t, h, "limited", fmt.Sprintf(`{"get":%q}`, tr.URL)).PID
		})
	}
	wg.Wait()
	close(pids)
	distinct := map[int]bool{}
	for pid := range pids {
		distinct[pid] = true
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.stuck {
		t.Fatalf("invocations waited a minute for %d to run at once (max %d)", limit, tr.max)
	}
	if tr.max != limit {
		t.Errorf("at most %d invocations ran at once, want exactly the limit %d", tr.max, limit)
	}
	if len(distinct) > limit {
		t.Errorf("%d sandboxes served the function, more than its concurrency %d", len(distinct), limit)
	}
}

// TestThrottle: beyond the concurrency an invocation waits QueueWait, then
// fails as Lambda's throttle does; a negative QueueWait fails at once.
func TestThrottle(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait time.Duration
	}{{"after QueueWait", 300 * time.Millisecond}, {"at once", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			fn := testFunction("busy")
			fn.Concurrency, fn.QueueWait = 1, tc.wait
			h := newHost(t, fn)
			g := newGate(t)
			first := make(chan error, 1)
			go func() {
				_, err := h.Invoke(context.Background(), "busy", fmt.Appendf(nil, `{"get":%q}`, g.URL))
				first <- err
			}()
			g.waitArrival(t)

			start := time.Now()
			_, err := h.Invoke(context.Background(), "busy", []byte(`{}`))
			var se *ServiceError
			if !errors.As(err, &se) || se.ErrorName() != "Lambda.TooManyRequestsException" || se.StatusCode != 429 {
				t.Fatalf("got %v, want Lambda.TooManyRequestsException", err)
			}
			if waited := time.Since(start); waited < tc.wait {
				t.Errorf("throttled after %s, before the QueueWait %s", waited, tc.wait)
			}
			if err := contains(se.ErrorCause(), "Rate Exceeded.", "Error Code: TooManyRequestsException"); err != nil {
				t.Error(err)
			}
			close(g.open)
			if err := <-first; err != nil {
				t.Fatalf("the invocation holding the sandbox: %v", err)
			}
		})
	}
}

// TestQueueWaits: an invocation beyond the concurrency waits for the busy
// sandbox and then runs in it.
func TestQueueWaits(t *testing.T) {
	fn := testFunction("queued")
	fn.Concurrency = 1
	h := newHost(t, fn)
	g := newGate(t)
	first := make(chan reply, 1)
	go func() { first <- invoke(t, h, "queued", fmt.Sprintf(`{"get":%q}`, g.URL)) }()
	g.waitArrival(t)
	second := make(chan reply, 1)
	go func() { second <- invoke(t, h, "queued", `{}`) }()
	close(g.open)
	a, b := <-first, <-second
	if a.PID != b.PID {
		t.Errorf("the queued invocation ran in process %d, not in the sandbox it waited for (%d)", b.PID, a.PID)
	}
}

// TestTimeout: an invocation running past the timeout fails as Lambda's
// does, its sandbox is killed, and the next invocation gets a fresh one.
func TestTimeout(t *testing.T) {
	logs := &syncio.Buffer{}
	fn := testFunction("slow")
	fn.Timeout, fn.Concurrency, fn.Logs = 2*time.Second, 1, logs
	h := newHost(t, fn)
	warm := invoke(t, h, "slow", `{}`)

	start := time.Now()
	_, err := h.Invoke(context.Background(), "slow", []byte(`{"sleep":"1h"}`))
	fe := functionError(t, err, "Sandbox.Timedout")
	if !regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Task timed out after 2\.00 seconds$`).MatchString(fe.Message) {
		t.Errorf("message %q", fe.Message)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("timed out after %s, before the 2 s timeout", took)
	}
	var cause map[string]string
	if err := json.Unmarshal([]byte(fe.ErrorCause()), &cause); err != nil || cause["errorType"] != "Sandbox.Timedout" || cause["errorMessage"] != fe.Message {
		t.Errorf("cause %s", fe.ErrorCause())
	}
	if err := contains(logs.String(), fe.Message+"\nSandbox.Timedout\n"); err != nil {
		t.Errorf("Lambda's log line: %v", err)
	}
	fresh := invoke(t, h, "slow", `{}`)
	if fresh.PID == warm.PID {
		t.Error("the timed-out sandbox served the next invocation")
	}
	if n := h.liveSandboxes(); n != 1 {
		t.Errorf("%d sandboxes alive, want only the fresh one", n)
	}
}

// TestRuntimeExits: a runtime that exits mid-invocation fails it with
// Runtime.ExitError; the next invocation gets a fresh sandbox.
func TestRuntimeExits(t *testing.T) {
	fn := testFunction("crashy")
	fn.Concurrency = 1
	h := newHost(t, fn)
	for _, tc := range []struct{ event, want string }{
		{`{"exit":2}`, "Error: Runtime exited with error: exit status 2"},
		{`{"exit":0}`, "Error: Runtime exited without providing a reason"},
	} {
		before := invoke(t, h, "crashy", `{}`)
		_, err := h.Invoke(context.Background(), "crashy", []byte(tc.event))
		fe := functionError(t, err, "Runtime.ExitError")
		if !strings.HasPrefix(fe.Message, "RequestId: ") || !strings.HasSuffix(fe.Message, tc.want) {
			t.Errorf("%s: message %q, want RequestId: … %s", tc.event, fe.Message, tc.want)
		}
		if after := invoke(t, h, "crashy", `{}`); after.PID == before.PID {
			t.Errorf("%s: the exited sandbox served again", tc.event)
		}
	}
}

// TestInitFailures: a runtime that exits during init, or reports an init
// error, fails the invocation that started it.
func TestInitFailures(t *testing.T) {
	logs := &syncio.Buffer{}
	exits, reports := testFunction("exits"), testFunction("reports")
	exits.Env, exits.Logs = map[string]string{"TESTFN_INIT": "exit"}, logs
	reports.Env = map[string]string{"TESTFN_INIT": "error"}
	h := newHost(t, exits, reports)

	_, err := h.Invoke(context.Background(), "exits", []byte(`{}`))
	fe := functionError(t, err, "Runtime.ExitError")
	if !strings.HasSuffix(fe.Message, "Error: Runtime exited with error: exit status 3") {
		t.Errorf("message %q", fe.Message)
	}
	if err := contains(logs.String(), "testfn: init fails by exiting\n"); err != nil {
		t.Error(err)
	}

	_, err = h.Invoke(context.Background(), "reports", []byte(`{}`))
	fe = functionError(t, err, "Runtime.ConfigInvalid")
	if fe.Message != "TESTFN_INIT asks for an init error" {
		t.Errorf("message %q", fe.Message)
	}
	eventually(t, "failed sandboxes gone", func() bool { return h.liveSandboxes() == 0 })
}

// TestPostedErrors: the error a runtime posts reaches the caller by its
// type name, with its document as the cause; the sandbox stays warm. A
// runtime that posts and then exits (aws-lambda-go after a panic) is
// reported by what it posted.
func TestPostedErrors(t *testing.T) {
	fn := testFunction("failing")
	fn.Concurrency = 1
	h := newHost(t, fn)
	warm := invoke(t, h, "failing", `{}`)
	for _, typ := range []string{"InvalidEvent", "Throttled", "Unavailable"} {
		_, err := h.Invoke(context.Background(), "failing", fmt.Appendf(nil, `{"error":%q}`, typ))
		fe := functionError(t, err, typ)
		want := fmt.Sprintf(`{"errorMessage":"testfn fails as asked","errorType":%q,"stackTrace":["main.handle"]}`, typ)
		if fe.ErrorCause() != want || fe.Message != "testfn fails as asked" {
			t.Errorf("cause %s, want the posted document %s", fe.ErrorCause(), want)
		}
	}
	if again := invoke(t, h, "failing", `{}`); again.PID != warm.PID {
		t.Error("a function error cost the sandbox")
	}

	_, err := h.Invoke(context.Background(), "failing", []byte(`{"error":"string","postThenExit":true}`))
	_ = functionError(t, err, "string")
	if fresh := invoke(t, h, "failing", `{}`); fresh.PID == warm.PID {
		t.Error("the exited sandbox served again")
	}
}

// TestPanic: a Go handler's panic as aws-lambda-go reports it: the panic
// value's type name, its message, and a stack trace in the cause; the
// process exits and the next invocation runs in a fresh one.
func TestPanic(t *testing.T) {
	h := newHost(t, Function{Name: "panics", Binary: panicfn, Concurrency: 1})
	_, err := h.Invoke(context.Background(), "panics", []byte(`{"panic":"boom"}`))
	fe := functionError(t, err, "string")
	if fe.Message != "boom" {
		t.Errorf("message %q", fe.Message)
	}
	var cause struct {
		Type       string `json:"errorType"`
		StackTrace []struct {
			Label string `json:"label"`
		} `json:"stackTrace"`
	}
	if err := json.Unmarshal([]byte(fe.ErrorCause()), &cause); err != nil || cause.Type != "string" || len(cause.StackTrace) == 0 {
		t.Errorf("cause %s, want aws-lambda-go's document with a stackTrace", fe.ErrorCause())
	}
	out, err := h.Invoke(context.Background(), "panics", []byte(`{}`))
	if err != nil || string(out) != `{"ok":true}` {
		t.Errorf("after the panic: %s, %v", out, err)
	}
}

// TestLogs: what sandboxes print goes to the function's writer in whole
// lines, never into the invocation's result.
func TestLogs(t *testing.T) {
	logs := &syncio.Buffer{}
	fn := testFunction("chatty")
	fn.Logs = logs
	h := newHost(t, fn)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := h.Invoke(context.Background(), "chatty", fmt.Appendf(nil, `{"log":"line %02d %s"}`, i, strings.Repeat("x", 2000)))
			if err != nil || strings.Contains(string(out), "line ") {
				t.Errorf("result %.80s…, %v: want the reply alone", out, err)
			}
		})
	}
	wg.Wait()
	// Output reaches the writer through a pipe, a little after the answer
	// (as in Lambda, logs are not part of the invocation).
	eventually(t, "stdout and stderr of every invocation logged", func() bool { return strings.Count(logs.String(), "\n") >= 2*n })
	lines := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
	if len(lines) != 2*n {
		t.Fatalf("%d log lines, want %d (stdout and stderr of %d invocations)", len(lines), 2*n, n)
	}
	whole := regexp.MustCompile(`^line \d\d x+$`)
	for _, l := range lines {
		if !whole.MatchString(l) || len(l) != len("line 00 ")+2000 {
			t.Fatalf("mangled log line %.80q…", l)
		}
	}
}

// TestHundredConcurrent: 100 concurrent invocations across five functions
// all succeed, each within its function's concurrency.
func TestHundredConcurrent(t *testing.T) {
	var fns []Function
	for i := range 5 {
		fn := testFunction(fmt.Sprintf("fn-%d", i))
		fn.QueueWait = time.Minute // a loaded machine may start 50 sandboxes slowly
		fns = append(fns, fn)
	}
	h := newHost(t, fns...)
	var mu sync.Mutex
	pids := map[string]map[int]bool{}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			name := fmt.Sprintf("fn-%d", i%5)
			r := invoke(t, h, name, fmt.Sprintf(`{"echo":%d}`, i))
			if string(r.Echo) != strconv.Itoa(i) || r.Env["AWS_LAMBDA_FUNCTION_NAME"] != name {
				t.Errorf("invocation %d of %s answered %s from %s", i, name, r.Echo, r.Env["AWS_LAMBDA_FUNCTION_NAME"])
			}
			mu.Lock()
			if pids[name] == nil {
				pids[name] = map[int]bool{}
			}
			pids[name][r.PID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, p := range pids {
		if len(p) > DefaultConcurrency {
			t.Errorf("%s ran in %d sandboxes, over its concurrency %d", name, len(p), DefaultConcurrency)
		}
	}
}

// TestCancel: a cancelled caller gets its context's error at once; the
// invocation runs on, then frees its sandbox.
func TestCancel(t *testing.T) {
	fn := testFunction("cancelled")
	fn.Concurrency = 1
	h := newHost(t, fn)
	g := newGate(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Invoke(ctx, "cancelled", fmt.Appendf(nil, `{"get":%q}`, g.URL))
		done <- err
	}()
	g.waitArrival(t)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	close(g.open)
	invoke(t, h, "cancelled", `{}`) // the slot came back
}

// TestClose: Close stops every sandbox; invocations in progress and later
// ones fail with ErrClosed.
func TestClose(t *testing.T) {
	h := newHost(t, testFunction("closing"))
	invoke(t, h, "closing", `{}`)
	g := newGate(t)
	done := make(chan error, 1)
	go func() {
		_, err := h.Invoke(context.Background(), "closing", fmt.Appendf(nil, `{"get":%q}`, g.URL))
		done <- err
	}()
	g.waitArrival(t)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("in progress: got %v, want ErrClosed", err)
	}
	if _, err := h.Invoke(context.Background(), "closing", []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
	if n := h.liveSandboxes(); n != 0 {
		t.Errorf("%d sandboxes alive after Close", n)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestInvokeErrors(t *testing.T) {
	h, err := New(Options{RepoRoot: repoRoot, Functions: []Function{testFunction("unbuilt")}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	_, err = h.Invoke(context.Background(), "nope", []byte(`{}`))
	var se *ServiceError
	if !errors.As(err, &se) || se.ErrorName() != "Lambda.ResourceNotFoundException" ||
		se.Message != "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" {
		t.Errorf("unknown function: %v", err)
	}
	if _, err := h.Invoke(context.Background(), "unbuilt", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "call Build first") {
		t.Errorf("before Build: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no root", Options{}, "RepoRoot"},
		{"no name", Options{RepoRoot: ".", Functions: []Function{{Dir: "x"}}}, "no Name"},
		{"twice", Options{RepoRoot: ".", Functions: []Function{{Name: "a", Dir: "x"}, {Name: "a", Dir: "y"}}}, "twice"},
		{"nothing to run", Options{RepoRoot: ".", Functions: []Function{{Name: "a"}}}, "needs a Dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// TestInitHangs: a runtime that never asks for an event is given Lambda's
// init time plus the function's timeout, then fails as a timeout.
func TestInitHangs(t *testing.T) {
	fn := testFunction("hangs")
	fn.Timeout, fn.Env = time.Second, map[string]string{"TESTFN_INIT": "hang"}
	h, err := New(Options{RepoRoot: repoRoot, Functions: []Function{fn}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	h.initTimeout = 100 * time.Millisecond
	if err := h.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = h.Invoke(context.Background(), "hangs", []byte(`{}`))
	fe := functionError(t, err, "Sandbox.Timedout")
	if !strings.HasSuffix(fe.Message, "Error: Task timed out after 1.00 seconds") {
		t.Errorf("message %q", fe.Message)
	}
	if took := time.Since(start); took < 1100*time.Millisecond {
		t.Errorf("gave up after %s, before init time plus timeout", took)
	}
	eventually(t, "the hung sandbox killed", func() bool { return h.liveSandboxes() == 0 })
}

// TestIdleSandboxDies: a warm sandbox killed while idle is not used again;
// the next invocation runs in a new one.
func TestIdleSandboxDies(t *testing.T) {
	fn := testFunction("killed")
	fn.Concurrency = 1
	h := newHost(t, fn)
	first := invoke(t, h, "killed", `{}`)
	h.mu.Lock()
	for sb := range h.live {
		sb.kill()
	}
	h.mu.Unlock()
	eventually(t, "the killed sandbox gone", func() bool { return h.liveSandboxes() == 0 })
	if next := invoke(t, h, "killed", `{}`); next.PID == first.PID {
		t.Error("the killed sandbox served again")
	}
}
