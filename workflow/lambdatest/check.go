package lambdatest

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// FixtureHooks are the lifecycle hooks the fixture events name, as a
// deployment lists them in ASGDNS_HOOK_NAMES.
var FixtureHooks = workflow.HookNames{"dns-launch", "dns-terminate"}

// JSONLogger is a handler's logger as Lambda runs it: JSON lines to w, from
// level up.
func JSONLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// InputOr returns input, or testdata/<name>.input.json when input is nil:
// for tables whose cases change the input only when they need to.
func InputOr(t testing.TB, input []byte, name string) []byte {
	t.Helper()
	if input == nil {
		return Input(t, name)
	}
	return input
}

// Caught is a routed error as a Catch records it in the state ($.error,
// $.commandError): the name, and Lambda's error payload as the cause.
func Caught(t testing.TB, err error) workflow.CaughtError {
	t.Helper()
	cause, mErr := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{err.Error(), workflow.Routed(err)})
	if mErr != nil {
		t.Fatal(mErr)
	}
	return workflow.CaughtError{Error: workflow.Routed(err), Cause: string(cause)}
}

// Failure asserts err is a failure the state machine routes by the name
// want, and that its message contains each of inMsg. got is the step's
// result, shown when there is no error at all.
func Failure(t testing.TB, got any, err error, want string, inMsg ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got %+v, want a %s", got, want)
	}
	if name := workflow.Routed(err); name != want {
		t.Fatalf("error %T (%v), want %s", err, err, want)
	}
	ErrorContains(t, err, inMsg...)
}

// ErrorContains asserts err's message contains each of want.
func ErrorContains(t testing.TB, err error, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err.Error(), s)
		}
	}
}

// Produced records the error names a table's cases produce, so the table
// can assert it has a case for every name its step returns.
type Produced map[string]bool

// Expect reports each of names no case produced.
func (p Produced) Expect(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if !p[name] {
			t.Errorf("no case produces %s", name)
		}
	}
}

// LogsContain asserts the logs contain each of want.
func LogsContain(t testing.TB, logs string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %s:\n%s", w, logs)
		}
	}
}

// Secrets are what no output, error or log line may contain: the fake
// credentials the fake STS (in-process or on the wire) hands out, and extra
// (an ExternalId, key material).
func Secrets(extra ...string) []string {
	return append([]string{FakeAccessKeyID, FakeSecretAccessKey, FakeSessionToken}, extra...)
}

// AssertNoSecrets reports each of secrets that text, the step's what
// (output, error, logs), contains.
func AssertNoSecrets(t testing.TB, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains %q:\n%s", what, s, text)
		}
	}
}

// CheckNoSecrets asserts none of secrets appears in out (a step's output,
// as JSON), in err's message or in logs, and that something was logged at
// all: an empty log would prove nothing.
func CheckNoSecrets(t testing.TB, out any, err error, logs string, secrets []string) {
	t.Helper()
	data, mErr := json.Marshal(out)
	if mErr != nil {
		t.Fatal(mErr)
	}
	AssertNoSecrets(t, "output", string(data), secrets)
	if err != nil {
		AssertNoSecrets(t, "error", err.Error(), secrets)
	}
	AssertNoSecrets(t, "logs", logs, secrets)
	if logs == "" {
		t.Error("nothing logged: the check for secrets in the logs proves nothing")
	}
}

// EnvCase is one value of an environment variable holding a duration: its
// value, whether it is set at all, and the duration wanted, or Bad for a
// value refused as InvalidConfig.
type EnvCase struct {
	Value string
	Set   bool
	Want  time.Duration
	Bad   bool
}

// CheckEnvDuration runs load, with only the variable name in the
// environment (set to the case's value, when Set), for each case: a Bad
// value must be an InvalidConfig whose message contains each of inMsg, any
// other the duration wanted.
func CheckEnvDuration(t *testing.T, name string, load func(config.Lookup) (time.Duration, error), cases []EnvCase, inMsg ...string) {
	t.Helper()
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.Value), func(t *testing.T) {
			got, err := load(func(k string) (string, bool) {
				if k == name && tc.Set {
					return tc.Value, true
				}
				return "", false
			})
			if tc.Bad {
				if workflow.Routed(err) != "InvalidConfig" || !containsAll(err.Error(), inMsg) {
					t.Fatalf("got %v, %v; want an InvalidConfig naming %s (%q)", got, err, name, inMsg)
				}
				return
			}
			if err != nil || got != tc.Want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.Want)
			}
		})
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// EnvWithout looks variables up in env as a function's environment,
// leaving name out: an init test's way to take one required variable away.
func EnvWithout(env map[string]string, name string) config.Lookup {
	return func(k string) (string, bool) {
		if k == name {
			return "", false
		}
		v, ok := env[k]
		return v, ok
	}
}
