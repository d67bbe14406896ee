package lambdahost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository holding this module.
var repoRoot, _ = filepath.Abs("../..")

// Test programs, built by TestMain: testfn (Runtime API by hand) and panicfn
// (aws-lambda-go).
var testfn, panicfn string

// realCache is where the tests build the repository's real functions, once
// per run: every host after the first reuses the binaries.
var realCache string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "lambdahost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	realCache = filepath.Join(tmp, "cache")
	testfn = filepath.Join(tmp, "testfn", "bootstrap")
	panicfn = filepath.Join(tmp, "panicfn", "bootstrap")
	for _, b := range []struct{ dir, out string }{{"testdata/testfn", testfn}, {"testdata/panicfn", panicfn}} {
		cmd := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", b.out, ".")...)
		cmd.Dir = b.dir
		// panicfn is a module of its own, outside the workspace.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.dir, err, out)
			os.Exit(2)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(tmp)
	os.Exit(code)
}

// newHost builds and starts a host for fns, closed when the test ends.
func newHost(t testing.TB, fns ...Function) *Host {
	t.Helper()
	h, err := New(Options{RepoRoot: repoRoot, CacheDir: realCache, Region: "eu-west-1", AccountID: "111111111111", Functions: fns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// testFunction is testfn under name.
func testFunction(name string) Function {
	return Function{Name: name, Binary: testfn, Timeout: time.Minute}
}

// reply is what testfn answers.
type reply struct {
	PID       int               `json:"pid"`
	Echo      json.RawMessage   `json:"echo"`
	RequestID string            `json:"requestId"`
	Deadline  string            `json:"deadlineMs"`
	ARN       string            `json:"arn"`
	TraceID   string            `json:"traceId"`
	Env       map[string]string `json:"env"`
}

// invoke invokes a testfn function and decodes its reply.
func invoke(t testing.TB, h *Host, name, event string) reply {
	t.Helper()
	out, err := h.Invoke(context.Background(), name, []byte(event))
	if err != nil {
		t.Fatalf("invoke %s %s: %v", name, event, err)
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("reply %s: %v", out, err)
	}
	return r
}

// functionError asserts err is a *FunctionError of type typ.
func functionError(t testing.TB, err error, typ string) *FunctionError {
	t.Helper()
	fe, ok := err.(*FunctionError)
	if !ok {
		t.Fatalf("got %T (%v), want a *FunctionError %s", err, err, typ)
	}
	if fe.Type != typ || fe.ErrorName() != typ {
		t.Fatalf("got %s (%s), want %s", fe.Type, fe.Message, typ)
	}
	return fe
}

// gate is an HTTP endpoint test functions wait on (testfn's "get") until
// the test opens it.
type gate struct {
	*httptest.Server
	open    chan struct{}
	arrived chan struct{}
}

func newGate(t testing.TB) *gate {
	g := &gate{open: make(chan struct{}), arrived: make(chan struct{}, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.open:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(g.Close)
	return g
}

// waitArrival waits until a function is waiting at the gate.
func (g *gate) waitArrival(t testing.TB) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(time.Minute):
		t.Fatal("no function reached the gate within a minute")
	}
}

// eventually waits up to a minute for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *Host) liveSandboxes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.live)
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q lacks %q", s, sub)
		}
	}
	return nil
}
