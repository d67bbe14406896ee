package check

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// appTemplate is the repository's template.yaml: the check resolves
// configuration from its parameters exactly as the template hands them to
// the DescribeInstance function, so these tests pin the two together.
type appTemplate struct {
	Parameters map[string]struct {
		Default *string `yaml:"Default"`
	} `yaml:"Parameters"`
	Resources map[string]yaml.Node `yaml:"Resources"`
}

func loadTemplate(t *testing.T) appTemplate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl appTemplate
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tmpl
}

func TestParametersAreTheTemplates(t *testing.T) {
	tmpl := loadTemplate(t)
	var names, required []string
	for name, p := range tmpl.Parameters {
		names = append(names, name)
		if p.Default == nil {
			required = append(required, name)
		}
	}
	slices.Sort(names)
	slices.Sort(required)
	known := slices.Sorted(slices.Values(knownParameters))
	if !slices.Equal(known, names) {
		t.Errorf("the check knows the parameters %v, template.yaml declares %v", known, names)
	}
	if want := slices.Sorted(slices.Values(requiredParameters)); !slices.Equal(want, required) {
		t.Errorf("the check requires %v without a stack, template.yaml has no default for %v", want, required)
	}
	for param, def := range map[string]string{paramLaunchHookName: defaultLaunchHook, paramTerminateHookName: defaultTerminateHook} {
		if p, ok := tmpl.Parameters[param]; !ok || p.Default == nil || *p.Default != def {
			t.Errorf("template.yaml's %s default is not %s, the check's", param, def)
		}
	}
}

var sub = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`)

// TestEnvironmentIsTheTemplates evaluates the DescribeInstance function's
// Environment.Variables for made-up parameter values and compares them
// with what the check feeds config.Load.
func TestEnvironmentIsTheTemplates(t *testing.T) {
	tmpl := loadTemplate(t)
	params := parameters{}
	for name := range tmpl.Parameters {
		params[name] = "value-of-" + name
	}
	var fn struct {
		Properties struct {
			Environment struct {
				Variables map[string]yaml.Node `yaml:"Variables"`
			} `yaml:"Environment"`
		} `yaml:"Properties"`
	}
	node, ok := tmpl.Resources["DescribeInstanceFunction"]
	if !ok {
		t.Fatal("template.yaml has no DescribeInstanceFunction")
	}
	if err := node.Decode(&fn); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for name, v := range fn.Properties.Environment.Variables {
		switch v.Tag {
		case "!Ref":
			want[name] = params[v.Value]
		case "!Sub":
			want[name] = sub.ReplaceAllStringFunc(v.Value, func(m string) string {
				ref := sub.FindStringSubmatch(m)[1]
				if ref == "AWS::AccountId" {
					return appAccount
				}
				if _, ok := params[ref]; !ok {
					t.Errorf("%s: ${%s} is no parameter", name, ref)
				}
				return params[ref]
			})
		default:
			want[name] = v.Value
		}
	}
	got := params.environment(appAccount)
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: the check sets %q, template.yaml %q", name, got[name], v)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("the check sets %s, which template.yaml does not give DescribeInstance", name)
		}
	}
	// A parameter not given leaves the variable to config's default.
	if env := (parameters{paramZone: "corp.example.com"}).environment(appAccount); len(env) != 3 ||
		env["ASGDNS_DOCUMENT_NAME"] != "asgdns-dns-record-"+appAccount ||
		!strings.HasPrefix(env["ASGDNS_HOOK_NAMES"], defaultLaunchHook+",") {
		t.Errorf("environment of a bare parameter set: %v", env)
	}
}
