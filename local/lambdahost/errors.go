package lambdahost

import (
	"encoding/json"
	"fmt"
	"time"
)

// Error types Lambda itself reports, as the Invoke response's errorType and
// so as the Error a Step Functions Task sees. The names and messages are
// those of the Lambda service and its runtime interface emulator
// (aws-lambda-runtime-interface-emulator, lambda/fatalerror): a timeout is
// Sandbox.Timedout, "RequestId: <id> Error: Task timed out after 3.00
// seconds"; a runtime process that exits mid-invocation or during init is
// Runtime.ExitError, "RequestId: <id> Error: Runtime exited with error: exit
// status 1" (or "... without providing a reason" for exit status 0).
const (
	ErrorTypeTimeout = "Sandbox.Timedout"
	ErrorTypeExit    = "Runtime.ExitError"
	// ErrorTypeUnknown is what Step Functions reports for a function error
	// that names no type.
	ErrorTypeUnknown = "Lambda.Unknown"
)

// FunctionError is an invocation that failed in the function: the error its
// runtime posted to the Runtime API (for a Go handler, aws-lambda-go posts
// the returned error's type name, so InvalidEvent, Throttled, ... arrive by
// name; for a panic, the panic value's type name, with a stackTrace), or the
// error Lambda reports for a timeout or a runtime that exited.
type FunctionError struct {
	// Type is the errorType: the name Step Functions routes on.
	Type string
	// Message is the errorMessage.
	Message string

	// doc is the error document exactly as the runtime posted it, when it
	// was one (it may carry a stackTrace): Step Functions' Cause.
	doc []byte
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// ErrorName is the error name a Step Functions Task fails with.
func (e *FunctionError) ErrorName() string { return e.Type }

// ErrorCause is the Cause a Step Functions Task fails with: the function's
// error document, {"errorMessage":…,"errorType":…}.
func (e *FunctionError) ErrorCause() string {
	if e.doc != nil {
		return string(e.doc)
	}
	doc, _ := json.Marshal(errorDoc{Message: e.Message, Type: e.Type}) // strings only: cannot fail
	return string(doc)
}

// errorDoc is the error document of the Runtime API and of Lambda's Invoke
// response, field order as aws-lambda-go writes it.
type errorDoc struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

// postedError reads an error the runtime posted (/error or /init/error).
// Lambda passes the document on untouched; the type comes from it, else
// from the Lambda-Runtime-Function-Error-Type header, else it is unknown.
func postedError(body []byte, headerType string) *FunctionError {
	var doc errorDoc
	if err := json.Unmarshal(body, &doc); err == nil && doc.Type != "" {
		return &FunctionError{Type: doc.Type, Message: doc.Message, doc: body}
	}
	typ := headerType
	if typ == "" {
		typ = ErrorTypeUnknown
	}
	msg := doc.Message
	if msg == "" && !json.Valid(body) {
		msg = string(body)
	}
	return &FunctionError{Type: typ, Message: msg}
}

func timeoutError(requestID string, timeout time.Duration) *FunctionError {
	return &FunctionError{Type: ErrorTypeTimeout,
		Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, timeout.Seconds())}
}

// exitError is what Lambda reports when the runtime process exits without
// having answered: exit is the process state ("exit status 1", "signal:
// killed"), empty for a clean exit.
func exitError(requestID, exit string) *FunctionError {
	reason := "Runtime exited without providing a reason"
	if exit != "" {
		reason = "Runtime exited with error: " + exit
	}
	return &FunctionError{Type: ErrorTypeExit, Message: fmt.Sprintf("RequestId: %s Error: %s", requestID, reason)}
}

// ServiceError is an error of the Lambda service's Invoke call itself, not
// of the function: the function was never run. Step Functions names these
// Lambda.<Code>.
type ServiceError struct {
	Code       string // TooManyRequestsException, ResourceNotFoundException
	Message    string
	StatusCode int
	RequestID  string
}

func (e *ServiceError) Error() string { return "Lambda." + e.Code + ": " + e.Message }

// ErrorName is the error name a Step Functions Task fails with.
func (e *ServiceError) ErrorName() string { return "Lambda." + e.Code }

// ErrorCause is the Cause a Step Functions Task fails with, in the shape
// the service's SDK error takes there.
func (e *ServiceError) ErrorCause() string {
	return fmt.Sprintf("%s (Service: AWSLambda; Status Code: %d; Error Code: %s; Request ID: %s)",
		e.Message, e.StatusCode, e.Code, e.RequestID)
}

func throttled(fn *function) *ServiceError {
	return &ServiceError{Code: "TooManyRequestsException", StatusCode: 429, RequestID: newRequestID(),
		Message: fmt.Sprintf("Rate Exceeded. (function %s is at its concurrency limit of %d)", fn.Name, fn.Concurrency)}
}
