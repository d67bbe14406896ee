package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// Intrinsic functions (spec, "Intrinsic Functions" and Appendix B; developer
// guide, intrinsic-functions.html). Calls are parsed when the definition is
// loaded, so a malformed call is a definition error, and evaluated against
// the payload template's input when the state runs. Evaluation failures are
// States.Runtime (developer guide: States.IntrinsicFailure is reserved).

// maxIntrinsicNesting is the developer guide's limit: "You can nest up to 10
// intrinsic functions within a field".
const maxIntrinsicNesting = 10

// maxIntrinsicStringChars bounds Base64Encode/Decode and Hash inputs
// ("a data string of up to 10,000 characters").
const maxIntrinsicStringChars = 10000

type argKind uint8

const (
	argLiteral argKind = iota
	argPath
	argCall
)

type intrinsicArg struct {
	kind  argKind
	value any    // literal value (string, json.Number, bool or nil)
	raw   string // a string literal as written, escapes kept (for States.Format)
	isStr bool   // the literal is a string
	path  *path
	call  *intrinsic
}

type intrinsic struct {
	src  string
	name string
	args []intrinsicArg
	fn   func(e *env, c *intrinsic, args []any) (any, *failure)
}

type intrinsicSpec struct {
	min, max int // argument counts; max -1 means any
	fn       func(e *env, c *intrinsic, args []any) (any, *failure)
}

var intrinsicFuncs map[string]intrinsicSpec

func init() {
	// Assigned in init because States.Format refers back to the table.
	intrinsicFuncs = map[string]intrinsicSpec{
		"States.Format":         {1, -1, fnFormat},
		"States.StringToJson":   {1, 1, fnStringToJSON},
		"States.JsonToString":   {1, 1, fnJSONToString},
		"States.Array":          {0, -1, fnArray},
		"States.ArrayPartition": {2, 2, fnArrayPartition},
		"States.ArrayContains":  {2, 2, fnArrayContains},
		"States.ArrayRange":     {3, 3, fnArrayRange},
		"States.ArrayGetItem":   {2, 2, fnArrayGetItem},
		"States.ArrayLength":    {1, 1, fnArrayLength},
		"States.ArrayUnique":    {1, 1, fnArrayUnique},
		"States.Base64Encode":   {1, 1, fnBase64Encode},
		"States.Base64Decode":   {1, 1, fnBase64Decode},
		"States.Hash":           {2, 2, fnHash},
		"States.JsonMerge":      {3, 3, fnJSONMerge},
		"States.MathRandom":     {2, 3, fnMathRandom},
		"States.MathAdd":        {2, 2, fnMathAdd},
		"States.StringSplit":    {2, 2, fnStringSplit},
		"States.UUID":           {0, 0, fnUUID},
	}
}

// parseIntrinsic parses an intrinsic function call such as
// States.Format('{} {}', $.a, States.UUID()).
func parseIntrinsic(src string) (*intrinsic, error) {
	ip := intrinsicParser{src: src}
	ip.space()
	c, err := ip.call(1)
	if err != nil {
		return nil, fmt.Errorf("invalid intrinsic function %q: %w", src, err)
	}
	ip.space()
	if ip.pos != len(ip.src) {
		return nil, fmt.Errorf("invalid intrinsic function %q: unexpected text after the call at offset %d", src, ip.pos)
	}
	return c, nil
}

type intrinsicParser struct {
	src string
	pos int
}

func (ip *intrinsicParser) space() {
	for ip.pos < len(ip.src) && (ip.src[ip.pos] == ' ' || ip.src[ip.pos] == '\t' || ip.src[ip.pos] == '\n') {
		ip.pos++
	}
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_'
}

func (ip *intrinsicParser) call(depth int) (*intrinsic, error) {
	if depth > maxIntrinsicNesting {
		return nil, fmt.Errorf("more than %d nested intrinsic functions", maxIntrinsicNesting)
	}
	start := ip.pos
	for ip.pos < len(ip.src) && isNameChar(ip.src[ip.pos]) {
		ip.pos++
	}
	name := ip.src[start:ip.pos]
	if name == "" {
		return nil, fmt.Errorf("expected a function name at offset %d", start)
	}
	spec, ok := intrinsicFuncs[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %s", name)
	}
	if ip.pos >= len(ip.src) || ip.src[ip.pos] != '(' {
		return nil, fmt.Errorf("expected '(' after %s", name)
	}
	ip.pos++
	c := &intrinsic{name: name, fn: spec.fn}
	ip.space()
	if ip.pos < len(ip.src) && ip.src[ip.pos] == ')' {
		ip.pos++
	} else {
		for {
			ip.space()
			a, err := ip.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			ip.space()
			if ip.pos >= len(ip.src) {
				return nil, fmt.Errorf("missing ')' to close %s", name)
			}
			if ip.src[ip.pos] == ',' {
				ip.pos++
				continue
			}
			if ip.src[ip.pos] == ')' {
				ip.pos++
				break
			}
			return nil, fmt.Errorf("expected ',' or ')' at offset %d", ip.pos)
		}
	}
	c.src = ip.src[start:ip.pos]
	if len(c.args) < spec.min || spec.max >= 0 && len(c.args) > spec.max {
		return nil, fmt.Errorf("%s takes %s, not %d", name, arity(spec), len(c.args))
	}
	if name == "States.Format" && c.args[0].kind == argLiteral {
		if !c.args[0].isStr {
			return nil, fmt.Errorf("the first argument of States.Format must be a string")
		}
		holes, err := formatHoles(c.args[0].raw)
		if err != nil {
			return nil, err
		}
		if holes != len(c.args)-1 {
			return nil, fmt.Errorf("States.Format has %d {} placeholders but %d values", holes, len(c.args)-1)
		}
	}
	return c, nil
}

func arity(s intrinsicSpec) string {
	switch {
	case s.max < 0:
		return fmt.Sprintf("at least %d arguments", s.min)
	case s.min == s.max:
		return fmt.Sprintf("%d arguments", s.min)
	default:
		return fmt.Sprintf("%d to %d arguments", s.min, s.max)
	}
}

func (ip *intrinsicParser) arg(depth int) (intrinsicArg, error) {
	if ip.pos >= len(ip.src) {
		return intrinsicArg{}, fmt.Errorf("missing argument")
	}
	switch c := ip.src[ip.pos]; {
	case c == '\'':
		return ip.stringLiteral()
	case c == '$':
		start := ip.pos
		brackets, parens := 0, 0
		var quote byte
	scan:
		for ip.pos < len(ip.src) {
			ch := ip.src[ip.pos]
			switch {
			case quote != 0:
				if ch == '\\' {
					ip.pos++
				} else if ch == quote {
					quote = 0
				}
			case ch == '\'' || ch == '"':
				quote = ch
			case ch == '[':
				brackets++
			case ch == ']':
				brackets--
			case ch == '(':
				parens++
			case ch == ')':
				if parens == 0 && brackets == 0 {
					break scan
				}
				parens--
			case ch == ',' && brackets == 0 && parens == 0:
				break scan
			}
			ip.pos++
		}
		p, err := parsePath(strings.TrimSpace(ip.src[start:ip.pos]))
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{kind: argPath, path: p}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := ip.pos
		ip.pos++
		for ip.pos < len(ip.src) && strings.IndexByte("0123456789.eE+-", ip.src[ip.pos]) >= 0 {
			ip.pos++
		}
		v, err := parseJSON([]byte(ip.src[start:ip.pos]))
		if _, isNum := v.(json.Number); err != nil || !isNum {
			return intrinsicArg{}, fmt.Errorf("invalid number %q", ip.src[start:ip.pos])
		}
		return intrinsicArg{kind: argLiteral, value: v}, nil
	}
	for _, lit := range []struct {
		word string
		v    any
	}{{"null", nil}, {"true", true}, {"false", false}} {
		if strings.HasPrefix(ip.src[ip.pos:], lit.word) {
			end := ip.pos + len(lit.word)
			if end == len(ip.src) || !isNameChar(ip.src[end]) && ip.src[end] != '(' {
				ip.pos = end
				return intrinsicArg{kind: argLiteral, value: lit.v}, nil
			}
		}
	}
	call, err := ip.call(depth + 1)
	if err != nil {
		return intrinsicArg{}, err
	}
	return intrinsicArg{kind: argCall, call: call}, nil
}

// stringLiteral reads '...', where \' \{ \} and \\ are the only escapes
// (spec: "If an open escape backslash \ is found ... the interpreter will
// throw a runtime error"; a literal is static, so we report it on load).
func (ip *intrinsicParser) stringLiteral() (intrinsicArg, error) {
	ip.pos++ // '
	start := ip.pos
	var b strings.Builder
	for ip.pos < len(ip.src) {
		c := ip.src[ip.pos]
		switch c {
		case '\\':
			if ip.pos+1 >= len(ip.src) || strings.IndexByte(`'{}\`, ip.src[ip.pos+1]) < 0 {
				return intrinsicArg{}, fmt.Errorf("open escape backslash at offset %d: only \\' \\{ \\} and \\\\ are allowed", ip.pos)
			}
			b.WriteByte(ip.src[ip.pos+1])
			ip.pos += 2
		case '\'':
			raw := ip.src[start:ip.pos]
			ip.pos++
			return intrinsicArg{kind: argLiteral, value: b.String(), raw: raw, isStr: true}, nil
		default:
			b.WriteByte(c)
			ip.pos++
		}
	}
	return intrinsicArg{}, fmt.Errorf("unterminated string literal")
}

// formatHoles counts the {} placeholders of a States.Format template written
// as a literal, where \{ and \} are literal braces.
func formatHoles(raw string) (int, error) {
	n := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '{':
			if i+1 >= len(raw) || raw[i+1] != '}' {
				return 0, fmt.Errorf("States.Format: a '{' must be escaped unless it opens a {} placeholder")
			}
			n++
			i++
		case '}':
			return 0, fmt.Errorf("States.Format: a '}' must be escaped unless it closes a {} placeholder")
		}
	}
	return n, nil
}

// eval evaluates the call. args are evaluated first, innermost calls first.
func (c *intrinsic) eval(e *env) (any, *failure) {
	var small [4]any
	args := small[:0]
	for i := range c.args {
		a := &c.args[i]
		switch a.kind {
		case argLiteral:
			args = append(args, a.value)
		case argPath:
			v, f := e.resolve(a.path, c.name)
			if f != nil {
				return nil, f
			}
			args = append(args, v)
		case argCall:
			v, f := a.call.eval(e)
			if f != nil {
				return nil, f
			}
			args = append(args, v)
		}
	}
	return c.fn(e, c, args)
}

func (c *intrinsic) badArg(i int, format string, args ...any) *failure {
	return runtimeError("The value of the argument at index %d of %s is not valid: %s", i, c.name, fmt.Sprintf(format, args...))
}

func (c *intrinsic) wantString(args []any, i int) (string, *failure) {
	s, ok := args[i].(string)
	if !ok {
		return "", c.badArg(i, "expected a string, got a %s", typeName(args[i]))
	}
	return s, nil
}

func (c *intrinsic) wantArray(args []any, i int) ([]any, *failure) {
	a, ok := args[i].([]any)
	if !ok {
		return nil, c.badArg(i, "expected an array, got a %s", typeName(args[i]))
	}
	return a, nil
}

// wantInt reads an integer argument. The developer guide: "If you specify a
// non-integer value ... Step Functions will round it off to the nearest
// integer" (ArrayPartition, ArrayRange, MathRandom, MathAdd).
func (c *intrinsic) wantInt(args []any, i int) (int64, *failure) {
	if n, ok := integer(args[i]); ok {
		return n, nil
	}
	f, ok := number(args[i])
	if !ok || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<62 {
		return 0, c.badArg(i, "expected an integer, got %s", toJSON(args[i]))
	}
	return int64(math.Floor(f + 0.5)), nil
}

func fnFormat(_ *env, c *intrinsic, args []any) (any, *failure) {
	var raw string
	literal := c.args[0].kind == argLiteral
	if literal {
		raw = c.args[0].raw
	} else {
		s, f := c.wantString(args, 0)
		if f != nil {
			return nil, f
		}
		raw = s
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case literal && ch == '\\' && i+1 < len(raw):
			b.WriteByte(raw[i+1])
			i++
		case ch == '{' && i+1 < len(raw) && raw[i+1] == '}':
			if next >= len(args) {
				return nil, runtimeError("States.Format: the template %q has more {} placeholders than values", raw)
			}
			v := args[next]
			switch v := v.(type) {
			case string:
				b.WriteString(v)
			case []any, map[string]any:
				return nil, c.badArg(next, "a value to format must be a string, number, boolean or null, not a %s", typeName(v))
			default:
				b.WriteString(toJSON(v))
			}
			next++
			i++
		default:
			b.WriteByte(ch)
		}
	}
	if next != len(args) {
		return nil, runtimeError("States.Format: the template %q has %d {} placeholders but %d values were given", raw, next-1, len(args)-1)
	}
	return b.String(), nil
}

func fnStringToJSON(_ *env, c *intrinsic, args []any) (any, *failure) {
	s, f := c.wantString(args, 0)
	if f != nil {
		return nil, f
	}
	v, err := parseJSON([]byte(s))
	if err != nil {
		return nil, c.badArg(0, "%v", err)
	}
	return v, nil
}

func fnJSONToString(_ *env, _ *intrinsic, args []any) (any, *failure) {
	return toJSON(args[0]), nil
}

func fnArray(_ *env, _ *intrinsic, args []any) (any, *failure) {
	return append([]any{}, args...), nil
}

func fnArrayPartition(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, f := c.wantArray(args, 0)
	if f != nil {
		return nil, f
	}
	size, f := c.wantInt(args, 1)
	if f != nil {
		return nil, f
	}
	if size <= 0 {
		return nil, c.badArg(1, "the chunk size must be a positive integer")
	}
	out := []any{}
	for i := 0; i < len(a); i += int(size) {
		end := min(i+int(size), len(a))
		out = append(out, append([]any{}, a[i:end]...))
	}
	return out, nil
}

func fnArrayContains(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, f := c.wantArray(args, 0)
	if f != nil {
		return nil, f
	}
	for _, v := range a {
		if jsonEqual(v, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

// maxArrayRange is the developer guide's limit on States.ArrayRange.
const maxArrayRange = 1000

func fnArrayRange(_ *env, c *intrinsic, args []any) (any, *failure) {
	var n [3]int64
	for i := range n {
		v, f := c.wantInt(args, i)
		if f != nil {
			return nil, f
		}
		n[i] = v
	}
	start, end, inc := n[0], n[1], n[2]
	if inc == 0 {
		return nil, c.badArg(2, "the step must not be 0")
	}
	out := []any{}
	for v := start; inc > 0 && v <= end || inc < 0 && v >= end; v += inc {
		if len(out) == maxArrayRange {
			return nil, runtimeError("States.ArrayRange: the array would have more than %d items", maxArrayRange)
		}
		out = append(out, jsonNumber(v))
	}
	return out, nil
}

func fnArrayGetItem(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, f := c.wantArray(args, 0)
	if f != nil {
		return nil, f
	}
	i, ok := integer(args[1])
	if !ok {
		return nil, c.badArg(1, "expected an integer index, got %s", toJSON(args[1]))
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, c.badArg(1, "index %d is out of range for an array of %d items", i, len(a))
	}
	return a[i], nil
}

func fnArrayLength(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, f := c.wantArray(args, 0)
	if f != nil {
		return nil, f
	}
	return jsonNumber(int64(len(a))), nil
}

func fnArrayUnique(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, f := c.wantArray(args, 0)
	if f != nil {
		return nil, f
	}
	out := []any{}
next:
	for _, v := range a {
		for _, seen := range out {
			if jsonEqual(v, seen) {
				continue next
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (c *intrinsic) wantBoundedString(args []any, i int) (string, *failure) {
	s, f := c.wantString(args, i)
	if f != nil {
		return "", f
	}
	if utf8.RuneCountInString(s) > maxIntrinsicStringChars {
		return "", c.badArg(i, "the string has more than %d characters", maxIntrinsicStringChars)
	}
	return s, nil
}

func fnBase64Encode(_ *env, c *intrinsic, args []any) (any, *failure) {
	s, f := c.wantBoundedString(args, 0)
	if f != nil {
		return nil, f
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(_ *env, c *intrinsic, args []any) (any, *failure) {
	s, f := c.wantBoundedString(args, 0)
	if f != nil {
		return nil, f
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, c.badArg(0, "not valid Base64: %v", err)
	}
	return string(b), nil
}

func fnHash(_ *env, c *intrinsic, args []any) (any, *failure) {
	// "The length of the stringified version of the first argument must be
	// 10,000 characters or less": non-strings are hashed as their JSON.
	data, ok := args[0].(string)
	if !ok {
		data = toJSON(args[0])
	}
	if utf8.RuneCountInString(data) > maxIntrinsicStringChars {
		return nil, c.badArg(0, "the data has more than %d characters", maxIntrinsicStringChars)
	}
	alg, f := c.wantString(args, 1)
	if f != nil {
		return nil, f
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, c.badArg(1, "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, not %q", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fnJSONMerge merges shallowly. The developer guide: "Currently, Step
// Functions only supports the shallow merging mode; therefore, you must
// specify the boolean value as false" (the spec also describes a deep mode).
func fnJSONMerge(_ *env, c *intrinsic, args []any) (any, *failure) {
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	if !ok1 {
		return nil, c.badArg(0, "expected an object, got a %s", typeName(args[0]))
	}
	if !ok2 {
		return nil, c.badArg(1, "expected an object, got a %s", typeName(args[1]))
	}
	if deep, ok := args[2].(bool); !ok || deep {
		return nil, c.badArg(2, "only shallow merging is supported: the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

// fnMathRandom returns an integer in [start, end). With a seed the result
// depends only on the seed ("Each use of this function with the same seed
// value will produce the same result"); without one it comes from the
// execution's random source, which is seeded from Options.Rand.
func fnMathRandom(e *env, c *intrinsic, args []any) (any, *failure) {
	start, f := c.wantInt(args, 0)
	if f != nil {
		return nil, f
	}
	end, f := c.wantInt(args, 1)
	if f != nil {
		return nil, f
	}
	if end <= start {
		return nil, c.badArg(1, "the end (%d) must be greater than the start (%d)", end, start)
	}
	var r *rand.Rand
	if len(args) == 3 {
		seed, f := c.wantInt(args, 2)
		if f != nil {
			return nil, f
		}
		r = rand.New(rand.NewPCG(uint64(seed), uint64(seed)))
	} else {
		r = e.rng()
	}
	return jsonNumber(start + r.Int64N(end-start)), nil
}

func fnMathAdd(_ *env, c *intrinsic, args []any) (any, *failure) {
	var sum int64
	for i := range 2 {
		v, f := c.wantInt(args, i)
		if f != nil {
			return nil, f
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, c.badArg(i, "%d is outside -2147483648..2147483647", v)
		}
		sum += v
	}
	return jsonNumber(sum), nil
}

// fnStringSplit splits on any of the delimiter characters and drops empty
// pieces, matching the developer guide's example where ".+,=" splits
// "This.is+a,test=string" into five words.
func fnStringSplit(_ *env, c *intrinsic, args []any) (any, *failure) {
	s, f := c.wantString(args, 0)
	if f != nil {
		return nil, f
	}
	delims, f := c.wantString(args, 1)
	if f != nil {
		return nil, f
	}
	out := []any{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) }) {
		out = append(out, part)
	}
	return out, nil
}

func fnUUID(e *env, _ *intrinsic, _ []any) (any, *failure) {
	return uuid4(e.rng()), nil
}

// uuid4 makes a version 4 UUID from r, so that seeded executions are
// reproducible.
func uuid4(r *rand.Rand) string {
	var b [16]byte
	hi, lo := r.Uint64(), r.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
