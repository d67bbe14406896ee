package stepfunctions

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asgdns/asgdns/local/asl"
)

// execution is the service's record of an execution: what the API reports
// about it besides the engine's history.
type execution struct {
	x  *asl.Execution
	sm *stateMachine
	// version and alias are what StartExecution named (nil for the
	// unqualified ARN): an alias's execution runs, and a redrive keeps, the
	// version the alias pointed to at the start. def is the definition it
	// runs.
	version   *version
	alias     *alias
	def       *asl.Definition
	arn, name string
	input     string // as the caller sent it: DescribeExecution returns it verbatim
	startDate time.Time

	mu sync.Mutex
	// status is RUNNING from a start or redrive until the run's watcher
	// settles it; last is the outcome of the last run that ended. Every
	// operation reads these rather than the engine, so that DescribeExecution,
	// ListExecutions and RedriveExecution never disagree about a run that
	// is just ending.
	status       asl.Status
	last         asl.Result
	events       int // history length when the last run ended
	redriveCount int
	redriveDate  time.Time
	run          *run
	tokens       []clientToken // the last redrives' client tokens, oldest first
}

// versionARN and aliasARN are what the execution was started through ("" for
// neither).
func (x *execution) versionARN() string {
	if x.version == nil {
		return ""
	}
	return x.version.arn
}

func (x *execution) aliasARN() string {
	if x.alias == nil {
		return ""
	}
	return x.alias.arn
}

// run is one run of an execution: the first, or one after a redrive.
type run struct {
	// settled is closed once the run's end is recorded and reported to the
	// OnFinish listeners; result is set before.
	settled chan struct{}
	result  asl.Result
}

func newRun() *run { return &run{settled: make(chan struct{})} }

// clientToken is a RedriveExecution ClientToken and what it redrove.
type clientToken struct {
	token       string
	used        time.Time
	redriveDate time.Time
}

// Redrive limits (developer guide, redrive-executions.html; API reference,
// RedriveExecution and ClientToken).
const (
	redriveWindow    = 14 * 24 * time.Hour
	maxExecutionTime = 365 * 24 * time.Hour
	// historyLimit: a redrive needs a history of "fewer than 24,999 events".
	historyLimit     = 24999
	clientTokenLife  = 15 * time.Minute
	clientTokensKept = 10
)

// redriveLaunch is when RedriveExecution launched: executions started
// before it cannot be redriven.
var redriveLaunch = time.Date(2023, 11, 15, 0, 0, 0, 0, time.UTC)

// settle records how the run that just ended ended, for every operation
// to see. The run's waiters are woken after the listeners ran (see watch).
func (x *execution) settle() asl.Result {
	res := x.x.Result()
	events := len(x.x.History())
	x.mu.Lock()
	defer x.mu.Unlock()
	x.status, x.last, x.events = res.Status, res, events
	return res
}

func (x *execution) running() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status == asl.StatusRunning
}

// snapshot is what DescribeExecution and ListExecutions report.
type snapshot struct {
	status        asl.Status
	stopDate      time.Time // zero while running
	output        string
	error, cause  string
	redriveCount  int
	redriveDate   time.Time // zero before the first redrive
	redriveStatus string
	redriveReason string
}

// describe takes a snapshot, judging redrivability at now.
func (x *execution) describe(now time.Time) snapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	sn := snapshot{status: x.status, redriveCount: x.redriveCount, redriveDate: x.redriveDate}
	if x.status != asl.StatusRunning {
		sn.stopDate, sn.error, sn.cause = x.last.StopDate, x.last.Error, x.last.Cause
		if x.status == asl.StatusSucceeded {
			sn.output = string(x.last.Output)
		}
	}
	if reason := x.notRedrivable(now); reason != "" {
		sn.redriveStatus, sn.redriveReason = "NOT_REDRIVABLE", reason
	} else {
		sn.redriveStatus = "REDRIVABLE"
	}
	return sn
}

// notRedrivable says why RedriveExecution would refuse the execution at
// now, in the words the API reference gives for redriveStatusReason, or ""
// if it would not. The caller holds x.mu.
func (x *execution) notRedrivable(now time.Time) string {
	switch {
	case x.status == asl.StatusRunning:
		return "Execution is RUNNING and cannot be redriven."
	case x.status == asl.StatusSucceeded:
		return "Execution is SUCCEEDED and cannot be redriven."
	case x.startDate.Before(redriveLaunch):
		return "Execution was started before the launch of RedriveExecution."
	case x.events >= historyLimit:
		return "Execution history event limit exceeded."
	case now.Sub(x.startDate) >= maxExecutionTime:
		return "Execution has exceeded the max execution time."
	case now.Sub(x.last.StopDate) > redriveWindow:
		return "Execution redrivable period exceeded."
	}
	return ""
}

// redrive does RedriveExecution: a repeated client token answers as the
// redrive it made; otherwise the execution must be redrivable now.
func (s *Service) redrive(x *execution, token string) (time.Time, error) {
	// A run that has ended may still be reporting to the listeners: let it
	// finish, so that they hear of the runs in order.
	x.mu.Lock()
	prev, ended := x.run, x.status != asl.StatusRunning
	x.mu.Unlock()
	if ended {
		<-prev.settled
	}
	now := s.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, t := range x.tokens {
		if t.token == token && now.Sub(t.used) <= clientTokenLife {
			return t.redriveDate, nil
		}
	}
	if reason := x.notRedrivable(now); reason != "" {
		return time.Time{}, errorf(codeExecutionNotRedrivable, "Execution '%s' cannot be redriven: %s", x.arn, reason)
	}
	if !s.track() {
		return time.Time{}, errClosed
	}
	if err := s.engine.Redrive(s.ctx, x.x); err != nil {
		s.watchers.Done()
		if errors.Is(err, asl.ErrExecutionNotRedrivable) {
			return time.Time{}, errorf(codeExecutionNotRedrivable, "Execution '%s' cannot be redriven: %v", x.arn, err)
		}
		return time.Time{}, errorf(codeInternalFailure, "redrive %s: %v", x.arn, err)
	}
	// The redrive date is the ExecutionRedriven event's, on the execution's
	// own clock, so the history and DescribeExecution agree.
	date := now
	h := x.x.History()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == asl.EventExecutionRedriven {
			date = h[i].Timestamp.Time
			break
		}
	}
	x.status, x.redriveCount, x.redriveDate, x.run = asl.StatusRunning, x.redriveCount+1, date, newRun()
	s.watch(x, x.run, x.x.Done())
	if token != "" {
		x.tokens = append(x.tokens, clientToken{token: token, used: now, redriveDate: date})
		if len(x.tokens) > clientTokensKept {
			x.tokens = x.tokens[len(x.tokens)-clientTokensKept:]
		}
	}
	return date, nil
}

// stop does StopExecution and returns the stop date once the execution has
// stopped and its status is settled. Stopping an execution that has already
// ended changes nothing and answers with its stop date.
func (x *execution) stop(errorName, cause string) (time.Time, error) {
	x.mu.Lock()
	r, running := x.run, x.status == asl.StatusRunning
	x.mu.Unlock()
	if running {
		if err := x.x.Stop(errorName, cause); err != nil && !errors.Is(err, asl.ErrExecutionNotRunning) {
			return time.Time{}, fmt.Errorf("stop %s: %w", x.arn, err)
		}
	}
	<-r.settled
	return r.result.StopDate, nil
}
