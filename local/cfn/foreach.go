package cfn

import (
	"fmt"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Fn::ForEach (the AWS::LanguageExtensions transform) in a template's
// Resources: each
//
//	Fn::ForEach::<Loop>: [Identifier, Collection, {OutputKey: Body, …}]
//
// becomes one copy of every OutputKey: Body per item of Collection. In the
// key, &{Identifier} is the item's alphanumeric characters and
// ${Identifier} the item; in the body, !Ref Identifier (or {Ref:
// Identifier}) is the item, and ${Identifier} in an Fn::Sub string is the
// item. What the transform does beyond that (a loop inside a loop, a
// collection that is not a list of strings, a key that does not use the
// identifier) is an error here rather than a guess.

const forEachPrefix = "Fn::ForEach::"

// expandForEach expands the loops of a section (name → node) in place. The
// collection is evaluated by eval (a Ref to a list parameter, a literal
// list, …).
func expandForEach(section map[string]*yaml.Node, eval func(*yaml.Node) (any, error)) error {
	for key, node := range section {
		loop, ok := strings.CutPrefix(key, forEachPrefix)
		if !ok {
			continue
		}
		if loop == "" || node.Kind != yaml.SequenceNode || len(node.Content) != 3 ||
			node.Content[0].Kind != yaml.ScalarNode || node.Content[2].Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s takes [identifier, collection, {key: body}]", node.Line, key)
		}
		id := node.Content[0].Value
		if !isAlphanumeric(id) {
			return fmt.Errorf("line %d: %s: identifier %q is not alphanumeric", node.Line, key, id)
		}
		collection, err := eval(node.Content[1])
		if err != nil {
			return fmt.Errorf("%s: collection: %w", key, err)
		}
		items, ok := collection.([]any)
		if !ok {
			return fmt.Errorf("line %d: %s: the collection is %T, not a list", node.Line, key, collection)
		}
		body := node.Content[2]
		delete(section, key)
		for _, item := range items {
			value, ok := item.(string)
			if !ok {
				return fmt.Errorf("line %d: %s: item %v is not a string", node.Line, key, item)
			}
			for i := 0; i+1 < len(body.Content); i += 2 {
				template, tmplBody := body.Content[i].Value, body.Content[i+1]
				if !strings.Contains(template, "&{"+id+"}") && !strings.Contains(template, "${"+id+"}") {
					return fmt.Errorf("line %d: %s: key %s does not use &{%s} or ${%s}: every item would have the same name",
						body.Content[i].Line, key, template, id, id)
				}
				name := strings.ReplaceAll(template, "&{"+id+"}", alphanumerics(value))
				name = strings.ReplaceAll(name, "${"+id+"}", value)
				if _, dup := section[name]; dup {
					return fmt.Errorf("line %d: %s: %s is defined twice (items whose alphanumerics collide, or an existing name)",
						body.Content[i].Line, key, name)
				}
				copied, err := substitute(tmplBody, id, value)
				if err != nil {
					return fmt.Errorf("%s: %s: %w", key, name, err)
				}
				section[name] = copied
			}
		}
	}
	return nil
}

// substitute is a deep copy of n with the loop's identifier replaced by
// value where the transform replaces it.
func substitute(n *yaml.Node, id, value string) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	out := *n
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases inside Fn::ForEach are not supported", n.Line)
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref" && n.Value == id:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Line: n.Line, Column: n.Column}, nil
	case n.Kind == yaml.ScalarNode && n.Tag == "!Sub":
		out.Value = strings.ReplaceAll(n.Value, "${"+id+"}", value)
		return &out, nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref" && n.Content[1].Value == id:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Line: n.Line, Column: n.Column}, nil
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.HasPrefix(n.Content[i].Value, forEachPrefix) {
				return nil, fmt.Errorf("line %d: %s inside Fn::ForEach is not supported", n.Content[i].Line, n.Content[i].Value)
			}
		}
	}
	out.Content = nil
	for i, child := range n.Content {
		c, err := substitute(child, id, value)
		if err != nil {
			return nil, err
		}
		// The text of !Sub [text, vars] and of {Fn::Sub: text | [text, vars]}.
		isSubText := (n.Tag == "!Sub" && n.Kind == yaml.SequenceNode && i == 0) ||
			(n.Kind == yaml.MappingNode && i == 1 && n.Content[0].Value == "Fn::Sub" && child.Kind == yaml.ScalarNode)
		if isSubText && c.Kind == yaml.ScalarNode {
			c.Value = strings.ReplaceAll(c.Value, "${"+id+"}", value)
		}
		if n.Kind == yaml.MappingNode && i == 1 && n.Content[0].Value == "Fn::Sub" && child.Kind == yaml.SequenceNode && len(c.Content) > 0 {
			c.Content[0].Value = strings.ReplaceAll(c.Content[0].Value, "${"+id+"}", value)
		}
		out.Content = append(out.Content, c)
	}
	return &out, nil
}

// alphanumerics keeps a value's letters and digits, as &{Identifier} does
// (a logical id is alphanumeric).
func alphanumerics(s string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return -1
	}, s)
}

func isAlphanumeric(s string) bool { return s != "" && alphanumerics(s) == s }
