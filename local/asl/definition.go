package asl

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Substitutions are the DefinitionSubstitutions of a state machine: each
// ${Name} in the definition text is replaced by its value before the
// definition is parsed, as CloudFormation and SAM do.
type Substitutions map[string]string

// Definition is a parsed and validated state machine.
type Definition struct {
	// Comment is the top-level Comment.
	Comment string
	// StartAt names the first state.
	StartAt string
	// TimeoutSeconds is the execution timeout, 0 when unset.
	TimeoutSeconds int

	root   *branch
	all    map[string]*state // every state by name; names are unique machine-wide
	source []byte
}

// Source returns the definition text after substitutions.
func (d *Definition) Source() []byte { return slices.Clone(d.source) }

// Resources lists the distinct Task resources of the definition (after
// substitutions) in sorted order, for callers that register handlers or
// mocks per resource.
func (d *Definition) Resources() []string {
	var out []string
	for _, st := range d.all {
		if st.typ == typeTask && !slices.Contains(out, st.resource) {
			out = append(out, st.resource)
		}
	}
	slices.Sort(out)
	return out
}

// Task is what a caller that registers handlers or mocks per state needs
// to know of a Task state.
type Task struct {
	// Resource is the state's Resource, after substitutions.
	Resource string
	// LambdaInvoke is set for arn:aws:states:::lambda:invoke, LambdaARN for
	// a Resource that is a Lambda function ARN (which records
	// LambdaFunction* events).
	LambdaInvoke, LambdaARN bool
	// Function is the Lambda function the state calls: the Resource of a
	// function ARN, or the FunctionName a lambda:invoke state's Parameters
	// write literally; "" for a FunctionName.$ chosen at run time and for
	// other resources.
	Function string
}

// Tasks lists every Task state by name, those in Parallel branches and Map
// processors included (state names are unique machine-wide).
func (d *Definition) Tasks() map[string]Task {
	out := map[string]Task{}
	for name, st := range d.all {
		if st.typ != typeTask {
			continue
		}
		t := Task{Resource: st.resource, LambdaInvoke: isLambdaInvoke(st.resource), LambdaARN: isLambdaARN(st.resource)}
		switch {
		case t.LambdaARN:
			t.Function = st.resource
		case t.LambdaInvoke:
			t.Function = literalField(st.parameters, "FunctionName")
		}
		out[name] = t
	}
	return out
}

// literalField is the string a template writes literally under name, or ""
// when the field is absent, computed at run time (name.$) or not a string.
func literalField(t *tmpl, name string) string {
	switch {
	case t == nil:
	case t.kind == tmplStatic:
		if m, ok := t.static.(map[string]any); ok {
			s, _ := m[name].(string)
			return s
		}
	case t.kind == tmplObject:
		for _, f := range t.fields {
			if f.name == name && f.node.kind == tmplStatic {
				s, _ := f.node.static.(string)
				return s
			}
		}
	}
	return ""
}

// DefinitionError lists every problem Parse found, each naming the state and
// the field, e.g. `state "Send DNS command": Retry[1].ErrorEquals: States.ALL
// must appear alone in the last retrier`.
type DefinitionError struct {
	Problems []string
}

func (e *DefinitionError) Error() string {
	return "invalid state machine definition: " + strings.Join(e.Problems, "; ")
}

type stateType string

const (
	typePass     stateType = "Pass"
	typeTask     stateType = "Task"
	typeChoice   stateType = "Choice"
	typeWait     stateType = "Wait"
	typeSucceed  stateType = "Succeed"
	typeFail     stateType = "Fail"
	typeParallel stateType = "Parallel"
	typeMap      stateType = "Map"
)

// branch is a set of states with a start: the machine itself, a Parallel
// branch or a Map ItemProcessor. Each is a scope for variables.
type branch struct {
	startAt  string
	states   map[string]*state
	assigned map[string]string // variables assigned in this scope → a state assigning it
}

type state struct {
	name string
	typ  stateType

	next string
	end  bool

	inputPath     *path
	inputNull     bool // InputPath: null — the effective input is {}
	outputPath    *path
	outputNull    bool // OutputPath: null — the output is {}
	resultPath    *path
	resultDiscard bool // ResultPath: null — the result is discarded
	parameters    *tmpl
	resultSelect  *tmpl
	assign        *tmpl
	retry         []*retrier
	catch         []*catcher

	// Pass
	result    any
	hasResult bool

	// Task
	resource      string
	timeout       int // seconds; 0: the default
	timeoutPath   *path
	heartbeat     int
	heartbeatPath *path

	// Choice
	choices     []*choiceRule
	defaultNext string

	// Wait
	seconds       int
	hasSeconds    bool
	secondsPath   *path
	timestamp     time.Time
	hasTimestamp  bool
	timestampPath *path

	// Fail
	errorName string
	cause     string
	errorExpr *tmpl // ErrorPath: a reference path or an intrinsic function
	causeExpr *tmpl

	// Parallel
	branches []*branch

	// Map
	processor      *branch
	itemsPath      *path
	itemSelector   *tmpl
	maxConcurrency int
	maxConcPath    *path
}

// defaultTaskTimeoutSeconds is the developer guide's default TimeoutSeconds
// of a Task ("If not provided, the default value is 99999999"); the spec
// says 60, Step Functions does not apply it.
const defaultTaskTimeoutSeconds = 99999999

var placeholder = regexp.MustCompile(`\$\{([^{}]*)\}`)

// substitute replaces ${Name} placeholders. Values are escaped for use
// inside a JSON string, where placeholders appear in practice. A placeholder
// without a value is an error: it would otherwise surface at run time as an
// unknown Task resource.
func substitute(def []byte, subs Substitutions) ([]byte, []string) {
	var missing []string
	out := placeholder.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		quoted := appendString(nil, v)
		return quoted[1 : len(quoted)-1]
	})
	return out, missing
}

// Parse substitutes, parses and validates a definition the way
// CreateStateMachine would, returning a *DefinitionError that lists every
// problem. Only the JSONPath query language is supported.
func Parse(definition []byte, subs Substitutions) (*Definition, error) {
	src, missing := substitute(definition, subs)
	if len(missing) > 0 {
		probs := make([]string, len(missing))
		for i, m := range missing {
			probs[i] = fmt.Sprintf("DefinitionSubstitutions: no value for ${%s}", m)
		}
		return nil, &DefinitionError{Problems: probs}
	}
	v, err := parseJSON(src)
	if err != nil {
		return nil, &DefinitionError{Problems: []string{"the definition is not valid JSON: " + err.Error()}}
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, &DefinitionError{Problems: []string{"the definition must be a JSON object"}}
	}
	p := &parser{names: map[string]bool{}}
	def := &Definition{all: map[string]*state{}, source: src}
	o := obj{p: p, m: top}
	o.only(topFields, "the top level")
	def.Comment, _ = o.str("Comment")
	def.StartAt, _ = o.str("StartAt")
	if s, ok := o.str("Version"); ok && s != "1.0" {
		p.add(o.at("Version"), "must be \"1.0\"")
	}
	o.queryLanguage()
	if _, ok := top["TimeoutSeconds"]; ok {
		def.TimeoutSeconds, _ = o.int("TimeoutSeconds", 1, 99999999)
	}
	def.root = p.branch(o, def)
	if def.root != nil {
		p.checkScopes(def.root, nil)
	}
	if len(p.problems) > 0 {
		return nil, &DefinitionError{Problems: p.problems}
	}
	return def, nil
}

var topFields = fieldSet("Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage")

type parser struct {
	problems []string
	names    map[string]bool
}

func (p *parser) add(where, format string, args ...any) {
	p.problems = append(p.problems, where+": "+fmt.Sprintf(format, args...))
}

// obj is a JSON object being validated, with where it sits for messages.
type obj struct {
	p      *parser
	m      map[string]any
	state  string // `state "X"`, or "" at the top level
	prefix string // e.g. "Retry[1]"
}

func (o obj) at(field string) string {
	name := field
	if o.prefix != "" {
		name = o.prefix + "." + field
	}
	if o.state == "" {
		return name
	}
	return o.state + ": " + name
}

func (o obj) child(m map[string]any, prefix string) obj {
	if o.prefix != "" {
		prefix = o.prefix + "." + prefix
	}
	return obj{p: o.p, m: m, state: o.state, prefix: prefix}
}

func (o obj) has(field string) bool {
	_, ok := o.m[field]
	return ok
}

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var jsonataFields = fieldSet("Arguments", "Output", "Items", "Condition")

var distributedMapFields = fieldSet("ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
	"ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label")

// only reports fields that are not allowed.
func (o obj) only(allowed map[string]bool, what string) {
	for _, k := range sortedKeys(o.m) {
		switch {
		case allowed[k]:
		case jsonataFields[k]:
			o.p.add(o.at(k), "is a JSONata field; this engine supports the JSONPath query language only")
		case distributedMapFields[k]:
			o.p.add(o.at(k), "belongs to a Distributed Map, which this engine does not support")
		default:
			o.p.add(o.at(k), "is not a valid field of %s", what)
		}
	}
}

func (o obj) queryLanguage() {
	if s, ok := o.str("QueryLanguage"); ok && s != "JSONPath" {
		if s == "JSONata" {
			o.p.add(o.at("QueryLanguage"), "JSONata is not supported by this engine; use JSONPath")
		} else {
			o.p.add(o.at("QueryLanguage"), "must be \"JSONPath\" or \"JSONata\", not %q", s)
		}
	}
}

func (o obj) str(field string) (string, bool) {
	v, ok := o.m[field]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.p.add(o.at(field), "must be a string, not a %s", typeName(v))
		return "", false
	}
	return s, true
}

func (o obj) requiredStr(field string) (string, bool) {
	if !o.has(field) {
		o.p.add(o.at(field), "is required")
		return "", false
	}
	s, ok := o.str(field)
	if ok && s == "" {
		o.p.add(o.at(field), "must not be empty")
		return "", false
	}
	return s, ok
}

func (o obj) int(field string, lo, hi int64) (int, bool) {
	v, ok := o.m[field]
	if !ok {
		return 0, false
	}
	n, isInt := integer(v)
	if !isInt {
		o.p.add(o.at(field), "must be an integer, not %s", toJSON(v))
		return 0, false
	}
	if n < lo || n > hi {
		o.p.add(o.at(field), "must be between %d and %d, not %d", lo, hi, n)
		return 0, false
	}
	return int(n), true
}

func (o obj) boolean(field string) (bool, bool) {
	v, ok := o.m[field]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		o.p.add(o.at(field), "must be a boolean, not %s", toJSON(v))
	}
	return b, ok
}

type pathRule uint8

const (
	anyPath       pathRule = iota // a Path
	referencePath                 // a Reference Path
	resultPath                    // a Reference Path into the state input only
)

// path reads a path field. null reports a JSON null value, which InputPath,
// OutputPath and ResultPath give a meaning to.
func (o obj) path(field string, rule pathRule, nullable bool) (p *path, null bool) {
	v, ok := o.m[field]
	if !ok {
		return nil, false
	}
	if v == nil {
		if !nullable {
			o.p.add(o.at(field), "must not be null")
		}
		return nil, nullable
	}
	s, ok := v.(string)
	if !ok {
		o.p.add(o.at(field), "must be a path string, not a %s", typeName(v))
		return nil, false
	}
	p, err := parsePath(s)
	if err != nil {
		o.p.add(o.at(field), "%v", err)
		return nil, false
	}
	if rule != anyPath && !p.isReference() {
		o.p.add(o.at(field), "%q must be a Reference Path (names and indexes only; no *, .., [?(...)], [a:b] or unions)", s)
		return nil, false
	}
	if rule == resultPath && p.base != baseInput {
		o.p.add(o.at(field), "%q must select within the state input ($...): it cannot write to the context object or a variable", s)
		return nil, false
	}
	return p, false
}

// template reads a payload template field (an object).
func (o obj) template(field string) *tmpl {
	v, ok := o.m[field]
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.p.add(o.at(field), "must be a JSON object, not a %s", typeName(v))
		return nil
	}
	t, err := compileTemplate(m)
	if err != nil {
		o.p.addAll(o.at(field), err)
		return nil
	}
	return t
}

// addAll records each error of an errors.Join separately.
func (p *parser) addAll(where string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			p.add(where, "%v", e)
		}
		return
	}
	p.add(where, "%v", err)
}

// assign reads an Assign field and records the variables in scope b.
func (o obj) assign(b *branch) *tmpl {
	v, ok := o.m["Assign"]
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.p.add(o.at("Assign"), "must be a JSON object, not a %s", typeName(v))
		return nil
	}
	for _, key := range sortedKeys(m) {
		name := strings.TrimSuffix(key, ".$")
		switch {
		case name == "states":
			o.p.add(o.at("Assign."+key), "\"states\" is a reserved variable name")
		case !validVariableName(name):
			o.p.add(o.at("Assign."+key), "%q is not a valid variable name (a Unicode identifier of at most 80 characters)", name)
		default:
			b.assigned[name] = o.state
		}
	}
	t, err := compileTemplate(m)
	if err != nil {
		o.p.addAll(o.at("Assign"), err)
		return nil
	}
	return t
}

// branch parses StartAt and States of the machine, a Parallel branch or a
// Map ItemProcessor, then checks its transitions.
func (p *parser) branch(o obj, def *Definition) *branch {
	b := &branch{states: map[string]*state{}, assigned: map[string]string{}}
	var ok bool
	b.startAt, ok = o.requiredStr("StartAt")
	sv, present := o.m["States"]
	if !present {
		p.add(o.at("States"), "is required")
		return nil
	}
	states, isObj := sv.(map[string]any)
	if !isObj || len(states) == 0 {
		p.add(o.at("States"), "must be a non-empty JSON object")
		return nil
	}
	for _, name := range sortedKeys(states) {
		if st := p.state(name, states[name], b, def); st != nil {
			b.states[name] = st
		}
	}
	if ok && states[b.startAt] == nil {
		p.add(o.at("StartAt"), "%q is not a state of this States object", b.startAt)
		return b
	}
	p.checkTransitions(o, b, states)
	return b
}

// successors lists the states st can transition to.
func (st *state) successors() []string {
	var out []string
	if st.next != "" {
		out = append(out, st.next)
	}
	for _, c := range st.choices {
		out = append(out, c.next)
	}
	if st.defaultNext != "" {
		out = append(out, st.defaultNext)
	}
	for _, c := range st.catch {
		out = append(out, c.next)
	}
	return out
}

func (p *parser) checkTransitions(o obj, b *branch, raw map[string]any) {
	for _, name := range sortedKeys(raw) {
		st := b.states[name]
		if st == nil {
			continue
		}
		for _, target := range st.successors() {
			if _, ok := raw[target]; !ok {
				p.add(fmt.Sprintf("state %q", name), "transition to %q: no such state in this States object (a transition cannot leave or enter a Parallel branch or Map ItemProcessor)", target)
			}
		}
	}
	// Every state must be reachable from StartAt (CreateStateMachine
	// rejects unreachable states).
	seen := map[string]bool{b.startAt: true}
	queue := []string{b.startAt}
	for len(queue) > 0 {
		st := b.states[queue[0]]
		queue = queue[1:]
		if st == nil {
			continue
		}
		for _, t := range st.successors() {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	terminal := false
	for _, name := range sortedKeys(raw) {
		if !seen[name] {
			p.add(fmt.Sprintf("state %q", name), "is not reachable from %s %q", o.at("StartAt"), b.startAt)
		}
		if st := b.states[name]; st != nil && (st.end || st.typ == typeSucceed || st.typ == typeFail) {
			terminal = true
		}
	}
	if !terminal {
		p.add(o.at("States"), "has no terminal state (a Succeed or Fail state, or one with \"End\": true)")
	}
}

// checkScopes enforces "states in inner scopes MUST NOT assign to a variable
// with the same name as a variable in an outer scope" (spec, "Variable
// Scope").
func (p *parser) checkScopes(b *branch, outer map[string]bool) {
	for _, name := range sortedKeys(anyMap(b.assigned)) {
		if outer[name] {
			p.add(b.assigned[name]+": Assign", "variable %q is also assigned in an enclosing scope; a Parallel branch or Map ItemProcessor must use its own variable names", name)
		}
	}
	inner := make(map[string]bool, len(outer)+len(b.assigned))
	for k := range outer {
		inner[k] = true
	}
	for k := range b.assigned {
		inner[k] = true
	}
	for _, name := range sortedKeys(anyMap(b.states)) {
		st := b.states[name]
		for _, sub := range st.branches {
			p.checkScopes(sub, inner)
		}
		if st.processor != nil {
			p.checkScopes(st.processor, inner)
		}
	}
}

func anyMap[T any](m map[string]T) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var stateFields = map[stateType]map[string]bool{
	typePass: fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Parameters", "Result",
		"ResultPath", "Next", "End", "Assign"),
	typeTask: fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Parameters", "ResultSelector",
		"ResultPath", "Resource", "Next", "End", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath",
		"HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials", "Assign"),
	typeChoice:  fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Choices", "Default", "Assign"),
	typeWait:    fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign"),
	typeSucceed: fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath"),
	typeFail:    fieldSet("Type", "Comment", "QueryLanguage", "Error", "ErrorPath", "Cause", "CausePath"),
	typeParallel: fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Parameters",
		"ResultSelector", "ResultPath", "Branches", "Next", "End", "Retry", "Catch", "Assign"),
	typeMap: fieldSet("Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Parameters", "ItemSelector",
		"ItemsPath", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "ResultSelector",
		"ResultPath", "Next", "End", "Retry", "Catch", "Assign"),
}

// maxStateNameChars is the spec's limit on state names.
const maxStateNameChars = 80

func (p *parser) state(name string, v any, b *branch, def *Definition) *state {
	where := fmt.Sprintf("state %q", name)
	if utf8.RuneCountInString(name) > maxStateNameChars {
		p.add(where, "the name is longer than %d characters", maxStateNameChars)
	}
	if name == "" {
		p.add("States", "a state name must not be empty")
	}
	if p.names[name] {
		p.add(where, "the name is used more than once (state names must be unique in the whole state machine)")
	}
	p.names[name] = true
	m, ok := v.(map[string]any)
	if !ok {
		p.add(where, "must be a JSON object, not a %s", typeName(v))
		return nil
	}
	o := obj{p: p, m: m, state: where}
	typ, ok := o.requiredStr("Type")
	if !ok {
		return nil
	}
	st := &state{name: name, typ: stateType(typ)}
	allowed, known := stateFields[st.typ]
	if !known {
		p.add(o.at("Type"), "%q is not a state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)", typ)
		return nil
	}
	o.only(allowed, "a "+typ+" state")
	o.queryLanguage()
	def.all[name] = st

	// Next / End (spec, "Transitions"; Table of State Types and Fields).
	switch st.typ {
	case typeChoice, typeSucceed, typeFail:
	default:
		st.next, _ = o.str("Next")
		st.end, _ = o.boolean("End")
		switch {
		case o.has("Next") && o.has("End"):
			p.add(where, "has both Next and End; a state either transitions or ends")
		case !o.has("Next") && !st.end:
			p.add(where, "needs Next, or \"End\": true")
		}
	}

	if allowed["InputPath"] {
		st.inputPath, st.inputNull = o.path("InputPath", anyPath, true)
		st.outputPath, st.outputNull = o.path("OutputPath", anyPath, true)
	}
	if allowed["ResultPath"] {
		st.resultPath, st.resultDiscard = o.path("ResultPath", resultPath, true)
	}
	if allowed["Parameters"] && st.typ != typeMap {
		st.parameters = o.template("Parameters")
	}
	if allowed["ResultSelector"] {
		st.resultSelect = o.template("ResultSelector")
	}
	if allowed["Assign"] {
		st.assign = o.assign(b)
	}
	if allowed["Retry"] {
		st.retry = p.retriers(o)
		st.catch = p.catchers(o, b)
	}

	switch st.typ {
	case typePass:
		st.result, st.hasResult = m["Result"]
	case typeTask:
		p.task(o, st)
	case typeChoice:
		p.choice(o, st, b)
	case typeWait:
		p.wait(o, st)
	case typeFail:
		p.failState(o, st)
	case typeParallel:
		p.parallel(o, st, def)
	case typeMap:
		p.mapState(o, st, def)
	}
	return st
}

func (p *parser) task(o obj, st *state) {
	st.resource, _ = o.requiredStr("Resource")
	if o.has("TimeoutSeconds") && o.has("TimeoutSecondsPath") {
		p.add(o.state, "has both TimeoutSeconds and TimeoutSecondsPath")
	}
	if o.has("HeartbeatSeconds") && o.has("HeartbeatSecondsPath") {
		p.add(o.state, "has both HeartbeatSeconds and HeartbeatSecondsPath")
	}
	st.timeout, _ = o.int("TimeoutSeconds", 1, 99999999)
	st.timeoutPath, _ = o.path("TimeoutSecondsPath", referencePath, false)
	st.heartbeat, _ = o.int("HeartbeatSeconds", 1, 99999999)
	st.heartbeatPath, _ = o.path("HeartbeatSecondsPath", referencePath, false)
	if st.heartbeat > 0 && st.timeout > 0 && st.heartbeat >= st.timeout {
		p.add(o.at("HeartbeatSeconds"), "must be smaller than TimeoutSeconds (%d)", st.timeout)
	}
	if v, ok := o.m["Credentials"]; ok {
		if _, isObj := v.(map[string]any); !isObj {
			p.add(o.at("Credentials"), "must be a JSON object, not a %s", typeName(v))
		}
	}
	if isLambdaInvoke(st.resource) {
		params, _ := o.m["Parameters"].(map[string]any)
		_, name := params["FunctionName"]
		_, namePath := params["FunctionName.$"]
		if !name && !namePath {
			p.add(o.at("Parameters"), "FunctionName is required for %s", st.resource)
		}
	}
}

func (p *parser) retriers(o obj) []*retrier {
	v, ok := o.m["Retry"]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		p.add(o.at("Retry"), "must be an array, not a %s", typeName(v))
		return nil
	}
	var out []*retrier
	for i, rv := range arr {
		ro := o.child(nil, fmt.Sprintf("Retry[%d]", i))
		m, ok := rv.(map[string]any)
		if !ok {
			p.add(o.at(fmt.Sprintf("Retry[%d]", i)), "must be a JSON object")
			continue
		}
		ro.m = m
		ro.only(fieldSet("ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"), "a retrier")
		r := &retrier{intervalSeconds: 1, maxAttempts: 3, backoffRate: 2.0}
		r.errorEquals = ro.errorEquals(i == len(arr)-1, "retrier")
		if n, ok := ro.int("IntervalSeconds", 1, 99999999); ok {
			r.intervalSeconds = n
		}
		if n, ok := ro.int("MaxAttempts", 0, 99999999); ok {
			r.maxAttempts = n
		}
		if bv, ok := m["BackoffRate"]; ok {
			if f, isNum := number(bv); !isNum || f < 1.0 {
				p.add(ro.at("BackoffRate"), "must be a number greater than or equal to 1.0, not %s", toJSON(bv))
			} else {
				r.backoffRate = f
			}
		}
		if n, ok := ro.int("MaxDelaySeconds", 1, 31622400); ok {
			r.maxDelaySeconds = n
		}
		if s, ok := ro.str("JitterStrategy"); ok {
			switch s {
			case "FULL":
				r.jitterFull = true
			case "NONE":
			default:
				p.add(ro.at("JitterStrategy"), "must be \"FULL\" or \"NONE\", not %q", s)
			}
		}
		out = append(out, r)
	}
	return out
}

// errorEquals reads ErrorEquals, applying the spec's rule that States.ALL
// "MUST appear alone in the ErrorEquals array and MUST appear in the last
// Retrier [Catcher]".
func (o obj) errorEquals(last bool, what string) []string {
	v, ok := o.m["ErrorEquals"]
	if !ok {
		o.p.add(o.at("ErrorEquals"), "is required")
		return nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		o.p.add(o.at("ErrorEquals"), "must be a non-empty array of error names")
		return nil
	}
	var names []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			o.p.add(o.at("ErrorEquals"), "must contain only non-empty strings, not %s", toJSON(e))
			return nil
		}
		names = append(names, s)
	}
	if slices.Contains(names, ErrAll) && (len(names) > 1 || !last) {
		o.p.add(o.at("ErrorEquals"), "States.ALL must appear alone in the last %s", what)
	}
	return names
}

func (p *parser) catchers(o obj, b *branch) []*catcher {
	v, ok := o.m["Catch"]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		p.add(o.at("Catch"), "must be an array, not a %s", typeName(v))
		return nil
	}
	var out []*catcher
	for i, cv := range arr {
		co := o.child(nil, fmt.Sprintf("Catch[%d]", i))
		m, ok := cv.(map[string]any)
		if !ok {
			p.add(o.at(fmt.Sprintf("Catch[%d]", i)), "must be a JSON object")
			continue
		}
		co.m = m
		co.only(fieldSet("ErrorEquals", "Next", "ResultPath", "Assign", "Comment"), "a catcher")
		c := &catcher{}
		c.errorEquals = co.errorEquals(i == len(arr)-1, "catcher")
		c.next, _ = co.requiredStr("Next")
		c.resultPath, c.resultDiscard = co.path("ResultPath", resultPath, true)
		c.assign = co.assign(b)
		out = append(out, c)
	}
	return out
}

func (p *parser) choice(o obj, st *state, b *branch) {
	st.defaultNext, _ = o.str("Default")
	v, ok := o.m["Choices"]
	if !ok {
		p.add(o.at("Choices"), "is required")
		return
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		p.add(o.at("Choices"), "must be a non-empty array of Choice Rules")
		return
	}
	for i, rv := range arr {
		if r := p.choiceRule(o, rv, fmt.Sprintf("Choices[%d]", i), true, b); r != nil {
			st.choices = append(st.choices, r)
		}
	}
}

var choiceRuleFields = func() map[string]bool {
	m := fieldSet("Variable", "And", "Or", "Not", "Next", "Assign", "Comment")
	for op := range comparisonOperators {
		m[op] = true
		if !strings.HasPrefix(op, "Is") && op != "StringMatches" {
			m[op+"Path"] = true
		}
	}
	return m
}()

func (p *parser) choiceRule(parent obj, v any, prefix string, top bool, b *branch) *choiceRule {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(parent.at(prefix), "must be a JSON object")
		return nil
	}
	o := parent.child(m, prefix)
	o.only(choiceRuleFields, "a Choice Rule")
	r := &choiceRule{}
	if top {
		r.next, _ = o.requiredStr("Next")
		r.assign = o.assign(b)
	} else {
		if o.has("Next") {
			p.add(o.at("Next"), "is only allowed in a top-level Choice Rule")
		}
		if o.has("Assign") {
			p.add(o.at("Assign"), "is only allowed in a top-level Choice Rule")
		}
	}
	var boolOps, cmpOps []string
	for _, k := range sortedKeys(m) {
		switch {
		case k == "And" || k == "Or" || k == "Not":
			boolOps = append(boolOps, k)
		case choiceRuleFields[k] && k != "Variable" && k != "Next" && k != "Assign" && k != "Comment":
			cmpOps = append(cmpOps, k)
		}
	}
	switch {
	case len(boolOps) > 0:
		if len(boolOps) > 1 || len(cmpOps) > 0 || o.has("Variable") {
			p.add(o.at(boolOps[0]), "a Boolean expression has exactly one of And, Or or Not, and no Variable or comparison")
			return nil
		}
		switch op := boolOps[0]; op {
		case "Not":
			r.not = p.choiceRule(o, m["Not"], "Not", false, b)
		default:
			arr, ok := m[op].([]any)
			if !ok || len(arr) == 0 {
				p.add(o.at(op), "must be a non-empty array of Choice Rules")
				return nil
			}
			rules := make([]*choiceRule, 0, len(arr))
			for i, sub := range arr {
				if sr := p.choiceRule(o, sub, fmt.Sprintf("%s[%d]", op, i), false, b); sr != nil {
					rules = append(rules, sr)
				}
			}
			if op == "And" {
				r.and = rules
			} else {
				r.or = rules
			}
		}
		return r
	case len(cmpOps) != 1:
		if len(cmpOps) == 0 {
			p.add(parent.at(prefix), "needs a comparison operator (StringEquals, NumericLessThan, IsPresent, …) or And/Or/Not")
		} else {
			p.add(parent.at(prefix), "has %d comparison operators (%s); a Data-test expression has exactly one", len(cmpOps), strings.Join(cmpOps, ", "))
		}
		return nil
	}
	if !o.has("Variable") {
		p.add(o.at("Variable"), "is required in a Data-test expression")
		return nil
	}
	r.variable, _ = o.path("Variable", anyPath, false)
	op := cmpOps[0]
	name, isPath := op, false
	if _, known := comparisonOperators[op]; !known {
		name, isPath = strings.TrimSuffix(op, "Path"), true
	}
	info := comparisonOperators[name]
	r.kind, r.op = info.kind, info.op
	val := m[op]
	if isPath {
		r.operandPath, _ = o.path(op, anyPath, false)
		return r
	}
	switch info.kind {
	case cmpString:
		if s, ok := val.(string); ok {
			r.operand = s
		} else {
			p.add(o.at(op), "must be a string, not %s", toJSON(val))
		}
	case cmpMatches:
		s, ok := val.(string)
		if !ok {
			p.add(o.at(op), "must be a string, not %s", toJSON(val))
		} else if err := compilePattern(s); err != nil {
			p.add(o.at(op), "%v", err)
		} else {
			r.operand = s
		}
	case cmpNumeric:
		if f, ok := number(val); ok {
			r.operand = f
		} else {
			p.add(o.at(op), "must be a number, not %s", toJSON(val))
		}
	case cmpTimestamp:
		s, _ := val.(string)
		if t, ok := parseTimestamp(s); ok {
			r.operand = t
		} else {
			p.add(o.at(op), "must be an RFC 3339 timestamp such as \"2016-03-14T01:59:00Z\", not %s", toJSON(val))
		}
	default: // BooleanEquals and the Is* tests
		if bv, ok := val.(bool); ok {
			r.operand = bv
		} else {
			p.add(o.at(op), "must be a boolean, not %s", toJSON(val))
		}
	}
	return r
}

func (p *parser) wait(o obj, st *state) {
	n := 0
	for _, f := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if o.has(f) {
			n++
		}
	}
	if n != 1 {
		p.add(o.state, "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp or TimestampPath")
	}
	st.seconds, st.hasSeconds = o.int("Seconds", 0, 99999999)
	st.secondsPath, _ = o.path("SecondsPath", referencePath, false)
	if s, ok := o.str("Timestamp"); ok {
		if st.timestamp, st.hasTimestamp = parseTimestamp(s); !st.hasTimestamp {
			p.add(o.at("Timestamp"), "must be an RFC 3339 timestamp such as \"2016-03-14T01:59:00Z\", not %q", s)
		}
	}
	st.timestampPath, _ = o.path("TimestampPath", referencePath, false)
}

// failIntrinsics are the functions the developer guide allows in ErrorPath
// and CausePath (state-fail.html).
var failIntrinsics = fieldSet("States.Format", "States.JsonToString", "States.ArrayGetItem", "States.Base64Encode",
	"States.Base64Decode", "States.Hash", "States.UUID")

func (p *parser) failState(o obj, st *state) {
	if o.has("Error") && o.has("ErrorPath") {
		p.add(o.state, "has both Error and ErrorPath")
	}
	if o.has("Cause") && o.has("CausePath") {
		p.add(o.state, "has both Cause and CausePath")
	}
	st.errorName, _ = o.str("Error")
	st.cause, _ = o.str("Cause")
	st.errorExpr = p.failExpr(o, "ErrorPath")
	st.causeExpr = p.failExpr(o, "CausePath")
}

func (p *parser) failExpr(o obj, field string) *tmpl {
	s, ok := o.str(field)
	if !ok {
		return nil
	}
	t, err := compileExpression(s)
	if err != nil {
		p.add(o.at(field), "%v", err)
		return nil
	}
	switch {
	case t.kind == tmplPath && !t.path.isReference():
		p.add(o.at(field), "%q must be a Reference Path or an intrinsic function", s)
		return nil
	case t.kind == tmplCall && !failIntrinsics[t.call.name]:
		p.add(o.at(field), "%s cannot be used here; use States.Format, JsonToString, ArrayGetItem, Base64Encode, Base64Decode, Hash or UUID", t.call.name)
		return nil
	}
	t.field = field
	return t
}

func (p *parser) parallel(o obj, st *state, def *Definition) {
	v, ok := o.m["Branches"]
	if !ok {
		p.add(o.at("Branches"), "is required")
		return
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		p.add(o.at("Branches"), "must be a non-empty array of branches")
		return
	}
	for i, bv := range arr {
		m, ok := bv.(map[string]any)
		if !ok {
			p.add(o.at(fmt.Sprintf("Branches[%d]", i)), "must be a JSON object with StartAt and States")
			continue
		}
		bo := o.child(m, fmt.Sprintf("Branches[%d]", i))
		bo.only(fieldSet("StartAt", "States", "Comment", "QueryLanguage"), "a branch")
		if b := p.branch(bo, def); b != nil {
			st.branches = append(st.branches, b)
		}
	}
}

func (p *parser) mapState(o obj, st *state, def *Definition) {
	field := "ItemProcessor"
	switch {
	case o.has("ItemProcessor") && o.has("Iterator"):
		p.add(o.state, "has both ItemProcessor and its deprecated form Iterator")
	case o.has("Iterator"):
		field = "Iterator"
	case !o.has("ItemProcessor"):
		p.add(o.at("ItemProcessor"), "is required")
	}
	if m, ok := o.m[field].(map[string]any); ok {
		po := o.child(m, field)
		po.only(fieldSet("StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"), "an ItemProcessor")
		if cfg, ok := m["ProcessorConfig"]; ok {
			cm, isObj := cfg.(map[string]any)
			if !isObj {
				p.add(po.at("ProcessorConfig"), "must be a JSON object")
			} else if mode, _ := cm["Mode"].(string); mode == "DISTRIBUTED" {
				p.add(po.at("ProcessorConfig.Mode"), "DISTRIBUTED: this engine runs inline Map states only")
			} else if mode != "" && mode != "INLINE" {
				p.add(po.at("ProcessorConfig.Mode"), "must be \"INLINE\" or \"DISTRIBUTED\", not %q", mode)
			}
		}
		st.processor = p.branch(po, def)
	} else if o.has(field) {
		p.add(o.at(field), "must be a JSON object with StartAt and States")
	}
	st.itemsPath, _ = o.path("ItemsPath", referencePath, false)
	if o.has("ItemSelector") && o.has("Parameters") {
		p.add(o.state, "has both ItemSelector and its deprecated form Parameters")
	}
	if o.has("ItemSelector") {
		st.itemSelector = o.template("ItemSelector")
	} else {
		st.itemSelector = o.template("Parameters")
	}
	if o.has("MaxConcurrency") && o.has("MaxConcurrencyPath") {
		p.add(o.state, "has both MaxConcurrency and MaxConcurrencyPath")
	}
	st.maxConcurrency, _ = o.int("MaxConcurrency", 0, 1<<31-1)
	st.maxConcPath, _ = o.path("MaxConcurrencyPath", referencePath, false)
}

// isLambdaInvoke reports the optimized Lambda integration, whose result is
// wrapped in {"Payload": …, "StatusCode": 200, …}.
func isLambdaInvoke(resource string) bool {
	return resource == "arn:aws:states:::lambda:invoke"
}
