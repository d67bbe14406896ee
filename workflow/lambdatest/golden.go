package lambdatest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Golden compares got, as JSON, with the golden file at path; with -update it
// writes the file instead.
func Golden(t testing.TB, path string, got any) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	data = append(data, '\n')
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if !JSONEqual(want, data) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", filepath.Base(path), data, want)
	}
}

// JSONEqual reports whether a and b hold the same JSON value.
func JSONEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// EventPath is the path of a fixture event in workflow/testdata/events.
func EventPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "events", name+".json")
}

// Event reads a fixture event.
func Event(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(EventPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Fixtures lists the fixture events by name.
func Fixtures(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(EventPath("*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture events found at %s", EventPath("*"))
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p[:len(p)-len(".json")])
	}
	return names
}

// Input reads testdata/<name>.input.json, a Task payload.
func Input(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".input.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// WithState returns testdata/<name>.input.json with its state document
// changed by change.
func WithState(t testing.TB, name string, change func(state map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(Input(t, name), &req); err != nil {
		t.Fatal(err)
	}
	change(req["state"].(map[string]any))
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// stepKeys are the sections the steps add to the event in the state document.
var stepKeys = []string{"instance", "session", "command", "invocation", "commandError", "hold", "error", "lifecycle", "releaseError"}

// CheckInputIsEvent asserts that testdata/<input>.input.json's state is the
// fixture event as delivered plus only the steps' results, so testdata
// cannot drift from the fixtures.
func CheckInputIsEvent(t *testing.T, input, event string) {
	t.Helper()
	var req struct {
		State map[string]json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(Input(t, input), &req); err != nil {
		t.Fatal(err)
	}
	for _, k := range stepKeys {
		delete(req.State, k)
	}
	got, err := json.Marshal(req.State)
	if err != nil {
		t.Fatal(err)
	}
	if !JSONEqual(got, Event(t, event)) {
		t.Errorf("testdata/%s.input.json is not fixture event %s:\n%s", input, event, got)
	}
}
