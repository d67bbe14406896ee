// Package eventpattern is the EventBridge event pattern language: a
// pattern is compiled once (Compile) and matched against events (Matches),
// as the local EventBridge routes events to rules and answers
// TestEventPattern.
//
// A pattern is a JSON object whose leaves are arrays of match values; an
// event matches when every field the pattern names matches (nested objects
// recurse; "$or" takes a list of sub-patterns). A match value is a literal
// (string, number, true, false, null) or one of the content filters:
// prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric,
// exists, cidr. When the event's field is an array, the field matches if
// any element does.
package eventpattern

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// Pattern is a compiled event pattern.
type Pattern struct {
	fields map[string]fieldMatcher
	or     [][]*Pattern // each "$or": any one of its sub-patterns
}

// fieldMatcher is either a nested pattern or a list of match values.
type fieldMatcher struct {
	nested *Pattern
	values []valueMatcher
}

type valueMatcher struct {
	kind    string // literal, prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr
	literal any    // string, float64, bool or nil
	text    string
	exists  bool
	but     []valueMatcher // anything-but: none of these
	numeric []numericTerm
	prefix  netip.Prefix
	re      *regexp.Regexp
}

type numericTerm struct {
	op    string
	value float64
}

// Compile reads a pattern (JSON). A pattern EventBridge would refuse is an
// error whose message reads like EventBridge's.
func Compile(raw json.RawMessage) (*Pattern, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("the pattern is not valid JSON: %v", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil, fmt.Errorf("the pattern must be a non-empty JSON object")
	}
	return compileObject(obj, "")
}

func compileObject(obj map[string]any, path string) (*Pattern, error) {
	m := &Pattern{fields: map[string]fieldMatcher{}}
	for key, v := range obj {
		at := strings.TrimPrefix(path+"."+key, ".")
		if key == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return nil, fmt.Errorf("%s: $or needs a list of at least two patterns", at)
			}
			var alts []*Pattern
			for _, item := range list {
				sub, ok := item.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: $or items must be objects", at)
				}
				alt, err := compileObject(sub, path)
				if err != nil {
					return nil, err
				}
				alts = append(alts, alt)
			}
			m.or = append(m.or, alts)
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			nested, err := compileObject(x, at)
			if err != nil {
				return nil, err
			}
			m.fields[key] = fieldMatcher{nested: nested}
		case []any:
			if len(x) == 0 {
				return nil, fmt.Errorf("%s: Empty arrays are not allowed", at)
			}
			var values []valueMatcher
			for _, item := range x {
				vm, err := compileValue(item, at)
				if err != nil {
					return nil, err
				}
				values = append(values, vm)
			}
			m.fields[key] = fieldMatcher{values: values}
		default:
			return nil, fmt.Errorf("%s: Match value must be String, number, true, false, or null", at)
		}
	}
	return m, nil
}

func compileValue(item any, at string) (valueMatcher, error) {
	switch x := item.(type) {
	case string, float64, bool, nil:
		return valueMatcher{kind: "literal", literal: x}, nil
	case map[string]any:
		if len(x) != 1 {
			return valueMatcher{}, fmt.Errorf("%s: a content filter has exactly one key", at)
		}
		for kind, arg := range x {
			return compileFilter(kind, arg, at)
		}
	}
	return valueMatcher{}, fmt.Errorf("%s: Match value must be String, number, true, false, or null", at)
}

func compileFilter(kind string, arg any, at string) (valueMatcher, error) {
	vm := valueMatcher{kind: kind}
	bad := func(what string) (valueMatcher, error) {
		return valueMatcher{}, fmt.Errorf("%s: %s must be %s", at, kind, what)
	}
	switch kind {
	case "prefix", "suffix":
		switch a := arg.(type) {
		case string:
			vm.text = a
		case map[string]any:
			s, ok := a["equals-ignore-case"].(string)
			if !ok || len(a) != 1 {
				return bad("a string or {\"equals-ignore-case\": string}")
			}
			vm.kind, vm.text = kind+"-ignore-case", strings.ToLower(s)
		default:
			return bad("a string")
		}
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return bad("a string")
		}
		vm.text = strings.ToLower(s)
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return bad("a string")
		}
		if strings.Contains(s, "**") {
			return bad("without consecutive wildcards")
		}
		vm.re = wildcardRegexp(s)
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return bad("true or false")
		}
		vm.exists = b
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return bad("a CIDR string")
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return bad("a CIDR string")
		}
		vm.prefix = p.Masked()
	case "anything-but":
		var list []any
		switch a := arg.(type) {
		case []any:
			list = a
		case map[string]any:
			if len(a) != 1 {
				return bad("a value, a list, or one filter")
			}
			for k, v := range a {
				if k != "prefix" && k != "suffix" && k != "equals-ignore-case" && k != "wildcard" {
					return bad("a value, a list, or a prefix/suffix/equals-ignore-case/wildcard filter")
				}
				if vs, ok := v.([]any); ok && (k == "equals-ignore-case" || k == "wildcard") {
					for _, one := range vs {
						sub, err := compileFilter(k, one, at)
						if err != nil {
							return valueMatcher{}, err
						}
						vm.but = append(vm.but, sub)
					}
					return vm, nil
				}
				sub, err := compileFilter(k, v, at)
				if err != nil {
					return valueMatcher{}, err
				}
				vm.but = []valueMatcher{sub}
				return vm, nil
			}
		default:
			list = []any{a}
		}
		for _, v := range list {
			switch v.(type) {
			case string, float64, bool, nil:
				vm.but = append(vm.but, valueMatcher{kind: "literal", literal: v})
			default:
				return bad("literal values")
			}
		}
	case "numeric":
		list, ok := arg.([]any)
		if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
			return bad("[op, number] or [op, number, op, number]")
		}
		for i := 0; i < len(list); i += 2 {
			op, ok1 := list[i].(string)
			n, ok2 := list[i+1].(float64)
			if !ok1 || !ok2 || (op != "<" && op != "<=" && op != "=" && op != ">" && op != ">=") {
				return bad("[op, number] pairs with op one of < <= = > >=")
			}
			vm.numeric = append(vm.numeric, numericTerm{op, n})
		}
	default:
		return valueMatcher{}, fmt.Errorf("%s: Unrecognized match type %s", at, kind)
	}
	return vm, nil
}

// Matches reports whether an event (decoded JSON) matches the pattern.
func (m *Pattern) Matches(event any) bool {
	obj, ok := event.(map[string]any)
	if !ok {
		return false
	}
	keys := make([]string, 0, len(m.fields))
	for k := range m.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		f := m.fields[key]
		v, present := obj[key]
		if f.nested != nil {
			if !present || !matchNested(f.nested, v) {
				return false
			}
			continue
		}
		if !matchLeaf(f.values, v, present) {
			return false
		}
	}
	for _, alts := range m.or {
		matched := false
		for _, alt := range alts {
			if alt.Matches(obj) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

func matchNested(m *Pattern, v any) bool {
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if m.Matches(item) {
				return true
			}
		}
		return false
	}
	return m.Matches(v)
}

// matchLeaf matches a field against a list of match values (any of them).
func matchLeaf(values []valueMatcher, v any, present bool) bool {
	candidates := []any{v}
	if list, ok := v.([]any); ok {
		candidates = list
		present = present && len(list) > 0
	}
	if _, isObj := v.(map[string]any); isObj {
		present = false // exists and values only match leaves
	}
	for _, vm := range values {
		if vm.kind == "exists" {
			if vm.exists == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, c := range candidates {
			if vm.match(c) {
				return true
			}
		}
	}
	return false
}

func (vm valueMatcher) match(v any) bool {
	s, isString := v.(string)
	switch vm.kind {
	case "literal":
		if a, ok := vm.literal.(float64); ok {
			b, ok := v.(float64)
			return ok && math.Abs(a-b) < 1e-9
		}
		return vm.literal == v
	case "prefix":
		return isString && strings.HasPrefix(s, vm.text)
	case "suffix":
		return isString && strings.HasSuffix(s, vm.text)
	case "prefix-ignore-case":
		return isString && strings.HasPrefix(strings.ToLower(s), vm.text)
	case "suffix-ignore-case":
		return isString && strings.HasSuffix(strings.ToLower(s), vm.text)
	case "equals-ignore-case":
		return isString && strings.ToLower(s) == vm.text
	case "wildcard":
		return isString && vm.re.MatchString(s)
	case "cidr":
		addr, err := netip.ParseAddr(s)
		return isString && err == nil && vm.prefix.Contains(addr)
	case "anything-but":
		for _, b := range vm.but {
			if b.match(v) {
				return false
			}
		}
		return true
	case "numeric":
		n, ok := v.(float64)
		if !ok {
			return false
		}
		for _, t := range vm.numeric {
			var ok bool
			switch t.op {
			case "<":
				ok = n < t.value
			case "<=":
				ok = n <= t.value
			case "=":
				ok = n == t.value
			case ">":
				ok = n > t.value
			case ">=":
				ok = n >= t.value
			}
			if !ok {
				return false
			}
		}
		return true
	}
	return false
}

// wildcardRegexp compiles an EventBridge wildcard: * is any run of
// characters, \* a literal star, \\ a literal backslash.
func wildcardRegexp(s string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\'):
			b.WriteString(regexp.QuoteMeta(s[i+1 : i+2]))
			i++
		case s[i] == '*':
			b.WriteString(".*")
		default:
			b.WriteString(regexp.QuoteMeta(s[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
