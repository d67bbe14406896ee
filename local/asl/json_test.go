package asl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`null`, `true`, `false`, `0`, `-0.5e+10`, `12345678901234567890`, `"plain"`,
		`"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`,
		`[]`, `{}`, ` [ 1 , [ 2 , { "a" : [ ] } ] ] `, `{"a":{"b":{"c":null}},"d":[true,false]}`,
		"\"raw \xff byte\"", "\"caf\u00e9 \u2028\"",
	} {
		got, err := parseJSON([]byte(in))
		if err != nil {
			t.Errorf("parseJSON(%q): %v", in, err)
			continue
		}
		var want any
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", in, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Errorf("parseJSON(%q) = %s, encoding/json = %s", in, a, b)
		}
		// appendJSON output must read back to the same value.
		round, err := parseJSON([]byte(toJSON(got)))
		if err != nil || !jsonEqual(round, got) {
			t.Errorf("round trip of %q: %s (%v)", in, toJSON(got), err)
		}
	}
}

func TestParseJSONRejectsInvalid(t *testing.T) {
	for _, in := range []string{
		``, ` `, `nul`, `tru`, `01`, `1.`, `1e`, `-`, `+1`, `.5`, `"abc`, `"\x"`, `"\u12"`, `"\uZZZZ"`, "\"tab\there\"",
		`[1,]`, `[1 2]`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{"a":1 "b":2}`, `[`, `{`, `{"a":1`, `1 2`, `"\`, `@`,
		strings.Repeat("[", maxJSONDepth+2),
	} {
		if v, err := parseJSON([]byte(in)); err == nil {
			t.Errorf("parseJSON(%q) = %v, want an error", in, v)
		}
	}
}

func TestAppendJSONDoesNotEscapeHTML(t *testing.T) {
	v := map[string]any{"html": "<a href='x'>&</a>", "ctl": "\x01\x1f", "bad": "\xff", "n": json.Number("1.50"),
		"i": 3, "i64": int64(-4), "f": 2.5, "nan": jsonNaN(), "other": struct{ A int }{1}, "arr": []any{}}
	got := toJSON(v)
	want := `{"arr":[],"bad":"\ufffd","ctl":"\u0001\u001f","f":2.5,"html":"<a href='x'>&</a>","i":3,"i64":-4,"n":1.50,"nan":null,"other":{"A":1}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if toJSON(make(chan int)) != "null" {
		t.Error("unmarshalable value")
	}
}

func jsonNaN() float64 {
	zero := 0.0
	return zero / zero
}

func TestJSONHelpers(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{{nil, "null"}, {true, "boolean"}, {json.Number("1"), "number"}, {1, "number"}, {"s", "string"}, {[]any{}, "array"}, {map[string]any{}, "object"}, {struct{}{}, "struct {}"}} {
		if got := typeName(tc.v); got != tc.want {
			t.Errorf("typeName(%v) = %s", tc.v, got)
		}
	}
	if n, ok := number(json.Number("1e400")); !ok || n < 1e308 {
		t.Errorf("overflow: %v %v", n, ok)
	}
	if _, ok := number(json.Number("x")); ok {
		t.Error("number accepted x")
	}
	if n, ok := number(int64(3)); !ok || n != 3 {
		t.Error("int64")
	}
	if n, ok := number(2.5); !ok || n != 2.5 {
		t.Error("float64")
	}
	if i, ok := integer(json.Number("3.0")); !ok || i != 3 {
		t.Error("3.0 is an integer")
	}
	if _, ok := integer(json.Number("3.5")); ok {
		t.Error("3.5 is not an integer")
	}
	if !jsonEqual(json.Number("1"), json.Number("1.0")) || jsonEqual("1", json.Number("1")) || jsonEqual(nil, false) ||
		!jsonEqual([]any{true, nil}, []any{true, nil}) || jsonEqual([]any{1}, []any{}) ||
		jsonEqual(map[string]any{"a": 1}, map[string]any{"b": 1}) || jsonEqual(map[string]any{}, []any{}) || jsonEqual(true, "true") {
		t.Error("jsonEqual")
	}
}

// FuzzParseJSON checks the decoder against encoding/json: both accept the
// same texts, and accepted texts round-trip.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\ud83d\ude00"`, `-0`, `[]`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseJSON(data)
		valid := json.Valid(data)
		if (err == nil) != valid {
			t.Fatalf("parseJSON(%q) error %v, encoding/json valid %v", data, err, valid)
		}
		if err != nil {
			return
		}
		back, err := parseJSON([]byte(toJSON(got)))
		if err != nil || !jsonEqual(back, got) {
			t.Fatalf("round trip of %q failed: %v", data, err)
		}
	})
}
