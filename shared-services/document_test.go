package sharedservices

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

// The application accounts of these tests and the stack's TenantZones.
const (
	accountA = "111111111111"
	accountB = "333333333333"
)

var tenantZones = []string{
	accountA + ":corp.example.com", accountA + ":wild.example.com",
	accountA + ":20.10.in-addr.arpa", // allow-listed, still never a forward zone
	accountA + ":gone.example.com",   // allow-listed, not served by the DC
	accountB + ":corp.example.com",
}

func loadDocument(t *testing.T) Document {
	t.Helper()
	return loadDocumentFor(t, accountA)
}

// loadDocumentFor is the document as the stack deploys it for one account.
func loadDocumentFor(t *testing.T, account string) Document {
	t.Helper()
	doc, err := LoadDocument("template.yaml", Tenancy{AccountID: account, TenantZones: tenantZones})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDocumentMatchesContract: the document declares exactly the parameters
// SendCommand passes, each a String with the contract's allowedPattern and
// ENV_VAR interpolation, and one step per DC platform chosen by precondition.
func TestDocumentMatchesContract(t *testing.T) {
	doc := loadDocument(t)
	if doc.SchemaVersion != "2.2" {
		t.Errorf("schemaVersion %q, want 2.2", doc.SchemaVersion)
	}
	var names []string
	for name, p := range doc.Parameters {
		names = append(names, name)
		if p.Type != "String" || p.InterpolationType != "ENV_VAR" {
			t.Errorf("parameter %s: type %q interpolationType %q, want String and ENV_VAR", name, p.Type, p.InterpolationType)
		}
		if want := workflow.ParamPatterns[name]; p.AllowedPattern != want {
			t.Errorf("parameter %s: allowedPattern %q, the contract (workflow.ParamPatterns) has %q", name, p.AllowedPattern, want)
		}
		if p.Default != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(p.Default) {
			t.Errorf("parameter %s: default %q fails its own allowedPattern", name, p.Default)
		}
	}
	slices.Sort(names)
	want := slices.Clone(workflow.ParamNames)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("document parameters %v, SendCommand passes %v", names, want)
	}
	for step, platform := range map[string]string{workflow.StepWindows: "Windows", workflow.StepLinux: "Linux"} {
		s, err := doc.Step(step)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Precondition["StringEquals"]; !slices.Equal(got, []string{"platformType", platform}) {
			t.Errorf("step %s precondition %v, want platformType %s", step, got, platform)
		}
	}
}

// TestScriptsReadParametersOnlyFromEnvironment: no {{ }} interpolation
// anywhere in a script (a parameter value never becomes script text), and
// every parameter is read from its SSM_<name> environment variable.
func TestScriptsReadParametersOnlyFromEnvironment(t *testing.T) {
	doc := loadDocument(t)
	for _, tc := range []struct {
		step string
		ref  func(name string) string
	}{
		{workflow.StepLinux, func(n string) string { return "${SSM_" + n }},
		{workflow.StepWindows, func(n string) string { return "$env:SSM_" + n }},
	} {
		s, err := doc.Step(tc.step)
		if err != nil {
			t.Fatal(err)
		}
		script := s.Script()
		if strings.Contains(script, "{{") {
			t.Errorf("step %s interpolates {{ }} into its script", tc.step)
		}
		for _, name := range workflow.ParamNames {
			if !strings.Contains(script, tc.ref(name)) {
				t.Errorf("step %s never reads %s", tc.step, tc.ref(name))
			}
		}
		if strings.Contains(script, "eval ") || strings.Contains(script, "Invoke-Expression") {
			t.Errorf("step %s evaluates strings as code", tc.step)
		}
	}
}
