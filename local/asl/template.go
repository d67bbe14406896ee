package asl

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Payload templates (spec, "Payload Template"): Parameters, ResultSelector,
// ItemSelector and Assign. A field whose name ends in ".$" takes its value
// from a path ($ input, $$ context object, $name variable) or an intrinsic
// function; every other value is copied as written. Templates are compiled
// once when the definition is loaded; subtrees without ".$" fields are kept
// as the literal values and shared, not copied.

type tmplKind uint8

const (
	tmplStatic tmplKind = iota
	tmplObject
	tmplArray
	tmplPath
	tmplCall
)

type tmpl struct {
	kind   tmplKind
	static any
	fields []tmplField
	items  []*tmpl
	path   *path
	call   *intrinsic
	field  string // the ".$" field name, for error messages
}

type tmplField struct {
	name string
	node *tmpl
}

// compileTemplate compiles a payload template value, reporting every bad
// field (joined with errors.Join).
func compileTemplate(v any) (*tmpl, error) {
	var errs []error
	t := compileValue(v, &errs)
	return t, errors.Join(errs...)
}

func compileValue(v any, errs *[]error) *tmpl {
	switch v := v.(type) {
	case map[string]any:
		t := &tmpl{kind: tmplObject}
		dynamic := false
		seen := make(map[string]bool, len(v))
		for _, key := range sortedKeys(v) {
			name, node, err := compileField(key, v[key], errs)
			if err != nil {
				*errs = append(*errs, err)
				continue
			}
			if seen[name] {
				*errs = append(*errs, fmt.Errorf("the field %q appears twice once \".$\" is removed", name))
				continue
			}
			seen[name] = true
			if node.kind != tmplStatic {
				dynamic = true
			}
			t.fields = append(t.fields, tmplField{name: name, node: node})
		}
		if !dynamic {
			return &tmpl{kind: tmplStatic, static: v}
		}
		return t
	case []any:
		t := &tmpl{kind: tmplArray}
		dynamic := false
		for _, e := range v {
			node := compileValue(e, errs)
			if node.kind != tmplStatic {
				dynamic = true
			}
			t.items = append(t.items, node)
		}
		if !dynamic {
			return &tmpl{kind: tmplStatic, static: v}
		}
		return t
	default:
		return &tmpl{kind: tmplStatic, static: v}
	}
}

func compileField(key string, v any, errs *[]error) (string, *tmpl, error) {
	name, dynamic := strings.CutSuffix(key, ".$")
	if !dynamic {
		return key, compileValue(v, errs), nil
	}
	s, ok := v.(string)
	if !ok {
		return "", nil, fmt.Errorf("field %q: the value of a \".$\" field must be a string (a path or an intrinsic function), not a %s", key, typeName(v))
	}
	node, err := compileExpression(s)
	if err != nil {
		return "", nil, fmt.Errorf("field %q: %w", key, err)
	}
	node.field = key
	return name, node, nil
}

// compileExpression compiles the value of a ".$" field: a path when it
// begins with "$", an intrinsic function otherwise.
func compileExpression(s string) (*tmpl, error) {
	if strings.HasPrefix(s, "$") {
		p, err := parsePath(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{kind: tmplPath, path: p}, nil
	}
	c, err := parseIntrinsic(s)
	if err != nil {
		return nil, err
	}
	return &tmpl{kind: tmplCall, call: c}, nil
}

// eval builds the payload.
func (t *tmpl) eval(e *env) (any, *failure) {
	switch t.kind {
	case tmplStatic:
		return t.static, nil
	case tmplPath:
		return e.resolve(t.path, t.field)
	case tmplCall:
		return t.call.eval(e)
	case tmplArray:
		out := make([]any, len(t.items))
		for i, item := range t.items {
			v, f := item.eval(e)
			if f != nil {
				return nil, f
			}
			out[i] = v
		}
		return out, nil
	default:
		out := make(map[string]any, len(t.fields))
		for i := range t.fields {
			v, f := t.fields[i].node.eval(e)
			if f != nil {
				return nil, f
			}
			out[t.fields[i].name] = v
		}
		return out, nil
	}
}

// env is what paths and intrinsic functions are evaluated against: the
// input ($), the variables in scope ($name) and the context object ($$).
type env struct {
	run   *runner
	input any
	// context object details of the state being evaluated
	state      *state
	retryCount int
	mapItem    map[string]any // $$.Map.Item, only inside ItemSelector
	ctxObj     map[string]any
}

// resolve evaluates a path, failing with States.Runtime when it selects
// nothing (developer guide: path failures are reported as States.Runtime).
func (e *env) resolve(p *path, field string) (any, *failure) {
	var root any
	switch p.base {
	case baseInput:
		root = e.input
	case baseContext:
		root = e.contextObject()
	case baseVariable:
		v, ok := e.run.scope.get(p.varName)
		if !ok {
			return nil, runtimeError("The variable '$%s' referenced by %s has no value", p.varName, e.describe(field))
		}
		root = v
	}
	v, ok := p.eval(root)
	if !ok {
		what := "the input"
		switch p.base {
		case baseContext:
			what = "the context object"
		case baseVariable:
			what = "the variable '$" + p.varName + "'"
		}
		return nil, runtimeError("The JSONPath '%s' specified for %s could not be found in %s '%s'", p.src, e.describe(field), what, truncateForCause(toJSON(root)))
	}
	return v, nil
}

func (e *env) describe(field string) string {
	if field != "" {
		return fmt.Sprintf("the field '%s'", field)
	}
	return "a path"
}

func (e *env) rng() *rand.Rand { return e.run.rng }

// contextObject builds $$ on first use (developer guide,
// input-output-contextobject).
func (e *env) contextObject() map[string]any {
	if e.ctxObj != nil {
		return e.ctxObj
	}
	x := e.run.x
	st := map[string]any{
		"EnteredTime": formatTime(e.run.enteredAt),
		"RetryCount":  jsonNumber(int64(e.retryCount)),
	}
	if e.state != nil {
		st["Name"] = e.state.name
	}
	obj := map[string]any{
		"Execution":    x.contextExecution(),
		"State":        st,
		"StateMachine": x.contextStateMachine,
	}
	if e.mapItem != nil {
		obj["Map"] = map[string]any{"Item": e.mapItem}
	}
	e.ctxObj = obj
	return obj
}

// truncateForCause keeps error causes readable when the input is large.
func truncateForCause(s string) string {
	const limit = 1024
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
