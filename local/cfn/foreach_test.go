package cfn

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestForEachExpandsResources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(`
Parameters:
  Accounts: {Type: CommaDelimitedList}
  Prefix: {Type: String, Default: pre}
Resources:
  Plain:
    Type: AWS::SNS::Topic
  Fn::ForEach::Tenants:
    - Account
    - !Ref Accounts
    - Role&{Account}:
        Type: AWS::IAM::Role
        Properties:
          RoleName: !Sub ${Prefix}-${Account}
          Account: !Ref Account
          Long: {Ref: Account}
          Sub: {"Fn::Sub": "x-${Account}-${!Account}"}
          SubList: !Sub ["${Account}/${Zones}", {Zones: !Join [" ", [a, b]]}]
          Other: !Ref Prefix
          Literal: ${Account}
      Doc${Account}:
        Type: AWS::SSM::Document
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl, err := Load(path, map[string]any{"Accounts": "111-a,222"}, "eu-west-1", appAccount)
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.ResourcesOfType("AWS::IAM::Role"); !reflect.DeepEqual(got, []string{"Role111a", "Role222"}) {
		t.Errorf("roles = %v: &{Account} is the item's alphanumerics", got)
	}
	if got := tmpl.ResourcesOfType("AWS::SSM::Document"); !reflect.DeepEqual(got, []string{"Doc111-a", "Doc222"}) {
		t.Errorf("documents = %v: ${Account} is the item", got)
	}
	if got := tmpl.ResourcesOfType("AWS::SNS::Topic"); !reflect.DeepEqual(got, []string{"Plain"}) {
		t.Errorf("topics = %v", got)
	}
	_, props, err := tmpl.Resource("Role111a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Eval(props)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"RoleName": "pre-111-a", "Account": "111-a", "Long": "111-a", "Sub": "x-111-a-${Account}",
		"SubList": "111-a/a b", "Other": "pre", "Literal": "${Account}", // not in a Sub: left alone
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Role111a = %#v\nwant %#v", got, want)
	}
	// The loop's body is copied, not shared: the other item is its own.
	_, props, _ = tmpl.Resource("Role222")
	if got, err := tmpl.Eval(Property(props, "RoleName")); err != nil || got != "pre-222" {
		t.Errorf("Role222 RoleName = %v (%v)", got, err)
	}
}

func TestForEachRefusesWhatItDoesNotModel(t *testing.T) {
	for name, body := range map[string]string{
		"collection not a list": `
  Fn::ForEach::L: [X, !Ref Prefix, {R&{X}: {Type: AWS::SNS::Topic}}]`,
		"key without the identifier": `
  Fn::ForEach::L: [X, [a, b], {Same: {Type: AWS::SNS::Topic}}]`,
		"colliding names": `
  Fn::ForEach::L: [X, [a-1, a1], {R&{X}: {Type: AWS::SNS::Topic}}]`,
		"nested loop": `
  Fn::ForEach::L:
    - X
    - [a]
    - R&{X}:
        Type: AWS::SNS::Topic
        Properties:
          Fn::ForEach::Inner: [Y, [b], {P&{Y}: y}]`,
		"not three arguments": `
  Fn::ForEach::L: [X, [a]]`,
		"unknown parameter": `
  Fn::ForEach::L: [X, !Ref Nope, {R&{X}: {Type: AWS::SNS::Topic}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			text := "Parameters:\n  Prefix: {Type: String, Default: pre}\nResources:" + body + "\n"
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, nil, "eu-west-1", appAccount)
			if err == nil || !strings.Contains(err.Error(), "t.yaml") {
				t.Errorf("loaded (%v), want an error naming the file", err)
			}
		})
	}
}
