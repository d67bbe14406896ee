package statemachine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// tasks are the Task states whose Lambdas have testdata, and where it
// lives. Complete lifecycle action and Release instance run the same
// function, so they share its testdata.
var tasks = map[string]struct{ state, dir string }{
	"describe": {"Describe instance", "../functions/describe-instance/describe/testdata"},
	"assume":   {"Assume shared-services role", "../functions/assume-role/assume/testdata"},
	"send":     {"Send DNS command", "../functions/send-command/send/testdata"},
	"wait":     {"Wait for DNS command", "../functions/wait-for-command/wait/testdata"},
	"hold":     {"Hold instance", "../functions/hold-instance/hold/testdata"},
	"complete": {"Complete lifecycle action", "../functions/complete-lifecycle/complete/testdata"},
	"release":  {"Release instance", "../functions/complete-lifecycle/complete/testdata"},
}

// link says that task to's input <toInput> is task from's input
// <fromInput> plus its golden output <golden>: a result, or, when caught is
// set, the error as a Catch records it. Where it goes and which states come
// between are the definition's: the link names neither.
type link struct {
	from, fromInput, golden string
	caught                  bool
	to, toInput             string
}

// result and caught are links for a step's result and for its error.
func result(from, fromInput, golden, to, toInput string) link {
	return link{from, fromInput, golden, false, to, toInput}
}

func caught(from, fromInput, golden, to, toInput string) link {
	return link{from, fromInput, golden, true, to, toInput}
}

// chain lists the links: a launch and a termination through every step,
// the hold loop's next round on the next DC, a failure every instance
// would hit, a hold that runs out, and a launch that outlived its instance.
var chain = func() []link {
	var l []link
	for _, e := range []string{"launch", "launch-from-warm-pool", "launch-no-token", "terminate"} {
		l = append(l, result("describe", e, e, "assume", e), result("assume", e, e, "send", e),
			result("send", e, e, "wait", e), result("wait", e, e, "complete", e))
	}
	// No DNS work: the Choice goes to Complete lifecycle action (or ends);
	// AssumeRole refuses such a state if one ever reaches it.
	for _, e := range []string{"launch-into-warm-pool", "terminate-to-warm-pool", "launch-successful", "test-notification", "unknown"} {
		l = append(l, result("describe", e, e, "assume", e), result("describe", e, e, "complete", e))
	}
	return append(l,
		// A command still running when the poller's budget ran out: wait,
		// poll again.
		result("wait", "launch", "launch-running", "wait", "launch-still-running"),
		// The first DC never took the command: held, then the next DC.
		caught("wait", "launch", "launch-undeliverable", "hold", "launch-unavailable"),
		result("hold", "launch-unavailable", "launch-unavailable", "describe", "launch-held"),
		result("describe", "launch-held", "launch-held", "assume", "launch-held"),
		result("assume", "launch-held", "launch-held", "send", "launch-resend"),
		result("send", "launch-resend", "launch-resend", "wait", "launch-resent"),
		result("wait", "launch-resent", "launch-resent", "complete", "launch-after-hold"),
		// A termination's DNS server failed: held, the kept name removed.
		caught("wait", "terminate", "terminate-servfail", "hold", "terminate-unavailable"),
		result("hold", "terminate-unavailable", "terminate-unavailable", "describe", "terminate-held"),
		result("describe", "terminate-held", "terminate-held", "assume", "terminate-held"),
		result("assume", "terminate-held", "terminate-held", "send", "terminate-held"),
		result("send", "terminate-held", "terminate-held", "wait", "terminate-held"),
		// Failures every instance would hit.
		caught("wait", "launch", "launch-conflict", "release", "launch-conflict"),
		caught("describe", "launch-bad-zone", "launch-bad-zone", "release", "launch-failed-without-instance"),
		// The next DC never picked the command up: pending through the
		// polls until SSM's delivery timeout ended it, and the (smallest)
		// hold budget ran out meanwhile.
		result("wait", "launch-resent", "launch-resent-pending", "wait", "launch-resent-still-pending"),
		result("wait", "launch-resent-still-pending", "launch-resent-still-pending", "wait", "launch-resent-timed-out"),
		caught("wait", "launch-resent-timed-out", "launch-resent-timed-out", "hold", "launch-expired"),
		result("hold", "launch-expired", "launch-expired", "release", "launch-failed"),
		result("wait", "terminate-held", "terminate-held-pending", "wait", "terminate-held-still-pending"),
		result("wait", "terminate-held-still-pending", "terminate-held-still-pending", "wait", "terminate-held-timed-out"),
		caught("wait", "terminate-held-timed-out", "terminate-held-timed-out", "hold", "terminate-expired"),
		result("hold", "terminate-expired", "terminate-expired", "release", "terminate-failed"),
		// The launch outlived its instance: its record is removed.
		caught("complete", "launch", "launch-gone", "describe", "launch-outlived"),
		result("describe", "launch-outlived", "launch-outlived", "assume", "launch-outlived"),
		result("assume", "launch-outlived", "launch-outlived", "send", "launch-undo"),
		result("send", "launch-undo", "launch-undo", "wait", "launch-undo"),
		result("wait", "launch-undo", "launch-undo", "complete", "launch-undone"),
	)
}()

// testExecution is the execution every testdata payload belongs to.
const testExecution = "0d5c1f6e-asgdns-test-execution"

// roots are where the chains start besides the fixture events as
// delivered: a fixture event with its detail edited, and why.
var roots = []struct {
	input, event, why string
	detail            map[string]any
}{
	{"launch-bad-zone", "launch", "the ASG's metadata names a zone that is not a domain",
		map[string]any{"NotificationMetadata": `{"zone":"corp example;com"}`}},
}

// payload is a Task payload as testdata holds it.
type payload struct {
	Execution string                     `json:"execution"`
	State     map[string]json.RawMessage `json:"state"`
	Backoff   *workflow.Backoff          `json:"backoff"`
}

func readPayload(t *testing.T, task, name string) payload {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tasks[task].dir, name+".input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s/%s: %v", task, name, err)
	}
	return p
}

// transition is where the state document goes after from: the key the
// step's outcome is written at and the state that runs next, as the
// definition says. A result goes to the Task's ResultPath and Next; an
// error to the ResultPath and Next of the first Catch that names it.
func transition(d Definition, from string, golden []byte, isCaught bool) (key, next string, err error) {
	s := d.States[from]
	if !isCaught {
		var caughtErr workflow.CaughtError
		if json.Unmarshal(golden, &caughtErr) == nil && caughtErr.Error != "" {
			return "", "", fmt.Errorf("golden output is an error (%s): make the link caught", caughtErr.Error)
		}
		key, err = resultKey(s.ResultPath)
		return key, s.Next, err
	}
	var e workflow.CaughtError
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == "" {
		return "", "", fmt.Errorf("golden output is not an error as a Catch records it: %v", err)
	}
	for _, c := range s.Catch {
		if slices.Contains(c.ErrorEquals, e.Error) || slices.Contains(c.ErrorEquals, "States.ALL") {
			key, err = resultKey(c.ResultPath)
			return key, c.Next, err
		}
	}
	return "", "", fmt.Errorf("no Catch of %s names %s: the execution would fail there", from, e.Error)
}

// resultKey is the top-level key a ResultPath of the form $.key writes.
func resultKey(path string) (string, error) {
	key, ok := strings.CutPrefix(path, "$.")
	if !ok || key == "" || strings.ContainsAny(key, ".[") {
		return "", fmt.Errorf("ResultPath %q is not $.<key>", path)
	}
	return key, nil
}

// reaches reports whether the state document goes from state next to Task
// to unchanged: through Choice and Wait states only, which read the
// document and write nothing. A Task or Pass state between them would add
// its own key.
func reaches(d Definition, next, to string) bool {
	seen := map[string]bool{}
	var walk func(name string) bool
	walk = func(name string) bool {
		if name == to {
			return true
		}
		if seen[name] {
			return false
		}
		seen[name] = true
		s := d.States[name]
		if s.Type != "Choice" && s.Type != "Wait" {
			return false
		}
		return slices.ContainsFunc(s.NextStates(), walk)
	}
	return walk(next)
}

// TestFixturesChain: each step's testdata input is the state the machine
// really produces there (CONVENTIONS: fixtures chain): the previous step's
// input plus its golden output at the key the definition writes it to, on a
// transition the definition has. Every chain starts from a fixture event as
// delivered, and every input is on a chain.
func TestFixturesChain(t *testing.T) {
	d, err := Deployed()
	if err != nil {
		t.Fatal(err)
	}
	for name, task := range tasks {
		if s, ok := d.States[task.state]; !ok || s.Type != "Task" {
			t.Fatalf("%s: the definition has no Task state %q", name, task.state)
		}
	}
	covered := map[string]bool{} // testdata input paths
	for _, l := range chain {
		to := filepath.Join(tasks[l.to].dir, l.toInput+".input.json")
		covered[to] = true
		t.Run(l.to+"/"+l.toInput, func(t *testing.T) {
			from, got := readPayload(t, l.from, l.fromInput), readPayload(t, l.to, l.toInput)
			golden, err := os.ReadFile(filepath.Join(tasks[l.from].dir, l.golden+".golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			fromState, toState := tasks[l.from].state, tasks[l.to].state
			key, next, err := transition(d, fromState, golden, l.caught)
			if err != nil {
				t.Fatalf("%s/%s.golden.json from %s: %v", l.from, l.golden, fromState, err)
			}
			if !reaches(d, next, toState) {
				t.Fatalf("after %s (next: %s) the definition does not reach %s without another step writing to the state",
					fromState, next, toState)
			}
			want := maps.Clone(from.State)
			want[key] = golden
			if got.Execution != from.Execution {
				t.Errorf("execution %q, want %q", got.Execution, from.Execution)
			}
			for k := range merged(want, got.State) {
				if !lambdatest.JSONEqual(want[k], got.State[k]) {
					t.Errorf("%s/%s.input.json state.%s is\n%s\nwant (%s/%s.input.json, then %s/%s.golden.json at $.%s)\n%s",
						l.to, l.toInput, k, got.State[k], l.from, l.fromInput, l.from, l.golden, key, want[k])
				}
			}
			// The Task's own Parameters, beside the state.
			if wantBackoff := d.States[toState].Parameters.Backoff; !equalBackoff(got.Backoff, wantBackoff) {
				t.Errorf("%s/%s.input.json backoff %+v, want %s's Parameters' %+v", l.to, l.toInput, got.Backoff, toState, wantBackoff)
			}
		})
	}
	// Where the chains start: the fixture events as delivered…
	for _, e := range lambdatest.Fixtures(t) {
		covered[filepath.Join(tasks["describe"].dir, e+".input.json")] = true
		t.Run("describe/"+e, func(t *testing.T) {
			checkRoot(t, e, lambdatest.Event(t, e))
		})
	}
	// …and edited.
	for _, r := range roots {
		covered[filepath.Join(tasks["describe"].dir, r.input+".input.json")] = true
		t.Run("describe/"+r.input, func(t *testing.T) {
			var event map[string]any
			if err := json.Unmarshal(lambdatest.Event(t, r.event), &event); err != nil {
				t.Fatal(err)
			}
			maps.Copy(event["detail"].(map[string]any), r.detail)
			edited, err := json.Marshal(event)
			if err != nil {
				t.Fatal(err)
			}
			checkRoot(t, r.input, edited)
		})
	}
	// No input teaches a state nobody checked.
	inputs, err := filepath.Glob("../functions/*/*/testdata/*.input.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata inputs found under ../functions: %v", err)
	}
	for _, in := range inputs {
		if !covered[filepath.Clean(in)] {
			t.Errorf("%s is on no chain: link it to the step whose output it is, or start it from a fixture event", in)
		}
	}
}

// checkRoot asserts describe/<input>.input.json is event, as an execution
// starts with it.
func checkRoot(t *testing.T, input string, event []byte) {
	t.Helper()
	p := readPayload(t, "describe", input)
	got, err := json.Marshal(p.State)
	if err != nil {
		t.Fatal(err)
	}
	if !lambdatest.JSONEqual(got, event) || p.Execution != testExecution || p.Backoff != nil {
		t.Errorf("describe/%s.input.json is not the execution input %s", input, event)
	}
}

func equalBackoff(a, b *workflow.Backoff) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func merged(a, b map[string]json.RawMessage) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
