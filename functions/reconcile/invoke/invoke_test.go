package invoke

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/asgdns/asgdns/workflow"
)

const arn = "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-ListZoneFunction-1A2B:live"

// server is a Lambda endpoint answering each request with the next of
// answers (the last repeats), recording what it got.
type server struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	got     []*http.Request
	bodies  []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	s.got = append(s.got, r)
	s.bodies = append(s.bodies, string(body))
	s.answers[min(len(s.got), len(s.answers))-1](w)
}

func newClient(t *testing.T, s *server) *Client {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "token")})
	c.sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

func answer(status int, headers map[string]string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// TestInvoke: the request lambda.Client.Invoke sends (path with the ARN
// escaped, invocation type, SigV4 for lambda in the region, the payload),
// and the result, a function's error marked as Lambda marks it.
func TestInvoke(t *testing.T) {
	s := &server{answers: []func(http.ResponseWriter){answer(200, map[string]string{"X-Amz-Executed-Version": "3"}, `{"ok":true}`)}}
	c := newClient(t, s)
	out, err := c.Invoke(context.Background(), &Input{FunctionName: aws.String(arn), InvocationType: InvocationTypeRequestResponse, Payload: []byte(`{"run":"r"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || string(out.Payload) != `{"ok":true}` || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "3" {
		t.Errorf("output %+v", out)
	}
	r := s.got[0]
	if r.Method != http.MethodPost || r.URL.EscapedPath() !=
		"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A111111111111%3Afunction%3Aasgdns-ListZoneFunction-1A2B%3Alive/invocations" {
		t.Errorf("%s %s", r.Method, r.URL.EscapedPath())
	}
	auth := r.Header.Get("Authorization")
	if r.Header.Get("X-Amz-Invocation-Type") != "RequestResponse" || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") ||
		!strings.Contains(auth, "/eu-west-1/lambda/aws4_request") || r.Header.Get("X-Amz-Security-Token") != "token" || s.bodies[0] != `{"run":"r"}` {
		t.Errorf("headers %v, body %s", r.Header, s.bodies[0])
	}

	s = &server{answers: []func(http.ResponseWriter){answer(200, map[string]string{"X-Amz-Function-Error": "Unhandled"},
		`{"errorMessage":"no","errorType":"CommandFailed"}`)}}
	out, err = newClient(t, s).Invoke(context.Background(), &Input{FunctionName: aws.String("asgdns-list"), InvocationType: InvocationTypeRequestResponse})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "CommandFailed") || len(s.got) != 1 {
		t.Errorf("%+v, %v, %d calls: a function's error is its result, never retried", out, err, len(s.got))
	}
}

// TestServiceErrors: the Lambda service's errors carry their code and
// status, so workflow.FromAWS routes them as the SDK's; throttling and 5xx
// are tried Attempts times, others once.
func TestServiceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []func(http.ResponseWriter)
		calls   int
		routed  string
		inMsg   string
	}{
		{"not found", []func(http.ResponseWriter){answer(404, map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/"},
			`{"Type":"User","Message":"Function not found: asgdns-list"}`)}, 1, "Unavailable", "ResourceNotFoundException: Function not found"},
		{"denied", []func(http.ResponseWriter){answer(403, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException"},
			`{"Message":"not authorized to perform: lambda:InvokeFunction"}`)}, 1, "AccessDenied", "lambda:InvokeFunction"},
		{"throttled throughout", []func(http.ResponseWriter){answer(429, map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"},
			`{"message":"Rate exceeded"}`)}, Attempts, "Throttled", "Rate exceeded"},
		{"a 5xx, then fine", []func(http.ResponseWriter){answer(502, nil, ``), answer(200, nil, `{}`)}, 2, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{answers: tc.answers}
			_, err := newClient(t, s).Invoke(context.Background(), &Input{FunctionName: aws.String("asgdns-list"), InvocationType: InvocationTypeRequestResponse})
			if len(s.got) != tc.calls {
				t.Errorf("%d calls, want %d", len(s.got), tc.calls)
			}
			if tc.routed == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			err = workflow.FromAWS("lambda:Invoke asgdns-list", err, "fix")
			if workflow.Routed(err) != tc.routed || !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("%T %v, want %s with %q", err, err, tc.routed, tc.inMsg)
			}
		})
	}
}

// TestEndpoint: AWS_ENDPOINT_URL_LAMBDA, else the base endpoint, else the
// region's.
func TestEndpoint(t *testing.T) {
	if c := NewFromConfig(aws.Config{Region: "eu-west-1"}); c.endpoint != "https://lambda.eu-west-1.amazonaws.com" {
		t.Error(c.endpoint)
	}
	if c := NewFromConfig(aws.Config{Region: "cn-north-1"}); c.endpoint != "https://lambda.cn-north-1.amazonaws.com.cn" {
		t.Error(c.endpoint)
	}
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:4566/")
	if c := NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://other")}); c.endpoint != "http://127.0.0.1:4566" {
		t.Error(c.endpoint)
	}
	if _, err := NewFromConfig(aws.Config{}).Invoke(context.Background(), &Input{}); err == nil || !strings.Contains(err.Error(), "FunctionName") {
		t.Errorf("no function: %v", err)
	}
}
