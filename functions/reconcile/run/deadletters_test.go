package run

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

func message(id, body string) sqstypes.Message {
	return sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(body)}
}

// TestDrainDeadLetters: a run asked to drain invokes the drain function
// first, whatever the mode, and reports what it did: events started and
// deleted, a start that failed and a body that is not an event kept and
// reported (drain-dead-letters' own tests hold the rest).
func TestDrainDeadLetters(t *testing.T) {
	launch := string(lambdatest.Event(t, "launch-from-warm-pool"))
	f := newWorld()
	f.queue = []sqstypes.Message{
		message("m1", launch), // started, deleted
		message("m2", string(lambdatest.Event(t, "launch-no-token"))), // start fails: kept
		message("m3", `{"hello":"world"}`),                            // not an event: kept
		message("m4", string(lambdatest.Event(t, "terminate"))),       // started before: deleted
	}
	f.executions["dlq-15e672eb-e9fe-40c4-9786-0334a2031ce3"] = "started before"
	f.startErr["dlq-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe"] = lambdatest.APIError("ThrottlingException", "Rate exceeded")
	var logs bytes.Buffer
	h, _ := newHandler(t, f, &logs, config.EnvDrainFunction, drainFn)
	rep := mustHandle(t, h, `{"drainDeadLetters":true,"run":"run-1"}`)
	dl := rep.DeadLetters
	if !dl.Drained || dl.Received != 4 || dl.Started != 1 || dl.AlreadyStarted != 1 || dl.Deleted != 2 || dl.Left != 2 || len(dl.Problems) != 2 {
		t.Errorf("dead letters %+v", dl)
	}
	if !slices.Equal(f.deleted, []string{"rh-m1", "rh-m4"}) {
		t.Errorf("deleted %v, want only the started ones", f.deleted)
	}
	for _, want := range []string{"m2: execution dlq-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe not started", "m3 is not an event"} {
		if !strings.Contains(strings.Join(dl.Problems, "\n"), want) {
			t.Errorf("problems %q lack %q", dl.Problems, want)
		}
	}
	if rep.Succeeded {
		t.Error("a run that left dead letters succeeded")
	}
	// First, and with the run named.
	calls := f.Calls()
	if i := slices.Index(calls, "Invoke "+drainFn); i < 0 || i > slices.Index(calls, "DescribeAutoScalingGroups") {
		t.Errorf("calls %v: the drain comes first", calls)
	}
	if in := f.lambda.invoked[0]; string(in.Payload) != `{"run":"run-1"}` {
		t.Errorf("drain invoked with %s", in.Payload)
	}
	// Report mode still drains: draining is asked for on its own.
	if f.count("StartExecution") != 3 {
		t.Errorf("StartExecution %d times, want 3", f.count("StartExecution"))
	}
}

// TestDrainFunctionFails: a drain that could not run is a problem of the
// report (the messages wait for the next run); the reconciliation goes on.
func TestDrainFunctionFails(t *testing.T) {
	f := newWorld()
	f.queue = []sqstypes.Message{message("m1", string(lambdatest.Event(t, "launch-from-warm-pool")))}
	h, _ := newHandler(t, f, io.Discard, config.EnvDrainFunction, drainFn)
	f.lambda.failures[drainFn] = lambdatest.APIError("AccessDeniedException", "not authorized to perform lambda:InvokeFunction")
	rep := mustHandle(t, h, `{"mode":"upsert","drainDeadLetters":true,"run":"run-1"}`)
	dl := rep.DeadLetters
	if !dl.Drained || dl.Received != 0 || len(dl.Problems) != 1 || !strings.Contains(dl.Problems[0], "lambda:Invoke "+drainFn) ||
		!strings.Contains(dl.Problems[0], "lambda:InvokeFunction on "+drainFn) || rep.Succeeded || len(rep.Started) != 1 {
		t.Errorf("dead letters %+v, started %v", dl, startedNames(rep))
	}
}
