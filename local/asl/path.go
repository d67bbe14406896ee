package asl

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Paths (spec, "Paths" and "Reference Paths"): the Jayway JsonPath syntax
// Step Functions uses, applied to the state input ($), the context object
// ($$) or a variable ($name, developer guide "Using variables in JSONPath
// states").
//
// Supported: .name (with backslash escapes, as in the spec's $.store\.book),
// ['name'] and ["name"], [n] and [-n], [*] and .*, ..name and ..*, unions
// ['a','b'] and [0,1], slices [start:end:step], and filters [?(...)] with
// @-relative paths, literals, ==, !=, <, <=, >, >=, &&, || and !.
//
// A definite path (only names and indexes) selects one value or nothing. An
// indefinite path selects a list, which is what the state sees (spec, "Input
// and Output Processing": multiple results are gathered into an array).

type pathBase uint8

const (
	baseInput    pathBase = iota // $
	baseContext                  // $$
	baseVariable                 // $name
)

type stepKind uint8

const (
	stepField stepKind = iota
	stepIndex
	stepWildcard
	stepUnion // names or indexes
	stepSlice
	stepFilter
)

type step struct {
	kind      stepKind
	recursive bool // reached by ..
	name      string
	index     int
	names     []string
	indexes   []int
	slice     [3]*int
	filter    *filterExpr
}

type path struct {
	src      string
	base     pathBase
	varName  string
	steps    []step
	definite bool
}

func (p *path) String() string { return p.src }

// isReference reports whether p is a Reference Path: it can only identify a
// single node (spec, "Reference Paths").
func (p *path) isReference() bool { return p.definite }

// parsePath parses a Path.
func parsePath(src string) (*path, error) {
	pp := pathParser{src: src}
	p, err := pp.parse()
	if err != nil {
		return nil, fmt.Errorf("invalid path %q: %w", src, err)
	}
	return p, nil
}

type pathParser struct {
	src string
	pos int
	// inFilter is set while parsing an @-relative path inside a filter,
	// where operators and spaces end a name.
	inFilter bool
}

func (pp *pathParser) parse() (*path, error) {
	p := &path{src: pp.src, definite: true}
	if !strings.HasPrefix(pp.src, "$") {
		return nil, fmt.Errorf("a path must begin with $")
	}
	pp.pos = 1
	switch {
	case strings.HasPrefix(pp.src, "$$"):
		p.base = baseContext
		pp.pos = 2
	case pp.pos < len(pp.src) && pp.src[pp.pos] != '.' && pp.src[pp.pos] != '[':
		p.base = baseVariable
		start := pp.pos
		for pp.pos < len(pp.src) && pp.src[pp.pos] != '.' && pp.src[pp.pos] != '[' {
			pp.pos++
		}
		p.varName = pp.src[start:pp.pos]
		if !validVariableName(p.varName) {
			return nil, fmt.Errorf("%q is not a valid variable name", p.varName)
		}
	}
	steps, err := pp.steps(false)
	if err != nil {
		return nil, err
	}
	p.steps = steps
	for _, s := range steps {
		if s.kind != stepField && s.kind != stepIndex || s.recursive {
			p.definite = false
		}
	}
	return p, nil
}

// steps parses steps until the end of the source, or, inside a filter, until
// a character that cannot continue a path.
func (pp *pathParser) steps(inFilter bool) ([]step, error) {
	var steps []step
	for pp.pos < len(pp.src) {
		c := pp.src[pp.pos]
		switch {
		case c == '.' && strings.HasPrefix(pp.src[pp.pos:], ".."):
			pp.pos += 2
			s, err := pp.afterDot()
			if err != nil {
				return nil, err
			}
			s.recursive = true
			steps = append(steps, s)
		case c == '.':
			pp.pos++
			s, err := pp.afterDot()
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		case c == '[':
			s, err := pp.bracket()
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		default:
			if inFilter {
				return steps, nil
			}
			return nil, fmt.Errorf("unexpected %q at offset %d", c, pp.pos)
		}
	}
	return steps, nil
}

func (pp *pathParser) afterDot() (step, error) {
	if pp.pos >= len(pp.src) {
		return step{}, fmt.Errorf("missing a name after '.'")
	}
	switch pp.src[pp.pos] {
	case '*':
		pp.pos++
		return step{kind: stepWildcard}, nil
	case '[':
		// $.abc.['def ghi'] is accepted by Step Functions (intrinsic
		// functions page, "Reserved characters").
		return pp.bracket()
	}
	var b strings.Builder
	for pp.pos < len(pp.src) {
		c := pp.src[pp.pos]
		if c == '\\' && pp.pos+1 < len(pp.src) {
			r, n := utf8.DecodeRuneInString(pp.src[pp.pos+1:])
			b.WriteRune(r)
			pp.pos += 1 + n
			continue
		}
		if c == '.' || c == '[' || pp.inFilter && isFilterDelimiter(c) {
			break
		}
		b.WriteByte(c)
		pp.pos++
	}
	if b.Len() == 0 {
		return step{}, fmt.Errorf("missing a name after '.'")
	}
	return step{kind: stepField, name: b.String()}, nil
}

// isFilterDelimiter ends a name inside a filter expression.
func isFilterDelimiter(c byte) bool {
	switch c {
	case ' ', ')', '=', '!', '<', '>', '&', '|', ',', ']':
		return true
	}
	return false
}

func (pp *pathParser) bracket() (step, error) {
	pp.pos++ // [
	pp.space()
	if pp.pos >= len(pp.src) {
		return step{}, fmt.Errorf("unterminated '['")
	}
	var s step
	switch c := pp.src[pp.pos]; {
	case c == '*':
		pp.pos++
		s = step{kind: stepWildcard}
	case c == '\'' || c == '"':
		var names []string
		for {
			name, err := pp.quoted()
			if err != nil {
				return step{}, err
			}
			names = append(names, name)
			pp.space()
			if pp.pos < len(pp.src) && pp.src[pp.pos] == ',' {
				pp.pos++
				pp.space()
				continue
			}
			break
		}
		if len(names) == 1 {
			s = step{kind: stepField, name: names[0]}
		} else {
			s = step{kind: stepUnion, names: names}
		}
	case c == '?':
		pp.pos++
		pp.space()
		if pp.pos >= len(pp.src) || pp.src[pp.pos] != '(' {
			return step{}, fmt.Errorf("expected '(' after '?'")
		}
		pp.pos++
		f, err := pp.filterOr()
		if err != nil {
			return step{}, err
		}
		pp.space()
		if pp.pos >= len(pp.src) || pp.src[pp.pos] != ')' {
			return step{}, fmt.Errorf("expected ')' to close the filter")
		}
		pp.pos++
		s = step{kind: stepFilter, filter: f}
	default:
		var err error
		if s, err = pp.indexes(); err != nil {
			return step{}, err
		}
	}
	pp.space()
	if pp.pos >= len(pp.src) || pp.src[pp.pos] != ']' {
		return step{}, fmt.Errorf("expected ']'")
	}
	pp.pos++
	return s, nil
}

func (pp *pathParser) space() {
	for pp.pos < len(pp.src) && pp.src[pp.pos] == ' ' {
		pp.pos++
	}
}

func (pp *pathParser) quoted() (string, error) {
	quote := pp.src[pp.pos]
	pp.pos++
	var b strings.Builder
	for pp.pos < len(pp.src) {
		c := pp.src[pp.pos]
		switch {
		case c == '\\' && pp.pos+1 < len(pp.src):
			b.WriteByte(pp.src[pp.pos+1])
			pp.pos += 2
		case c == quote:
			pp.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			pp.pos++
		}
	}
	return "", fmt.Errorf("unterminated quoted name")
}

// indexes parses n, n,m,..., or start:end:step.
func (pp *pathParser) indexes() (step, error) {
	var nums [3]*int
	part, colons := 0, 0
	var union []int
	for {
		pp.space()
		if n, ok := pp.integer(); ok {
			nums[part] = &n
		}
		pp.space()
		if pp.pos >= len(pp.src) {
			return step{}, fmt.Errorf("unterminated '['")
		}
		switch pp.src[pp.pos] {
		case ':':
			if part == 2 || union != nil {
				return step{}, fmt.Errorf("invalid slice")
			}
			colons++
			part++
			pp.pos++
			continue
		case ',':
			if colons > 0 || nums[0] == nil {
				return step{}, fmt.Errorf("invalid index list")
			}
			union = append(union, *nums[0])
			nums[0] = nil
			pp.pos++
			continue
		}
		break
	}
	switch {
	case colons > 0:
		return step{kind: stepSlice, slice: nums}, nil
	case nums[0] == nil:
		return step{}, fmt.Errorf("expected an index")
	case union != nil:
		return step{kind: stepUnion, indexes: append(union, *nums[0])}, nil
	default:
		return step{kind: stepIndex, index: *nums[0]}, nil
	}
}

func (pp *pathParser) integer() (int, bool) {
	start := pp.pos
	if pp.pos < len(pp.src) && pp.src[pp.pos] == '-' {
		pp.pos++
	}
	for pp.pos < len(pp.src) && pp.src[pp.pos] >= '0' && pp.src[pp.pos] <= '9' {
		pp.pos++
	}
	n, err := strconv.Atoi(pp.src[start:pp.pos])
	if err != nil {
		pp.pos = start
		return 0, false
	}
	return n, true
}

// validVariableName applies the rules of the spec's "State Machine
// Variables": a Unicode identifier (UAX #31 ID_Start, ID_Continue) of at most
// 80 characters. ID_Start and ID_Continue are approximated by the letter,
// digit and mark categories plus '_'.
func validVariableName(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > 80 {
		return false
	}
	for i, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Nl, r):
		case r == '_' && i > 0:
		case i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)):
		default:
			return false
		}
	}
	return true
}

// get evaluates a definite path, reporting whether it selected a value.
func (p *path) get(root any) (any, bool) {
	cur := root
	for i := range p.steps {
		s := &p.steps[i]
		switch s.kind {
		case stepField:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[s.name]; !ok {
				return nil, false
			}
		case stepIndex:
			a, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			idx := s.index
			if idx < 0 {
				idx += len(a)
			}
			if idx < 0 || idx >= len(a) {
				return nil, false
			}
			cur = a[idx]
		}
	}
	return cur, true
}

// eval applies p to root: a definite path yields its value (or not found);
// an indefinite one yields the array of everything it matched, found even
// when empty.
func (p *path) eval(root any) (any, bool) {
	if p.definite {
		return p.get(root)
	}
	nodes := []any{root}
	for i := range p.steps {
		nodes = applyStep(&p.steps[i], nodes)
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, true
}

func applyStep(s *step, nodes []any) []any {
	var out []any
	for _, n := range nodes {
		if s.recursive {
			out = descend(s, n, out)
		} else {
			out = selectChildren(s, n, out)
		}
	}
	return out
}

// descend applies s to n and to everything below it (the .. operator).
func descend(s *step, n any, out []any) []any {
	out = selectChildren(s, n, out)
	switch n := n.(type) {
	case map[string]any:
		for _, k := range sortedKeys(n) {
			out = descend(s, n[k], out)
		}
	case []any:
		for _, e := range n {
			out = descend(s, e, out)
		}
	}
	return out
}

func selectChildren(s *step, n any, out []any) []any {
	switch s.kind {
	case stepField:
		if m, ok := n.(map[string]any); ok {
			if v, ok := m[s.name]; ok {
				out = append(out, v)
			}
		}
	case stepIndex:
		if a, ok := n.([]any); ok {
			idx := s.index
			if idx < 0 {
				idx += len(a)
			}
			if idx >= 0 && idx < len(a) {
				out = append(out, a[idx])
			}
		}
	case stepWildcard:
		switch n := n.(type) {
		case map[string]any:
			for _, k := range sortedKeys(n) {
				out = append(out, n[k])
			}
		case []any:
			out = append(out, n...)
		}
	case stepUnion:
		if m, ok := n.(map[string]any); ok {
			for _, name := range s.names {
				if v, ok := m[name]; ok {
					out = append(out, v)
				}
			}
		}
		if a, ok := n.([]any); ok {
			for _, idx := range s.indexes {
				if idx < 0 {
					idx += len(a)
				}
				if idx >= 0 && idx < len(a) {
					out = append(out, a[idx])
				}
			}
		}
	case stepSlice:
		if a, ok := n.([]any); ok {
			out = appendSlice(s.slice, a, out)
		}
	case stepFilter:
		switch n := n.(type) {
		case []any:
			for _, e := range n {
				if s.filter.match(e) {
					out = append(out, e)
				}
			}
		case map[string]any:
			if s.filter.match(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func appendSlice(sl [3]*int, a []any, out []any) []any {
	n := len(a)
	stepN := 1
	if sl[2] != nil {
		stepN = *sl[2]
	}
	if stepN == 0 {
		return out
	}
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return i
	}
	if stepN > 0 {
		start, end := max(norm(sl[0], 0), 0), min(norm(sl[1], n), n)
		for i := start; i < end; i += stepN {
			out = append(out, a[i])
		}
		return out
	}
	start, end := min(norm(sl[0], n-1), n-1), max(norm(sl[1], -1), -1)
	for i := start; i > end; i += stepN {
		out = append(out, a[i])
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// set returns root with value placed at the reference path p, copying every
// container on the way and creating missing object fields (spec, "ResultPath
// ... a new field is created in the state output, with intervening fields
// constructed as necessary").
func (p *path) set(root, value any) (any, error) {
	return setAt(root, true, p.steps, value)
}

func setAt(node any, exists bool, steps []step, value any) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	s := &steps[0]
	switch s.kind {
	case stepField:
		var m map[string]any
		switch n := node.(type) {
		case map[string]any:
			m = n
		default:
			if exists {
				return nil, fmt.Errorf("cannot set field %q on a %s", s.name, typeName(node))
			}
		}
		child, ok := m[s.name]
		newChild, err := setAt(child, ok, steps[1:], value)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m)+1)
		for k, v := range m {
			out[k] = v
		}
		out[s.name] = newChild
		return out, nil
	case stepIndex:
		a, ok := node.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set index %d on a %s", s.index, typeName(node))
		}
		idx := s.index
		if idx < 0 {
			idx += len(a)
		}
		if idx < 0 || idx >= len(a) {
			return nil, fmt.Errorf("index %d is out of range for an array of %d", s.index, len(a))
		}
		newChild, err := setAt(a[idx], true, steps[1:], value)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(a))
		copy(out, a)
		out[idx] = newChild
		return out, nil
	}
	return nil, fmt.Errorf("not a reference path")
}

// Filters.

type filterOp uint8

const (
	opExists filterOp = iota
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAnd
	opOr
	opNot
)

type filterExpr struct {
	op          filterOp
	left, right *filterExpr
	// operands
	rel     []step // @-relative path
	isRel   bool
	literal any
}

func (pp *pathParser) filterOr() (*filterExpr, error) {
	left, err := pp.filterAnd()
	if err != nil {
		return nil, err
	}
	for {
		pp.space()
		if !strings.HasPrefix(pp.src[pp.pos:], "||") {
			return left, nil
		}
		pp.pos += 2
		right, err := pp.filterAnd()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{op: opOr, left: left, right: right}
	}
}

func (pp *pathParser) filterAnd() (*filterExpr, error) {
	left, err := pp.filterUnary()
	if err != nil {
		return nil, err
	}
	for {
		pp.space()
		if !strings.HasPrefix(pp.src[pp.pos:], "&&") {
			return left, nil
		}
		pp.pos += 2
		right, err := pp.filterUnary()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{op: opAnd, left: left, right: right}
	}
}

func (pp *pathParser) filterUnary() (*filterExpr, error) {
	pp.space()
	if pp.pos >= len(pp.src) {
		return nil, fmt.Errorf("unterminated filter")
	}
	switch pp.src[pp.pos] {
	case '!':
		pp.pos++
		e, err := pp.filterUnary()
		if err != nil {
			return nil, err
		}
		return &filterExpr{op: opNot, left: e}, nil
	case '(':
		pp.pos++
		e, err := pp.filterOr()
		if err != nil {
			return nil, err
		}
		pp.space()
		if pp.pos >= len(pp.src) || pp.src[pp.pos] != ')' {
			return nil, fmt.Errorf("expected ')' in the filter")
		}
		pp.pos++
		return e, nil
	}
	left, err := pp.filterOperand()
	if err != nil {
		return nil, err
	}
	pp.space()
	ops := []struct {
		tok string
		op  filterOp
	}{{"==", opEq}, {"!=", opNe}, {"<=", opLe}, {">=", opGe}, {"<", opLt}, {">", opGt}}
	for _, o := range ops {
		if strings.HasPrefix(pp.src[pp.pos:], o.tok) {
			pp.pos += len(o.tok)
			right, err := pp.filterOperand()
			if err != nil {
				return nil, err
			}
			return &filterExpr{op: o.op, left: left, right: right}, nil
		}
	}
	if !left.isRel {
		return nil, fmt.Errorf("a filter needs a comparison or an @ path")
	}
	return &filterExpr{op: opExists, left: left}, nil
}

func (pp *pathParser) filterOperand() (*filterExpr, error) {
	pp.space()
	if pp.pos >= len(pp.src) {
		return nil, fmt.Errorf("unterminated filter")
	}
	switch c := pp.src[pp.pos]; {
	case c == '@':
		pp.pos++
		pp.inFilter = true
		steps, err := pp.steps(true)
		pp.inFilter = false
		if err != nil {
			return nil, err
		}
		return &filterExpr{isRel: true, rel: steps}, nil
	case c == '\'' || c == '"':
		s, err := pp.quoted()
		if err != nil {
			return nil, err
		}
		return &filterExpr{literal: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := pp.pos
		pp.pos++
		for pp.pos < len(pp.src) && strings.IndexByte("0123456789.eE+-", pp.src[pp.pos]) >= 0 {
			pp.pos++
		}
		n := json.Number(pp.src[start:pp.pos])
		if _, err := n.Float64(); err != nil {
			return nil, fmt.Errorf("invalid number %q in the filter", n)
		}
		return &filterExpr{literal: n}, nil
	}
	for _, lit := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(pp.src[pp.pos:], lit.word) {
			pp.pos += len(lit.word)
			return &filterExpr{literal: lit.v}, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q in the filter", pp.src[pp.pos])
}

func (f *filterExpr) operand(cur any) (any, bool) {
	if !f.isRel {
		return f.literal, true
	}
	p := path{steps: f.rel, definite: true}
	for _, s := range f.rel {
		if s.kind != stepField && s.kind != stepIndex || s.recursive {
			p.definite = false
		}
	}
	return p.eval(cur)
}

func (f *filterExpr) match(cur any) bool {
	switch f.op {
	case opAnd:
		return f.left.match(cur) && f.right.match(cur)
	case opOr:
		return f.left.match(cur) || f.right.match(cur)
	case opNot:
		return !f.left.match(cur)
	case opExists:
		_, ok := f.left.operand(cur)
		return ok
	}
	l, ok1 := f.left.operand(cur)
	r, ok2 := f.right.operand(cur)
	if !ok1 || !ok2 {
		return false
	}
	switch f.op {
	case opEq:
		return jsonEqual(l, r)
	case opNe:
		return !jsonEqual(l, r)
	}
	if lf, ok := number(l); ok {
		if rf, ok := number(r); ok {
			return compareOrdered(f.op, lf, rf)
		}
		return false
	}
	if ls, ok := l.(string); ok {
		if rs, ok := r.(string); ok {
			return compareOrdered(f.op, ls, rs)
		}
	}
	return false
}

func compareOrdered[T float64 | string](op filterOp, a, b T) bool {
	switch op {
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	}
	return false
}
