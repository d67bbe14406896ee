// Package statemachine reads the asgdns state machine definition
// (asgdns.asl.json) for the checks that tie it to the functions, the SAM
// template and the SSM document, and for the schedule that proves the
// lifecycle hook outlives the workflow.
package statemachine

import (
	"encoding/json"
	"os"

	"github.com/asgdns/asgdns/workflow"
)

// Definition is the part of an ASL definition the checks read.
type Definition struct {
	Comment        string           `json:"Comment"`
	StartAt        string           `json:"StartAt"`
	TimeoutSeconds int              `json:"TimeoutSeconds"`
	States         map[string]State `json:"States"`
}

// State is one state of the definition.
type State struct {
	Type           string    `json:"Type"`
	Comment        string    `json:"Comment"`
	Resource       string    `json:"Resource"`
	TimeoutSeconds int       `json:"TimeoutSeconds"`
	Retry          []Retrier `json:"Retry"`
	Catch          []Catcher `json:"Catch"`
	Next           string    `json:"Next"`
	Default        string    `json:"Default"`
	Choices        []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	SecondsPath string `json:"SecondsPath"`
	Parameters  struct {
		// Backoff is the hold loop's schedule (Hold instance only).
		Backoff *workflow.Backoff `json:"backoff"`
	} `json:"Parameters"`
	// ResultPath is where a Task or Pass state writes its result in the
	// state document ("" when absent).
	ResultPath string `json:"ResultPath"`
}

// Retrier is one Retry entry, with the States Language defaults applied.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds float64  `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxDelaySeconds float64  `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

// UnmarshalJSON applies the defaults: IntervalSeconds 1, MaxAttempts 3,
// BackoffRate 2.0.
func (r *Retrier) UnmarshalJSON(data []byte) error {
	type plain Retrier
	p := plain{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*r = Retrier(p)
	return nil
}

// Catcher is one Catch entry.
type Catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

// Load reads a definition.
func Load(path string) (Definition, error) {
	var d Definition
	data, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(data, &d)
}

// Next lists every state a state can go to.
func (s State) NextStates() []string {
	var out []string
	for _, n := range []string{s.Next, s.Default} {
		if n != "" {
			out = append(out, n)
		}
	}
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	return out
}
