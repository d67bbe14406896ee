package cloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/eventpattern"
)

func TestSharedServicesFromTheTemplate(t *testing.T) {
	ss, err := loadSharedServices(sharedTemplate, Options{Region: DefaultRegion,
		TenantAccountIDs: []string{AppAccount, OtherAppAccount},
		TenantZones:      []string{AppAccount + ":corp.example.com", OtherAppAccount + ":shop.example.com", AppAccount + ":dev.example.com"},
		TrustedRoleARNs:  []string{assumeRoleFnRole}, ExternalID: "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.tenants) != 2 {
		t.Fatalf("%d tenants, want one per TenantAccountIds entry", len(ss.tenants))
	}
	for _, tn := range ss.tenants {
		wantRole := "arn:aws:iam::222222222222:role/asgdns-dns-registrar-" + tn.account
		if tn.roleARN != wantRole || tn.maxSession != time.Hour || ss.byRole(wantRole) != tn {
			t.Errorf("tenant %s: role %s, max session %s", tn.account, tn.roleARN, tn.maxSession)
		}
		// The trust policy as the template's conditions render it for these
		// parameters: our role, only in this account, ExternalId required,
		// asgdns SourceIdentity.
		if len(tn.trust) != 1 || !reflect.DeepEqual(tn.trust[0].Principals, []string{assumeRoleFnRole}) ||
			!reflect.DeepEqual(tn.trust[0].Actions, []string{"sts:AssumeRole", "sts:SetSourceIdentity"}) {
			t.Fatalf("trust = %+v", tn.trust)
		}
		conds := map[string]string{}
		for _, c := range tn.trust[0].Conditions {
			conds[c.Operator+" "+c.Key] = strings.Join(c.Values, ",")
		}
		if want := map[string]string{"StringEquals sts:externalid": "ext-1", "StringEquals aws:principalaccount": tn.account,
			"StringLike sts:sourceidentity": "asgdns-i-*,asgdns-reconcile"}; !reflect.DeepEqual(conds, want) {
			t.Errorf("tenant %s: conditions = %v, want %v", tn.account, conds, want)
		}
		// The permissions: this account's document by ARN, tagged
		// instances, reads of one invocation (no ListCommandInvocations).
		var resources []string
		for _, st := range tn.permissions {
			resources = append(resources, strings.Join(st.Actions, "+")+" "+strings.Join(st.Resources, ","))
		}
		want := []string{
			"ssm:SendCommand arn:aws:ssm:eu-west-1:222222222222:document/asgdns-dns-record-" + tn.account,
			"ssm:SendCommand arn:aws:ec2:eu-west-1:222222222222:instance/*",
			"ssm:GetCommandInvocation *",
		}
		if !reflect.DeepEqual(resources, want) {
			t.Errorf("tenant %s: permissions =\n%v\nwant\n%v", tn.account, resources, want)
		}
		doc := tn.document
		if doc.Name != "asgdns-dns-record-"+tn.account || ss.byDocument(doc.Name) != tn ||
			doc.stepTimeout(linuxStep) != 120*time.Second || doc.stepTimeout("other") != time.Hour {
			t.Errorf("document %s, timeouts %v", doc.Name, doc.StepTimeouts)
		}
		if want := map[string]string{"hostname": "", "ipv4Address": "", "ownerInstanceId": "", "ttl": "300", "ptr": "false", "page": "0"}; !reflect.DeepEqual(doc.Defaults, want) {
			t.Errorf("defaults = %v, want %v", doc.Defaults, want)
		}
		// The account is fixed in the document's script, with the
		// allow-list (account:zone pairs the script matches its account in).
		step, err := doc.Content.Step(linuxStep)
		if err != nil {
			t.Fatal(err)
		}
		zones := "111111111111:corp.example.com 333333333333:shop.example.com 111111111111:dev.example.com"
		if script := step.Script(); !strings.Contains(script, "owner_account='"+tn.account+"'") ||
			!strings.Contains(script, "allowed_zones=' "+zones+" '") || !strings.Contains(script, "#!/bin/bash") {
			t.Errorf("tenant %s: the Linux step does not fix the account and zones:\n%.400s", tn.account, script)
		}
	}

	doc, err := LoadDocument(sharedTemplate, OtherAppAccount, []string{OtherAppAccount + ":shop.example.com"})
	if err != nil || doc.Name != "asgdns-dns-record-"+OtherAppAccount {
		t.Errorf("LoadDocument: %s, %v", doc.Name, err)
	}
	if _, err := loadSharedServices(sharedTemplate, Options{Region: DefaultRegion}); err == nil {
		t.Error("no tenant accounts: loaded")
	}
}

// TestSharedServicesTrustByOrganization: organization mode renders the
// principal tag, account and organization conditions, with the tag's
// three values.
func TestSharedServicesTrustByOrganization(t *testing.T) {
	ss, err := loadSharedServices(sharedTemplate, Options{Region: DefaultRegion, TenantAccountIDs: []string{AppAccount},
		TenantZones: []string{AppAccount + ":corp.example.com"}, TrustedOrganizationID: OrganizationID})
	if err != nil {
		t.Fatal(err)
	}
	trust := ss.tenants[0].trust
	if len(trust) != 1 || !reflect.DeepEqual(trust[0].Principals, []string{"*"}) {
		t.Fatalf("trust = %+v", trust)
	}
	conds := map[string]string{}
	for _, c := range trust[0].Conditions {
		conds[c.Operator+" "+c.Key] = strings.Join(c.Values, ",")
	}
	want := map[string]string{
		"StringEquals aws:principalaccount":             AppAccount,
		"StringEquals aws:principalorgid":               OrganizationID,
		"StringEquals aws:principaltag/asgdns-function": "AssumeRole,SendCommand,WaitForCommand,ListZone",
		"StringLike sts:sourceidentity":                 "asgdns-i-*,asgdns-reconcile",
	}
	if !reflect.DeepEqual(conds, want) {
		t.Errorf("conditions = %v, want %v", conds, want)
	}
}

// What reads a template refuses what it cannot find.
func TestTemplateRefusals(t *testing.T) {
	if _, err := LoadRule(sharedTemplate, appDeployment, nil); err == nil {
		t.Error("LoadRule found a rule in the shared-services template")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without the shared-services template")
	}
}

// The deployed rule, read from template.yaml, against every event fixture.
func TestTemplateRuleAgainstFixtures(t *testing.T) {
	rule, err := LoadRule(appTemplate, appDeployment, []string{"api", "web-prod"})
	if err != nil {
		t.Fatal(err)
	}
	if rule.Name != "DnsRegistrationLifecycleAction" {
		t.Errorf("rule name = %s", rule.Name)
	}
	want := `{"detail":{"AutoScalingGroupName":["api","web-prod"],"LifecycleHookName":["asgdns-launch","asgdns-terminate"]},"detail-type":["EC2 Instance-launch Lifecycle Action","EC2 Instance-terminate Lifecycle Action"],"source":["aws.autoscaling"]}`
	if string(rule.Pattern) != want {
		t.Errorf("pattern =\n%s\nwant\n%s", rule.Pattern, want)
	}
	if rule.RetryPolicy == nil || rule.RetryPolicy.MaximumRetryAttempts != 185 || rule.RetryPolicy.MaximumEventAge.Seconds() != 900 {
		t.Errorf("retry policy = %+v", rule.RetryPolicy)
	}
	m, err := eventpattern.Compile(rule.Pattern)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../workflow/testdata/events/*.json")
	if err != nil || len(files) < 6 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		detail := doc["detail"].(map[string]any)
		if _, ok := detail["LifecycleHookName"]; ok {
			// The fixtures' hooks are named dns-*; the stack's defaults
			// are asgdns-launch and asgdns-terminate.
			hook := "asgdns-launch"
			if strings.HasPrefix(name, "terminate") {
				hook = "asgdns-terminate"
			}
			detail["LifecycleHookName"] = "drain-connections" // another team's hook
			if m.Matches(doc) {
				t.Errorf("%s: matched another team's hook", name)
			}
			detail["LifecycleHookName"] = hook
		}
		// Every lifecycle action of asgdns's hooks on web-prod is the state
		// machine's; activity events are not, nor is a test notification,
		// which names no hook (the workflow would end it cleanly anyway).
		wantMatch := !strings.HasPrefix(name, "launch-successful") && name != "unknown.json" && name != "test-notification.json"
		if got := m.Matches(doc); got != wantMatch {
			t.Errorf("%s: match = %v, want %v", name, got, wantMatch)
		}
		doc["detail"].(map[string]any)["AutoScalingGroupName"] = "someone-elses"
		if m.Matches(doc) {
			t.Errorf("%s: matched another group", name)
		}
	}
}
