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
	ss, err := loadSharedServices(sharedTemplate, Options{Region: DefaultRegion, TrustedRoleARNs: []string{assumeRoleFnRole}, ExternalID: "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	if ss.roleARN != registrarARN || ss.maxSession != time.Hour {
		t.Errorf("role %s, max session %s", ss.roleARN, ss.maxSession)
	}
	// The trust policy as the template's conditions render it for these
	// parameters: our role, ExternalId required, asgdns SourceIdentity.
	if len(ss.trust) != 1 || !reflect.DeepEqual(ss.trust[0].Principals, []string{assumeRoleFnRole}) ||
		!reflect.DeepEqual(ss.trust[0].Actions, []string{"sts:AssumeRole", "sts:SetSourceIdentity"}) {
		t.Fatalf("trust = %+v", ss.trust)
	}
	conds := map[string]string{}
	for _, c := range ss.trust[0].Conditions {
		conds[c.Operator+" "+c.Key] = strings.Join(c.Values, ",")
	}
	if want := map[string]string{"StringEquals sts:externalid": "ext-1", "StringLike sts:sourceidentity": "asgdns-i-*"}; !reflect.DeepEqual(conds, want) {
		t.Errorf("conditions = %v, want %v", conds, want)
	}
	// The permissions: the document by ARN, tagged instances, reads.
	var resources []string
	for _, st := range ss.permissions {
		resources = append(resources, strings.Join(st.Actions, "+")+" "+strings.Join(st.Resources, ","))
	}
	want := []string{
		"ssm:SendCommand arn:aws:ssm:eu-west-1:222222222222:document/asgdns-dns-record",
		"ssm:SendCommand arn:aws:ec2:eu-west-1:222222222222:instance/*",
		"ssm:GetCommandInvocation+ssm:ListCommandInvocations *",
	}
	if !reflect.DeepEqual(resources, want) {
		t.Errorf("permissions =\n%v\nwant\n%v", resources, want)
	}

	doc, err := LoadDocument(sharedTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Name != "asgdns-dns-record" || doc.stepTimeout(linuxStep) != 120*time.Second || doc.stepTimeout("other") != time.Hour {
		t.Errorf("document %s, timeouts %v", doc.Name, doc.StepTimeouts)
	}
	if want := map[string]string{"ipv4Address": "", "ttl": "300", "ptr": "false"}; !reflect.DeepEqual(doc.Defaults, want) {
		t.Errorf("defaults = %v, want %v", doc.Defaults, want)
	}
	if step, err := doc.Content.Step(linuxStep); err != nil || !strings.HasPrefix(step.Script(), "#!/bin/bash") {
		t.Errorf("Linux step: %v", err)
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
