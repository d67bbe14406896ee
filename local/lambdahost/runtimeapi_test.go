package lambdahost

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/local/syncio"
)

// TestRuntimeAPIRefusals: the Runtime API refuses answers for an event the
// runtime does not hold, a second answer, and an init error after init.
func TestRuntimeAPIRefusals(t *testing.T) {
	inv := newInvocation([]byte(`{}`))
	sb := &sandbox{current: inv, initDone: true, initFailed: make(chan *FunctionError, 1)}
	post := func(handler http.HandlerFunc, id, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.SetPathValue("id", id)
		w := httptest.NewRecorder()
		handler(w, r)
		return w
	}
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		id, body string
		status   int
		errType  string
	}{
		{"unknown id", sb.handleResponse, "not-the-id", `{}`, 400, "InvalidRequestID"},
		{"answer", sb.handleResponse, inv.id, `{"ok":1}`, 202, ""},
		{"second answer", sb.handleError, inv.id, `{"errorType":"X"}`, 403, "InvalidStateTransition"},
		{"init error after init", sb.handleInitError, "", `{"errorType":"X"}`, 403, "InvalidStateTransition"},
	} {
		w := post(tc.handler, tc.id, tc.body)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.errType) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.errType)
		}
	}
	if out := <-inv.posted; string(out.payload) != `{"ok":1}` {
		t.Errorf("the accepted answer: %s", out.payload)
	}
}

// TestPostedError: the type comes from the error document, else from the
// Lambda-Runtime-Function-Error-Type header, else it is Lambda.Unknown.
func TestPostedError(t *testing.T) {
	for _, tc := range []struct {
		body, header, wantType, wantMsg, wantCause string
	}{
		{`{"errorMessage":"m","errorType":"InvalidEvent"}`, "Runtime.Other", "InvalidEvent", "m", `{"errorMessage":"m","errorType":"InvalidEvent"}`},
		{`{"errorMessage":"m"}`, "Runtime.UnknownReason", "Runtime.UnknownReason", "m", `{"errorMessage":"m","errorType":"Runtime.UnknownReason"}`},
		{`not json`, "", "Lambda.Unknown", "not json", `{"errorMessage":"not json","errorType":"Lambda.Unknown"}`},
	} {
		fe := postedError([]byte(tc.body), tc.header)
		if fe.Type != tc.wantType || fe.Message != tc.wantMsg || fe.ErrorCause() != tc.wantCause {
			t.Errorf("%s + %q: got %s %q %s", tc.body, tc.header, fe.Type, fe.Message, fe.ErrorCause())
		}
		if fe.Error() != tc.wantType+": "+tc.wantMsg {
			t.Errorf("Error() %q", fe.Error())
		}
	}
}

// TestLineWriter: output is passed on in whole lines; an overlong line in
// pieces; a last line without newline on flush.
func TestLineWriter(t *testing.T) {
	var out syncio.Buffer
	l := &lineWriter{dst: &syncWriter{w: &out}}
	_, _ = l.Write([]byte("one\ntw"))
	_, _ = l.Write([]byte("o\nthr"))
	if out.String() != "one\ntwo\n" {
		t.Errorf("got %q", out.String())
	}
	l.flush()
	if out.String() != "one\ntwo\nthr\n" {
		t.Errorf("after flush %q", out.String())
	}
	_, _ = l.Write([]byte(strings.Repeat("x", maxLine)))
	if n := len(out.String()); n != len("one\ntwo\nthr\n")+maxLine {
		t.Errorf("an overlong line was held back (%d bytes out)", n)
	}
}
