package stepfunctions

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/asl"
)

// The AWS JSON 1.0 protocol as Step Functions speaks it (botocore's
// stepfunctions/2016-11-23 model: "protocol": "json", "jsonVersion": "1.0",
// "targetPrefix": "AWSStepFunctions"): every call is a POST whose
// X-Amz-Target header names the operation, with a JSON body; answers are
// JSON with Content-Type application/x-amz-json-1.0; errors carry the
// exception name in "__type" (and X-Amzn-ErrorType) and the text in
// "message". Timestamps are epoch seconds, fractional (asl.EventTime).
const (
	targetPrefix = "AWSStepFunctions."
	contentType  = "application/x-amz-json-1.0"
	// maxBody bounds a request: the largest legitimate one is a 256 KiB
	// input, which JSON escaping can grow up to six times.
	maxBody = 8 << 20
)

// operation runs one API operation on a request body.
type operation func(s *Service, body []byte) (any, error)

var operations = map[string]operation{
	"StartExecution":                   (*Service).startExecution,
	"DescribeExecution":                (*Service).describeExecution,
	"ListExecutions":                   (*Service).listExecutions,
	"GetExecutionHistory":              (*Service).getExecutionHistory,
	"StopExecution":                    (*Service).stopExecution,
	"RedriveExecution":                 (*Service).redriveExecution,
	"DescribeStateMachine":             (*Service).describeStateMachine,
	"ListStateMachines":                (*Service).listStateMachines,
	"DescribeStateMachineForExecution": (*Service).describeStateMachineForExecution,
	"PublishStateMachineVersion":       (*Service).publishStateMachineVersion,
	"ListStateMachineVersions":         (*Service).listStateMachineVersions,
	"CreateStateMachineAlias":          (*Service).createStateMachineAlias,
	"DescribeStateMachineAlias":        (*Service).describeStateMachineAlias,
	"UpdateStateMachineAlias":          (*Service).updateStateMachineAlias,
	"ListStateMachineAliases":          (*Service).listStateMachineAliases,
}

// ServeHTTP answers one Step Functions API call. It does not check the
// request's signature: in the local stack the endpoint in front of it
// authenticates callers.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	target := r.Header.Get("X-Amz-Target")
	op, known := operations[strings.TrimPrefix(target, targetPrefix)]
	if r.Method != http.MethodPost || !strings.HasPrefix(target, targetPrefix) || !known {
		writeError(w, errorf(codeUnknownOperation, "Unknown operation: %q (%s %s)", target, r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, errorf(codeSerialization, "the request body could not be read: %v", err))
		return
	}
	out, err := op(s, body)
	if err != nil {
		var apiErr *Error
		if !errors.As(err, &apiErr) {
			slog.ErrorContext(r.Context(), "step functions call failed", slog.String("target", target), slog.String("requestId", requestID), slog.Any("error", err))
			apiErr = errorf(codeInternalFailure, "The request processing has failed because of an unknown error, exception or failure.")
		}
		writeError(w, apiErr)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, errorf(codeInternalFailure, "encode the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.status())
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	_, _ = w.Write(b)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// decode reads a request body into v. A body that is not JSON, or a field
// of the wrong type, is a SerializationException, as the protocol's front
// end reports it before the operation runs. Unknown fields are ignored, as
// AWS ignores them; an empty body counts as {}.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return errorf(codeSerialization, "Unexpected value for %s: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		}
		return errorf(codeSerialization, "the request body is not valid JSON: %v", err)
	}
	return nil
}

// required checks a required member: absent, null and "" all fail, as
// "Member must not be null" or the minimum length would.
func required(field string, v *string) (string, error) {
	if v == nil {
		return "", validationf("Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	if *v == "" {
		return "", validationf("Value '' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", field)
	}
	return *v, nil
}

func maxLength(field, v string, n int) error {
	if len(v) > n {
		return validationf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, n)
	}
	return nil
}

// pageSize applies a maxResults member: 0 to 1000, 0 meaning the default
// of 100.
func pageSize(maxResults int) (int, error) {
	switch {
	case maxResults < 0:
		return 0, validationf("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0", maxResults)
	case maxResults > 1000:
		return 0, validationf("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", maxResults)
	case maxResults == 0:
		return 100, nil
	}
	return maxResults, nil
}

func oneOf(field, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return validationf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, field, strings.Join(allowed, ", "))
}

// pageToken is a nextToken: where the next page starts in a list that only
// grows at one end, and what it lists. Positions are stable while the list
// grows, so pages neither repeat nor skip items when executions start (or
// events are added) between calls.
type pageToken struct {
	Of      string `json:"of"` // the ARN listed, or "" for state machines
	Pos     int    `json:"pos"`
	Reverse bool   `json:"rev,omitempty"`
}

func (t pageToken) String() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// readToken decodes a nextToken issued for the same list and order.
func readToken(s *string, of string, reverse bool) (pageToken, bool, error) {
	if s == nil {
		return pageToken{}, false, nil
	}
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Of != of || t.Reverse != reverse || t.Pos < 0 {
		return pageToken{}, false, errorf(codeInvalidToken, "Invalid Token: '%s'", *s)
	}
	return t, true, nil
}

// timestamp is an optional date: nil for the zero time.
func timestamp(t time.Time) *asl.EventTime {
	if t.IsZero() {
		return nil
	}
	return &asl.EventTime{Time: t}
}
