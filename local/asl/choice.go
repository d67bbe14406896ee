package asl

import (
	"fmt"
	"strings"
	"time"
)

// Choice Rules (spec, "Choice State": "Boolean expression" and "Data-test
// expression for JSONPath Choice Rules").

type compareKind uint8

const (
	cmpString compareKind = iota
	cmpNumeric
	cmpBoolean
	cmpTimestamp
	cmpMatches
	cmpIsNull
	cmpIsPresent
	cmpIsNumeric
	cmpIsString
	cmpIsBoolean
	cmpIsTimestamp
)

type compareOp uint8

const (
	opEquals compareOp = iota
	opLessThan
	opGreaterThan
	opLessThanEquals
	opGreaterThanEquals
)

type choiceRule struct {
	// boolean expressions
	and, or []*choiceRule
	not     *choiceRule
	// data-test expression
	variable    *path
	kind        compareKind
	op          compareOp
	operand     any // string, float64, bool or time.Time; the pattern for StringMatches
	operandPath *path
	// top-level rules only
	next   string
	assign *tmpl
}

var comparisonOperators = map[string]struct {
	kind compareKind
	op   compareOp
}{
	"StringEquals":               {cmpString, opEquals},
	"StringLessThan":             {cmpString, opLessThan},
	"StringGreaterThan":          {cmpString, opGreaterThan},
	"StringLessThanEquals":       {cmpString, opLessThanEquals},
	"StringGreaterThanEquals":    {cmpString, opGreaterThanEquals},
	"StringMatches":              {cmpMatches, opEquals},
	"NumericEquals":              {cmpNumeric, opEquals},
	"NumericLessThan":            {cmpNumeric, opLessThan},
	"NumericGreaterThan":         {cmpNumeric, opGreaterThan},
	"NumericLessThanEquals":      {cmpNumeric, opLessThanEquals},
	"NumericGreaterThanEquals":   {cmpNumeric, opGreaterThanEquals},
	"BooleanEquals":              {cmpBoolean, opEquals},
	"TimestampEquals":            {cmpTimestamp, opEquals},
	"TimestampLessThan":          {cmpTimestamp, opLessThan},
	"TimestampGreaterThan":       {cmpTimestamp, opGreaterThan},
	"TimestampLessThanEquals":    {cmpTimestamp, opLessThanEquals},
	"TimestampGreaterThanEquals": {cmpTimestamp, opGreaterThanEquals},
	"IsNull":                     {cmpIsNull, opEquals},
	"IsPresent":                  {cmpIsPresent, opEquals},
	"IsNumeric":                  {cmpIsNumeric, opEquals},
	"IsString":                   {cmpIsString, opEquals},
	"IsBoolean":                  {cmpIsBoolean, opEquals},
	"IsTimestamp":                {cmpIsTimestamp, opEquals},
}

// parseTimestamp accepts the spec's profile of RFC 3339: an uppercase "T"
// and an uppercase "Z" when there is no numeric offset (spec,
// "Timestamps").
func parseTimestamp(s string) (time.Time, bool) {
	if strings.ContainsAny(s, "tz") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// compilePattern checks a StringMatches pattern: "*" is a wildcard, "\*" a
// literal star and "\\" a literal backslash; any other backslash is an open
// escape, an error (spec, StringMatches).
func compilePattern(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' {
			if i+1 >= len(p) || (p[i+1] != '*' && p[i+1] != '\\') {
				return fmt.Errorf("open escape backslash at offset %d: only \\* and \\\\ are allowed", i)
			}
			i++
		}
	}
	return nil
}

// matchPattern matches s against a StringMatches pattern.
func matchPattern(pattern, s string) bool {
	// Split into literal pieces around unescaped stars.
	var pieces []string
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			b.WriteByte(pattern[i+1])
			i++
		case c == '*':
			pieces = append(pieces, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	pieces = append(pieces, b.String())
	if len(pieces) == 1 {
		return s == pieces[0]
	}
	if !strings.HasPrefix(s, pieces[0]) {
		return false
	}
	s = s[len(pieces[0]):]
	last := pieces[len(pieces)-1]
	for _, mid := range pieces[1 : len(pieces)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

// eval evaluates a rule against the state's effective input.
func (r *choiceRule) eval(e *env) (bool, *failure) {
	switch {
	case r.and != nil:
		for _, sub := range r.and {
			ok, f := sub.eval(e)
			if f != nil || !ok {
				return false, f
			}
		}
		return true, nil
	case r.or != nil:
		for _, sub := range r.or {
			ok, f := sub.eval(e)
			if f != nil || ok {
				return ok, f
			}
		}
		return false, nil
	case r.not != nil:
		ok, f := r.not.eval(e)
		return !ok && f == nil, f
	}
	if r.kind == cmpIsPresent {
		// "if the Variable-field Path fails to match anything in the input
		// no exception is thrown and the Choice Rule just returns false"
		_, f := e.resolve(r.variable, "Variable")
		return (f == nil) == r.operand.(bool), nil
	}
	v, f := e.resolve(r.variable, "Variable")
	if f != nil {
		return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.src)
	}
	operand := r.operand
	if r.operandPath != nil {
		o, f := e.resolve(r.operandPath, "")
		if f != nil {
			return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.operandPath.src)
		}
		operand = o
		// A *Path operand is compared as the operator's type: a value of the
		// wrong type makes the comparison false, like the variable's.
		switch r.kind {
		case cmpNumeric:
			n, ok := number(o)
			if !ok {
				return false, nil
			}
			operand = n
		case cmpTimestamp:
			s, ok := o.(string)
			if !ok {
				return false, nil
			}
			t, ok := parseTimestamp(s)
			if !ok {
				return false, nil
			}
			operand = t
		}
	}
	switch r.kind {
	case cmpIsNull:
		return (v == nil) == r.operand.(bool), nil
	case cmpIsNumeric:
		_, ok := number(v)
		return ok == r.operand.(bool), nil
	case cmpIsString:
		_, ok := v.(string)
		return ok == r.operand.(bool), nil
	case cmpIsBoolean:
		_, ok := v.(bool)
		return ok == r.operand.(bool), nil
	case cmpIsTimestamp:
		s, ok := v.(string)
		if ok {
			_, ok = parseTimestamp(s)
		}
		return ok == r.operand.(bool), nil
	case cmpMatches:
		s, ok := v.(string)
		return ok && matchPattern(r.operand.(string), s), nil
	case cmpString:
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && ordered(r.op, strings.Compare(a, b)), nil
	case cmpNumeric:
		a, ok1 := number(v)
		b, ok2 := operand.(float64)
		return ok1 && ok2 && ordered(r.op, cmpFloat(a, b)), nil
	case cmpBoolean:
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case cmpTimestamp:
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		a, ok := parseTimestamp(s)
		b, ok2 := operand.(time.Time)
		return ok && ok2 && ordered(r.op, a.Compare(b)), nil
	}
	return false, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ordered(op compareOp, c int) bool {
	switch op {
	case opEquals:
		return c == 0
	case opLessThan:
		return c < 0
	case opGreaterThan:
		return c > 0
	case opLessThanEquals:
		return c <= 0
	default:
		return c >= 0
	}
}
