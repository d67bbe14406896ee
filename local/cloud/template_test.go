package cloud

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
			"StringLike sts:sourceidentity": "asgdns-i-*"}; !reflect.DeepEqual(conds, want) {
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
		if want := map[string]string{"ipv4Address": "", "ttl": "300", "ptr": "false"}; !reflect.DeepEqual(doc.Defaults, want) {
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
		"StringEquals aws:principaltag/asgdns-function": "AssumeRole,SendCommand,WaitForCommand",
		"StringLike sts:sourceidentity":                 "asgdns-i-*",
	}
	if !reflect.DeepEqual(conds, want) {
		t.Errorf("conditions = %v, want %v", conds, want)
	}
}
func TestTemplateEvaluation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`Parameters:
  Names: {Type: CommaDelimitedList, Default: "a, b"}
  Env: {Type: String, Default: prod}
  Required: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Not [!Equals [!Ref Env, dev]]]
  Either: {"Fn::Or": [{"Condition": "IsProd"}, !Equals [x, y]]}
Resources:
  Thing:
    Type: Test::Thing
    Properties:
      Joined: !Join ["+", !Ref Names]
      Second: !Select [1, !Ref Names]
      Split: !Split [",", "x,y"]
      Sub: !Sub "${AWS::Region}/${Env}/${!Literal}/${Var}"
      SubList: !Sub ["${Var}-${Env}", {Var: v}]
      Long: {"Fn::If": [Either, yes, no]}
      Dropped: !If [Both, !Ref AWS::NoValue, kept]
      List: [one, !If [IsProd, !Ref "AWS::NoValue", two]]
      Number: 42
      Bool: true
      Needs: !Ref Required
      Att: !GetAtt Other.Arn
`)
	tmpl, err := loadTemplate(path, map[string]any{"Env": "prod"}, "eu-west-1", AppAccount)
	if err != nil {
		t.Fatal(err)
	}
	_, props, err := tmpl.resource("Thing")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"Joined": "a+b", "Second": "b", "Split": []any{"x", "y"}, "Long": "yes",
		"SubList": "v-prod", "List": []any{"one"}, "Number": int64(42), "Bool": true,
	} {
		got, err := tmpl.eval(property(props, key))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v (%v), want %#v", key, got, err, want)
		}
	}
	tmpl.refs["Var"] = "resource-value"
	if got, err := tmpl.eval(property(props, "Sub")); err != nil || got != "eu-west-1/prod/${Literal}/resource-value" {
		t.Errorf("Sub = %v (%v)", got, err)
	}
	whole, err := tmpl.eval(props)
	if err == nil {
		t.Errorf("Properties evaluated without Required/GetAtt: %v", whole)
	}
	for _, key := range []string{"Needs", "Att"} {
		if _, err := tmpl.eval(property(props, key)); err == nil || !strings.Contains(err.Error(), "t.yaml:") {
			t.Errorf("%s: error %v, want one naming the file and line", key, err)
		}
	}
	if _, err := loadTemplate(path, map[string]any{"Nope": "x"}, "eu-west-1", AppAccount); err == nil {
		t.Error("an unknown parameter was accepted")
	}
	write("[not, a, template]")
	if _, err := loadTemplate(path, nil, "eu-west-1", AppAccount); err == nil {
		t.Error("a non-template was accepted")
	}
	if _, err := LoadRule(sharedTemplate, nil); err == nil {
		t.Error("LoadRule found a rule in the shared-services template")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without the shared-services template")
	}
}
