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
	config.EnvZone:             "corp.example.com",
	config.EnvDCInstanceIDs:    "i-0123456789abcdef0",
	config.EnvASGNames:         "web-prod",
	config.EnvStateMachineARN:  "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns:live",
	config.EnvListZoneFunction: "asgdns-ListZoneFunction-1A2B3C",
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
	if h.Config.Account != "111111111111" || len(h.Hooks) != 2 || h.Defaults.Zone != "corp.example.com" || h.Lambda == nil || h.RunID == nil ||
		h.Config.ListZoneFunction != "asgdns-ListZoneFunction-1A2B3C" || h.Config.DrainFunction != "" {
		t.Errorf("handler %+v", h)
	}
	for _, name := range []string{config.EnvASGNames, config.EnvStateMachineARN, config.EnvListZoneFunction, config.EnvZone, config.EnvDCInstanceIDs} {
		_, err := setup(aws.Config{}, log, without(name))
		if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
}
