package drain

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	stateMachine = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns:live"
	queueURL     = "https://sqs.eu-west-1.amazonaws.com/111111111111/asgdns-dead-letters"
)

var clockStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// fakeAWS is the queue and the state machine, recording every call.
type fakeAWS struct {
	queue      []sqstypes.Message
	receiveErr error
	deleteErr  error
	startErr   map[string]error // by execution name
	executions map[string]string

	calls    []string
	received []*sqs.ReceiveMessageInput
	started  []*sfn.StartExecutionInput
	deleted  []string
}

func newFake() *fakeAWS {
	return &fakeAWS{startErr: map[string]error{}, executions: map[string]string{}}
}

func (f *fakeAWS) count(call string) int {
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

// ReceiveMessage hands out what is in the queue, 10 at a time; a message
// handed out is invisible until the drain ends.
func (f *fakeAWS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.calls = append(f.calls, "ReceiveMessage")
	f.received = append(f.received, in)
	if f.receiveErr != nil {
		return nil, f.receiveErr
	}
	n := min(int(in.MaxNumberOfMessages), len(f.queue))
	out := &sqs.ReceiveMessageOutput{Messages: f.queue[:n]}
	f.queue = f.queue[n:]
	return out, nil
}

func (f *fakeAWS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.calls = append(f.calls, "DeleteMessage")
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func (f *fakeAWS) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.calls = append(f.calls, "StartExecution")
	f.started = append(f.started, in)
	name := aws.ToString(in.Name)
	if err := f.startErr[name]; err != nil {
		return nil, err
	}
	if _, ok := f.executions[name]; ok {
		return nil, lambdatest.APIError("ExecutionAlreadyExists", "Execution Already Exists: '"+name+"'")
	}
	f.executions[name] = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(strings.Replace(stateMachine, "stateMachine", "execution", 1) + ":" + name),
		StartDate: aws.Time(clockStart.Add(time.Second))}, nil
}

func newHandler(f *fakeAWS, logs io.Writer) *Handler {
	return &Handler{SQS: f, SFN: f, Hooks: workflow.HookNames{"asgdns-launch", "asgdns-terminate"},
		Config: config.Drainer{StateMachineARN: stateMachine, DeadLetterQueueURL: queueURL},
		Now:    func() time.Time { return clockStart }, Log: lambdatest.JSONLogger(logs, slog.LevelDebug)}
}

func mustHandle(t testing.TB, h *Handler, input string) *contract.DeadLetters {
	t.Helper()
	dl, err := h.Handle(context.Background(), []byte(input))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return dl
}

// routed is the error name Lambda would report.
func routed(err error) string { return workflow.Routed(err) }
