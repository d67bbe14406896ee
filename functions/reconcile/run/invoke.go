package run

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/asgdns/asgdns/functions/reconcile/invoke"
	"github.com/asgdns/asgdns/workflow"
)

// invoke runs function with in as its payload and waits for its result
// (RequestResponse), decoded into out. An error the function returned
// comes back as the routed error its errorType names, with its message
// (FunctionError); one the Lambda service returned, routed by FromAWS.
func (r *runner) invoke(ctx context.Context, function string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return err
	}
	res, err := r.h.Lambda.Invoke(ctx, &invoke.Input{FunctionName: aws.String(function),
		InvocationType: invoke.InvocationTypeRequestResponse, Payload: payload})
	if err != nil {
		return workflow.FromAWS("lambda:Invoke "+function, err,
			"allow lambda:InvokeFunction on "+function+" to the reconciler's role, and check the function exists")
	}
	if res.FunctionError != nil {
		return functionError(function, res.Payload)
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		return fmt.Errorf("%s returned what is not its result (%d bytes): %w", function, len(res.Payload), err)
	}
	return nil
}

// FunctionFailed is an invoked function's error that is not one of the
// routed errors: the runtime's own (Runtime.ExitError, a timeout), named
// by its errorType.
type FunctionFailed struct {
	Function, Type, Message string
}

func (e *FunctionFailed) Error() string {
	return fmt.Sprintf("%s failed: %s: %s", e.Function, e.Type, e.Message)
}

// functionError turns the error payload Lambda returns for a function that
// failed ({"errorMessage": ..., "errorType": ...}) into the routed error
// the function returned: aws-lambda-go reports the type's name as
// errorType, and the message is the function's own.
func functionError(function string, payload []byte) error {
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if err := json.Unmarshal(payload, &e); err != nil || (e.Message == "" && e.Type == "") {
		return &FunctionFailed{Function: function, Type: "unknown", Message: fmt.Sprintf("error payload %q", payload)}
	}
	p := workflow.Problem{Reason: e.Message}
	switch e.Type {
	case "InvalidEvent":
		return &workflow.InvalidEvent{Problem: p}
	case "InvalidConfig":
		return &workflow.InvalidConfig{Problem: p}
	case "InvalidHostname":
		return &workflow.InvalidHostname{Problem: p}
	case "InstanceNotFound":
		return &workflow.InstanceNotFound{Problem: p}
	case "AccessDenied":
		return &workflow.AccessDenied{Problem: p}
	case "CommandRejected":
		return &workflow.CommandRejected{Problem: p}
	case "CommandFailed":
		return &workflow.CommandFailed{Problem: p}
	case "Conflict":
		return &workflow.Conflict{Problem: p}
	case "Throttled":
		return &workflow.Throttled{Problem: p}
	case "Unavailable":
		return &workflow.Unavailable{Problem: p}
	}
	return &FunctionFailed{Function: function, Type: e.Type, Message: e.Message}
}
