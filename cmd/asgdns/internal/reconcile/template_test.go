package reconcile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

// TestNamesAreTheTemplates pins what the command names in the application
// stack to template.yaml: the function it looks up, the parameter that sets
// the scheduled runs' mode (with the same modes --mode takes), and the one
// the cap message tells the operator to raise.
func TestNamesAreTheTemplates(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]struct {
			AllowedValues []string `yaml:"AllowedValues"`
		} `yaml:"Parameters"`
		// Nodes: Fn::ForEach entries are sequences, not resources.
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	var fn struct {
		Type string `yaml:"Type"`
	}
	if node, ok := tmpl.Resources[reconcileLogicalID]; !ok {
		t.Errorf("template.yaml has no resource %s", reconcileLogicalID)
	} else if err := node.Decode(&fn); err != nil || fn.Type != "AWS::Serverless::Function" {
		t.Errorf("template.yaml's %s is not a function (%q, %v)", reconcileLogicalID, fn.Type, err)
	}
	mode, ok := tmpl.Parameters[StackParameterMode]
	modes := []string{string(decision.ModeReport), string(decision.ModeUpsert), string(decision.ModeSync)}
	if !ok || !slices.Equal(mode.AllowedValues, modes) {
		t.Errorf("template.yaml's %s allows %v, --mode takes %v", StackParameterMode, mode.AllowedValues, modes)
	}
	if _, ok := tmpl.Parameters[StackParameterRemovalPercent]; !ok {
		t.Errorf("template.yaml has no parameter %s, which the cap message names", StackParameterRemovalPercent)
	}
}
