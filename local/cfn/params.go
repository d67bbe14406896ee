package cfn

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// StackParameter is one parameter of a deployed stack as
// cloudformation:DescribeStacks lists it: the value given, else the
// template's Default, and "****" for a NoEcho parameter.
type StackParameter struct {
	Key, Value string
	NoEcho     bool
}

// StackParameters are a template's parameters deployed with the given
// values, in name order, as DescribeStacks reports them. No pseudo
// parameter takes part in a parameter's value, so none is given.
func StackParameters(templatePath string, params map[string]any) ([]StackParameter, error) {
	t, err := Load(templatePath, params, "", "")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, err
	}
	var decl struct {
		Parameters map[string]struct {
			NoEcho bool `yaml:"NoEcho"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(data, &decl); err != nil {
		return nil, fmt.Errorf("%s: %w", templatePath, err)
	}
	var out []StackParameter
	for name, v := range t.params {
		p := StackParameter{Key: name, NoEcho: decl.Parameters[name].NoEcho}
		switch x := v.(type) {
		case nil:
			continue // declared without a value: a real deployment would have refused
		case []any:
			items := make([]string, len(x))
			for i, item := range x {
				items[i] = fmt.Sprint(item)
			}
			p.Value = strings.Join(items, ",")
		default:
			p.Value = fmt.Sprint(x)
		}
		if p.NoEcho {
			p.Value = "****"
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
