// Package drain is the logic of functions/drain-dead-letters: the
// EventBridge events the rule could not deliver start the state machine
// they were meant for (DESIGN §9: dead-lettered events are drained, not
// lost). functions/reconcile invokes it when a run is asked to drain.
package drain

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// sqsAPI drains the dead-letter queue.
type sqsAPI interface {
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ sqsAPI = (*sqs.Client)(nil)

// sfnAPI starts executions of the normal state machine.
type sfnAPI interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ sfnAPI = (*sfn.Client)(nil)

// Handler drains the dead-letter queue.
type Handler struct {
	SQS sqsAPI
	SFN sfnAPI
	// Hooks are asgdns's own lifecycle hooks: an event of another's is not
	// one the state machine takes.
	Hooks  workflow.HookNames
	Config config.Drainer
	Now    func() time.Time
	Log    *slog.Logger
}

const (
	// MaxBatches bounds one drain: 10 receives of up to 10 messages. What
	// is left waits for the next run.
	MaxBatches = 10
	// receiveWait is ReceiveMessage's long poll: it asks every SQS server,
	// so an empty answer means the queue is empty, not a sampled miss.
	receiveWait = 1
)

// eventIDPattern is an event id that can go into an execution name.
var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,76}$`)

// Handle starts an execution for each dead-lettered event, each under a
// name derived from the event id (dlq-<id>), and deletes the message only
// once its execution started (or had started before). A message whose
// body is not an event the state machine takes, or whose start fails,
// stays in the queue (it comes back after the queue's visibility timeout)
// and is reported: nothing is deleted unhandled. Only invalid input is an
// error; what the drain could not do is in the report's problems.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*contract.DeadLetters, error) {
	var req contract.DrainRequest
	if trimmed := bytes.TrimSpace(payload); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if err := contract.Decode(trimmed, &req, contract.DrainRequestKeys...); err != nil {
			return nil, h.invalid(ctx, "input", string(payload), "is not a JSON object of run: "+err.Error())
		}
	}
	if req.Run != "" && !contract.RunPattern.MatchString(req.Run) {
		return nil, h.invalid(ctx, "run", req.Run, "is not 1-36 of A-Z a-z 0-9 _ -")
	}
	d := &drainer{h: h, log: h.Log.With(slog.String("run", req.Run)), started: h.Now(),
		report: &contract.DeadLetters{Drained: true, Problems: []string{}}}
	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	d.drain(ctx)
	dl := d.report
	d.log.InfoContext(ctx, "dead letters drained", slog.Int("received", dl.Received), slog.Int("started", dl.Started),
		slog.Int("alreadyStarted", dl.AlreadyStarted), slog.Int("deleted", dl.Deleted), slog.Int("left", dl.Left),
		slog.Int("problems", len(dl.Problems)))
	return dl, nil
}

func (h *Handler) invalid(ctx context.Context, field, value, reason string) error {
	err := &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason,
		Fix: `invoke with {"run":"<id, optional>"}, as functions/reconcile does`}}
	h.Log.ErrorContext(ctx, "invalid input: nothing received", slog.Any("error", err))
	return err
}

// drainer is one drain's state.
type drainer struct {
	h       *Handler
	log     *slog.Logger
	started time.Time
	report  *contract.DeadLetters
}

func (d *drainer) drain(ctx context.Context) {
	dl := d.report
	queue := d.h.Config.DeadLetterQueueURL
	seen := map[string]bool{}
	for range MaxBatches {
		out, err := d.h.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: receiveWait})
		if err != nil {
			d.problem(ctx, errText("sqs:ReceiveMessage "+queue, workflow.FromAWS("sqs:ReceiveMessage", err,
				"allow sqs:ReceiveMessage and sqs:DeleteMessage on the queue (and kms:Decrypt on its key) to the drain function's role")))
			return
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue // back already: a short visibility timeout
			}
			seen[id] = true
			fresh++
			dl.Received++
			if !d.drainOne(ctx, aws.ToString(m.Body), id) {
				dl.Left++
				continue
			}
			_, err := d.h.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle})
			if err != nil {
				// Started, but comes back: the next drain finds its
				// execution already there and deletes it then.
				d.problem(ctx, errText("message "+id+": started, but sqs:DeleteMessage failed (deleted on a later run)",
					workflow.FromAWS("sqs:DeleteMessage", err, "allow sqs:DeleteMessage on the queue to the drain function's role")))
				dl.Left++
				continue
			}
			dl.Deleted++
		}
		if fresh == 0 {
			return
		}
	}
}

// drainOne starts the execution for one message and reports whether it
// may be deleted.
func (d *drainer) drainOne(ctx context.Context, body, messageID string) bool {
	dl := d.report
	e, err := workflow.ParseEvent([]byte(body))
	if err == nil {
		_, err = workflow.PlanFor(e, d.h.Hooks)
	}
	if err == nil && !eventIDPattern.MatchString(e.ID) {
		err = fmt.Errorf("its id %q cannot name an execution", e.ID)
	}
	if err != nil {
		d.problem(ctx, errText("message "+messageID+" is not an event the state machine takes, left in the queue for a person", err))
		return false
	}
	name := "dlq-" + e.ID
	already, err := d.start(ctx, name, body)
	if err != nil {
		d.problem(ctx, errText("message "+messageID+": execution "+name+" not started, left in the queue", err))
		return false
	}
	if already {
		dl.AlreadyStarted++
	} else {
		dl.Started++
	}
	d.log.InfoContext(ctx, "dead letter started", slog.String("execution", name), slog.String("messageId", messageID),
		slog.Bool("already", already), slog.String("detailType", e.DetailType))
	return true
}

// start starts an execution with the event as delivered; already is true
// when it existed. Step Functions answers a name it has seen with
// ExecutionAlreadyExists (or, for a running execution with the same
// input, with that execution, started before this drain).
func (d *drainer) start(ctx context.Context, name, input string) (already bool, err error) {
	arn := d.h.Config.StateMachineARN
	out, err := d.h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(input)})
	if workflow.ErrorCode(err) == "ExecutionAlreadyExists" {
		return true, nil
	}
	if err != nil {
		return false, workflow.FromAWS("states:StartExecution "+name, err, "allow states:StartExecution on "+arn+" to the drain function's role")
	}
	return out.StartDate != nil && out.StartDate.Before(d.started), nil
}

func (d *drainer) problem(ctx context.Context, msg string) {
	d.report.Problems = append(d.report.Problems, msg)
	d.log.WarnContext(ctx, msg)
}

// errText is err's message, for the report.
func errText(what string, err error) string { return what + ": " + strings.TrimSpace(err.Error()) }
