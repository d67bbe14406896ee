// Package sharedservices holds the shared-services stack (template.yaml): the
// role the application account assumes and the SSM Command document that
// changes DNS on the domain controllers. This Go package reads the document
// out of the template so tests can check it and run its Linux step.
package sharedservices

import (
	"fmt"
	"os"

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

// Script returns the step's script.
func (s Step) Script() string {
	out := ""
	for _, line := range s.RunCommand() {
		out += line
	}
	return out
}

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

// LoadDocument reads the DnsDocument's Content from a CloudFormation template.
func LoadDocument(templatePath string) (Document, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return Document{}, err
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Content yaml.Node `yaml:"Content"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		return Document{}, fmt.Errorf("%s: %w", templatePath, err)
	}
	for name, r := range tmpl.Resources {
		if r.Type != "AWS::SSM::Document" {
			continue
		}
		var doc Document
		if err := r.Properties.Content.Decode(&doc); err != nil {
			return Document{}, fmt.Errorf("%s: resource %s: %w", templatePath, name, err)
		}
		return doc, nil
	}
	return Document{}, fmt.Errorf("%s: no AWS::SSM::Document resource", templatePath)
}
