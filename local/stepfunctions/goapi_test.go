package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/local/asl"
	"github.com/asgdns/asgdns/local/stepfunctions"
)

func TestGoAPI(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	var finished []stepfunctions.Finished
	stop := w.svc.OnFinish(func(f stepfunctions.Finished) {
		mu.Lock()
		defer mu.Unlock()
		finished = append(finished, f)
	})

	// What EventBridge does: start with the event as input.
	arn, err := w.svc.Start(context.Background(), w.smArn, "from-events", `{"detail":{}}`)
	if err != nil {
		t.Fatal(err)
	}
	if arn != w.execArn("from-events") {
		t.Errorf("ARN = %s", arn)
	}
	res := w.wait(arn)
	if res.Status != asl.StatusSucceeded || !res.StartDate.Equal(testStart) {
		t.Errorf("result = %s started %v", res.Status, res.StartDate)
	}
	// Wait on an execution that has ended answers at once.
	if again := w.wait(arn); again.Status != asl.StatusSucceeded {
		t.Errorf("second wait = %s", again.Status)
	}

	// A failed run and its redrive are two finished runs.
	w.fault("twice", true)
	failedArn, _ := w.run("twice", "{}")
	w.fault("twice", false)
	if _, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(failedArn)}); err != nil {
		t.Fatal(err)
	}
	w.wait(failedArn)

	stop()
	w.run("unobserved", "{}")
	mu.Lock()
	var got []string
	for _, f := range finished {
		got = append(got, f.Name+":"+string(f.Result.Status))
		if f.StateMachineArn != w.smArn || f.ExecutionArn != w.execArn(f.Name) {
			t.Errorf("finished = %+v", f)
		}
	}
	mu.Unlock()
	if want := []string{"from-events:SUCCEEDED", "twice:FAILED", "twice:SUCCEEDED"}; !slices.Equal(got, want) {
		t.Errorf("finished runs = %v, want %v", got, want)
	}

	// Errors are *Error with the API's codes.
	for _, tc := range []struct{ smArn, name, input, code string }{
		{w.smArn, "from-events", `{"detail":{}}`, "ExecutionAlreadyExists"},
		{w.smArn, "bad name", "{}", "InvalidName"},
		{w.smArn, "bad-input", "{", "InvalidExecutionInput"},
		{"arn:aws:states:eu-west-1:111111111111:stateMachine:nope", "", "{}", "StateMachineDoesNotExist"},
		{"nope", "", "{}", "InvalidArn"},
	} {
		_, err := w.svc.Start(context.Background(), tc.smArn, tc.name, tc.input)
		var apiErr *stepfunctions.Error
		if !errors.As(err, &apiErr) || apiErr.Code != tc.code {
			t.Errorf("Start(%s, %q, %q) = %v, want %s", tc.smArn, tc.name, tc.input, err, tc.code)
		}
	}
	_, err = w.svc.Wait(context.Background(), w.execArn("missing"))
	var apiErr *stepfunctions.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "ExecutionDoesNotExist" {
		t.Errorf("Wait on a missing execution = %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.svc.Start(cancelled, w.smArn, "", "{}"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v", err)
	}
}

func TestWaitRespectsContext(t *testing.T) {
	w := newWorld(t)
	arn := *w.start("blocked", `{"block":true}`).ExecutionArn
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.svc.Wait(ctx, arn); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}

// Close aborts what still runs, reports it, and refuses new work.
func TestClose(t *testing.T) {
	eng := asl.NewEngine(asl.Options{
		Clock: asl.NewVirtualClock(testStart), Rand: rand.New(rand.NewPCG(1, 2)),
		Resources: asl.Resources{workArn: func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
	})
	svc, err := stepfunctions.New(stepfunctions.Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := svc.AddStateMachine("m", []byte(definition), map[string]string{"WorkArn": workArn}, roleArn)
	if err != nil {
		t.Fatal(err)
	}
	if smArn != "arn:aws:states:us-east-1:123456789012:stateMachine:m" {
		t.Errorf("default region and account: %s", smArn)
	}
	var aborted []string
	var mu sync.Mutex
	svc.OnFinish(func(f stepfunctions.Finished) {
		mu.Lock()
		defer mu.Unlock()
		aborted = append(aborted, f.Name+":"+string(f.Result.Status))
	})
	arn, err := svc.Start(context.Background(), smArn, "running", "{}")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if res, err := svc.Wait(context.Background(), arn); err != nil || res.Status != asl.StatusAborted {
		t.Errorf("after Close: %s, %v", res.Status, err)
	}
	mu.Lock()
	if !slices.Equal(aborted, []string{"running:ABORTED"}) {
		t.Errorf("reported %v", aborted)
	}
	mu.Unlock()
	_, err = svc.Start(context.Background(), smArn, "late", "{}")
	var apiErr *stepfunctions.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "ServiceUnavailable" {
		t.Errorf("Start after Close = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	eng := asl.NewEngine(asl.Options{})
	for name, opts := range map[string]stepfunctions.Options{
		"no engine":   {},
		"bad account": {Engine: eng, Account: "1234"},
		"bad region":  {Engine: eng, Region: "eu:west"},
	} {
		if _, err := stepfunctions.New(opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
