package workflow

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The error types below are the names Step Functions routes on. aws-lambda-go
// reports the reflected type name of the returned error as errorType, so each
// name here is exactly the string an ErrorEquals clause in the ASL matches.
// Handlers return them unwrapped (a fmt.Errorf("%w") at the top would turn the
// name into "wrapError").
//
// Transient (the instance is held and the work retried with backoff, DESIGN
// §7): Throttled, Unavailable, CommandFailed.
// Terminal (every instance would fail the same way, or there is nothing to
// hold for): InvalidEvent, InvalidConfig, InvalidHostname, InstanceNotFound,
// AccessDenied, CommandRejected, Conflict.

// Problem is what every routed error carries: which field or operation went
// wrong, the offending value, and what the operator should do about it.
type Problem struct {
	// Field names the input field or AWS operation at fault, e.g.
	// "detail.EC2InstanceId" or "ssm:SendCommand".
	Field string
	// Value is the offending value as received (quoted when printed).
	Value string
	// Reason says what is wrong with it.
	Reason string
	// Fix tells the operator what to do.
	Fix string
	// Err is the underlying cause, if any (an SDK error, say).
	Err error
}

// maxShownValue bounds how much of an offending value an error message
// repeats: enough to recognise it, not enough to flood a console.
const maxShownValue = 80

// Error renders "field "value": reason; fix: ...". The value is quoted with
// every non-ASCII rune escaped, so newlines, quotes and unicode look-alikes
// are visible for what they are.
func (p Problem) Error() string {
	msg := ""
	if p.Field != "" {
		msg = p.Field
		if p.Value != "" || p.Reason == "" {
			msg += " " + quote(p.Value)
		}
		msg += ": "
	}
	msg += p.Reason
	if p.Err != nil {
		msg += ": " + p.Err.Error()
	}
	if p.Fix != "" {
		msg += "; fix: " + p.Fix
	}
	return msg
}

// Unwrap exposes the cause to errors.Is / errors.As.
func (p Problem) Unwrap() error { return p.Err }

func quote(v string) string {
	if len(v) > maxShownValue {
		cut := maxShownValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(v[:cut]) + fmt.Sprintf("…(%d bytes)", len(v))
	}
	return strconv.QuoteToASCII(v)
}

// InvalidEvent: the execution input is not a usable Auto Scaling event
// (malformed JSON, wrong source, missing or malformed fields). Terminal.
type InvalidEvent struct{ Problem }

// InvalidConfig: a stack default or a per-ASG NotificationMetadata override
// is invalid. Terminal: fix the configuration and replay.
type InvalidConfig struct{ Problem }

// InvalidHostname: the hostname template, applied to this instance, does not
// produce a valid DNS label. Terminal.
type InvalidHostname struct{ Problem }

// InstanceNotFound: the instance no longer exists or is not usable. Terminal.
type InstanceNotFound struct{ Problem }

// AccessDenied: an IAM or trust policy refused a call. Terminal.
type AccessDenied struct{ Problem }

// CommandRejected: SSM refused the command (document, version, parameters,
// platform). Terminal: nothing ran.
type CommandRejected struct{ Problem }

// CommandFailed: the DNS command ran on the DC and failed without a verdict
// naming the cause (it crashed, timed out, printed no result). Transient:
// the next try goes to the next DC.
type CommandFailed struct{ Problem }

// Conflict: the name holds records asgdns did not write for this instance
// (another owner's marker, SPF, a CNAME, …); nothing was changed. Terminal:
// a person decides whose name it is.
type Conflict struct{ Problem }

// Throttled: an AWS API throttled us. Transient.
type Throttled struct{ Problem }

// Unavailable: a 5xx, a timeout, an unreachable DC, or a command invocation
// that never appeared. Transient.
type Unavailable struct{ Problem }

// ErrorNames lists every routed error name, terminal first, for consistency
// checks against the ASL.
var ErrorNames = []string{
	"InvalidEvent", "InvalidConfig", "InvalidHostname", "InstanceNotFound",
	"AccessDenied", "CommandRejected", "Conflict",
	"Throttled", "Unavailable", "CommandFailed",
}

// LambdaServiceErrors are the Lambda service's own errors for an
// invocation it could not run, which AWS recommends retrying.
var LambdaServiceErrors = []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException"}

// TransientErrors are the errors that hold the instance: once a Task's own
// retriers are spent, the state machine catches them into its hold loop
// (heartbeat, back off, try again on the next DC) until the hold budget is
// spent. States.Timeout is a Task that ran out of time. A test checks the
// ASL's catchers name exactly these.
var TransientErrors = append([]string{"Throttled", "Unavailable", "CommandFailed", "States.Timeout"}, LambdaServiceErrors...)

// Transient reports whether the named error holds the instance.
func Transient(name string) bool { return slices.Contains(TransientErrors, name) }
