package lambdahost

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// invocation is one event on its way through a sandbox.
type invocation struct {
	id       string
	traceID  string
	payload  []byte
	deadline time.Time // set by run before the runtime gets the event

	posted chan outcome // the runtime's /response or /error; buffered 1
	result chan outcome // what Invoke returns; buffered 1
	// over is closed when the runtime, having answered, asks for the next
	// event: Lambda's end of an invocation.
	over chan struct{}
}

type outcome struct {
	payload []byte
	err     error
}

func newInvocation(payload []byte) *invocation {
	return &invocation{
		id:      newRequestID(),
		traceID: newTraceID(),
		payload: payload,
		posted:  make(chan outcome, 1),
		result:  make(chan outcome, 1),
		over:    make(chan struct{}),
	}
}

// finish hands Invoke its answer; run calls it once per invocation.
func (inv *invocation) finish(payload []byte, err error) {
	inv.result <- outcome{payload: payload, err: err}
}

// sandbox is one execution environment: one process of the function's
// binary and the Runtime API it talks to.
type sandbox struct {
	fn  *function
	cmd *exec.Cmd
	srv *http.Server
	out *lineWriter

	// ready is closed when the runtime first asks for an event (GET
	// /next): init is over.
	ready chan struct{}
	// events hands an event to the runtime waiting in /next.
	events chan *invocation
	// initFailed carries an error the runtime posted to /init/error.
	initFailed chan *FunctionError
	// exited is closed once the process has exited; exit is then its state
	// ("exit status 1", "signal: killed"; empty for a clean exit).
	exited chan struct{}
	exit   string

	mu       sync.Mutex
	initDone bool        // ready is closed
	current  *invocation // the event the runtime holds
	answered bool        // it has posted the answer to current
}

// start launches a new sandbox: its Runtime API on a loopback port, then
// the process pointed at it.
func (fn *function) start() (*sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdahost: %s: runtime API: %w", fn.Name, err)
	}
	sb := &sandbox{
		fn:         fn,
		out:        &lineWriter{dst: fn.logs},
		ready:      make(chan struct{}),
		events:     make(chan *invocation),
		initFailed: make(chan *FunctionError, 1),
		exited:     make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", sb.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", sb.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", sb.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", sb.handleInitError)
	sb.srv = &http.Server{Handler: mux}
	go func() { _ = sb.srv.Serve(ln) }() // returns when wait closes the server

	bin := fn.bin()
	sb.cmd = exec.Command(bin)
	sb.cmd.Dir = filepath.Dir(bin) // Lambda starts the runtime in LAMBDA_TASK_ROOT
	sb.cmd.Env = fn.environ(ln.Addr().String())
	sb.cmd.Stdout, sb.cmd.Stderr = sb.out, sb.out
	// A process that leaves a child holding its output open must not hang
	// wait once it has exited.
	sb.cmd.WaitDelay = time.Second
	if err := sb.cmd.Start(); err != nil {
		_ = sb.srv.Close()
		return nil, fmt.Errorf("lambdahost: %s: start %s: %w", fn.Name, bin, err)
	}

	h := fn.h
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = sb.cmd.Process.Kill()
		_ = sb.cmd.Wait()
		_ = sb.srv.Close()
		return nil, ErrClosed
	}
	h.live[sb] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	go sb.wait()
	return sb, nil
}

// wait reaps the process and tears the sandbox down.
func (sb *sandbox) wait() {
	_ = sb.cmd.Wait() // the state below says how it ended
	if st := sb.cmd.ProcessState; st != nil && !st.Success() {
		sb.exit = st.String()
	}
	sb.out.flush()
	close(sb.exited)
	_ = sb.srv.Close()
	sb.fn.forget(sb)
	h := sb.fn.h
	h.mu.Lock()
	delete(h.live, sb)
	h.mu.Unlock()
	h.wg.Done()
}

func (sb *sandbox) kill() { _ = sb.cmd.Process.Kill() }

// stop kills the process and waits until the sandbox is gone, so a new one
// never starts before the old one has left.
func (sb *sandbox) stop() {
	sb.kill()
	<-sb.exited
}

func (sb *sandbox) hasExited() bool {
	select {
	case <-sb.exited:
		return true
	default:
		return false
	}
}

// run takes inv through the sandbox: wait for a new sandbox's init, hand
// over the event, wait for the answer or the timeout, then for the runtime
// to ask for the next event, which is when Lambda considers an invocation
// over and the sandbox free. It reports whether inv must go to another
// sandbox because this warm one died before taking it.
func (sb *sandbox) run(inv *invocation, warm bool) (retry bool) {
	fn := sb.fn
	if !warm {
		// Lambda allows InitTimeout for init, then retries it within the
		// invocation under the function's timeout: so a slow init ends as
		// the invocation's timeout.
		initLimit := time.NewTimer(fn.h.initTimeout + fn.Timeout)
		defer initLimit.Stop()
		select {
		case <-sb.ready:
		case fe := <-sb.initFailed:
			sb.fail(inv, fe)
			sb.stop()
			return false
		case <-sb.exited:
			sb.failExited(inv)
			return false
		case <-initLimit.C:
			sb.fail(inv, timeoutError(inv.id, fn.Timeout))
			sb.stop()
			return false
		}
	}

	// The runtime is waiting in /next: the event and its clock start now.
	inv.deadline = time.Now().Add(fn.Timeout)
	timeout := time.NewTimer(fn.Timeout)
	defer timeout.Stop()
	select {
	case sb.events <- inv:
	case <-sb.exited:
		if warm && !fn.h.isClosed() {
			return true
		}
		sb.failExited(inv)
		return false
	case <-timeout.C: // its /next went away and never came back
		sb.fail(inv, timeoutError(inv.id, fn.Timeout))
		sb.stop()
		return false
	}
	select {
	case out := <-inv.posted:
		inv.result <- out
	case <-sb.exited:
		// An answer posted just before exiting (aws-lambda-go posts a
		// panic, then exits) is the answer.
		select {
		case out := <-inv.posted:
			inv.result <- out
		default:
			sb.failExited(inv)
		}
		return false
	case <-timeout.C:
		select {
		case out := <-inv.posted: // answered right at the deadline
			inv.result <- out
			timeout.Reset(0)
		default:
			sb.fail(inv, timeoutError(inv.id, fn.Timeout))
			sb.stop()
			return false
		}
	}

	select {
	case <-inv.over:
		fn.putIdle(sb)
	case <-sb.exited:
	case <-timeout.C:
		sb.stop() // answered, but did not ask for more within the timeout
	}
	return false
}

// fail ends inv with an error Lambda itself reports, logging it in the
// function's log as Lambda does.
func (sb *sandbox) fail(inv *invocation, fe *FunctionError) {
	if sb.fn.h.isClosed() {
		inv.finish(nil, ErrClosed)
		return
	}
	sb.fn.logs.write([]byte(fe.Message + "\n" + fe.Type + "\n"))
	inv.finish(nil, fe)
}

// failExited ends inv because the process exited without answering (after
// the last posted error, if init posted one before exiting).
func (sb *sandbox) failExited(inv *invocation) {
	select {
	case fe := <-sb.initFailed:
		sb.fail(inv, fe)
	default:
		sb.fail(inv, exitError(inv.id, sb.exit))
	}
}

// environ is the process environment of the function's sandboxes: Lambda's
// standard variables, then the function's own; nothing from this process,
// so neither its AWS credentials nor its profile reach a function.
func (fn *function) environ(runtimeAPI string) []string {
	opts := fn.h.opts
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + filepath.Dir(fn.bin()),
		"AWS_LAMBDA_FUNCTION_NAME=" + fn.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_FORMAT=" + fn.LogFormat,
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_REGION=" + opts.Region,
		"AWS_DEFAULT_REGION=" + opts.Region,
	}
	keys := make([]string, 0, len(fn.Env))
	for k := range fn.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+fn.Env[k])
	}
	// Last: exec keeps the last value of a duplicated variable, and this
	// one is the host's to set.
	return append(env, "AWS_LAMBDA_RUNTIME_API="+runtimeAPI)
}

// The Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

// handleNext gives the runtime the next event once there is one. Asking
// ends init, or the invocation the runtime has answered.
func (sb *sandbox) handleNext(w http.ResponseWriter, r *http.Request) {
	sb.mu.Lock()
	if !sb.initDone {
		sb.initDone = true
		close(sb.ready)
	}
	if sb.current != nil && sb.answered {
		close(sb.current.over)
		sb.current = nil
	}
	sb.mu.Unlock()
	select {
	case inv := <-sb.events:
		sb.mu.Lock()
		sb.current, sb.answered = inv, false
		sb.mu.Unlock()
		hdr := w.Header()
		hdr.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		hdr.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		hdr.Set("Lambda-Runtime-Invoked-Function-Arn", sb.fn.arn)
		hdr.Set("Lambda-Runtime-Trace-Id", inv.traceID)
		hdr.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload) // a broken connection ends in the timeout
	case <-r.Context().Done():
	case <-sb.exited:
	}
}

// handleResponse takes the function's response.
func (sb *sandbox) handleResponse(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the response: "+err.Error())
		return
	}
	if inv := sb.answer(w, r.PathValue("id")); inv != nil {
		inv.posted <- outcome{payload: body}
		accepted(w)
	}
}

// handleError takes the error the function's runtime reports.
func (sb *sandbox) handleError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error: "+err.Error())
		return
	}
	if inv := sb.answer(w, r.PathValue("id")); inv != nil {
		inv.posted <- outcome{err: postedError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"))}
		accepted(w)
	}
}

// answer checks that id is the event the runtime holds and that it has not
// answered it yet; otherwise it writes the Runtime API's refusal.
func (sb *sandbox) answer(w http.ResponseWriter, id string) *invocation {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	switch {
	case sb.current == nil || sb.current.id != id:
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return nil
	case sb.answered:
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "Invocation "+id+" has already been answered")
		return nil
	}
	sb.answered = true
	return sb.current
}

// handleInitError takes an init failure; the runtime is expected to exit
// after it, and run ends the sandbox.
func (sb *sandbox) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error: "+err.Error())
		return
	}
	sb.mu.Lock()
	done := sb.initDone
	sb.mu.Unlock()
	if done {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init is over: report errors of an invocation to its /error")
		return
	}
	select {
	case sb.initFailed <- postedError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")):
	default: // the first report stands
	}
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorDoc{Message: msg, Type: typ})
}

// newRequestID returns a random UUID, the form of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header like the one Lambda passes on.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
