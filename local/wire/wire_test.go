package wire

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Each protocol's error shape, as the SDKs parse it.
func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name        string
		proto       Protocol
		service     string
		err         *Error
		contentType string
		body        string
		errorType   string // X-Amzn-ErrorType
		preset      string // a Content-Type the caller set (JSONContentType)
		queryError  string // X-Amzn-Query-Error
	}{
		{"query, sender", Query, "autoscaling", ValidationError("Group <%s> not found", "web"), "text/xml",
			"<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>ValidationError</Code>\n    <Message>Group &lt;web&gt; not found</Message>\n  </Error>\n  <RequestId>req-1</RequestId>\n</ErrorResponse>\n", "", "", ""},
		{"query, receiver, unknown service", Query, "iam", NewError(http.StatusServiceUnavailable, "ServiceUnavailable", "later"), "text/xml",
			"<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/\">\n  <Error>\n    <Type>Receiver</Type>\n    <Code>ServiceUnavailable</Code>\n    <Message>later</Message>\n  </Error>\n  <RequestId>req-1</RequestId>\n</ErrorResponse>\n", "", "", ""},
		{"EC2", EC2, "ec2", NewError(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", "i-1"), "text/xml;charset=UTF-8",
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID &#39;i-1&#39; does not exist</Message></Error></Errors><RequestID>req-1</RequestID></Response>", "", "", ""},
		{"JSON", JSON, "ssm", NewError(http.StatusBadRequest, "InvalidInstanceId", "no such node"), "application/x-amz-json-1.1",
			`{"__type":"InvalidInstanceId","message":"no such node"}` + "\n", "InvalidInstanceId", "", ""},
		{"JSON, no message", JSON, "ssm", NewError(http.StatusBadRequest, "ThrottlingException", ""), "application/x-amz-json-1.1",
			`{"__type":"ThrottlingException"}` + "\n", "ThrottlingException", "", ""},
		{"JSON 1.0, awsQueryCompatible", JSON, "sqs", &Error{Status: http.StatusBadRequest, Code: "com.amazonaws.sqs#QueueDoesNotExist",
			Message: "The specified queue does not exist.", QueryCode: "AWS.SimpleQueueService.NonExistentQueue"}, "application/x-amz-json-1.0",
			`{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}` + "\n",
			"com.amazonaws.sqs#QueueDoesNotExist", "application/x-amz-json-1.0", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.preset != "" {
				rec.Header().Set("Content-Type", tc.preset)
			}
			WriteError(rec, tc.proto, tc.service, "req-1", tc.err)
			if got := rec.Header().Get("X-Amzn-Query-Error"); got != tc.queryError {
				t.Errorf("X-Amzn-Query-Error = %q, want %q", got, tc.queryError)
			}
			if rec.Code != tc.err.Status {
				t.Errorf("status = %d, want %d", rec.Code, tc.err.Status)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := rec.Header().Get("X-Amzn-ErrorType"); got != tc.errorType {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tc.errorType)
			}
			if got := rec.Header().Get("x-amzn-RequestId"); got != "req-1" {
				t.Errorf("request id = %q", got)
			}
			if rec.Body.String() != tc.body {
				t.Errorf("body =\n%s\nwant\n%s", rec.Body, tc.body)
			}
		})
	}
}

// WriteJSONError answers in the JSON version the request used.
func TestWriteJSONError(t *testing.T) {
	for _, tc := range []struct{ requestType, want string }{
		{"application/x-amz-json-1.0", "application/x-amz-json-1.0"},
		{"application/x-amz-json-1.1", "application/x-amz-json-1.1"},
		{"", "application/x-amz-json-1.1"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", tc.requestType)
		rec := httptest.NewRecorder()
		WriteJSONError(rec, r, http.StatusNotFound, "ResourceNotFoundException", "no stack")
		if got := rec.Header().Get("Content-Type"); got != tc.want || rec.Code != http.StatusNotFound ||
			rec.Header().Get("X-Amzn-ErrorType") != "ResourceNotFoundException" ||
			rec.Body.String() != `{"__type":"ResourceNotFoundException","message":"no stack"}`+"\n" {
			t.Errorf("%q: %d %q %q %s", tc.requestType, rec.Code, got, rec.Header().Get("X-Amzn-ErrorType"), rec.Body)
		}
	}
}

func TestWriteResults(t *testing.T) {
	type result struct {
		Names Members[string] `xml:"Names"`
		Empty Members[string] `xml:"Empty"`
	}
	rec := httptest.NewRecorder()
	WriteQueryResult(rec, "sts", "GetThing", "req-1", result{Names: Members[string]{"a", "b"}})
	want := "<GetThingResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetThingResult>\n    <Names>\n      <member>a</member>\n      <member>b</member>\n    </Names>\n    <Empty></Empty>\n  </GetThingResult>\n  <ResponseMetadata>\n    <RequestId>req-1</RequestId>\n  </ResponseMetadata>\n</GetThingResponse>\n"
	if rec.Body.String() != want || rec.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("query result =\n%s\nwant\n%s", rec.Body, want)
	}

	type ec2Response struct {
		XMLName   xml.Name      `xml:"DescribeThingsResponse"`
		Xmlns     string        `xml:"xmlns,attr"`
		RequestID string        `xml:"requestId"`
		Things    Items[string] `xml:"thingSet"`
	}
	rec = httptest.NewRecorder()
	WriteEC2Result(rec, "req-2", ec2Response{Xmlns: Namespace("ec2"), RequestID: "req-2", Things: Items[string]{"x"}})
	want = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeThingsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n  <requestId>req-2</requestId>\n  <thingSet>\n    <item>x</item>\n  </thingSet>\n</DescribeThingsResponse>"
	if rec.Body.String() != want || rec.Header().Get("x-amzn-RequestId") != "req-2" {
		t.Errorf("EC2 result =\n%s\nwant\n%s", rec.Body, want)
	}

	rec = httptest.NewRecorder()
	WriteJSONResult(rec, "req-3", map[string]any{"At": Epoch(time.UnixMilli(1763626542123))})
	if rec.Body.String() != `{"At":1763626542.123}` || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("JSON result = %s", rec.Body)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct {
		Name  string `json:"Name"`
		Count int    `json:"Count"`
	}
	if err := DecodeJSON([]byte("  "), &v); err != nil {
		t.Errorf("an empty body: %v", err)
	}
	if err := DecodeJSON([]byte(`{"Name":"x","Count":2}`), &v); err != nil || v.Name != "x" || v.Count != 2 {
		t.Errorf("%+v, %v", v, err)
	}
	for body, want := range map[string]string{
		`{"Name":`:         "Unexpected character at offset 8: the body is not valid JSON",
		`{"Count":"many"}`: "Unexpected value for Count: expected int, got string",
	} {
		err := DecodeJSON([]byte(body), &v)
		if err == nil || err.Code != "SerializationException" || err.Status != http.StatusBadRequest || err.Message != want {
			t.Errorf("%s: %+v, want %q", body, err, want)
		}
	}
}

func TestForm(t *testing.T) {
	values, err := url.ParseQuery("Action=Do&InstanceIds.member.2=i-2&InstanceIds.member.1=i-1&InstanceIds.member.10=i-10" +
		"&Filter.2.Name=b&Filter.1.Name=a&Filter.1.Value.1=x&Launch.Type=spot&Launch.Size=2&Empty=&Count=7&Big=99999999999&Bad=x")
	if err != nil {
		t.Fatal(err)
	}
	f := Form(values)
	if f.Get("Action") != "Do" || !f.Has("Empty") || f.Has("Missing") || f.Get("Missing") != "" {
		t.Error("Get/Has")
	}
	if got := f.List("InstanceIds.member"); !reflect.DeepEqual(got, []string{"i-1", "i-2", "i-10"}) {
		t.Errorf("List = %v: index order", got)
	}
	filters := f.Structs("Filter")
	if len(filters) != 2 || filters[0].Get("Name") != "a" || !reflect.DeepEqual(filters[0].List("Value"), []string{"x"}) || filters[1].Get("Name") != "b" {
		t.Errorf("Structs = %v", filters)
	}
	if got := f.Sub("Launch"); !reflect.DeepEqual(got, Form{"Type": {"spot"}, "Size": {"2"}}) {
		t.Errorf("Sub = %v", got)
	}
	if n, set, err := f.IntParam("Count"); n != 7 || !set || err != nil {
		t.Errorf("IntParam(Count) = %d %v %v", n, set, err)
	}
	if _, set, err := f.IntParam("Missing"); set || err != nil {
		t.Errorf("IntParam(Missing) = %v %v", set, err)
	}
	for _, key := range []string{"Big", "Bad"} {
		_, set, err := f.IntParam(key)
		if want := "Value '" + f.Get(key) + "' at '" + MemberName(key) + "' failed to satisfy constraint: Member must be an integer"; !set || err == nil ||
			err.Code != "ValidationError" || err.Message != want {
			t.Errorf("IntParam(%s) = %v %+v", key, set, err)
		}
	}
	if MemberName("AutoScalingGroupName") != "autoScalingGroupName" || MemberName("") != "" {
		t.Error("MemberName")
	}
}

func TestCredentialScope(t *testing.T) {
	signed := httptest.NewRequest(http.MethodPost, "/", nil)
	signed.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	presigned := httptest.NewRequest(http.MethodGet, "/?X-Amz-Credential="+url.QueryEscape("AKIDEXAMPLE/20261120/eu-west-1/sts/aws4_request"), nil)
	for _, tc := range []struct {
		r    *http.Request
		want Scope
		ok   bool
	}{
		{signed, Scope{AccessKeyID: "AKIDEXAMPLE", Date: "20261120", Region: "eu-west-1", Service: "ssm"}, true},
		{presigned, Scope{AccessKeyID: "AKIDEXAMPLE", Date: "20261120", Region: "eu-west-1", Service: "sts"}, true},
		{httptest.NewRequest(http.MethodPost, "/", nil), Scope{}, false},
	} {
		if got, ok := CredentialScope(tc.r); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tc.r.URL, got, ok, tc.want, tc.ok)
		}
	}
	bad := httptest.NewRequest(http.MethodPost, "/", nil)
	bad.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261120/eu-west-1/ssm/aws5_request")
	if _, ok := CredentialScope(bad); ok {
		t.Error("a scope not ending in aws4_request was accepted")
	}
}

func TestTimes(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 15, 42, 123456789, time.FixedZone("CET", 3600))
	if got := Timestamp(at); got != "2026-11-20T07:15:42.123Z" {
		t.Errorf("Timestamp = %s", got)
	}
	out, err := json.Marshal(Epoch(at))
	if err != nil || string(out) != "1795158942.123" {
		t.Errorf("Epoch = %s (%v)", out, err)
	}
	var back Epoch
	// Seconds as a float64 keep the milliseconds to within a microsecond.
	if err := json.Unmarshal(out, &back); err != nil || time.Time(back).Sub(at.Truncate(time.Millisecond)).Abs() > time.Microsecond {
		t.Errorf("round trip = %v (%v)", time.Time(back), err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &back); err == nil || !strings.Contains(err.Error(), "not a number of seconds") {
		t.Errorf("a string timestamp: %v", err)
	}
}
