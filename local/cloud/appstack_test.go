package cloud

import (
	"testing"
	"time"
)

func TestLoadAppStack(t *testing.T) {
	app, err := LoadAppStack("../../template.yaml", map[string]any{
		"AsgNames": "web-demo", "SharedServicesAccountId": SharedServicesAccount, "Zone": "corp.example.com",
		"DcInstanceIds": "i-0dc0000000000000a", "DcPlatform": "Linux",
	}, func(id string) string { return "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-" + id })
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Functions) != 5 || app.StateMachine != "DnsRegistration" || app.DefinitionURI != "statemachine/asgdns.asl.json" {
		t.Fatalf("%+v", app)
	}
	if got := app.Substitutions["SendCommandFunctionArn"]; got != "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-SendCommandFunction" {
		t.Errorf("substitution %q", got)
	}
	for _, fn := range app.Functions {
		switch fn.LogicalID {
		case "SendCommandFunction":
			if fn.Env["ASGDNS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/asgdns-dns-registrar" || fn.Timeout != 15*time.Second {
				t.Errorf("%+v", fn)
			}
		case "WaitForCommandFunction":
			if fn.Timeout != 45*time.Second || fn.Env["ASGDNS_POLL_BUDGET_SECONDS"] != "20" {
				t.Errorf("%+v", fn)
			}
		case "DescribeInstanceFunction":
			if fn.Env["ASGDNS_ZONE"] != "corp.example.com" || fn.Env["ASGDNS_DC_PLATFORM"] != "Linux" || fn.Env["ASGDNS_TTL"] != "300" {
				t.Errorf("%+v", fn)
			}
		}
	}
}
