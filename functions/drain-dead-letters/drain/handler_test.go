package drain

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/asgdns/asgdns/workflow/lambdatest"
)

func message(id, body string) sqstypes.Message {
	return sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(body)}
}

// TestDrainDeadLetters: each event starts the state machine under a name
// from its id and is deleted only then; a start that fails, or a body that
// is not an event, stays in the queue and is reported.
func TestDrainDeadLetters(t *testing.T) {
	launch := string(lambdatest.Event(t, "launch-from-warm-pool"))
	terminate := string(lambdatest.Event(t, "terminate"))
	noToken := string(lambdatest.Event(t, "launch-no-token"))
	f := newFake()
	f.queue = []sqstypes.Message{
		message("m1", launch),              // started, deleted
		message("m2", terminate),           // started before: deleted
		message("m3", noToken),             // start fails: kept
		message("m4", `{"hello":"world"}`), // not an event: kept
		message("m5", `not json`),          // not an event: kept
	}
	f.executions["dlq-15e672eb-e9fe-40c4-9786-0334a2031ce3"] = terminate
	f.startErr["dlq-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe"] = lambdatest.APIError("ThrottlingException", "Rate exceeded")
	var logs bytes.Buffer
	h := newHandler(f, &logs)
	dl := mustHandle(t, h, `{"run":"run-1"}`)
	if !dl.Drained || dl.Received != 5 || dl.Started != 1 || dl.AlreadyStarted != 1 || dl.Deleted != 2 || dl.Left != 3 || len(dl.Problems) != 3 {
		t.Errorf("dead letters %+v", dl)
	}
	if !slices.Equal(f.deleted, []string{"rh-m1", "rh-m2"}) {
		t.Errorf("deleted %v, want only the started ones", f.deleted)
	}
	for _, want := range []string{"m3: execution dlq-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe not started", "m4 is not an event", "m5 is not an event"} {
		if !strings.Contains(strings.Join(dl.Problems, "\n"), want) {
			t.Errorf("problems %q lack %q", dl.Problems, want)
		}
	}
	// The event as delivered is the execution input, byte for byte.
	want := map[string]string{"dlq-c18382ae-4754-4ab9-a6c8-a5972bf33d24": launch,
		"dlq-15e672eb-e9fe-40c4-9786-0334a2031ce3": terminate, "dlq-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe": noToken}
	for _, in := range f.started {
		if n := aws.ToString(in.Name); aws.ToString(in.Input) != want[n] {
			t.Errorf("%s started with %s", n, aws.ToString(in.Input))
		}
	}
	for _, in := range f.received {
		if aws.ToString(in.QueueUrl) != queueURL || in.MaxNumberOfMessages != 10 || in.WaitTimeSeconds != receiveWait {
			t.Errorf("ReceiveMessage %+v", in)
		}
	}
	for _, in := range f.started {
		if aws.ToString(in.StateMachineArn) != stateMachine {
			t.Errorf("started on %s", aws.ToString(in.StateMachineArn))
		}
	}
	lambdatest.LogsContain(t, logs.String(), `"run":"run-1"`, `"msg":"dead letter started"`, `"execution":"dlq-c18382ae-4754-4ab9-a6c8-a5972bf33d24"`)
	if f.count("StartExecution") != 3 {
		t.Errorf("StartExecution %d times, want 3", f.count("StartExecution"))
	}
}

// TestDrainDeleteFails: a started event whose message cannot be deleted
// is left (found started on the next drain), never lost.
func TestDrainDeleteFails(t *testing.T) {
	f := newFake()
	f.queue = []sqstypes.Message{message("m1", string(lambdatest.Event(t, "launch-from-warm-pool")))}
	f.deleteErr = lambdatest.APIError("AccessDenied", "no")
	h := newHandler(f, io.Discard)
	if dl := mustHandle(t, h, `{"run":"run-1"}`); dl.Started != 1 || dl.Deleted != 0 || dl.Left != 1 || len(dl.Problems) != 1 ||
		!strings.Contains(dl.Problems[0], "sqs:DeleteMessage") {
		t.Errorf("dead letters %+v", dl)
	}
}

// TestDrainBounded: one drain receives at most MaxDeadLetterBatches
// batches.
func TestDrainBounded(t *testing.T) {
	f := newFake()
	for i := range 150 {
		f.queue = append(f.queue, message(strings.Repeat("x", i+1), `{}`))
	}
	h := newHandler(f, io.Discard)
	dl := mustHandle(t, h, `{"run":"run-1"}`)
	if f.count("ReceiveMessage") != MaxBatches || dl.Received != 100 || len(f.deleted) != 0 {
		t.Errorf("receives %d, dead letters %+v", f.count("ReceiveMessage"), dl)
	}
}

// TestReceiveFails: a queue that cannot be read is the report's problem,
// routed and with its fix; nothing is started.
func TestReceiveFails(t *testing.T) {
	f := newFake()
	f.receiveErr = lambdatest.APIError("AccessDenied", "not authorized to perform sqs:ReceiveMessage")
	dl := mustHandle(t, newHandler(f, io.Discard), `{"run":"run-1"}`)
	if !dl.Drained || len(dl.Problems) != 1 || !strings.Contains(dl.Problems[0], "access denied") ||
		!strings.Contains(dl.Problems[0], "drain function's role") || f.count("StartExecution") != 0 {
		t.Errorf("dead letters %+v, calls %v", dl, f.calls)
	}
}

// TestInvalidInput: nothing is received.
func TestInvalidInput(t *testing.T) {
	for _, input := range []string{`{"run":"a/b"}`, `{"Run":"x"}`, `{"mode":"sync"}`, `[]`, `not json`} {
		f := newFake()
		dl, err := newHandler(f, io.Discard).Handle(context.Background(), []byte(input))
		lambdatest.Failure(t, dl, err, "InvalidEvent")
		if routed(err) != "InvalidEvent" || len(f.calls) != 0 {
			t.Errorf("%s: calls %v", input, f.calls)
		}
	}
	// The empty input, null and {} drain.
	for _, input := range []string{``, `null`, `{}`} {
		f := newFake()
		if dl := mustHandle(t, newHandler(f, io.Discard), input); !dl.Drained || f.count("ReceiveMessage") != 1 {
			t.Errorf("%q: %+v", input, dl)
		}
	}
}
