package asl

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// evalIntrinsic evaluates one intrinsic call against input, outside any
// execution.
func evalIntrinsic(t *testing.T, expr, input string) (string, *failure) {
	t.Helper()
	c, err := parseIntrinsic(expr)
	if err != nil {
		t.Fatalf("parseIntrinsic(%q): %v", expr, err)
	}
	in, err := parseJSON([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{run: &runner{rng: rand.New(rand.NewPCG(1, 1)), scope: &scope{}}, input: in}
	v, f := c.eval(e)
	if f != nil {
		return "", f
	}
	return toJSON(v), nil
}

// Argument checks of Appendix B, each reported as States.Runtime.
func TestIntrinsicArgumentErrors(t *testing.T) {
	for _, tc := range []struct{ expr, input, want string }{
		{"States.Format($.t, 1)", `{"t":5}`, "expected a string"},
		{"States.Format($.t)", `{"t":"{} {}"}`, "more {} placeholders than values"},
		{"States.Format($.t, 1, 2)", `{"t":"{}"}`, "has 1 {} placeholders but 2 values"},
		{"States.StringToJson($.s)", `{"s":"{"}`, "not valid"},
		{"States.StringToJson(1)", `{}`, "expected a string"},
		{"States.ArrayPartition($.a, 0)", `{"a":[1]}`, "positive integer"},
		{"States.ArrayPartition($.a, 'x')", `{"a":[1]}`, "expected an integer"},
		{"States.ArrayPartition(1, 1)", `{}`, "expected an array"},
		{"States.ArrayContains(1, 1)", `{}`, "expected an array"},
		{"States.ArrayRange(1, 2, 0)", `{}`, "must not be 0"},
		{"States.ArrayRange(1, 'a', 1)", `{}`, "expected an integer"},
		{"States.ArrayGetItem($.a, 0.5)", `{"a":[1]}`, "expected an integer index"},
		{"States.ArrayGetItem(1, 0)", `{}`, "expected an array"},
		{"States.ArrayLength(1)", `{}`, "expected an array"},
		{"States.ArrayUnique(1)", `{}`, "expected an array"},
		{"States.Base64Encode($.s)", `{"s":"` + strings.Repeat("a", 10001) + `"}`, "more than 10000 characters"},
		{"States.Base64Encode(1)", `{}`, "expected a string"},
		{"States.Base64Decode(1)", `{}`, "expected a string"},
		{"States.Hash($.s, 'MD5')", `{"s":"` + strings.Repeat("a", 10001) + `"}`, "more than 10000 characters"},
		{"States.Hash('a', 1)", `{}`, "expected a string"},
		{"States.JsonMerge(1, $.o, false)", `{"o":{}}`, "expected an object"},
		{"States.JsonMerge($.o, 1, false)", `{"o":{}}`, "expected an object"},
		{"States.JsonMerge($.o, $.o, 'no')", `{"o":{}}`, "only shallow merging"},
		{"States.MathRandom(5, 5)", `{}`, "must be greater than the start"},
		{"States.MathRandom('a', 5)", `{}`, "expected an integer"},
		{"States.MathRandom(1, 'b')", `{}`, "expected an integer"},
		{"States.MathRandom(1, 5, 'c')", `{}`, "expected an integer"},
		{"States.MathAdd(1, 'x')", `{}`, "expected an integer"},
		{"States.StringSplit(1, ',')", `{}`, "expected a string"},
		{"States.StringSplit('a', 1)", `{}`, "expected a string"},
		{"States.Array($.missing)", `{}`, "could not be found"},
		{"States.Array(States.ArrayLength(1))", `{}`, "expected an array"},
	} {
		got, f := evalIntrinsic(t, tc.expr, tc.input)
		if f == nil || f.Error != ErrRuntime || !strings.Contains(f.Cause, tc.want) {
			t.Errorf("%s = %s, %+v; want States.Runtime containing %q", tc.expr, got, f, tc.want)
		}
	}
}

func TestIntrinsicValues(t *testing.T) {
	for _, tc := range []struct{ expr, input, want string }{
		{"States.ArrayRange(3, 1, 1)", `{}`, `[]`},
		{"States.ArrayPartition($.a, 2)", `{"a":[]}`, `[]`},
		{"States.JsonToString($.v)", `{"v":"<&>"}`, `"\"<&>\""`},
		{"States.Format('{}', $.big)", `{"big":12345678901234567890}`, `"12345678901234567890"`},
		{"States.StringSplit('', ',')", `{}`, `[]`},
		{"States.MathAdd(-2147483648, 2147483647)", `{}`, `-1`},
		{"States.Array( 1 , 'a' , true , false , null )", `{}`, `[1,"a",true,false,null]`},
		{"States.Format('{}{}', $.a[0], $['b c'])", `{"a":["x"],"b c":"y"}`, `"xy"`},
	} {
		got, f := evalIntrinsic(t, tc.expr, tc.input)
		if f != nil || got != tc.want {
			t.Errorf("%s = %s, %+v; want %s", tc.expr, got, f, tc.want)
		}
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	for _, src := range []string{
		"States.Format", "(1)", "States.Format('{}')", "States.Format('a}')", "States.Format('a{b')", "States.Format(1)",
		"States.Array(1) trailing", "States.Array(1 2)", "States.Array('open)", "States.Array($.)", "States.Array(1.2.3)",
		"States.Array(,)", "States.MathRandom(1)", "States.UUID(1)", "States.Array(nullx)",
	} {
		if c, err := parseIntrinsic(src); err == nil {
			t.Errorf("parseIntrinsic(%q) = %+v, want an error", src, c)
		}
	}
	for _, s := range []intrinsicSpec{{1, -1, nil}, {2, 2, nil}, {2, 3, nil}} {
		if arity(s) == "" {
			t.Error("arity")
		}
	}
}
