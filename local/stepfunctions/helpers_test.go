package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/local/asl"
	"github.com/asgdns/asgdns/local/stepfunctions"
)

const (
	region  = "eu-west-1"
	account = "111111111111"
	roleArn = "arn:aws:iam::111111111111:role/asgdns-StateMachineRole"
	workArn = "arn:aws:lambda:eu-west-1:111111111111:function:work"
)

// definition is a small state machine: a Pass, the Task whose handler the
// tests steer, and a Succeed. ${WorkArn} is a DefinitionSubstitution.
const definition = `{
  "Comment": "test machine",
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.prepared", "Next": "Work"},
    "Work": {"Type": "Task", "Resource": "${WorkArn}", "ResultPath": "$.work", "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`

// testStart is the virtual clock's start: after RedriveExecution launched.
var testStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// world is a Service behind a real HTTP server, with an SDK client, and a
// Task handler the tests steer: executions whose name is in faults fail
// with Broken; an input {"block": true} blocks until the execution is
// stopped.
type world struct {
	t      testing.TB
	clock  *asl.VirtualClock // nil on the real clock
	svc    *stepfunctions.Service
	url    string
	client *sfn.Client
	smArn  string

	mu     sync.Mutex
	faults map[string]bool
}

type worldOptions struct{ realClock bool }

func newWorld(t testing.TB, opts ...func(*worldOptions)) *world {
	t.Helper()
	var o worldOptions
	for _, f := range opts {
		f(&o)
	}
	w := &world{t: t, faults: map[string]bool{}}
	engOpts := asl.Options{
		Rand:      rand.New(rand.NewPCG(1, 2)),
		Resources: asl.Resources{workArn: w.work},
	}
	if !o.realClock {
		w.clock = asl.NewVirtualClock(testStart)
		engOpts.Clock = w.clock
	}
	svcOpts := stepfunctions.Options{Engine: asl.NewEngine(engOpts), Region: region, Account: account}
	if w.clock != nil {
		svcOpts.Clock = w.clock
	}
	svc, err := stepfunctions.New(svcOpts)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	w.smArn, err = svc.AddStateMachine("asgdns", []byte(definition), map[string]string{"WorkArn": workArn}, roleArn)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		srv.Close()
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	w.url = srv.URL
	w.client = sfn.New(sfn.Options{
		Region:           region,
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		RetryMaxAttempts: 1, // every answer is the server's first
		HTTPClient:       &http.Client{Transport: sdkRaceFree{awshttp.NewBuildableClient().GetTransport()}},
	})
	return w
}

// sdkRaceFree works around a client-side race between the SDK and
// net/http that a fast local server exposes (AWS is too far away to): the
// SDK (smithy-go ClientHandler) closes the request body as soon as the
// response headers arrive, while the transport's write loop may still be
// making its final read of that body; the SDK's closed body answers that
// read's WriteTo with io.EOF, which the write loop takes as a failure, and
// it closes the connection under a response body still being read ("use of
// closed network connection"). The SDK retries that error, so clients with
// the default retries recover; these tests allow no retries, so they hide
// WriteTo from the transport instead, which then reads the closed body
// with Read and gets a clean EOF.
type sdkRaceFree struct{ http.RoundTripper }

func (t sdkRaceFree) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return t.RoundTripper.RoundTrip(r)
}

func withRealClock(o *worldOptions) { o.realClock = true }

// work is the Task handler.
func (w *world) work(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	var in struct {
		Block bool `json:"block"`
	}
	_ = json.Unmarshal(input, &in)
	if in.Block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	info, _ := asl.TaskInfoFrom(ctx)
	w.mu.Lock()
	broken := w.faults[info.ExecutionName]
	w.mu.Unlock()
	if broken {
		return nil, asl.TaskError{Name: "Broken", Cause: "the test broke " + info.ExecutionName}
	}
	return json.RawMessage(fmt.Sprintf(`{"attempt":%d}`, info.Attempt)), nil
}

// fault makes the named execution's Task fail (or succeed again).
func (w *world) fault(name string, broken bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults[name] = broken
}

func (w *world) execArn(name string) string {
	return "arn:aws:states:" + region + ":" + account + ":execution:asgdns:" + name
}

// start starts an execution through the API.
func (w *world) start(name, input string) *sfn.StartExecutionOutput {
	w.t.Helper()
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn), Input: aws.String(input)}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := w.client.StartExecution(context.Background(), in)
	if err != nil {
		w.t.Fatalf("StartExecution %s: %v", name, err)
	}
	return out
}

// wait waits for the execution's current run to end.
func (w *world) wait(arn string) asl.Result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := w.svc.Wait(ctx, arn)
	if err != nil {
		w.t.Fatalf("wait for %s: %v", arn, err)
	}
	return res
}

// run starts an execution and waits for it.
func (w *world) run(name, input string) (string, asl.Result) {
	w.t.Helper()
	arn := aws.ToString(w.start(name, input).ExecutionArn)
	return arn, w.wait(arn)
}

func (w *world) describe(arn string) *sfn.DescribeExecutionOutput {
	w.t.Helper()
	out, err := w.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		w.t.Fatalf("DescribeExecution %s: %v", arn, err)
	}
	return out
}

// wantCode checks that err is the API error code and returns its message.
func wantCode(t testing.TB, err error, code string) string {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("error code = %s (%s), want %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	return apiErr.ErrorMessage()
}
