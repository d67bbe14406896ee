package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asgdns/asgdns/local/asl"
)

// Options configures a Service.
type Options struct {
	// Engine runs the executions. Required.
	Engine *asl.Engine
	// Clock is the engine's clock: the service reads it for creation dates,
	// the 14-day redrive window and the 15-minute life of redrive client
	// tokens, so that a test on a VirtualClock can age executions with
	// Advance. RealClock() when nil.
	Clock asl.Clock
	// Region and Account go into the ARNs the service forms;
	// us-east-1 and 123456789012 when empty.
	Region  string
	Account string
}

// Service is the Step Functions API over an asl.Engine: an http.Handler
// for the AWS JSON 1.0 protocol, and a Go API for the rest of the local
// stack (registering state machines, starting executions from EventBridge,
// waiting for results). It is safe for concurrent use.
type Service struct {
	engine          *asl.Engine
	clock           asl.Clock
	region, account string

	// ctx is the life of every execution: executions must outlive the
	// request that started them, and end (ABORTED) when the service closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	machines   map[string]*stateMachine // by ARN
	order      []*stateMachine          // registration order, for ListStateMachines
	executions map[string]*execution    // by ARN
	listeners  map[int]func(Finished)
	nextID     int

	// life guards closed and the additions to watchers (one per run in
	// progress), so that Close never misses a run. It is the innermost
	// lock: s.mu, then an execution's mu, then life.
	life     sync.Mutex
	closed   bool
	watchers sync.WaitGroup
}

// stateMachine is a registered state machine and its executions.
type stateMachine struct {
	arn, name, roleArn string
	def                *asl.Definition
	created            time.Time
	// revision counts updates of the definition or role (UpdateStateMachine):
	// PublishStateMachineVersion publishes a new version only for a
	// revision no version has yet.
	revision int
	// executions in start order, on every version and alias. Append-only,
	// so a page token can name a position that later starts never move.
	executions []*execution
	// versions in publication order: versions[n-1] is version n.
	versions []*version
	// aliases in creation order.
	aliases []*alias
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// New returns a service with no state machines.
func New(opts Options) (*Service, error) {
	if opts.Engine == nil {
		return nil, errors.New("stepfunctions: Options.Engine is required")
	}
	s := &Service{
		engine: opts.Engine, clock: opts.Clock, region: opts.Region, account: opts.Account,
		machines: map[string]*stateMachine{}, executions: map[string]*execution{}, listeners: map[int]func(Finished){},
	}
	if s.clock == nil {
		s.clock = asl.RealClock()
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	if !accountPattern.MatchString(s.account) {
		return nil, fmt.Errorf("stepfunctions: account %q is not 12 digits", s.account)
	}
	if strings.ContainsAny(s.region, ": ") {
		return nil, fmt.Errorf("stepfunctions: region %q is not a region", s.region)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// AddStateMachine registers a Standard state machine, as CloudFormation's
// CreateStateMachine would from the template: the definition with its
// DefinitionSubstitutions applied, and the role it runs as. It returns the
// machine's ARN, arn:aws:states:<region>:<account>:stateMachine:<name>.
// Registering the same name again with the same definition and role
// returns the same ARN; with anything else it is an error, as AWS reports
// StateMachineAlreadyExists.
func (s *Service) AddStateMachine(name string, definition []byte, substitutions map[string]string, roleArn string) (string, error) {
	if err := validName(name); err != nil {
		return "", fmt.Errorf("stepfunctions: state machine name %q: %w", name, err)
	}
	if roleArn == "" {
		return "", fmt.Errorf("stepfunctions: state machine %s: a role ARN is required", name)
	}
	def, err := asl.Parse(definition, substitutions)
	if err != nil {
		return "", fmt.Errorf("stepfunctions: state machine %s: %w", name, err)
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.region, s.account, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.machines[arn]; ok {
		if old.roleArn == roleArn && string(old.def.Source()) == string(def.Source()) {
			return arn, nil
		}
		return "", fmt.Errorf("stepfunctions: StateMachineAlreadyExists: %s is registered with another definition or role", arn)
	}
	sm := &stateMachine{arn: arn, name: name, roleArn: roleArn, def: def, created: s.clock.Now()}
	s.machines[arn] = sm
	s.order = append(s.order, sm)
	return arn, nil
}

// Start starts an execution as StartExecution does, for callers inside the
// stack (EventBridge's Step Functions target). An empty name gets a UUID;
// an empty input is {}. It returns the execution ARN. Errors are *Error
// with the code StartExecution would answer (InvalidName,
// InvalidExecutionInput, ExecutionAlreadyExists, StateMachineDoesNotExist,
// …). The execution runs in the background, on the service's lifetime, not
// ctx's: ctx only bounds the call.
func (s *Service) Start(ctx context.Context, stateMachineArn, name, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	x, err := s.start(stateMachineArn, name, input)
	if err != nil {
		return "", err
	}
	return x.arn, nil
}

// start does StartExecution's checks in the order AWS reports them, then
// starts the execution or, for a repeated call, returns the running one.
func (s *Service) start(stateMachineArn, name, input string) (*execution, error) {
	if err := checkStateMachineARN(stateMachineArn); err != nil {
		return nil, err
	}
	if name != "" {
		if err := validName(name); err != nil {
			return nil, errorf(codeInvalidName, "Invalid Name: '%s' (%v)", name, err)
		}
	}
	if len(input) > asl.MaxPayloadBytes {
		return nil, validationf("Value at 'input' failed to satisfy constraint: Member must have length less than or equal to %d", asl.MaxPayloadBytes)
	}
	if input == "" {
		input = "{}" // "If you don't include any JSON input data, you still must include the two braces"; the CLI and SDKs may omit it
	}
	if !json.Valid([]byte(input)) {
		return nil, errorf(codeInvalidExecutionInput, "Invalid State Machine Execution Input: '%s'", jsonProblem(input))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.resolve(stateMachineArn)
	if err != nil {
		return nil, err
	}
	sm := t.sm
	// An alias runs one of its versions; a version, its own definition; the
	// unqualified ARN, the latest revision (developer guide,
	// execution-alias-version-associate.html).
	ver := t.version
	if t.alias != nil {
		ver = t.alias.pick()
	}
	def, role := sm.def, sm.roleArn
	if ver != nil {
		def, role = ver.def, ver.roleArn
	}
	if name != "" {
		if x, ok := s.executions[executionARN(sm, name)]; ok {
			// StartExecution is idempotent for Standard workflows: the same
			// name and input while the execution runs give the same answer.
			if x.input == input && x.running() {
				return x, nil
			}
			return nil, errorf(codeExecutionAlreadyExists, "Execution Already Exists: '%s'", x.arn)
		}
	}
	if !s.track() {
		return nil, errClosed
	}
	ax, err := s.engine.Start(s.ctx, def, asl.StartInput{
		Name: name, Input: json.RawMessage(input), StateMachineArn: sm.arn, RoleArn: role,
	})
	if err != nil {
		s.watchers.Done()
		return nil, errorf(codeInvalidExecutionInput, "Invalid State Machine Execution Input: '%v'", err)
	}
	x := &execution{
		x: ax, sm: sm, version: ver, alias: t.alias, def: def, arn: ax.ARN(), name: ax.Name(), input: input,
		startDate: ax.Result().StartDate, status: asl.StatusRunning, run: newRun(),
	}
	s.executions[x.arn] = x
	sm.executions = append(sm.executions, x)
	if ver != nil {
		ver.executions = append(ver.executions, x)
	}
	if t.alias != nil {
		t.alias.executions = append(t.alias.executions, x)
	}
	s.watch(x, x.run, ax.Done())
	return x, nil
}

func executionARN(sm *stateMachine, name string) string {
	return strings.Replace(sm.arn, ":stateMachine:", ":execution:", 1) + ":" + name
}

// jsonProblem says what is wrong with text that is not JSON.
func jsonProblem(text string) string {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return err.Error()
	}
	return "not valid JSON"
}

// Finished reports that a run of an execution ended: its first run, or a
// run after a redrive.
type Finished struct {
	ExecutionArn    string
	StateMachineArn string
	Name            string
	// Result is the run's outcome: Status, Output, Error, Cause, dates,
	// RedriveCount.
	Result asl.Result
}

// OnFinish calls f each time a run of an execution ends (its first run,
// or a run after a redrive): after DescribeExecution reports the new
// status, before Wait returns. Runs of one execution are reported in
// order; different executions' runs are reported concurrently. The
// returned function stops the calls. f must not block for long, nor wait
// for the run it reports: it holds back Wait, StopExecution, the next
// redrive and Close.
func (s *Service) OnFinish(f func(Finished)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

// Wait blocks until the current run of the execution ends (at once if it
// has ended) and returns its result, or ctx's error. An unknown ARN is an
// ExecutionDoesNotExist *Error.
func (s *Service) Wait(ctx context.Context, executionArn string) (asl.Result, error) {
	x, err := s.lookupExecution(executionArn)
	if err != nil {
		return asl.Result{}, err
	}
	x.mu.Lock()
	r := x.run
	x.mu.Unlock()
	select {
	case <-r.settled:
		return r.result, nil
	case <-ctx.Done():
		return asl.Result{}, ctx.Err()
	}
}

// Close stops the service: running executions end ABORTED, and Close
// returns once every run has been recorded and reported. Later starts and
// redrives fail with ServiceUnavailable.
func (s *Service) Close() error {
	s.life.Lock()
	s.closed = true
	s.life.Unlock()
	s.cancel()
	s.watchers.Wait()
	return nil
}

var errClosed = errorf(codeServiceUnavailable, "the local Step Functions service has shut down")

// track counts a run about to start, unless the service has closed. The
// run's watch (or, if it fails to start, watchers.Done) balances it.
func (s *Service) track() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return false
	}
	s.watchers.Add(1)
	return true
}

// watch records the end of a run that track counted: it waits for the
// engine to finish the run, settles the execution's status, tells the
// listeners, then wakes the run's waiters.
func (s *Service) watch(x *execution, r *run, done <-chan struct{}) {
	go func() {
		defer s.watchers.Done()
		<-done
		res := x.settle()
		s.mu.Lock()
		listeners := make([]func(Finished), 0, len(s.listeners))
		for _, id := range slices.Sorted(maps.Keys(s.listeners)) {
			listeners = append(listeners, s.listeners[id])
		}
		s.mu.Unlock()
		for _, f := range listeners {
			f(Finished{ExecutionArn: x.arn, StateMachineArn: x.sm.arn, Name: x.name, Result: res})
		}
		r.result = res
		close(r.settled)
	}()
}

func (s *Service) lookupExecution(arn string) (*execution, error) {
	if err := checkExecutionARN(arn); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.executions[arn]
	if !ok {
		return nil, executionDoesNotExist(arn)
	}
	return x, nil
}
