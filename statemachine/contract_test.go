package statemachine

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

// contractKeys are the JSON keys of workflow.State's own fields: what the
// steps add to the event.
func contractKeys(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	typ := reflect.TypeFor[workflow.State]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("workflow.State.%s has no JSON name", f.Name)
		}
		keys[name] = f.Name
	}
	if len(keys) == 0 {
		t.Fatal("workflow.State has no fields beyond the event")
	}
	return keys
}

// rawState is a state as the definition spells it: a ResultPath can be
// absent or null, which Definition does not tell apart from "".
type rawState struct {
	Type       string                     `json:"Type"`
	ResultPath json.RawMessage            `json:"ResultPath"`
	Result     json.RawMessage            `json:"Result"`
	Parameters map[string]json.RawMessage `json:"Parameters"`
	Catch      []struct {
		ResultPath json.RawMessage `json:"ResultPath"`
	} `json:"Catch"`
}

// writtenKeys are the keys of the state document the definition writes,
// with where: every Task's and Pass state's ResultPath, every Catch's, and
// the keys a Pass state without a ResultPath puts at the top.
func writtenKeys(t *testing.T) map[string][]string {
	t.Helper()
	var d struct {
		States map[string]rawState `json:"States"`
	}
	if err := json.Unmarshal(definitionJSON, &d); err != nil {
		t.Fatal(err)
	}
	written := map[string][]string{}
	seen := 0 // ResultPaths read, to compare with all the definition holds
	write := func(where string, path json.RawMessage) {
		seen++
		var p *string
		if err := json.Unmarshal(path, &p); err != nil || p == nil {
			t.Errorf("%s: ResultPath %s discards the result or is not a path: write it under a key of workflow.State", where, path)
			return
		}
		key, err := resultKey(*p)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		written[key] = append(written[key], where)
	}
	for name, s := range d.States {
		switch {
		case s.ResultPath != nil:
			write(name, s.ResultPath)
		case s.Type == "Task":
			t.Errorf("%s: no ResultPath, so its result replaces the whole state document", name)
		case s.Type == "Pass" && s.Parameters != nil:
			for k := range s.Parameters {
				written[strings.TrimSuffix(k, ".$")] = append(written[strings.TrimSuffix(k, ".$")], name+" (Parameters)")
			}
		case s.Type == "Pass" && s.Result != nil:
			var result map[string]json.RawMessage
			if err := json.Unmarshal(s.Result, &result); err != nil {
				t.Errorf("%s: Result replaces the state document with %s", name, s.Result)
			}
			for k := range result {
				written[k] = append(written[k], name+" (Result)")
			}
		}
		for i, c := range s.Catch {
			if c.ResultPath == nil {
				t.Errorf("%s: Catch %d has no ResultPath, so the error replaces the whole state document", name, i)
				continue
			}
			write(fmt.Sprintf("%s Catch %d", name, i), c.ResultPath)
		}
	}
	// Every ResultPath anywhere in the definition was one of those.
	if all := countKey(t, definitionJSON, "ResultPath"); all != seen {
		t.Errorf("the definition holds %d ResultPaths, these checks read %d: read the others too", all, seen)
	}
	return written
}

// countKey counts the objects in a JSON document that have key.
func countKey(t *testing.T, doc []byte, key string) int {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v[key]; ok {
				n++
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

// TestContractIsTheSourceOfTruth: every key the definition writes to the
// state document is a field of workflow.State (DESIGN §3: every key the
// machine can write is a field of the contract type), and every field of
// State beyond the event is written by the definition: no dead keys.
func TestContractIsTheSourceOfTruth(t *testing.T) {
	fields, written := contractKeys(t), writtenKeys(t)
	for key, where := range written {
		if _, ok := fields[key]; !ok {
			slices.Sort(where)
			t.Errorf("$.%s (written by %s) is no field of workflow.State: add it to the contract", key, strings.Join(where, ", "))
		}
	}
	for key, field := range fields {
		if _, ok := written[key]; !ok {
			t.Errorf("workflow.State.%s ($.%s) is written by no ResultPath of the definition: a dead key", field, key)
		}
	}
}

// TestSessionIsAProbe: $.session is AssumeRole's proof that the
// cross-account session works, and the record of which role and session
// name to look for in CloudTrail. No later step reads it: each assumes its
// own session, because credentials never pass through the state. So no
// code of the functions or of the contract they call reads State.Session.
func TestSessionIsAProbe(t *testing.T) {
	var files int
	for _, root := range []string{"../functions", "../workflow"} {
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			files++
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, pos := range sessionReads(f) {
				t.Errorf("%s: reads .Session: $.session is a probe, no step may depend on it", fset.Position(pos))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 12 {
		t.Fatalf("read only %d Go files under ../functions and ../workflow", files)
	}
	// The check finds a read where there is one.
	f, err := parser.ParseFile(token.NewFileSet(), "probe.go",
		"package p\nimport \"github.com/asgdns/asgdns/workflow\"\nfunc f(s workflow.State) string { return s.Session.RoleARN }\n", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessionReads(f)) != 1 {
		t.Error("sessionReads misses a read of State.Session")
	}
}

// sessionReads lists the selectors .Session in a file that are not a
// package's (config.Session is a type, not the state's field).
func sessionReads(f *ast.File) []token.Pos {
	imports := map[string]bool{}
	for _, imp := range f.Imports {
		name := strings.Trim(imp.Path.Value, `"`)
		name = name[strings.LastIndex(name, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = true
	}
	var reads []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Session" {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] {
			return true
		}
		reads = append(reads, sel.Pos())
		return true
	})
	return reads
}
