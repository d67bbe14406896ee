package config_test

import (
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

const stateMachineAlias = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns-prod:live"

func reconcilerEnv(kv ...string) config.Lookup {
	m := map[string]string{
		config.EnvASGNames:         " web-prod , api-prod ",
		config.EnvStateMachineARN:  stateMachineAlias,
		config.EnvListZoneFunction: "asgdns-prod-ListZoneFunction-1A2B3C4D5E6F",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestReconcilerEnvNames pins the names template.yaml sets.
func TestReconcilerEnvNames(t *testing.T) {
	for got, want := range map[string]string{
		config.EnvASGNames:           "ASGDNS_ASG_NAMES",
		config.EnvStateMachineARN:    "ASGDNS_STATE_MACHINE_ARN",
		config.EnvDeadLetterQueueURL: "ASGDNS_DEAD_LETTER_QUEUE_URL",
		config.EnvRemovalFloor:       "ASGDNS_RECONCILE_REMOVAL_FLOOR",
		config.EnvRemovalPercent:     "ASGDNS_RECONCILE_REMOVAL_PERCENT",
		config.EnvListZoneFunction:   "ASGDNS_LIST_ZONE_FUNCTION",
		config.EnvDrainFunction:      "ASGDNS_DRAIN_FUNCTION",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestLoadReconciler(t *testing.T) {
	r, err := config.LoadReconciler(reconcilerEnv())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.ASGNames, ",") != "web-prod,api-prod" || r.StateMachineARN != stateMachineAlias ||
		r.Region != "eu-west-1" || r.Account != "111111111111" || r.RemovalFloor != 0 || r.RemovalPercent != 0 ||
		r.ListZoneFunction != "asgdns-prod-ListZoneFunction-1A2B3C4D5E6F" || r.DrainFunction != "" {
		t.Errorf("unexpected %+v", r)
	}
	if !r.Configured("api-prod") || r.Configured("web") {
		t.Error("Configured is wrong")
	}
	// Unset limits are reconcile's defaults, which only reconcile states.
	limits := reconcile.Limits{RemovalFloor: r.RemovalFloor, RemovalPercent: r.RemovalPercent}
	if limits.MaxRemovals(0) != reconcile.DefaultRemovalFloor || limits.MaxRemovals(10000) != 10000*reconcile.DefaultRemovalPercent/100 {
		t.Errorf("unset limits are not reconcile's defaults: %+v", limits)
	}

	r, err = config.LoadReconciler(reconcilerEnv(
		config.EnvDrainFunction, " arn:aws:lambda:eu-west-1:111111111111:function:asgdns-prod-DrainFunction-9Z8Y:live ",
		config.EnvListZoneFunction, "111111111111:function:asgdns-list",
		config.EnvRemovalFloor, "5", config.EnvRemovalPercent, "25",
		config.EnvStateMachineARN, "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns-prod"))
	if err != nil {
		t.Fatal(err)
	}
	if r.DrainFunction != "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-prod-DrainFunction-9Z8Y:live" ||
		r.ListZoneFunction != "111111111111:function:asgdns-list" || r.RemovalFloor != 5 || r.RemovalPercent != 25 {
		t.Errorf("unexpected %+v", r)
	}
}

func TestLoadReconcilerRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kv    []string
		inMsg []string
	}{
		{"no ASG names", []string{config.EnvASGNames, "<unset>"}, []string{config.EnvASGNames, "is not set"}},
		{"only commas", []string{config.EnvASGNames, " , ,"}, []string{config.EnvASGNames, "must name"}},
		{"ASG twice", []string{config.EnvASGNames, "web,web"}, []string{config.EnvASGNames, `"web"`, "twice"}},
		{"ASG too long", []string{config.EnvASGNames, strings.Repeat("a", 256)}, []string{config.EnvASGNames}},
		{"no state machine", []string{config.EnvStateMachineARN, "<unset>"}, []string{config.EnvStateMachineARN, "is not set"}},
		{"a Lambda ARN", []string{config.EnvStateMachineARN, "arn:aws:lambda:eu-west-1:111111111111:function:x"},
			[]string{config.EnvStateMachineARN, "is not a state machine ARN"}},
		{"no list function", []string{config.EnvListZoneFunction, "<unset>"}, []string{config.EnvListZoneFunction, "is not set"}},
		{"list function a role", []string{config.EnvListZoneFunction, "arn:aws:iam::111111111111:role/x"},
			[]string{config.EnvListZoneFunction, "Lambda function"}},
		{"drain function with a space", []string{config.EnvDrainFunction, "drain dead letters"}, []string{config.EnvDrainFunction, "Lambda function"}},
		{"floor negative", []string{config.EnvRemovalFloor, "-1"}, []string{config.EnvRemovalFloor, `"-1"`}},
		{"floor not a number", []string{config.EnvRemovalFloor, "ten"}, []string{config.EnvRemovalFloor}},
		{"percent over 100", []string{config.EnvRemovalPercent, "101"}, []string{config.EnvRemovalPercent, "0 to 100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadReconciler(reconcilerEnv(tc.kv...))
			if workflow.Routed(err) != "InvalidConfig" {
				t.Fatalf("got %v, want InvalidConfig", err)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err.Error(), s)
				}
			}
		})
	}
}

func TestLoadDrainer(t *testing.T) {
	const queue = "https://sqs.eu-west-1.amazonaws.com/111111111111/asgdns-dlq"
	d, err := config.LoadDrainer(reconcilerEnv(config.EnvDeadLetterQueueURL, " "+queue+" "))
	if err != nil {
		t.Fatal(err)
	}
	if d != (config.Drainer{StateMachineARN: stateMachineAlias, DeadLetterQueueURL: queue}) {
		t.Errorf("unexpected %+v", d)
	}
	for _, tc := range []struct {
		name  string
		kv    []string
		inMsg []string
	}{
		{"no queue", nil, []string{config.EnvDeadLetterQueueURL, "is not set"}},
		{"queue not a URL", []string{config.EnvDeadLetterQueueURL, "asgdns-dlq"}, []string{config.EnvDeadLetterQueueURL, "SQS queue URL"}},
		{"no state machine", []string{config.EnvDeadLetterQueueURL, queue, config.EnvStateMachineARN, "<unset>"},
			[]string{config.EnvStateMachineARN, "is not set"}},
		{"a Lambda ARN", []string{config.EnvDeadLetterQueueURL, queue, config.EnvStateMachineARN, "arn:aws:lambda:eu-west-1:111111111111:function:x"},
			[]string{config.EnvStateMachineARN, "is not a state machine ARN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadDrainer(reconcilerEnv(tc.kv...))
			if workflow.Routed(err) != "InvalidConfig" {
				t.Fatalf("got %v, want InvalidConfig", err)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err.Error(), s)
				}
			}
		})
	}
}
