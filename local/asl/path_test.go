package asl

import (
	"strings"
	"testing"
)

func TestPathErrors(t *testing.T) {
	for _, src := range []string{
		"", "a.b", "$.", "$..", "$[", "$[1", "$['a'", "$[?(@.a == 1]", "$[?@.a]", "$[?(@.a =)]",
		"$[?(@.a == 'x)]", "$[1,a]", "$[1:2,3]", "$[::1:]", "$x.", "$9x", "$[?(@.a == 1e)]", "$[?(!@.a", "$[?(@.a && )]", "$[]",
	} {
		if p, err := parsePath(src); err == nil {
			t.Errorf("parsePath(%q) = %+v, want an error", src, p)
		}
	}
}

func TestPathEval(t *testing.T) {
	root, _ := parseJSON([]byte(`{"a":[0,1,2,3,4,5],"o":{"x":1,"y":{"x":2}},"s":"str","list":[{"n":1,"t":"a"},{"n":2,"t":"b"},{"n":3}]}`))
	for _, tc := range []struct{ path, want string }{
		{"$.a[1:3]", "[1,2]"},
		{"$.a[-2:]", "[4,5]"},
		{"$.a[:2]", "[0,1]"},
		{"$.a[::2]", "[0,2,4]"},
		{"$.a[::-2]", "[5,3,1]"},
		{"$.a[4:1:-1]", "[4,3,2]"},
		{"$.a[1:2:0]", "[]"},
		{"$.a[-1]", "5"},
		{"$.a[0,-1,9]", "[0,5]"},
		{"$..x", "[1,2]"},
		{"$.o.*", "[1,{\"x\":2}]"},
		{"$.a.*", "[0,1,2,3,4,5]"},
		{"$..*.x", "[1,2]"},
		{"$.o[?(@.x)]", "[{\"x\":1,\"y\":{\"x\":2}}]"},
		{"$.list[?(@.t)].n", "[1,2]"},
		{"$.list[?(@.n >= 2 && @.n <= 2)].n", "[2]"},
		{"$.list[?(@.n > 2 || @.t == \"a\")].n", "[1,3]"},
		{"$.list[?(@.t != 'a')].n", "[2]"}, // a missing field compares false
		{"$.list[?(@.t < 'b')].n", "[1]"},
		{"$.list[?(@.t > 'a')].n", "[2]"},
		{"$.list[?(@.n == true)].n", "[]"},
		{"$.list[?(@.x == null)].n", "[]"},
		{"$.list[?(@.n < 'z')].n", "[]"},
		{"$.list[?(@.n != false)].n", "[1,2,3]"},
		{"$.list[?(@ == 1)]", "[]"},
		{"$.s[0]", ""},
		{"$.s.x", ""},
		{"$.a[9]", ""},
		{"$.s[*]", "[]"},
		{"$.s[1:]", "[]"},
		{"$.o['x','nope']", "[1]"},
	} {
		p, err := parsePath(tc.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tc.path, err)
			continue
		}
		v, ok := p.eval(root)
		got := ""
		if ok {
			got = toJSON(v)
		}
		if got != tc.want {
			t.Errorf("%s = %s, want %s", tc.path, got, tc.want)
		}
	}
	if p, _ := parsePath("$.a"); p.String() != "$.a" {
		t.Error(p.String())
	}
}

func TestPathSet(t *testing.T) {
	root, _ := parseJSON([]byte(`{"a":[{"b":1}],"n":null,"s":"x"}`))
	for _, tc := range []struct{ path, want string }{
		{"$", `7`},
		{"$.a[0].b", `{"a":[{"b":7}],"n":null,"s":"x"}`},
		{"$.a[-1].c", `{"a":[{"b":1,"c":7}],"n":null,"s":"x"}`},
		{"$.new.deep", `{"a":[{"b":1}],"n":null,"new":{"deep":7},"s":"x"}`},
		{"$.a[1]", "error"},
		{"$.s.x", "error"},
		{"$.n.x", "error"},
		{"$.s[0]", "error"},
	} {
		p, err := parsePath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.set(root, 7)
		got := "error"
		if err == nil {
			got = toJSON(out)
		}
		if got != tc.want {
			t.Errorf("set %s = %s (%v), want %s", tc.path, got, err, tc.want)
		}
	}
	// The original is unchanged: set copies what it changes.
	if toJSON(root) != `{"a":[{"b":1}],"n":null,"s":"x"}` {
		t.Errorf("set modified its input: %s", toJSON(root))
	}
	p := &path{steps: []step{{kind: stepWildcard}}}
	if _, err := p.set(root, 1); err == nil || !strings.Contains(err.Error(), "reference path") {
		t.Error(err)
	}
}

func TestVariableNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"x": true, "_": false, "a_b": true, "café": true, "ΔT": true, "x1": true, "a-b": false, "1x": false, "": false,
		strings.Repeat("v", 80): true, strings.Repeat("v", 81): false, "a\u0301": true,
	} {
		if got := validVariableName(name); got != ok {
			t.Errorf("validVariableName(%q) = %v", name, got)
		}
	}
}
