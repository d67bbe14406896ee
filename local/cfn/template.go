// Package cfn evaluates the parts of CloudFormation (and SAM) templates a
// local run takes from the deployed definition: parameters with their
// defaults, conditions, the intrinsic functions those parts use,
// Fn::ForEach, and the names CloudFormation generates. It touches no
// emulator state: the local endpoint (local/cloud) and the local stack
// (local/stack) read templates through it.
package cfn

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template evaluates the parts of a CloudFormation template the local run
// takes from the deployed definition (the shared-services role's trust and
// permission policies, the EventBridge rule's pattern): parameters with
// their defaults, conditions, and the intrinsic functions those parts use.
// It is not a CloudFormation engine: resources are only what the caller
// names, and a Ref to a resource must be given a value (SetRef). Fn::ForEach
// loops in Resources are expanded when the template is loaded (foreach.go).
type Template struct {
	path       string
	params     map[string]any // string, or []any for list parameters
	conditions map[string]*yaml.Node
	resources  map[string]*yaml.Node
	refs       map[string]any // pseudo parameters and resources' Ref values
}

// noValue is AWS::NoValue: the enclosing property disappears.
type noValueType struct{}

var noValue = noValueType{}

// Load reads the template at path with the parameter values given (a
// string, or a []string for a list parameter; a parameter not given takes
// its Default) and the pseudo parameters of a deployment in region and
// account. AWS::StackName is "asgdns" until SetRef says otherwise. A
// parameter the template does not declare is an error, as CloudFormation
// refuses it.
func Load(path string, params map[string]any, region, account string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a CloudFormation template", path)
	}
	t := &Template{
		path: path, params: map[string]any{}, conditions: map[string]*yaml.Node{}, resources: map[string]*yaml.Node{},
		refs: map[string]any{
			"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
			"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "asgdns", "AWS::NoValue": noValue,
		},
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		section, body := root.Content[i].Value, root.Content[i+1]
		for j := 0; body.Kind == yaml.MappingNode && j+1 < len(body.Content); j += 2 {
			name, node := body.Content[j].Value, body.Content[j+1]
			switch section {
			case "Parameters":
				if err := t.declareParameter(name, node, params); err != nil {
					return nil, err
				}
			case "Conditions":
				t.conditions[name] = node
			case "Resources":
				t.resources[name] = node
			}
		}
	}
	for name := range params {
		if _, ok := t.params[name]; !ok {
			return nil, fmt.Errorf("%s: no parameter %s", path, name)
		}
	}
	if err := expandForEach(t.resources, t.Eval); err != nil {
		return nil, fmt.Errorf("%s: Resources: %w", path, err)
	}
	return t, nil
}

// declareParameter records a parameter's value: the one given, else its
// Default. List types become lists, as Ref returns them.
func (t *Template) declareParameter(name string, node *yaml.Node, given map[string]any) error {
	var decl struct {
		Type    string    `yaml:"Type"`
		Default yaml.Node `yaml:"Default"`
	}
	if err := node.Decode(&decl); err != nil {
		return fmt.Errorf("%s: parameter %s: %w", t.path, name, err)
	}
	isList := decl.Type == "CommaDelimitedList" || strings.HasPrefix(decl.Type, "List<")
	v, ok := given[name]
	if !ok && decl.Default.Kind == yaml.ScalarNode {
		v, ok = decl.Default.Value, true
	}
	if !ok {
		t.params[name] = nil // declared, no value: an error only if referenced
		return nil
	}
	switch x := v.(type) {
	case string:
		if isList {
			items := []any{}
			if x != "" {
				for s := range strings.SplitSeq(x, ",") {
					items = append(items, strings.TrimSpace(s))
				}
			}
			v = items
		}
	case []string:
		if !isList {
			return fmt.Errorf("%s: parameter %s is a %s, not a list", t.path, name, decl.Type)
		}
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		v = items
	default:
		v = fmt.Sprint(x)
	}
	t.params[name] = v
	return nil
}

// SetRef gives name (a resource's logical id, or a pseudo parameter such
// as AWS::StackName) the value Ref and ${name} in Fn::Sub evaluate to.
func (t *Template) SetRef(name string, value any) { t.refs[name] = value }

// Resource returns a resource's Type and Properties node.
func (t *Template) Resource(name string) (typ string, props *yaml.Node, err error) {
	node, ok := t.resources[name]
	if !ok {
		return "", nil, fmt.Errorf("%s: no resource %s", t.path, name)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		switch node.Content[i].Value {
		case "Type":
			typ = node.Content[i+1].Value
		case "Properties":
			props = node.Content[i+1]
		}
	}
	return typ, props, nil
}

// ResourcesOfType lists the resources of one type, Fn::ForEach's copies
// included, sorted by logical id.
func (t *Template) ResourcesOfType(typ string) []string {
	var out []string
	for name := range t.resources {
		if got, _, _ := t.Resource(name); got == typ {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Property returns a mapping's value node for key, or nil.
func Property(node *yaml.Node, key string) *yaml.Node {
	for i := 0; node != nil && node.Kind == yaml.MappingNode && i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}

// Eval evaluates a node to plain values: string, int64, float64, bool,
// nil, []any, map[string]any.
func (t *Template) Eval(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return t.Eval(n.Content[0])
	case yaml.AliasNode:
		return t.Eval(n.Alias)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!Ref":
			return t.ref(n.Value, n)
		case "!Sub":
			return t.sub(n.Value, nil, n)
		case "!GetAtt":
			return nil, t.errorf(n, "Fn::GetAtt %s is not modelled", n.Value)
		case "!Condition":
			return t.condition(n.Value)
		case "!!int":
			return strconv.ParseInt(n.Value, 0, 64)
		case "!!float":
			return strconv.ParseFloat(n.Value, 64)
		case "!!bool":
			return strconv.ParseBool(n.Value)
		case "!!null":
			return nil, nil
		case "!!str", "":
			return n.Value, nil
		}
		return nil, t.errorf(n, "%s is not supported", n.Tag)
	case yaml.SequenceNode:
		if isFunctionTag(n.Tag) {
			return t.function("Fn::"+strings.TrimPrefix(n.Tag, "!"), n)
		}
		var out []any
		for _, item := range n.Content {
			v, err := t.Eval(item)
			if err != nil {
				return nil, err
			}
			if v != noValue {
				out = append(out, v)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case yaml.MappingNode:
		if isFunctionTag(n.Tag) {
			return t.function("Fn::"+strings.TrimPrefix(n.Tag, "!"), n)
		}
		if len(n.Content) == 2 {
			key := n.Content[0].Value
			if key == "Ref" {
				return t.ref(n.Content[1].Value, n)
			}
			if key == "Condition" {
				return t.condition(n.Content[1].Value)
			}
			if strings.HasPrefix(key, "Fn::") && !strings.HasPrefix(key, "Fn::ForEach") {
				return t.function(key, n.Content[1])
			}
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := t.Eval(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if v != noValue {
				out[n.Content[i].Value] = v
			}
		}
		return out, nil
	}
	return nil, t.errorf(n, "unexpected YAML node")
}

// isFunctionTag: !If, !Sub, … (YAML's own tags are !!map, !!seq, …).
func isFunctionTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func (t *Template) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", t.path, n.Line, fmt.Sprintf(format, args...))
}

func (t *Template) ref(name string, n *yaml.Node) (any, error) {
	if v, ok := t.params[name]; ok {
		if v == nil {
			return nil, t.errorf(n, "parameter %s has no value and no default", name)
		}
		return v, nil
	}
	if v, ok := t.refs[name]; ok {
		return v, nil
	}
	return nil, t.errorf(n, "Ref %s: not a parameter, and the resource's value is not modelled", name)
}

// function evaluates an intrinsic function whose argument is arg.
func (t *Template) function(name string, arg *yaml.Node) (any, error) {
	args := func(want int) ([]*yaml.Node, error) {
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != want {
			return nil, t.errorf(arg, "%s takes a list of %d", name, want)
		}
		return arg.Content, nil
	}
	switch name {
	case "Fn::If":
		a, err := args(3)
		if err != nil {
			return nil, err
		}
		cond, err := t.condition(a[0].Value)
		if err != nil {
			return nil, err
		}
		if cond {
			return t.Eval(a[1])
		}
		return t.Eval(a[2])
	case "Fn::Equals":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		x, err := t.Eval(a[0])
		if err != nil {
			return nil, err
		}
		y, err := t.Eval(a[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(x) == fmt.Sprint(y), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) == 0 {
			return nil, t.errorf(arg, "%s takes a list of conditions", name)
		}
		var vals []bool
		for _, c := range arg.Content {
			v, err := t.Eval(c)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, t.errorf(c, "%s: %v is not a condition", name, v)
			}
			vals = append(vals, b)
		}
		switch name {
		case "Fn::Not":
			return !vals[0], nil
		case "Fn::And":
			for _, b := range vals {
				if !b {
					return false, nil
				}
			}
			return true, nil
		default:
			for _, b := range vals {
				if b {
					return true, nil
				}
			}
			return false, nil
		}
	case "Fn::Join":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		list, err := t.Eval(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, t.errorf(a[1], "Fn::Join needs a list")
		}
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = fmt.Sprint(it)
		}
		return strings.Join(parts, a[0].Value), nil
	case "Fn::Sub":
		if arg.Kind == yaml.ScalarNode {
			return t.sub(arg.Value, nil, arg)
		}
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		vars, err := t.Eval(a[1])
		if err != nil {
			return nil, err
		}
		m, _ := vars.(map[string]any)
		return t.sub(a[0].Value, m, arg)
	case "Fn::Select":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(a[0].Value)
		if err != nil {
			return nil, t.errorf(a[0], "Fn::Select index %q", a[0].Value)
		}
		list, err := t.Eval(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, t.errorf(arg, "Fn::Select index %d out of range", i)
		}
		return items[i], nil
	case "Fn::Split":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		s, err := t.Eval(a[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for p := range strings.SplitSeq(fmt.Sprint(s), a[0].Value) {
			out = append(out, p)
		}
		return out, nil
	}
	return nil, t.errorf(arg, "%s is not supported", name)
}

func (t *Template) condition(name string) (bool, error) {
	node, ok := t.conditions[name]
	if !ok {
		return false, fmt.Errorf("%s: no condition %s", t.path, name)
	}
	v, err := t.Eval(node)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, t.errorf(node, "condition %s is not a boolean", name)
	}
	return b, nil
}

// sub expands ${Name} (a variable, parameter, pseudo parameter or modelled
// resource) in s; ${!Literal} stays ${Literal}.
func (t *Template) sub(s string, vars map[string]any, n *yaml.Node) (any, error) {
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			return nil, t.errorf(n, "Fn::Sub: unterminated ${ in %q", s)
		}
		b.WriteString(s[:start])
		name := s[start+2 : start+end]
		s = s[start+end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		v, ok := vars[name]
		if !ok {
			var err error
			if v, err = t.ref(name, n); err != nil {
				return nil, err
			}
		}
		if list, ok := v.([]any); ok {
			return nil, t.errorf(n, "Fn::Sub: ${%s} is a list (%v)", name, list)
		}
		b.WriteString(fmt.Sprint(v))
	}
}
