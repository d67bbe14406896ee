package operate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func TestParseStateMachineARN(t *testing.T) {
	for _, tc := range []struct {
		arn, prefix string
	}{
		{testStateMachine, testExecPrefix},
		{"arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dns", "arn:aws-cn:states:cn-north-1:123456789012:execution:dns:"},
		{"arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:DnsRegistration-Ab12", "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:DnsRegistration-Ab12:"},
		{"arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns:prod", ""},  // alias
		{"arn:aws:states:eu-west-1:111111111111:execution:asgdns:58dbb6fe", ""}, // an execution
		{"arn:aws:lambda:eu-west-1:111111111111:function:asgdns", ""},           // not Step Functions
		{"arn:aws:states:eu-west-1:1111:stateMachine:asgdns", ""},               // short account
		{"asgdns", ""}, // a name
		{" arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns", ""},                    // stray space
		{"arn:aws:states:eu-west-1:111111111111:stateMachine:" + strings.Repeat("a", 81), ""}, // name too long
	} {
		prefix, err := parseStateMachineARN(tc.arn)
		if prefix != tc.prefix || (err == nil) != (tc.prefix != "") {
			t.Errorf("parseStateMachineARN(%q) = %q, %v; want %q", tc.arn, prefix, err, tc.prefix)
		}
	}
}

// executionName is what Step Functions accepts as an execution name.
var executionName = regexp.MustCompile("^[^\\s?*<>{}\\[\\]:;,\\\\|^~$#%&`\"/\\x00-\\x1f\\x7f-\\x9f]{1,80}$")

func TestReplayName(t *testing.T) {
	uuid := "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe" // EventBridge names executions with a UUID
	long := strings.Repeat("x", 78)
	for _, tc := range []struct{ name, want string }{
		{uuid, "replay-" + uuid},
		{"replay-" + uuid, "replay-replay-" + uuid}, // a replay of a replay
		{strings.Repeat("a", 73), "replay-" + strings.Repeat("a", 73)},
	} {
		if got := replayName(tc.name); got != tc.want {
			t.Errorf("replayName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Too long for the prefix: shortened, still unique and deterministic.
	for _, name := range []string{long, long + "y", strings.Repeat("é", 80), strings.Repeat("a-", 40)} {
		got := replayName(name)
		if n := utf8.RuneCountInString(got); n > maxNameLen || !executionName.MatchString(got) {
			t.Errorf("replayName(%q) = %q (%d characters): not a valid execution name", name, got, n)
		}
		if !strings.HasPrefix(got, replayPrefix) || got != replayName(name) {
			t.Errorf("replayName(%q) = %q: want a deterministic replay- name", name, got)
		}
	}
	if replayName(long) == replayName(long+"y") {
		t.Error("two long names share a replay name")
	}
}

func TestRedriveToken(t *testing.T) {
	a0 := redriveToken(testExecPrefix+"a", 0)
	if a0 != redriveToken(testExecPrefix+"a", 0) {
		t.Error("token is not deterministic")
	}
	for _, other := range []string{redriveToken(testExecPrefix+"a", 1), redriveToken(testExecPrefix+"b", 0)} {
		if other == a0 {
			t.Errorf("token %q repeats for another execution or redrive", other)
		}
	}
	if !regexp.MustCompile(`^[!-~]{1,64}$`).MatchString(redriveToken(testExecPrefix+strings.Repeat("x", 80), 123456)) {
		t.Errorf("token %q is not 1-64 printable ASCII characters", a0)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-11-20T08:15:42Z", want: time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC)},
		{in: "2026-11-20T09:15:42+01:00", want: time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC)},
		{in: "2h", want: testNow.Add(-2 * time.Hour)},
		{in: "90m", want: testNow.Add(-90 * time.Minute)},
		{in: "7d", want: testNow.Add(-7 * 24 * time.Hour)},
		{in: "1d12h", want: testNow.Add(-36 * time.Hour)},
		{in: "-2h", bad: true},
		{in: "0s", bad: true},
		{in: "2 hours", bad: true},
		{in: "2026-11-20", bad: true},
		{in: "99999999999999999999d", bad: true},
	} {
		got, err := parseTime(tc.in, testNow)
		if (err != nil) != tc.bad || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestLimiterSpacesCalls(t *testing.T) {
	l := newLimiter(100) // one call per 10 ms
	start := time.Now()
	for range 6 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("6 calls at 100/s took %v, want at least 50ms", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := newLimiter(0.001)
	_ = slow.Wait(ctx) // the first call goes at once
	if err := slow.Wait(ctx); err == nil {
		t.Error("Wait ignored a cancelled context")
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	p.start("planning", 4)
	p.step()
	p.step()
	p.finish()
	want := "\rplanning  [                              ] 0/4" +
		"\rplanning  [=======                       ] 1/4" +
		"\rplanning  [===============               ] 2/4" +
		"\r\033[K"
	if buf.String() != want {
		t.Errorf("progress wrote %q\nwant %q", buf.String(), want)
	}

	buf.Reset()
	off := newProgress(&buf, false) // not a terminal
	off.start("planning", 4)
	off.step()
	off.finish()
	if buf.Len() != 0 {
		t.Errorf("progress without a terminal wrote %q", buf.String())
	}
}

// TestStateNamesMatchTheDefinition pins the state names replay decides on
// to the state machine definition: renaming a state there must fail here.
func TestStateNamesMatchTheDefinition(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachine", "asgdns.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			Type      string
			Next      string
			ErrorPath string
			Catch     []struct{ Next string }
		}
	}
	if err := json.Unmarshal(data, &def); err != nil {
		t.Fatal(err)
	}
	release, ok := def.States[stateReleaseInstance]
	if !ok || release.Type != "Task" || release.Next != stateDNSWorkFailed ||
		len(release.Catch) != 1 || release.Catch[0].Next != stateReleaseFailed {
		t.Errorf("%q: want a Task going on to %q, caught into %q: %+v", stateReleaseInstance, stateDNSWorkFailed, stateReleaseFailed, release)
	}
	for _, name := range []string{stateDNSWorkFailed, stateReleaseFailed} {
		if def.States[name].Type != "Fail" {
			t.Errorf("%q is not a Fail state in the definition", name)
		}
	}
	// afterRelease reads the release's result from $.lifecycle.
	if got := def.States[stateDNSWorkFailed].ErrorPath; got != "$.lifecycle.error" {
		t.Errorf("%q reports %s; replay expects the release's result under $.lifecycle", stateDNSWorkFailed, got)
	}
}

func TestLastStateReadsBackAcrossPages(t *testing.T) {
	input := event(t, "launch")
	e := failed("many-retries", 5, input, types.HistoryEventTypeExecutionTimedOut, throughPoll...)
	// A long poll: 250 events after the poller was entered, so the last
	// state entered is on the third page of 100, read newest first.
	end := e.history[len(e.history)-1]
	e.history = e.history[:len(e.history)-1]
	for range 250 {
		e.history = append(e.history, types.HistoryEvent{Type: types.HistoryEventTypeLambdaFunctionFailed})
	}
	e.history = append(e.history, end)
	f := newFakeSFN(e)
	r := &reader{sfn: f, limit: newLimiter(0), concurrency: 1, progress: newProgress(io.Discard, false), now: time.Now}
	got, err := r.lastState(context.Background(), e.arn())
	if err != nil || got.State != "Wait for DNS command" || got.Type != types.HistoryEventTypeTaskStateEntered {
		t.Errorf("lastState = %+v, %v; want Wait for DNS command", got, err)
	}
	if n := f.count("GetExecutionHistory"); n != 3 {
		t.Errorf("%d GetExecutionHistory calls, want 3", n)
	}

	// No state entered at all (e.g. aborted at once): a zero ending.
	bare := failed("bare", 6, input, types.HistoryEventTypeExecutionAborted)
	f = newFakeSFN(bare)
	r.sfn = f
	if got, err := r.lastState(context.Background(), bare.arn()); err != nil || got.State != "" {
		t.Errorf("lastState = %+v, %v; want no state", got, err)
	}
}

func TestDecideEdges(t *testing.T) {
	launch := Execution{input: event(t, "launch")}
	launch.readInput()
	for _, tc := range []struct {
		name         string
		status       types.ExecutionRedriveStatus
		reason       string
		end          ending
		action       Action
		reasonPhrase string
	}{
		{"aborted before any state, redrivable", types.ExecutionRedriveStatusRedrivable, "", ending{},
			ActionRedrive, "stopped before entering any state before the instance was released"},
		{"not redrivable, no reason given", types.ExecutionRedriveStatusNotRedrivable, "", ending{State: "Describe instance"},
			ActionRestart, "cannot be redriven (redriveStatus NOT_REDRIVABLE)"},
		{"fail state input is not JSON", types.ExecutionRedriveStatusRedrivable, "", ending{State: stateDNSWorkFailed, Input: "{"},
			ActionRestart, "the release's result is unreadable"},
		{"fail state input without $.lifecycle", types.ExecutionRedriveStatusRedrivable, "", ending{State: stateDNSWorkFailed, Input: launch.input},
			ActionRestart, "the release's result is unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := launch
			e.redriveStatus, e.redriveStatusReason = tc.status, tc.reason
			action, reason := decide(e, tc.end)
			if action != tc.action || !strings.Contains(reason, tc.reasonPhrase) {
				t.Errorf("decide = %s, %q; want %s, containing %q", action, reason, tc.action, tc.reasonPhrase)
			}
		})
	}
}
