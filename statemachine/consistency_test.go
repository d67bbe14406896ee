package statemachine

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/asgdns/asgdns/functions/hold-instance/hold"
	"github.com/asgdns/asgdns/functions/wait-for-command/wait"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// template is the part of template.yaml these checks read. CloudFormation
// tags (!Ref, !GetAtt, !Sub) decode as the scalars they wrap; an
// environment variable's value stays a node (!Join is a list).
type template struct {
	Globals struct {
		Function struct {
			CodeUri string `yaml:"CodeUri"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]resource
}

type resource struct {
	Type     string `yaml:"Type"`
	Metadata struct {
		BuildMethod string `yaml:"BuildMethod"`
	} `yaml:"Metadata"`
	Properties struct {
		Environment struct {
			Variables map[string]yaml.Node `yaml:"Variables"`
		} `yaml:"Environment"`
		DefinitionUri           string            `yaml:"DefinitionUri"`
		DefinitionSubstitutions map[string]string `yaml:"DefinitionSubstitutions"`
	} `yaml:"Properties"`
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Fn::ForEach entries among the resources are sequences: skip them.
	var raw struct {
		Globals   yaml.Node            `yaml:"Globals"`
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	tmpl := template{Resources: map[string]resource{}}
	if err := raw.Globals.Decode(&tmpl.Globals); err != nil {
		t.Fatal(err)
	}
	for id, node := range raw.Resources {
		if node.Kind != yaml.MappingNode {
			continue
		}
		var r resource
		if err := node.Decode(&r); err != nil {
			t.Fatalf("resource %s: %v", id, err)
		}
		tmpl.Resources[id] = r
	}
	return tmpl
}

// TestEverySubstitutionIsProvided: every ${...} in the definition has a
// DefinitionSubstitutions entry, and every entry is used.
func TestEverySubstitutionIsProvided(t *testing.T) {
	data, err := os.ReadFile("asgdns.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, m := range regexp.MustCompile(`\$\{([^}]*)\}`).FindAllSubmatch(data, -1) {
		if !slices.Contains(used, string(m[1])) {
			used = append(used, string(m[1]))
		}
	}
	var given []string
	for _, r := range loadTemplate(t).Resources {
		if r.Type == "AWS::Serverless::StateMachine" {
			if r.Properties.DefinitionUri != "statemachine/asgdns.asl.json" {
				t.Errorf("state machine DefinitionUri %q", r.Properties.DefinitionUri)
			}
			for k := range r.Properties.DefinitionSubstitutions {
				given = append(given, k)
			}
		}
	}
	slices.Sort(used)
	slices.Sort(given)
	if len(used) == 0 || !slices.Equal(used, given) {
		t.Errorf("definition uses %v, template substitutes %v", used, given)
	}
}

// TestEveryFunctionHasABuildTarget: each function in the template is built
// by the makefile method, from a build-<LogicalId> target in the root
// Makefile that builds an existing function folder.
func TestEveryFunctionHasABuildTarget(t *testing.T) {
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := loadTemplate(t)
	if tmpl.Globals.Function.CodeUri != "." {
		t.Errorf("Globals CodeUri %q: SAM must copy the repository root (go.work, workflow/) for the build", tmpl.Globals.Function.CodeUri)
	}
	n := 0
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		n++
		if r.Metadata.BuildMethod != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod %q, want makefile", id, r.Metadata.BuildMethod)
		}
		m := regexp.MustCompile(`(?m)^build-` + id + `:\n\t\$\(call lambda,([a-z-]+),`).FindSubmatch(makefile)
		if m == nil {
			t.Errorf("%s: no build-%s target in the Makefile", id, id)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "functions", string(m[1]), "main.go")); err != nil {
			t.Errorf("%s builds functions/%s, which has no main.go", id, m[1])
		}
	}
	if n != 9 {
		t.Errorf("%d functions in the template, want 9 (six steps, the reconciler and the two it invokes)", n)
	}
}

// TestFunctionEnvironment: every variable the template sets is one the
// functions read, and each function gets what its main requires.
func TestFunctionEnvironment(t *testing.T) {
	known := []string{config.EnvZone, config.EnvHostnameTemplate, config.EnvTTL, config.EnvPTR, config.EnvDCInstanceIDs,
		config.EnvDCPlatform, config.EnvDocumentName, config.EnvRoleARN, config.EnvExternalID, config.EnvOnFailure,
		config.EnvHookNames, wait.EnvPollBudget, hold.EnvHoldBudget,
		config.EnvASGNames, config.EnvStateMachineARN, config.EnvDeadLetterQueueURL, config.EnvRemovalFloor, config.EnvRemovalPercent,
		config.EnvListZoneFunction, config.EnvDrainFunction}
	required := map[string][]string{
		// Every function that reads an event's hook is told asgdns's hooks.
		"DescribeInstanceFunction":  {config.EnvZone, config.EnvDCInstanceIDs, config.EnvHookNames},
		"AssumeRoleFunction":        {config.EnvRoleARN},
		"SendCommandFunction":       {config.EnvRoleARN},
		"WaitForCommandFunction":    {config.EnvRoleARN, config.EnvHookNames},
		"CompleteLifecycleFunction": {config.EnvOnFailure, config.EnvHookNames},
		"HoldInstanceFunction":      {hold.EnvHoldBudget, config.EnvHookNames},
		// The reconciler derives records as DescribeInstance does, lists
		// them through ListZoneFunction (the role SendCommand assumes),
		// drains through DrainDeadLettersFunction and starts repairs on the
		// alias; the removal caps are set so that the stack's parameters,
		// not defaults, govern them.
		"ReconcileFunction": {config.EnvZone, config.EnvDCInstanceIDs, config.EnvDCPlatform, config.EnvDocumentName,
			config.EnvHookNames, config.EnvASGNames, config.EnvStateMachineARN, config.EnvListZoneFunction,
			config.EnvDrainFunction, config.EnvRemovalFloor, config.EnvRemovalPercent},
		"ListZoneFunction":         {config.EnvRoleARN, config.EnvExternalID},
		"DrainDeadLettersFunction": {config.EnvStateMachineARN, config.EnvDeadLetterQueueURL, config.EnvHookNames},
	}
	tmpl := loadTemplate(t)
	for id, want := range required {
		vars := tmpl.Resources[id].Properties.Environment.Variables
		for _, v := range want {
			if _, ok := vars[v]; !ok {
				t.Errorf("%s lacks %s", id, v)
			}
		}
		for v := range vars {
			if !slices.Contains(known, v) {
				t.Errorf("%s sets %s, which no function reads", id, v)
			}
		}
	}
}

// TestErrorRouting: every name in an ErrorEquals is an error type of the
// functions (or a States./Lambda. name); only transient errors are retried;
// every Task that does DNS work sends exactly workflow.TransientErrors to
// the hold loop and everything else to the release; every state says what
// it does.
func TestErrorRouting(t *testing.T) {
	d := load(t)
	known := func(name string) bool {
		return slices.Contains(workflow.ErrorNames, name) || strings.HasPrefix(name, "States.") || strings.HasPrefix(name, "Lambda.")
	}
	for name, s := range d.States {
		if s.Comment == "" {
			t.Errorf("state %q has no Comment", name)
		}
		for _, next := range s.NextStates() {
			if _, ok := d.States[next]; !ok {
				t.Errorf("state %q goes to unknown state %q", name, next)
			}
		}
		if s.Type != "Task" {
			continue
		}
		retried := map[string]bool{}
		for _, r := range s.Retry {
			for _, e := range r.ErrorEquals {
				if !known(e) {
					t.Errorf("%q retries %q, which no function returns", name, e)
				}
				if e == "States.ALL" || (slices.Contains(workflow.ErrorNames, e) && !workflow.Transient(e)) {
					t.Errorf("%q retries terminal error %q", name, e)
				}
				retried[e] = true
			}
			if r.JitterStrategy != "FULL" || r.MaxDelaySeconds == 0 || r.BackoffRate < 2 {
				t.Errorf("%q retrier %v lacks FULL jitter, MaxDelaySeconds or backoff", name, r.ErrorEquals)
			}
		}
		for _, e := range []string{"Throttled", "Lambda.ServiceException"} {
			if !retried[e] {
				t.Errorf("%q does not retry %s", name, e)
			}
		}
		held, catchAll := false, false
		for _, c := range s.Catch {
			for _, e := range c.ErrorEquals {
				if !known(e) {
					t.Errorf("%q catches %q, which no function returns", name, e)
				}
			}
			switch {
			case c.Next == "Hold instance" || (name == "Hold instance" && c.Next == "Describe instance"):
				held = true
				if got := slices.Sorted(slices.Values(c.ErrorEquals)); !slices.Equal(got, slices.Sorted(slices.Values(workflow.TransientErrors))) {
					t.Errorf("%q holds the instance for %v, want workflow.TransientErrors %v", name, got, workflow.TransientErrors)
				}
			case slices.Equal(c.ErrorEquals, []string{"States.ALL"}):
				catchAll = true
			}
		}
		switch name {
		case "Describe instance", "Assume shared-services role", "Send DNS command", "Wait for DNS command", "Hold instance":
			if !held || !catchAll {
				t.Errorf("%q: transient errors must hold the instance and every other error release it (hold %v, release %v)", name, held, catchAll)
			}
		case "Complete lifecycle action":
			// After the DNS work succeeded, a failed completion must not
			// release the instance by the failure policy: the execution
			// fails there, to be redriven once fixed (and the hook's
			// DefaultResult applies if not). Only a launch that outlived
			// its instance is caught, to remove the record.
			if len(s.Catch) != 1 || s.Catch[0].Next != "Describe instance" || !slices.Equal(s.Catch[0].ErrorEquals, []string{"InstanceNotFound"}) {
				t.Errorf("%q catches %v, want only InstanceNotFound back to Describe instance", name, s.Catch)
			}
		default:
			if !catchAll {
				t.Errorf("%q does not catch States.ALL: some error would end the execution without releasing the instance", name)
			}
		}
	}
}
