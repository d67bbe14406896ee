package stepfunctions

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes, as the Step Functions API reference names its exceptions
// (and the botocore/SDK models spell the shapes), plus the two the AWS JSON
// protocol front end reports before an operation runs.
const (
	codeConflict                 = "ConflictException"
	codeExecutionAlreadyExists   = "ExecutionAlreadyExists"
	codeExecutionDoesNotExist    = "ExecutionDoesNotExist"
	codeExecutionNotRedrivable   = "ExecutionNotRedrivable"
	codeInvalidArn               = "InvalidArn"
	codeInvalidExecutionInput    = "InvalidExecutionInput"
	codeInvalidName              = "InvalidName"
	codeInvalidToken             = "InvalidToken"
	codeResourceNotFound         = "ResourceNotFound"
	codeStateMachineDoesNotExist = "StateMachineDoesNotExist"
	codeValidation               = "ValidationException"
	codeSerialization            = "SerializationException"
	codeUnknownOperation         = "UnknownOperationException"
	codeInternalFailure          = "InternalFailure"
	codeServiceUnavailable       = "ServiceUnavailable"
)

// Error is an error as Step Functions reports it: Code is the exception
// name the SDKs match on (ExecutionAlreadyExists, InvalidArn, …), Message
// the human-readable text. The Go API returns it too, so a caller such as
// the local EventBridge can tell an already started execution from a
// failure with errors.As.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// status is the HTTP status of the error. Every modelled Step Functions
// exception is a client error, 400 (the model sets no other); only the
// service's own failures are 5xx.
func (e *Error) status() int {
	switch e.Code {
	case codeInternalFailure:
		return http.StatusInternalServerError
	case codeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// asErr is errors.As for the service's own *Error.
func asErr(err error, target **Error) bool { return errors.As(err, target) }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validationf words a constraint violation the way AWS's model validation
// does ("1 validation error detected: Value … at 'field' failed to satisfy
// constraint: …").
func validationf(format string, args ...any) *Error {
	return errorf(codeValidation, "1 validation error detected: "+format, args...)
}

func executionDoesNotExist(arn string) *Error {
	return errorf(codeExecutionDoesNotExist, "Execution Does Not Exist: '%s'", arn)
}

func stateMachineDoesNotExist(arn string) *Error {
	return errorf(codeStateMachineDoesNotExist, "State Machine Does Not Exist: '%s'", arn)
}
