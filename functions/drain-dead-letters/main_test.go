package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

var env = map[string]string{
	config.EnvStateMachineARN:    "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns:live",
	config.EnvDeadLetterQueueURL: "https://sqs.eu-west-1.amazonaws.com/111111111111/asgdns-dead-letters",
	config.EnvHookNames:          "asgdns-launch,asgdns-terminate",
}

func without(name string) config.Lookup { return lambdatest.EnvWithout(env, name) }

// TestSetup: the configuration the handler is built from, and an init
// that fails naming each required variable that is missing.
func TestSetup(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := setup(aws.Config{Region: "eu-west-1"}, log, without(""))
	if err != nil {
		t.Fatal(err)
	}
	if h.SQS == nil || h.SFN == nil || len(h.Hooks) != 2 || h.Config.DeadLetterQueueURL != env[config.EnvDeadLetterQueueURL] ||
		h.Config.StateMachineARN != env[config.EnvStateMachineARN] {
		t.Errorf("handler %+v", h)
	}
	for _, name := range []string{config.EnvStateMachineARN, config.EnvDeadLetterQueueURL} {
		_, err := setup(aws.Config{}, log, without(name))
		if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
}
