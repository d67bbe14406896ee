package asl

import (
	"errors"
	"fmt"
)

// Error names predefined by the States Language (spec, Appendix A) and by the
// Step Functions developer guide ("Error names" in concepts-error-handling).
const (
	ErrAll                    = "States.ALL"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrHeartbeatTimeout       = "States.HeartbeatTimeout"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrRuntime                = "States.Runtime"
	ErrTaskFailed             = "States.TaskFailed"
	ErrTimeout                = "States.Timeout"
)

// TaskError is an error a task handler returns to fail its task with a
// chosen error name and cause, which Retry and Catch then route on, as a
// Lambda function's errorType does.
type TaskError struct {
	// Name is the error name, e.g. "Throttled". Names must not begin with
	// "States." (spec, "Error representation").
	Name string
	// Cause is the human-readable cause, recorded verbatim.
	Cause string
}

func (e TaskError) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// ErrorName returns the error name.
func (e TaskError) ErrorName() string { return e.Name }

// errorNamer is honoured on any handler error, so that handler code can keep
// its own error types.
type errorNamer interface{ ErrorName() string }

// failure is an error a state reports: what Retry, Catch, the Fail state and
// the execution's error and cause carry.
type failure struct {
	Error string
	Cause string
	// aborted is set when the line of work was cancelled (StopExecution,
	// the execution timing out, or a sibling Parallel branch or Map
	// iteration failing) rather than failing by itself.
	aborted bool
}

func fail(name, format string, args ...any) *failure {
	return &failure{Error: name, Cause: fmt.Sprintf(format, args...)}
}

// runtimeError is a States.Runtime failure. The developer guide reports path,
// Parameters and intrinsic function failures, and a Choice state without a
// match, under this name; States.ParameterPathFailure,
// States.IntrinsicFailure and States.NoChoiceMatched are "reserved for future
// use" there.
func runtimeError(format string, args ...any) *failure {
	return fail(ErrRuntime, format, args...)
}

// terminal reports whether an error always fails the execution. States.Runtime
// "can't be retried and will always cause the execution to fail"
// (concepts-error-handling, States.Runtime).
func (f *failure) terminal() bool { return f.Error == ErrRuntime }

// errorMatches implements ErrorEquals: names match exactly, with the
// wildcards of the developer guide: States.ALL matches every error except
// States.DataLimitExceeded and States.Runtime; States.TaskFailed matches
// every error except States.Timeout (and so States.HeartbeatTimeout, which
// the spec's Appendix A files under States.Timeout) and the two terminal
// errors; States.Timeout also matches States.HeartbeatTimeout.
func errorMatches(patterns []string, name string) bool {
	for _, p := range patterns {
		switch p {
		case name:
			return true
		case ErrAll:
			if name != ErrRuntime && name != ErrDataLimitExceeded {
				return true
			}
		case ErrTaskFailed:
			switch name {
			case ErrTimeout, ErrHeartbeatTimeout, ErrRuntime, ErrDataLimitExceeded:
			default:
				return true
			}
		case ErrTimeout:
			if name == ErrHeartbeatTimeout {
				return true
			}
		}
	}
	return false
}

// handlerFailure names the error a task handler returned: a TaskError keeps
// its name and cause; any error with an ErrorName method is routed by that
// name; any other error is States.TaskFailed. For Lambda resources the cause
// of a named error is the JSON Lambda reports for a function error
// ({"errorMessage":…,"errorType":…}), which is what a Catch records.
func handlerFailure(err error, lambda bool) *failure {
	var te TaskError
	if errors.As(err, &te) {
		return &failure{Error: te.Name, Cause: te.Cause}
	}
	var tp *TaskError
	if errors.As(err, &tp) && tp != nil {
		return &failure{Error: tp.Name, Cause: tp.Cause}
	}
	var named errorNamer
	if errors.As(err, &named) && named.ErrorName() != "" {
		name := named.ErrorName()
		if lambda {
			return &failure{Error: name, Cause: toJSON(map[string]any{"errorMessage": err.Error(), "errorType": name})}
		}
		return &failure{Error: name, Cause: err.Error()}
	}
	return &failure{Error: ErrTaskFailed, Cause: err.Error()}
}
