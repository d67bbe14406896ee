package cloud

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// agentWorld is a world with one Linux DC whose document is a one-step
// script, and the SSM client of its administrator.
func agentWorld(t *testing.T, opts ...worldOption) (*world, *ssm.Client) {
	t.Helper()
	w := newWorld(t, append([]worldOption{func(o *Options) { o.Document = testDocument("exit 0", 30*time.Second) }}, opts...)...)
	if err := w.cloud.RegisterDC(dcID, "Linux"); err != nil {
		t.Fatal(err)
	}
	return w, w.ssm(keyCreds(keySharedAdmin))
}

func sendTo(t *testing.T, client *ssm.Client, timeoutSeconds int32) string {
	t.Helper()
	out, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(documentName),
		InstanceIds: []string{dcID}, Parameters: map[string][]string{"word": {"hello"}}, TimeoutSeconds: aws.Int32(timeoutSeconds)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Command.CommandId)
}

// statuses counts the node's invocations by status, as
// ListCommandInvocations reports them.
func statuses(t *testing.T, client *ssm.Client) map[types.CommandInvocationStatus]int {
	t.Helper()
	out, err := client.ListCommandInvocations(context.Background(), &ssm.ListCommandInvocationsInput{InstanceId: aws.String(dcID)})
	if err != nil {
		t.Fatal(err)
	}
	n := map[types.CommandInvocationStatus]int{}
	for _, inv := range out.CommandInvocations {
		n[inv.Status]++
	}
	return n
}

func TestAgentRunsABoundedNumberOfCommands(t *testing.T) {
	const workers, duration, commands = 2, 200 * time.Millisecond, 6
	_, client := agentWorld(t, func(o *Options) { o.AgentWorkers, o.CommandDuration = workers, duration })
	start := time.Now()
	for range commands {
		sendTo(t, client, 60)
	}
	most := 0
	eventually(t, "every command to finish", func() (bool, string) {
		n := statuses(t, client)
		most = max(most, n[types.CommandInvocationStatusInProgress])
		return n[types.CommandInvocationStatusSuccess] == commands, fmt.Sprint(n)
	})
	took := time.Since(start)
	if most != workers {
		t.Errorf("at most %d commands ran at once, want %d", most, workers)
	}
	// Three rounds of two: had more run at once, they would be done sooner.
	if least := commands / workers * duration; took < least {
		t.Errorf("%d commands of %s on %d workers took %s, less than %s", commands, duration, workers, took, least)
	}
}

func TestAgentQueuedCommandTimesOutUndelivered(t *testing.T) {
	w, client := agentWorld(t, withFakeClock(), func(o *Options) { o.AgentWorkers, o.CommandDuration = 1, time.Hour })
	ctx := context.Background()
	running := sendTo(t, client, 60)
	queued := sendTo(t, client, 30)
	get := func(id string) *ssm.GetCommandInvocationOutput {
		t.Helper()
		out, err := client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(dcID)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	eventually(t, "one command running, one picked up and waiting", func() (bool, string) {
		n := statuses(t, client)
		_, err := client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(queued), InstanceId: aws.String(dcID)})
		return n[types.CommandInvocationStatusInProgress] == 1 && n[types.CommandInvocationStatusPending] == 1 && err == nil, fmt.Sprint(n, err)
	})
	if got := get(queued); got.Status != types.CommandInvocationStatusPending {
		t.Errorf("queued command: %s, want Pending", got.Status)
	}

	w.clock.Advance(30 * time.Second)
	got := get(queued)
	if got.Status != types.CommandInvocationStatusTimedOut || aws.ToString(got.StatusDetails) != "Delivery Timed Out" || got.ResponseCode != -1 {
		t.Errorf("queued past its TimeoutSeconds: %s %q %d, want TimedOut \"Delivery Timed Out\" -1", got.Status, aws.ToString(got.StatusDetails), got.ResponseCode)
	}
	if got := get(running); got.Status != types.CommandInvocationStatusInProgress {
		t.Errorf("running command: %s, want InProgress", got.Status)
	}

	// More workers start what waits; a timed-out command never runs.
	third := sendTo(t, client, 60)
	if err := w.cloud.SetCommandDuration(0); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.SetAgentWorkers(2); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the third command to run", func() (bool, string) {
		s := get(third).Status
		return s == types.CommandInvocationStatusSuccess, string(s)
	})
	if got := get(queued); got.Status != types.CommandInvocationStatusTimedOut {
		t.Errorf("timed-out command later: %s", got.Status)
	}
}
