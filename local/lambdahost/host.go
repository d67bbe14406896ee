// Package lambdahost runs asgdns's functions on this machine the way AWS
// Lambda runs them: the real bootstrap binaries, built from functions/<dir>
// for this machine's OS and architecture, each execution environment
// ("sandbox") one process talking to its own Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API) served here.
//
//	h, err := lambdahost.New(lambdahost.Options{RepoRoot: root, Functions: []lambdahost.Function{{
//		Name: "asgdns-DescribeInstance", Dir: "describe-instance", Timeout: 15 * time.Second,
//		Env: map[string]string{"ASGDNS_ZONE": "corp.example.com", "AWS_ENDPOINT_URL": endpoint},
//		Logs: os.Stderr,
//	}}})
//	err = h.Build(ctx)                                     // builds, or reuses the cached binary
//	out, err := h.Invoke(ctx, "asgdns-DescribeInstance", payload)
//	defer h.Close()
//
// What Lambda does and this host does too:
//   - warm reuse: a sandbox whose runtime is waiting for the next event
//     serves the next invocation of its function (same process);
//   - a per-function concurrency limit, sandboxes created on demand;
//   - a timeout per invocation, after which the sandbox is killed;
//   - errors as Lambda reports them (see FunctionError): the errorType the
//     runtime posted, Sandbox.Timedout, Runtime.ExitError;
//   - a clean environment: the standard Lambda variables plus the
//     function's own, nothing inherited from this process.
//
// Invocations beyond a function's concurrency wait up to its QueueWait for a
// sandbox, then fail with Lambda.TooManyRequestsException (a ServiceError).
// Real Lambda throttles at once; waiting a little keeps a burst of local
// executions from spending their Retry budget on throttles, and a negative
// QueueWait restores Lambda's behaviour.
package lambdahost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Defaults for the zero values of Function and Options.
const (
	DefaultTimeout     = 3 * time.Second // Lambda's default function timeout
	DefaultMemoryMB    = 128
	DefaultConcurrency = 10
	DefaultQueueWait   = 10 * time.Second
	DefaultRegion      = "us-east-1"
	DefaultAccountID   = "123456789012"

	// InitTimeout is how long Lambda gives a new execution environment to
	// initialise (the runtime's first call for an event) before it retries
	// the init within the invocation, under the function's timeout.
	InitTimeout = 10 * time.Second
)

// ErrClosed is returned by Invoke once Close has been called.
var ErrClosed = errors.New("lambdahost: host closed")

// Options configures a Host.
type Options struct {
	// RepoRoot is the repository: a Go workspace (go.work) holding
	// functions/<dir> and the shared module workflow/.
	RepoRoot string
	// CacheDir holds the built binaries, one folder per function. Default:
	// RepoRoot/build/local/<goos>_<goarch> (build/ is git-ignored).
	CacheDir string
	// Region is the functions' AWS_REGION and AWS_DEFAULT_REGION and, with
	// AccountID, goes into their ARNs. Defaults: DefaultRegion,
	// DefaultAccountID.
	Region    string
	AccountID string
	// BuildLog, if set, gets one line per function from Build saying
	// whether it was built or reused.
	BuildLog io.Writer
	// Functions are the functions the host runs.
	Functions []Function
}

// Function is one Lambda function.
type Function struct {
	// Name is the function name: what Invoke takes, and
	// AWS_LAMBDA_FUNCTION_NAME.
	Name string
	// Dir is the function's folder under RepoRoot/functions, built into the
	// bootstrap binary by Build.
	Dir string
	// Binary, if set, is an already built bootstrap to run instead of
	// building Dir (test programs, or a binary built elsewhere).
	Binary string
	// Timeout of one invocation (default DefaultTimeout).
	Timeout time.Duration
	// MemoryMB is reported to the function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
	// it is not enforced. Default DefaultMemoryMB.
	MemoryMB int
	// Concurrency is the most sandboxes, and so invocations in progress,
	// the function has at once (default DefaultConcurrency).
	Concurrency int
	// QueueWait is how long an invocation beyond Concurrency waits for a
	// free sandbox before failing with Lambda.TooManyRequestsException
	// (default DefaultQueueWait; negative: fail at once, as Lambda does).
	QueueWait time.Duration
	// LogFormat is AWS_LAMBDA_LOG_FORMAT: "Text" (Lambda's default) or
	// "JSON".
	LogFormat string
	// Env is the function's own environment (its configuration,
	// credentials, AWS_ENDPOINT_URL, ...), added to the standard Lambda
	// variables; it may override all of them but AWS_LAMBDA_RUNTIME_API.
	Env map[string]string
	// Logs gets everything the function's sandboxes write to stdout and
	// stderr, whole lines at a time, plus the lines Lambda itself logs for
	// a timeout or a runtime that exited. Default: discarded.
	Logs io.Writer
}

// Host runs functions in sandboxes. Its methods are safe for concurrent use.
type Host struct {
	opts        Options
	funcs       map[string]*function
	order       []*function   // as configured: Build goes through them in order
	initTimeout time.Duration // InitTimeout; tests shorten it

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
	live   map[*sandbox]struct{}
	wg     sync.WaitGroup // one per live sandbox process
}

// function is a Function with its sandboxes.
type function struct {
	Function
	h    *Host
	arn  string
	logs *syncWriter
	// slots holds one token per invocation in progress, up to Concurrency.
	// An invocation keeps its token until its sandbox has asked for the
	// next event (or is gone), so sandboxes never outnumber Concurrency.
	slots chan struct{}

	mu     sync.Mutex
	binary string     // set by Build
	idle   []*sandbox // waiting in /next for an event; the last is the warmest
}

// New checks the options and returns a host; call Build before Invoke.
func New(opts Options) (*Host, error) {
	if opts.RepoRoot == "" {
		return nil, errors.New("lambdahost: RepoRoot is required")
	}
	root, err := filepath.Abs(opts.RepoRoot)
	if err != nil {
		return nil, fmt.Errorf("lambdahost: %w", err)
	}
	opts.RepoRoot = root
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(root, "build", "local", runtime.GOOS+"_"+runtime.GOARCH)
	}
	if opts.CacheDir, err = filepath.Abs(opts.CacheDir); err != nil {
		return nil, fmt.Errorf("lambdahost: %w", err)
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	h := &Host{opts: opts, funcs: map[string]*function{}, initTimeout: InitTimeout, done: make(chan struct{}), live: map[*sandbox]struct{}{}}
	for _, f := range opts.Functions {
		if f.Name == "" {
			return nil, errors.New("lambdahost: a function has no Name")
		}
		if _, dup := h.funcs[f.Name]; dup {
			return nil, fmt.Errorf("lambdahost: function %s configured twice", f.Name)
		}
		if f.Dir == "" && f.Binary == "" {
			return nil, fmt.Errorf("lambdahost: function %s needs a Dir (or a Binary)", f.Name)
		}
		if f.Timeout <= 0 {
			f.Timeout = DefaultTimeout
		}
		if f.MemoryMB <= 0 {
			f.MemoryMB = DefaultMemoryMB
		}
		if f.Concurrency <= 0 {
			f.Concurrency = DefaultConcurrency
		}
		if f.QueueWait == 0 {
			f.QueueWait = DefaultQueueWait
		}
		if f.LogFormat == "" {
			f.LogFormat = "Text"
		}
		if f.Logs == nil {
			f.Logs = io.Discard
		}
		fn := &function{
			Function: f,
			h:        h,
			arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", opts.Region, opts.AccountID, f.Name),
			logs:     &syncWriter{w: f.Logs},
			slots:    make(chan struct{}, f.Concurrency),
		}
		h.funcs[f.Name] = fn
		h.order = append(h.order, fn)
	}
	return h, nil
}

// Invoke runs one invocation of the named function with payload (a JSON
// event), as a synchronous Lambda Invoke does, and returns the function's
// response. A function error (returned by the handler, a timeout, a
// runtime that exited) is a *FunctionError; a throttle or an unknown
// function is a *ServiceError.
//
// Cancelling ctx makes Invoke return ctx.Err() at once, but, as in Lambda,
// the invocation itself runs on to its end or its timeout.
func (h *Host) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	fn, ok := h.funcs[name]
	if !ok {
		return nil, &ServiceError{Code: "ResourceNotFoundException", StatusCode: 404,
			Message: fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", h.opts.Region, h.opts.AccountID, name)}
	}
	if fn.bin() == "" {
		return nil, fmt.Errorf("lambdahost: function %s is not built: call Build first", name)
	}
	if err := fn.acquire(ctx); err != nil {
		return nil, err
	}
	inv := newInvocation(payload)
	go fn.serve(inv) // owns the slot from here on
	select {
	case out := <-inv.result:
		return out.payload, out.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops every sandbox and waits for their processes to exit.
// Invocations in progress fail with ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	live := make([]*sandbox, 0, len(h.live))
	for sb := range h.live {
		live = append(live, sb)
	}
	h.mu.Unlock()
	for _, sb := range live {
		sb.kill()
	}
	h.wg.Wait()
	return nil
}

func (h *Host) isClosed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Binary is the bootstrap the named function runs: the one Build built (or
// reused, or was given as Function.Binary); empty before Build or for a
// function the host does not run. Other hosts can run it as their
// Function.Binary without building again.
func (h *Host) Binary(name string) string {
	fn, ok := h.funcs[name]
	if !ok {
		return ""
	}
	return fn.bin()
}

func (fn *function) bin() string {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.binary
}

func (fn *function) setBinary(path string) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.binary = path
}

// acquire takes a concurrency slot, waiting up to QueueWait for one.
func (fn *function) acquire(ctx context.Context) error {
	select {
	case fn.slots <- struct{}{}:
		return nil
	case <-fn.h.done:
		return ErrClosed
	default:
	}
	if fn.QueueWait < 0 {
		return throttled(fn)
	}
	wait := time.NewTimer(fn.QueueWait)
	defer wait.Stop()
	select {
	case fn.slots <- struct{}{}:
		return nil
	case <-wait.C:
		return throttled(fn)
	case <-ctx.Done():
		return ctx.Err()
	case <-fn.h.done:
		return ErrClosed
	}
}

func (fn *function) release() { <-fn.slots }

// serve runs inv to its end on a warm sandbox or a new one, then gives the
// slot back.
func (fn *function) serve(inv *invocation) {
	defer fn.release()
	for {
		sb, warm, err := fn.sandbox()
		if err != nil {
			inv.finish(nil, err)
			return
		}
		if !sb.run(inv, warm) {
			return
		}
		// A warm sandbox died before taking the event (killed from outside):
		// Lambda would place the event elsewhere, and so do we.
	}
}

// sandbox returns the warmest idle sandbox, or starts a new one.
func (fn *function) sandbox() (sb *sandbox, warm bool, err error) {
	fn.mu.Lock()
	for len(fn.idle) > 0 {
		sb = fn.idle[len(fn.idle)-1]
		fn.idle = fn.idle[:len(fn.idle)-1]
		if !sb.hasExited() {
			fn.mu.Unlock()
			return sb, true, nil
		}
	}
	fn.mu.Unlock()
	sb, err = fn.start()
	return sb, false, err
}

// putIdle makes sb available to the next invocation.
func (fn *function) putIdle(sb *sandbox) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if !sb.hasExited() {
		fn.idle = append(fn.idle, sb)
	}
}

// forget drops an exited sandbox from the idle list.
func (fn *function) forget(sb *sandbox) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	for i, s := range fn.idle {
		if s == sb {
			fn.idle = append(fn.idle[:i], fn.idle[i+1:]...)
			return
		}
	}
}
