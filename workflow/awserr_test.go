package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/asgdns/asgdns/workflow"
)

func withStatus(status int, err error) error {
	return &smithy.OperationError{ServiceID: "X", OperationName: "Op", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
	}}
}

func api(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }

func TestFromAWS(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{api("ThrottlingException"), "Throttled"},
		{api("Throttling"), "Throttled"},
		{api("RequestLimitExceeded"), "Throttled"},
		{withStatus(429, errors.New("slow down")), "Throttled"},
		{api("AccessDenied"), "AccessDenied"},
		{api("AccessDeniedException"), "AccessDenied"},
		{api("UnauthorizedOperation"), "AccessDenied"},
		{api("RegionDisabledException"), "AccessDenied"},
		{withStatus(403, errors.New("forbidden")), "AccessDenied"},
		{api("InvalidDocument"), "CommandRejected"},
		{api("InvalidParameters"), "CommandRejected"},
		{api("InvalidDocumentVersion"), "CommandRejected"},
		{api("UnsupportedPlatformType"), "CommandRejected"},
		{api("InvalidInstanceID.NotFound"), "InstanceNotFound"},
		{api("ValidationError"), "InvalidConfig"},
		{api("InvalidCommandId"), "InvalidConfig"},
		{api("InvalidInstanceId"), "Unavailable"}, // SSM: the DC is not reachable
		{api("InvocationDoesNotExist"), "Unavailable"},
		{api("InternalServerError"), "Unavailable"},
		{api("ExpiredTokenException"), "Unavailable"},
		{withStatus(503, api("SomethingNew")), "Unavailable"},
		{api("SomethingNew"), "Unavailable"},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), "Unavailable"},
		{errors.New("dial tcp: connection refused"), "Unavailable"},
		{&workflow.CommandFailed{}, "CommandFailed"}, // already routed: unchanged
	}
	for _, tc := range cases {
		got := workflow.FromAWS("svc:Op", tc.err, "the fix")
		if name := workflow.Routed(got); name != tc.want {
			t.Errorf("%v → %s, want %s", tc.err, name, tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("%v: cause lost", tc.err)
		}
	}
	if workflow.FromAWS("x", nil, "") != nil {
		t.Error("nil error mapped to non-nil")
	}
}

// TestErrorNamesAreTypeNames: ErrorNames, Routed and the Go type names
// agree, because the type name is what Step Functions routes on.
func TestErrorNamesAreTypeNames(t *testing.T) {
	errs := []error{
		&workflow.InvalidEvent{}, &workflow.InvalidConfig{}, &workflow.InvalidHostname{}, &workflow.InstanceNotFound{},
		&workflow.AccessDenied{}, &workflow.CommandRejected{}, &workflow.Conflict{},
		&workflow.Throttled{}, &workflow.Unavailable{}, &workflow.CommandFailed{},
	}
	if len(errs) != len(workflow.ErrorNames) {
		t.Fatalf("%d types, %d names", len(errs), len(workflow.ErrorNames))
	}
	for i, err := range errs {
		typeName := fmt.Sprintf("%T", err)[len("*workflow."):]
		if typeName != workflow.ErrorNames[i] || workflow.Routed(err) != typeName {
			t.Errorf("type %s, name %s, routed %s", typeName, workflow.ErrorNames[i], workflow.Routed(err))
		}
	}
}

// TestTransient: the errors that hold the instance (DESIGN §7) and those
// that release it at once. States.Timeout is Step Functions' own name for a
// Task that ran out of time.
func TestTransient(t *testing.T) {
	want := map[string]bool{
		"Throttled": true, "Unavailable": true, "CommandFailed": true, "States.Timeout": true,
		"InvalidEvent": false, "InvalidConfig": false, "InvalidHostname": false, "InstanceNotFound": false,
		"AccessDenied": false, "CommandRejected": false, "Conflict": false,
		"States.ALL": false, "States.TaskFailed": false, "Lambda.ServiceException": true, "Lambda.AWSLambdaException": true, "Lambda.SdkClientException": true,
		"Lambda.TooManyRequestsException": true, "Lambda.ClientExecutionTimeoutException": true, "Lambda.Unknown": false, "": false,
	}
	for name, transient := range want {
		if got := workflow.Transient(name); got != transient {
			t.Errorf("Transient(%q) = %v, want %v", name, got, transient)
		}
	}
	for _, name := range workflow.TransientErrors {
		if _, ok := want[name]; !ok {
			t.Errorf("transient error %s has no expectation here", name)
		}
	}
	for _, name := range workflow.ErrorNames {
		if _, ok := want[name]; !ok {
			t.Errorf("routed error %s has no expectation here", name)
		}
	}
}
