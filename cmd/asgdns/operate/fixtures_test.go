package operate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

// eventsDir holds the workflow's fixture events: real-shaped EventBridge
// events, the execution inputs of the state machine.
var eventsDir = filepath.Join("..", "..", "..", "workflow", "testdata", "events")

// event reads a fixture event, optionally changing its detail.
func event(t *testing.T, fixture string, edits ...func(detail map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir, fixture+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return string(data)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	detail := doc["detail"].(map[string]any)
	for _, edit := range edits {
		edit(detail)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func group(asg string) func(map[string]any) {
	return func(d map[string]any) { d["AutoScalingGroupName"] = asg }
}

func instance(id string) func(map[string]any) {
	return func(d map[string]any) { d["EC2InstanceId"] = id }
}

// stateDocument is the state document as "DNS work failed" receives it:
// the event, the caught error, and the release's result in $.lifecycle.
// keptInstance is the $.instance a failed execution holds: the record it
// was registering or removing.
var keptInstance = workflow.InstanceResult{Action: workflow.ActionDeregister, InstanceID: "i-0a1b2c3d4e5f60718", ASG: "web-prod",
	Record: &workflow.Record{Hostname: "web-prod-i-0a1b2c3d4e5f60718", Zone: "corp.example.com",
		FQDN: "web-prod-i-0a1b2c3d4e5f60718.corp.example.com", TTL: 300}}

func stateDocument(t *testing.T, input string, lc workflow.LifecycleResult) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(input), &doc); err != nil {
		t.Fatal(err)
	}
	doc["instance"] = keptInstance
	doc["error"] = workflow.CaughtError{Error: lc.Error, Cause: `{"errorMessage":"` + lc.Error + ` on the DC","errorType":"` + lc.Error + `"}`}
	doc["lifecycle"] = lc
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// entered is a state the execution entered, with the input it received.
type entered struct {
	name  string
	typ   types.HistoryEventType
	input string
}

func task(name string) entered {
	return entered{name: name, typ: types.HistoryEventTypeTaskStateEntered}
}

// history builds a GetExecutionHistory event list (ascending) of an
// execution that entered states in order and ended with end. The last state
// entered is followed by what happened inside it, as in a real history:
// the last StateEntered event is not simply the last event.
func history(start time.Time, input string, end types.HistoryEventType, states ...entered) []types.HistoryEvent {
	var events []types.HistoryEvent
	add := func(ev types.HistoryEvent) {
		ev.Id = int64(len(events) + 1)
		ev.PreviousEventId = ev.Id - 1
		ev.Timestamp = aws.Time(start.Add(time.Duration(ev.Id) * time.Second))
		events = append(events, ev)
	}
	add(types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted,
		ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{Input: aws.String(input)}})
	for i, st := range states {
		in := st.input
		if in == "" {
			in = input
		}
		add(types.HistoryEvent{Type: st.typ, StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(st.name), Input: aws.String(in)}})
		last := i == len(states)-1
		if st.typ == types.HistoryEventTypeTaskStateEntered {
			add(types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionScheduled})
			add(types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionStarted})
			if last {
				add(types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionFailed})
				continue
			}
			add(types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionSucceeded})
		}
		if !last {
			add(types.HistoryEvent{Type: types.HistoryEventType(string(st.typ[:len(st.typ)-len("Entered")]) + "Exited"),
				StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(st.name)}})
		}
	}
	add(types.HistoryEvent{Type: end})
	return events
}

// The paths through the state machine that the scenarios use.
var (
	throughSend = []entered{task("Describe instance"), {name: "Route by event", typ: types.HistoryEventTypeChoiceStateEntered},
		task("Assume shared-services role"), task("Send DNS command")}
	throughPoll = append(throughSend[:len(throughSend):len(throughSend)], task("Wait for DNS command"))
)

// failedAfterRelease is an execution that ended in "DNS work failed" after
// the release completed the lifecycle action with lc.
func failedAfterRelease(t *testing.T, name string, minutesAgo int, input string, lc workflow.LifecycleResult) *fakeExecution {
	t.Helper()
	doc := stateDocument(t, input, lc)
	path := append(throughPoll[:len(throughPoll):len(throughPoll)], task("Release instance"),
		entered{name: "DNS work failed", typ: types.HistoryEventTypeFailStateEntered, input: doc})
	e := failed(name, minutesAgo, input, types.HistoryEventTypeExecutionFailed, path...)
	e.err, e.cause = lc.Error, lc.Cause
	return e
}

// failed is a redrivable execution that stopped in the last of states.
func failed(name string, minutesAgo int, input string, end types.HistoryEventType, states ...entered) *fakeExecution {
	start := testNow.Add(-time.Duration(minutesAgo) * time.Minute)
	status := map[types.HistoryEventType]types.ExecutionStatus{
		types.HistoryEventTypeExecutionFailed:   types.ExecutionStatusFailed,
		types.HistoryEventTypeExecutionTimedOut: types.ExecutionStatusTimedOut,
		types.HistoryEventTypeExecutionAborted:  types.ExecutionStatusAborted,
	}[end]
	return &fakeExecution{
		name: name, status: status, start: start, stop: start.Add(95 * time.Second), input: input,
		redriveStatus: types.ExecutionRedriveStatusRedrivable,
		history:       history(start, input, end, states...),
	}
}

// succeeded is an execution that did its work.
func succeeded(name string, minutesAgo int, input string) *fakeExecution {
	start := testNow.Add(-time.Duration(minutesAgo) * time.Minute)
	return &fakeExecution{
		name: name, status: types.ExecutionStatusSucceeded, start: start, stop: start.Add(12 * time.Second), input: input,
		redriveStatus: types.ExecutionRedriveStatusNotRedrivable, redriveReason: "Execution is SUCCEEDED and cannot be redriven",
		history: history(start, input, types.HistoryEventTypeExecutionSucceeded, task("Describe instance")),
	}
}

// testEnv runs commands against the fakes with the test clock.
type testEnv struct {
	sfn            *fakeSFN
	cfn            *fakeCloudFormation
	connects       int
	stdout, stderr bytes.Buffer
}

func newTestEnv(f *fakeSFN) *testEnv {
	return &testEnv{sfn: f, cfn: &fakeCloudFormation{stack: "asgdns-prod", outputs: map[string]string{stackOutput: testStateMachine}}}
}

func (te *testEnv) env() Env {
	return Env{
		Stdout: &te.stdout, Stderr: &te.stderr, Now: func() time.Time { return testNow },
		Connect: func(context.Context, ConnectOptions) (Clients, error) {
			te.connects++
			return Clients{SFN: te.sfn, CloudFormation: te.cfn}, nil
		},
	}
}

// fast lifts the rate limits so tests of thousands of calls take no time;
// limiter_test proves the limits themselves.
var fast = []string{"--read-rate", "1e6", "--rate", "1e6"}

func (te *testEnv) replay(t *testing.T, args ...string) (int, replayDocument) {
	t.Helper()
	te.stdout.Reset()
	te.stderr.Reset()
	args = append(append([]string{"--state-machine-arn", testStateMachine, "--json"}, fast...), args...)
	code := Replay(context.Background(), te.env(), args)
	var doc replayDocument
	if err := json.Unmarshal(te.stdout.Bytes(), &doc); err != nil {
		t.Fatalf("replay %v: exit %d, output is not JSON: %v\nstdout: %s\nstderr: %s", args, code, err, te.stdout.String(), te.stderr.String())
	}
	return code, doc
}

func (te *testEnv) executions(t *testing.T, args ...string) (int, executionsDocument) {
	t.Helper()
	te.stdout.Reset()
	te.stderr.Reset()
	args = append([]string{"--state-machine-arn", testStateMachine, "--json", "--read-rate", "1e6"}, args...)
	code := Executions(context.Background(), te.env(), args)
	var doc executionsDocument
	if err := json.Unmarshal(te.stdout.Bytes(), &doc); err != nil {
		t.Fatalf("executions %v: exit %d, output is not JSON: %v\nstdout: %s\nstderr: %s", args, code, err, te.stdout.String(), te.stderr.String())
	}
	return code, doc
}
