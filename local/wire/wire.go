// Package wire is the AWS wire protocols the local endpoint speaks: the
// query protocols' form parameters, results and error documents, JSON 1.1
// bodies and errors, the time and list encodings they use, and the SigV4
// credential scope a request is signed with. It holds no state: the
// endpoint (local/cloud) decides what to answer, wire how it is written.
package wire

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Protocol is one of the wire protocols the endpoint speaks.
//
//   - AWS query (STS, Auto Scaling): form-encoded Action/Version, answers
//     <ActionResponse><ActionResult>…, errors
//     <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
//   - EC2 query: the same requests, answers with lowerCamel elements and
//     <item> lists, errors <Response><Errors><Error><Code/><Message/>…
//     </Errors><RequestID/></Response>.
//   - JSON 1.0 and 1.1 (SSM, EventBridge: 1.1; SQS: 1.0): X-Amz-Target
//     "Prefix.Operation", errors {"__type": code, "message": …} with the
//     code also in X-Amzn-ErrorType. A service that moved from AWS query
//     to JSON (awsQueryCompatible: SQS) also names the query protocol's
//     code in X-Amzn-Query-Error ("code;Sender"), which its SDKs report.
type Protocol int

// The protocols (see Protocol).
const (
	Query Protocol = iota
	EC2
	JSON
)

// Error is an error as an AWS service reports it: the code the SDKs
// parse, the message, and the HTTP status.
type Error struct {
	Status  int
	Code    string
	Message string
	// QueryCode is, for an awsQueryCompatible JSON service (SQS), the
	// code the service's AWS query protocol gave the error
	// (AWS.SimpleQueueService.NonExistentQueue for Code
	// com.amazonaws.sqs#QueueDoesNotExist): the SDKs report it as the
	// error code. Empty for the other services.
	QueryCode string
}

// Error is the code and message, as the SDKs print them.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError is an error with the message format and args make.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ValidationError is the query services' (Auto Scaling, STS) generic 400.
func ValidationError(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, "ValidationError", format, args...)
}

// ValidationMessage renders constraint violations the way AWS's
// model-driven validation does: "2 validation errors detected: Value …; Value …".
func ValidationMessage(problems []string) string {
	noun := "error"
	if len(problems) > 1 {
		noun = "errors"
	}
	return fmt.Sprintf("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; "))
}

// xmlNamespace is each query service's response namespace.
var xmlNamespace = map[string]string{
	"sts":         "https://sts.amazonaws.com/doc/2011-06-15/",
	"autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
	"ec2":         "http://ec2.amazonaws.com/doc/2016-11-15/",
}

// Namespace is a query service's response namespace ("sts",
// "autoscaling", "ec2"), "" for another service.
func Namespace(service string) string { return xmlNamespace[service] }

// WriteError answers with err in the error shape of the protocol; service
// is the signing scope's service (it names the query error's namespace).
func WriteError(w http.ResponseWriter, proto Protocol, service, requestID string, err *Error) {
	w.Header().Set("x-amzn-RequestId", requestID)
	switch proto {
	case JSON:
		setJSONContentType(w)
		w.Header().Set("X-Amzn-ErrorType", err.Code)
		if err.QueryCode != "" {
			fault := "Sender"
			if err.Status >= 500 {
				fault = "Receiver"
			}
			w.Header().Set("X-Amzn-Query-Error", err.QueryCode+";"+fault)
		}
		w.WriteHeader(err.Status)
		body := map[string]string{"__type": err.Code}
		if err.Message != "" {
			body["message"] = err.Message
		}
		_ = json.NewEncoder(w).Encode(body)
	case EC2:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(err.Status)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>",
			escape(err.Code), escape(err.Message), requestID)
	default:
		faultType := "Sender"
		if err.Status >= 500 {
			faultType = "Receiver"
		}
		ns := xmlNamespace[service]
		if ns == "" {
			ns = "https://" + service + ".amazonaws.com/doc/"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(err.Status)
		fmt.Fprintf(w, "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
			ns, faultType, escape(err.Code), escape(err.Message), requestID)
	}
}

// WriteJSONError answers a JSON-protocol request (JSON 1.0 or 1.1, as the
// request's Content-Type says) with an AWS error, for handlers the
// endpoint passes JSON-protocol requests to (cloud.Cloud.HandleTarget).
func WriteJSONError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", JSONContentType(r))
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// escape is s as XML character data.
func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteQueryResult answers an AWS query request: result (a struct, or nil
// for an empty result) is encoded as <ActionResult>.
func WriteQueryResult(w http.ResponseWriter, service, action, requestID string, result any) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%sResponse xmlns=\"%s\">\n", action, xmlNamespace[service])
	enc := xml.NewEncoder(&b)
	enc.Indent("  ", "  ")
	if result == nil {
		result = struct{}{}
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		panic(err) // a programming error in a response type
	}
	fmt.Fprintf(&b, "\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n", requestID, action)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	_, _ = w.Write(b.Bytes())
}

// WriteEC2Result answers an EC2 query request; body is a struct whose
// XMLName is <ActionResponse> and which carries a RequestID field.
func WriteEC2Result(w http.ResponseWriter, requestID string, body any) {
	out, err := xml.MarshalIndent(body, "", "  ")
	if err != nil {
		panic(err) // a programming error in a response type
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	_, _ = w.Write([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
	_, _ = w.Write(out)
}

// WriteJSONResult answers a JSON 1.1 request (JSON 1.0 when the caller
// has set that Content-Type: see JSONContentType).
func WriteJSONResult(w http.ResponseWriter, requestID string, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err) // a programming error in a response type
	}
	setJSONContentType(w)
	w.Header().Set("x-amzn-RequestId", requestID)
	_, _ = w.Write(out)
}

// JSONContentType is the Content-Type of the answer to a JSON-protocol
// request: the request's JSON version (application/x-amz-json-1.0 for
// SQS), 1.1 otherwise.
func JSONContentType(r *http.Request) string {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		return "application/x-amz-json-1.0"
	}
	return "application/x-amz-json-1.1"
}

// setJSONContentType keeps a JSON version the caller chose
// (JSONContentType), else answers in 1.1.
func setJSONContentType(w http.ResponseWriter) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
}

// DecodeJSON reads a JSON 1.1 request body into v. A body that is not a
// JSON object of the right shape is a SerializationException, as the
// services' front end reports it; an empty body counts as {}.
func DecodeJSON(body []byte, v any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		msg := "Start of structure or map found where not expected."
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			msg = fmt.Sprintf("Unexpected character at offset %d: the body is not valid JSON", syn.Offset)
		case errors.As(err, &typ):
			msg = fmt.Sprintf("Unexpected value for %s: expected %s, got %s", typ.Field, typ.Type, typ.Value)
		}
		return NewError(http.StatusBadRequest, "SerializationException", "%s", msg)
	}
	return nil
}

// Form is a parsed query-protocol request.
type Form url.Values

// Get is the first value of key, "" when absent.
func (f Form) Get(key string) string { return url.Values(f).Get(key) }

// Has reports whether the request sets key (perhaps to "").
func (f Form) Has(key string) bool {
	_, ok := f[key]
	return ok
}

// List returns the values of prefix.1, prefix.2, … in index order
// ("InstanceId" for EC2, "AutoScalingGroupNames.member" for AWS query).
func (f Form) List(prefix string) []string {
	type item struct {
		i int
		v string
	}
	var items []item
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok || len(v) == 0 {
			continue
		}
		if i, err := strconv.Atoi(rest); err == nil {
			items = append(items, item{i, v[0]})
		}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// Structs returns the members of a list of structures, prefix.N.Field, as
// forms keyed by Field, in index order.
func (f Form) Structs(prefix string) []Form {
	byIndex := map[int]Form{}
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		if byIndex[i] == nil {
			byIndex[i] = Form{}
		}
		byIndex[i][field] = v
	}
	keys := make([]int, 0, len(byIndex))
	for i := range byIndex {
		keys = append(keys, i)
	}
	sort.Ints(keys)
	out := make([]Form, len(keys))
	for n, i := range keys {
		out[n] = byIndex[i]
	}
	return out
}

// Sub returns the fields of a nested structure, prefix.Field.
func (f Form) Sub(prefix string) Form {
	out := Form{}
	for k, v := range f {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			out[rest] = v
		}
	}
	return out
}

// IntParam reads an optional integer parameter; set is false when absent.
// A value that is not a 32-bit integer is a ValidationError.
func (f Form) IntParam(key string) (n int, set bool, err *Error) {
	s := f.Get(key)
	if !f.Has(key) {
		return 0, false, nil
	}
	n, convErr := strconv.Atoi(s)
	if convErr != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, true, ValidationError("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s, MemberName(key))
	}
	return n, true, nil
}

// MemberName is how AWS's validation messages name a request parameter:
// lower camel case (AutoScalingGroupName: autoScalingGroupName).
func MemberName(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// Scope is the SigV4 credential scope of a request: who signed it, for
// which region and service.
type Scope struct {
	AccessKeyID, Date, Region, Service string
}

// CredentialScope reads the scope from the Authorization header (or a
// presigned URL's X-Amz-Credential). ok is false when the request is not
// SigV4-signed.
func CredentialScope(r *http.Request) (Scope, bool) {
	cred := ""
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		for part := range strings.SplitSeq(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				cred = v
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return Scope{}, false
	}
	return Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, true
}

// Timestamp formats t as the query protocols do (ISO 8601, milliseconds, UTC).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Epoch is a time encoded as JSON 1.1 does: seconds since the epoch.
type Epoch time.Time

// MarshalJSON writes seconds since the epoch, with milliseconds.
func (e Epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

// UnmarshalJSON reads seconds since the epoch.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is not a number of seconds", b)
	}
	sec, frac := math.Modf(f)
	*e = Epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// Members is an AWS query list: <Name><member>…</member></Name>, written
// even when empty, as the services do (clients then see [] rather than
// nothing).
type Members[T any] []T

// MarshalXML writes the list's <member> elements.
func (l Members[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return marshalList(e, start, "member", l)
}

// Items is an EC2 query list: <nameSet><item>…</item></nameSet>.
type Items[T any] []T

// MarshalXML writes the list's <item> elements.
func (l Items[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return marshalList(e, start, "item", l)
}

func marshalList[T any](e *xml.Encoder, start xml.StartElement, element string, list []T) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, v := range list {
		if err := e.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: element}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
