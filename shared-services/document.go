// Package sharedservices holds the shared-services stack (template.yaml):
// for each application account, the role its asgdns functions assume and
// the SSM Command document that changes DNS on the domain controllers. This
// Go package reads a document out of the template, as deployed for one
// account, so tests can check it and run its Linux step.
package sharedservices

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is the part of the SSM Command document the checks need.
type Document struct {
	SchemaVersion string               `yaml:"schemaVersion"`
	Parameters    map[string]Parameter `yaml:"parameters"`
	MainSteps     []Step               `yaml:"mainSteps"`
}

// Parameter is one document parameter.
type Parameter struct {
	Type              string `yaml:"type"`
	AllowedPattern    string `yaml:"allowedPattern"`
	InterpolationType string `yaml:"interpolationType"`
	Default           string `yaml:"default"`
}

// Step is one mainSteps entry.
type Step struct {
	Name         string              `yaml:"name"`
	Action       string              `yaml:"action"`
	Precondition map[string][]string `yaml:"precondition"`
	Inputs       struct {
		RunCommand []string `yaml:"runCommand"`
	} `yaml:"inputs"`
}

// Script returns the step's script: its runCommand lines, one after the
// other, as the SSM agent writes them to the script file it runs.
func (s Step) Script() string { return strings.Join(s.RunCommand(), "\n") }

// RunCommand returns the step's runCommand lines.
func (s Step) RunCommand() []string { return s.Inputs.RunCommand }

// Step returns the named step.
func (d Document) Step(name string) (Step, error) {
	for _, s := range d.MainSteps {
		if s.Name == name {
			return s, nil
		}
	}
	return Step{}, fmt.Errorf("document has no step %q", name)
}

// Tenancy is what the stack fixes for one application account's document:
// the stack parameter TenantZones (account:zone pairs) and the account of
// the Fn::ForEach::Tenants entry.
type Tenancy struct {
	AccountID   string
	TenantZones []string
}

// The names the template uses: its Fn::ForEach over the application
// accounts, the loop's identifier, and the document resource inside it.
const (
	tenantsLoop     = "Fn::ForEach::Tenants"
	tenantID        = "TenantAccountId"
	documentLogical = "DnsDocument&{" + tenantID + "}"
)

// LoadDocument reads the document the template deploys for one application
// account: the DnsDocument&{TenantAccountId} entry of Fn::ForEach::Tenants,
// with the per-account lines of its runCommand (Fn::Sub of the account and
// Fn::Join of TenantZones) resolved as CloudFormation resolves them.
func LoadDocument(templatePath string, tenancy Tenancy) (Document, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return Document{}, err
	}
	var tmpl struct {
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		return Document{}, fmt.Errorf("%s: %w", templatePath, err)
	}
	loop, ok := tmpl.Resources[tenantsLoop]
	if !ok || loop.Kind != yaml.SequenceNode || len(loop.Content) != 3 || loop.Content[0].Value != tenantID {
		return Document{}, fmt.Errorf("%s: no %s over %s", templatePath, tenantsLoop, tenantID)
	}
	var resources map[string]struct {
		Type       string `yaml:"Type"`
		Properties struct {
			Content yaml.Node `yaml:"Content"`
		} `yaml:"Properties"`
	}
	if err := loop.Content[2].Decode(&resources); err != nil {
		return Document{}, fmt.Errorf("%s: %s: %w", templatePath, tenantsLoop, err)
	}
	r, ok := resources[documentLogical]
	if !ok || r.Type != "AWS::SSM::Document" {
		return Document{}, fmt.Errorf("%s: %s has no AWS::SSM::Document %s", templatePath, tenantsLoop, documentLogical)
	}
	if err := resolveRunCommands(&r.Properties.Content, tenancy); err != nil {
		return Document{}, fmt.Errorf("%s: %s: %w", templatePath, documentLogical, err)
	}
	var doc Document
	if err := r.Properties.Content.Decode(&doc); err != nil {
		return Document{}, fmt.Errorf("%s: %s: %w", templatePath, documentLogical, err)
	}
	return doc, nil
}

// resolveRunCommands replaces each runCommand line that is an intrinsic
// function with its value. The template uses one shape only,
// !Sub [text, {Var: !Join [sep, !Ref TenantZones]}], with ${TenantAccountId}
// in the text; anything else is an error rather than a guess.
func resolveRunCommands(content *yaml.Node, tenancy Tenancy) error {
	steps := mapValue(content, "mainSteps")
	if steps == nil {
		return fmt.Errorf("no mainSteps")
	}
	for _, step := range steps.Content {
		lines := mapValue(mapValue(step, "inputs"), "runCommand")
		if lines == nil {
			continue
		}
		for _, line := range lines.Content {
			if line.Tag != "!Sub" {
				continue
			}
			text, err := resolveSub(line, tenancy)
			if err != nil {
				return fmt.Errorf("step %s: %w", mapValue(step, "name").Value, err)
			}
			*line = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: text}
		}
	}
	return nil
}

func resolveSub(n *yaml.Node, tenancy Tenancy) (string, error) {
	vars := map[string]string{tenantID: tenancy.AccountID}
	text := n.Value
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) != 2 || n.Content[1].Kind != yaml.MappingNode {
			return "", fmt.Errorf("line %d: !Sub takes [text, variables]", n.Line)
		}
		text = n.Content[0].Value
		m := n.Content[1]
		for i := 0; i+1 < len(m.Content); i += 2 {
			v := m.Content[i+1]
			if v.Tag != "!Join" || len(v.Content) != 2 || v.Content[1].Tag != "!Ref" || v.Content[1].Value != "TenantZones" {
				return "", fmt.Errorf("line %d: variable %s is not !Join [sep, !Ref TenantZones]", v.Line, m.Content[i].Value)
			}
			vars[m.Content[i].Value] = strings.Join(tenancy.TenantZones, v.Content[0].Value)
		}
	}
	var b strings.Builder
	for {
		start := strings.Index(text, "${")
		if start < 0 {
			return b.String() + text, nil
		}
		end := strings.Index(text[start:], "}")
		if end < 0 {
			return "", fmt.Errorf("line %d: unterminated ${", n.Line)
		}
		name := text[start+2 : start+end]
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("line %d: ${%s} is not the account or a variable", n.Line, name)
		}
		b.WriteString(text[:start] + v)
		text = text[start+end+1:]
	}
}

// mapValue returns a mapping node's value for key, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
