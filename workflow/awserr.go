package workflow

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// Error codes grouped by the routed error they become. The codes are the wire
// error codes of the services asgdns calls (EC2, STS, SSM, Auto Scaling).
var (
	throttledCodes = codeSet(
		"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
		"RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
		"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
	)
	accessDeniedCodes = codeSet(
		"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure",
		"SignatureDoesNotMatch", "RegionDisabledException", "OptInRequired",
		"IncompleteSignature", "MissingAuthenticationToken",
	)
	commandRejectedCodes = codeSet(
		"InvalidDocument", "InvalidDocumentVersion", "InvalidParameters",
		"MaxDocumentSizeExceeded", "InvalidOutputFolder", "InvalidNotificationConfig",
		"InvalidRole", "UnsupportedPlatformType", "DuplicateInstanceId",
		"InvalidPluginName",
	)
	instanceNotFoundCodes = codeSet("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")
	// The request asgdns built was refused as malformed: retrying the same
	// request cannot help, and the values came from configuration (or,
	// for a command id, from a state document that was edited).
	invalidRequestCodes = codeSet(
		"ValidationError", "ValidationException", "InvalidParameterValue", "InvalidParameterCombination",
		"MissingParameter", "MalformedPolicyDocument", "PackedPolicyTooLarge", "InvalidCommandId",
	)
	// InvalidInstanceId from SSM means the DC is not a managed node that is
	// online right now: the DC is unreachable, which is transient and is what
	// re-sending to the next DC is for.
	unavailableCodes = codeSet(
		"InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable",
		"Unavailable", "RequestTimeout", "RequestTimeoutException", "RequestExpired",
		"ExpiredToken", "ExpiredTokenException", "IDPCommunicationError",
		"InvalidInstanceId", "InvocationDoesNotExist", "ResourceContention",
		"ServiceLinkedRoleFailure",
	)
)

func codeSet(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// FromAWS turns an error from an AWS SDK call into the routed error the state
// machine acts on. op names the call ("ec2:DescribeInstances") so the message
// says where it happened; fix is the advice for terminal errors. Errors that
// are already routed pass through unchanged.
func FromAWS(op string, err error, fix string) error {
	if err == nil {
		return nil
	}
	if Routed(err) != "" {
		return err
	}
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	p := Problem{Field: op, Reason: "call failed", Err: err}
	switch {
	case throttledCodes[code] || status == 429:
		p.Reason = "throttled"
		return &Throttled{p}
	case accessDeniedCodes[code] || (code == "" && status == 403):
		p.Reason = "access denied"
		p.Fix = fix
		return &AccessDenied{p}
	case commandRejectedCodes[code]:
		p.Reason = "command rejected"
		p.Fix = fix
		return &CommandRejected{p}
	case invalidRequestCodes[code]:
		p.Reason = "request rejected as invalid"
		p.Fix = "check the configuration this request was built from (stack parameters, NotificationMetadata), then replay"
		return &InvalidConfig{p}
	case instanceNotFoundCodes[code]:
		p.Reason = "instance not found"
		p.Fix = "nothing to do if the instance was terminated; otherwise check the event's instance id"
		return &InstanceNotFound{p}
	case code == "InvalidInstanceId":
		p.Reason = "the DC is not a managed node that is online in Systems Manager"
		p.Fix = "check the DC instance id, and that the DC runs SSM Agent and shows Online in Fleet Manager of the shared-services account"
		return &Unavailable{p}
	case unavailableCodes[code] || status >= 500:
		p.Reason = "service unavailable"
		return &Unavailable{p}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		p.Reason = "timed out"
		return &Unavailable{p}
	case code == "":
		// No API error code: the request never got an answer (DNS, TCP,
		// TLS, retry quota). Worth another try.
		p.Reason = "no response"
		return &Unavailable{p}
	}
	// An API error this code does not know. Retrying a bounded number of times
	// costs little and the cause is kept verbatim for the operator.
	p.Reason = "unexpected error " + code
	return &Unavailable{p}
}

// Routed returns the routed error name of err ("" when it is not one of
// ours). It looks only at err itself, not at what it wraps, because that is
// what aws-lambda-go reports.
func Routed(err error) string {
	switch err.(type) {
	case *InvalidEvent:
		return "InvalidEvent"
	case *InvalidConfig:
		return "InvalidConfig"
	case *InvalidHostname:
		return "InvalidHostname"
	case *InstanceNotFound:
		return "InstanceNotFound"
	case *AccessDenied:
		return "AccessDenied"
	case *CommandRejected:
		return "CommandRejected"
	case *CommandFailed:
		return "CommandFailed"
	case *Conflict:
		return "Conflict"
	case *Throttled:
		return "Throttled"
	case *Unavailable:
		return "Unavailable"
	}
	return ""
}

// ErrorCode returns the AWS error code inside err, or "".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// NoActiveLifecycleAction reports whether err is Auto Scaling saying the
// lifecycle action is no longer pending — completed already (a replay, a
// second execution), the hook timed out, or the instance left — to a
// heartbeat or a completion: "ValidationError: No active Lifecycle Action
// found with …" (aws-facts §2, §8).
func NoActiveLifecycleAction(err error) bool {
	return ErrorCode(err) == "ValidationError" && ErrorMessageContains(err, "No active Lifecycle Action found")
}

// ErrorMessageContains reports whether the AWS error message inside err
// contains text. Some conditions have no code of their own (Auto Scaling's
// "No active Lifecycle Action found" is a ValidationError).
func ErrorMessageContains(err error, text string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorMessage(), text)
}
