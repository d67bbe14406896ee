package cfn

import (
	"testing"
	"time"
)

func TestLoadAppStack(t *testing.T) {
	app, err := LoadAppStack(appTemplate, AppDeployment{Region: "eu-west-1", Account: appAccount, StackName: "asgdns",
		StateMachineName: "asgdns-DnsRegistration"}, map[string]any{
		"AsgNames": "web-demo,api-demo", "SharedServicesAccountId": sharedServicesAccount, "Zone": "corp.example.com",
		"DcInstanceIds": "i-0dc0000000000000a", "DcPlatform": "Linux",
	}, func(id string) string { return "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-" + id })
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Functions) != 9 || app.StateMachine != "DnsRegistration" || app.DefinitionURI != "statemachine/asgdns.asl.json" {
		t.Fatalf("%+v", app)
	}
	// Safe deploys: a version per deployment, the rule on the alias.
	if app.AutoPublishAlias != "live" || !app.UseAliasAsEventTarget {
		t.Errorf("AutoPublishAlias %q, UseAliasAsEventTarget %v", app.AutoPublishAlias, app.UseAliasAsEventTarget)
	}
	if got := app.Substitutions["SendCommandFunctionArn"]; got != "arn:aws:lambda:eu-west-1:111111111111:function:asgdns-SendCommandFunction" {
		t.Errorf("substitution %q", got)
	}
	for _, fn := range app.Functions {
		switch fn.LogicalID {
		case "SendCommandFunction":
			if fn.Env["ASGDNS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111" || fn.Timeout != 15*time.Second {
				t.Errorf("%+v", fn)
			}
		case "WaitForCommandFunction":
			if fn.Timeout != 45*time.Second || fn.Env["ASGDNS_POLL_BUDGET_SECONDS"] != "20" ||
				fn.Env["ASGDNS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111" {
				t.Errorf("%+v", fn)
			}
			// SAM's role for the function, tagged with the function's tags.
			if fn.RoleARN != "arn:aws:iam::111111111111:role/"+GeneratedRoleName("asgdns", "WaitForCommandFunctionRole") ||
				len(fn.Tags) != 1 || fn.Tags["asgdns-function"] != "WaitForCommand" {
				t.Errorf("role %s, tags %v", fn.RoleARN, fn.Tags)
			}
		case "ReconcileFunction":
			// The reconciler's own settings name resources: the alias it
			// starts repairs on, the two functions it invokes (Ref of a
			// function is its name).
			want := map[string]string{
				"ASGDNS_ASG_NAMES":                 "web-demo,api-demo",
				"ASGDNS_STATE_MACHINE_ARN":         "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns-DnsRegistration:live",
				"ASGDNS_LIST_ZONE_FUNCTION":        "asgdns-ListZoneFunction",
				"ASGDNS_DRAIN_FUNCTION":            "asgdns-DrainDeadLettersFunction",
				"ASGDNS_RECONCILE_REMOVAL_FLOOR":   "20",
				"ASGDNS_RECONCILE_REMOVAL_PERCENT": "10",
				"ASGDNS_ZONE":                      "corp.example.com",
			}
			for k, v := range want {
				if fn.Env[k] != v {
					t.Errorf("%s: %s = %q, want %q", fn.LogicalID, k, fn.Env[k], v)
				}
			}
			if fn.Timeout != 540*time.Second || len(fn.Tags) != 0 {
				t.Errorf("%s: timeout %s, tags %v", fn.LogicalID, fn.Timeout, fn.Tags)
			}
		case "DrainDeadLettersFunction":
			if fn.Env["ASGDNS_DEAD_LETTER_QUEUE_URL"] != "https://sqs.eu-west-1.amazonaws.com/111111111111/"+GeneratedRoleName("asgdns", "UndeliveredEvents") {
				t.Errorf("%+v", fn)
			}
		case "ListZoneFunction":
			if fn.Env["ASGDNS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111" || fn.Tags["asgdns-function"] != "ListZone" {
				t.Errorf("%+v", fn)
			}
		case "DescribeInstanceFunction":
			if fn.Env["ASGDNS_ZONE"] != "corp.example.com" || fn.Env["ASGDNS_DC_PLATFORM"] != "Linux" || fn.Env["ASGDNS_TTL"] != "300" ||
				len(fn.Tags) != 0 {
				t.Errorf("%+v", fn)
			}
		}
	}
}

// Another account's deployment of the template: its own role and document
// in the shared-services account, and names generated from its stack name.
func TestLoadAppStackInAnotherAccount(t *testing.T) {
	const stack = "StackSet-asgdns-app-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	app, err := LoadAppStack(appTemplate, AppDeployment{Region: "eu-west-1", Account: otherAppAccount, StackName: stack,
		StateMachineName: "DnsRegistration-AbCdEf012345"}, map[string]any{
		"AsgNames": "web", "SharedServicesAccountId": sharedServicesAccount, "DcInstanceIds": "i-0dc0000000000000a", "Zone": "corp.example.com",
	}, func(id string) string { return "arn:aws:lambda:eu-west-1:333333333333:function:" + id })
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range app.Functions {
		if fn.LogicalID != "AssumeRoleFunction" {
			continue
		}
		if fn.Env["ASGDNS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/asgdns-dns-registrar-333333333333" ||
			fn.RoleARN != "arn:aws:iam::333333333333:role/"+GeneratedRoleName(stack, "AssumeRoleFunctionRole") || fn.Tags["asgdns-function"] != "AssumeRole" {
			t.Errorf("%+v", fn)
		}
		return
	}
	t.Fatal("no AssumeRoleFunction")
}

// A deployment must say where it is: its pseudo parameters are not guessed.
func TestLoadAppStackRefusesAnIncompleteDeployment(t *testing.T) {
	arn := func(id string) string { return "arn:aws:lambda:eu-west-1:111111111111:function:" + id }
	params := map[string]any{"AsgNames": "web", "SharedServicesAccountId": sharedServicesAccount, "DcInstanceIds": "i-0dc0000000000000a", "Zone": "corp.example.com"}
	for _, at := range []AppDeployment{
		{Account: appAccount, StackName: "asgdns", StateMachineName: "asgdns-DnsRegistration"},
		{Region: "eu-west-1", Account: "1111", StackName: "asgdns", StateMachineName: "asgdns-DnsRegistration"},
		{Region: "eu-west-1", Account: appAccount, StateMachineName: "asgdns-DnsRegistration"},
		// The reconciler's environment names the state machine's alias.
		{Region: "eu-west-1", Account: appAccount, StackName: "asgdns"},
	} {
		if _, err := LoadAppStack(appTemplate, at, params, arn); err == nil {
			t.Errorf("%+v: loaded", at)
		}
	}
}
