package cloud

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
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

// The wire protocols this endpoint speaks.
//
//   - AWS query (STS, Auto Scaling): form-encoded Action/Version, answers
//     <ActionResponse><ActionResult>…, errors
//     <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
//   - EC2 query: the same requests, answers with lowerCamel elements and
//     <item> lists, errors <Response><Errors><Error><Code/><Message/>…
//     </Errors><RequestID/></Response>.
//   - JSON 1.1 (SSM, EventBridge): X-Amz-Target "Prefix.Operation", errors
//     {"__type": code, "message": …} with the code also in X-Amzn-ErrorType.
type protocol int

const (
	protoQuery protocol = iota
	protoEC2
	protoJSON
)

// apiError is an error as an AWS service reports it: the code the SDKs
// parse, the message, and the HTTP status.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// validationError is the query services' (Auto Scaling, STS) generic 400.
func validationError(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationError", format, args...)
}

// validationMessage renders constraint violations the way AWS's
// model-driven validation does: "2 validation errors detected: Value …; Value …".
func validationMessage(problems []string) string {
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

// writeError answers with err in the error shape of the protocol.
func writeError(w http.ResponseWriter, proto protocol, service, requestID string, err *apiError) {
	w.Header().Set("x-amzn-RequestId", requestID)
	switch proto {
	case protoJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", err.Code)
		w.WriteHeader(err.Status)
		body := map[string]string{"__type": err.Code}
		if err.Message != "" {
			body["message"] = err.Message
		}
		_ = json.NewEncoder(w).Encode(body)
	case protoEC2:
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
// request's Content-Type says) with an AWS error, for handlers registered
// with HandleTarget.
func WriteJSONError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-amz-json-1.0") {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	} else {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeQueryResult answers an AWS query request: result (a struct, or nil
// for an empty result) is encoded as <ActionResult>.
func writeQueryResult(w http.ResponseWriter, service, action, requestID string, result any) {
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

// writeEC2Result answers an EC2 query request; body is a struct whose
// XMLName is <ActionResponse> and which carries a RequestID field.
func writeEC2Result(w http.ResponseWriter, requestID string, body any) {
	out, err := xml.MarshalIndent(body, "", "  ")
	if err != nil {
		panic(err) // a programming error in a response type
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	_, _ = w.Write([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
	_, _ = w.Write(out)
}

// writeJSONResult answers a JSON 1.1 request.
func writeJSONResult(w http.ResponseWriter, requestID string, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err) // a programming error in a response type
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID)
	_, _ = w.Write(out)
}

// decodeJSON reads a JSON 1.1 request body into v. A body that is not a
// JSON object of the right shape is a SerializationException, as the
// services' front end reports it; an empty body counts as {}.
func decodeJSON(body []byte, v any) *apiError {
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
		return newError(http.StatusBadRequest, "SerializationException", "%s", msg)
	}
	return nil
}

// form is a parsed query-protocol request.
type form url.Values

func (f form) get(key string) string { return url.Values(f).Get(key) }

func (f form) has(key string) bool {
	_, ok := f[key]
	return ok
}

// list returns the values of prefix.1, prefix.2, … in index order
// ("InstanceId" for EC2, "AutoScalingGroupNames.member" for AWS query).
func (f form) list(prefix string) []string {
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

// structs returns the members of a list of structures, prefix.N.Field, as
// forms keyed by Field, in index order.
func (f form) structs(prefix string) []form {
	byIndex := map[int]form{}
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
			byIndex[i] = form{}
		}
		byIndex[i][field] = v
	}
	keys := make([]int, 0, len(byIndex))
	for i := range byIndex {
		keys = append(keys, i)
	}
	sort.Ints(keys)
	out := make([]form, len(keys))
	for n, i := range keys {
		out[n] = byIndex[i]
	}
	return out
}

// sub returns the fields of a nested structure, prefix.Field.
func (f form) sub(prefix string) form {
	out := form{}
	for k, v := range f {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			out[rest] = v
		}
	}
	return out
}

// intParam reads an optional integer parameter; set is false when absent.
func (f form) intParam(key string) (n int, set bool, err *apiError) {
	s := f.get(key)
	if !f.has(key) {
		return 0, false, nil
	}
	n, convErr := strconv.Atoi(s)
	if convErr != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, true, validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s, lowerFirst(key))
	}
	return n, true, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// scope is the SigV4 credential scope of a request: who signed it, for
// which region and service.
type scope struct {
	AccessKeyID, Date, Region, Service string
}

// credentialScope reads the scope from the Authorization header (or a
// presigned URL's X-Amz-Credential). ok is false when the request is not
// SigV4-signed.
func credentialScope(r *http.Request) (scope, bool) {
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
		return scope{}, false
	}
	return scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, true
}

// timestamp formats t as the query protocols do (ISO 8601, milliseconds, UTC).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// epoch is a time encoded as JSON 1.1 does: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is not a number of seconds", b)
	}
	sec, frac := math.Modf(f)
	*e = epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// newUUID returns a random (version 4) UUID, the shape of request ids,
// command ids, lifecycle action tokens and event ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomHex returns n random lower-case hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// randomString returns n random characters from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// members is an AWS query list: <Name><member>…</member></Name>, written
// even when empty, as the services do (clients then see [] rather than
// nothing).
type members[T any] []T

func (l members[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return marshalList(e, start, "member", l)
}

// items is an EC2 query list: <nameSet><item>…</item></nameSet>.
type items[T any] []T

func (l items[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
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
