package cfn

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The accounts and the application template the tests deploy with.
const (
	appAccount            = "111111111111"
	sharedServicesAccount = "222222222222"
	otherAppAccount       = "333333333333"
	appTemplate           = "../../template.yaml"
)

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
	tmpl, err := Load(path, map[string]any{"Env": "prod"}, "eu-west-1", appAccount)
	if err != nil {
		t.Fatal(err)
	}
	_, props, err := tmpl.Resource("Thing")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"Joined": "a+b", "Second": "b", "Split": []any{"x", "y"}, "Long": "yes",
		"SubList": "v-prod", "List": []any{"one"}, "Number": int64(42), "Bool": true,
	} {
		got, err := tmpl.Eval(Property(props, key))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v (%v), want %#v", key, got, err, want)
		}
	}
	tmpl.SetRef("Var", "resource-value")
	if got, err := tmpl.Eval(Property(props, "Sub")); err != nil || got != "eu-west-1/prod/${Literal}/resource-value" {
		t.Errorf("Sub = %v (%v)", got, err)
	}
	whole, err := tmpl.Eval(props)
	if err == nil {
		t.Errorf("Properties evaluated without Required/GetAtt: %v", whole)
	}
	for _, key := range []string{"Needs", "Att"} {
		if _, err := tmpl.Eval(Property(props, key)); err == nil || !strings.Contains(err.Error(), "t.yaml:") {
			t.Errorf("%s: error %v, want one naming the file and line", key, err)
		}
	}
	if _, err := Load(path, map[string]any{"Nope": "x"}, "eu-west-1", appAccount); err == nil {
		t.Error("an unknown parameter was accepted")
	}
	write("[not, a, template]")
	if _, err := Load(path, nil, "eu-west-1", appAccount); err == nil {
		t.Error("a non-template was accepted")
	}
}
