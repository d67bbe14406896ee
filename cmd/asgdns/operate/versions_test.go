package operate

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/asgdns/asgdns/workflow"
)

// Safe deploys: executions of every version are listed through the
// unqualified ARN, whatever the operator names; a restart starts on the
// deployed alias (the live definition), never on the unqualified ARN nor the
// version the failed execution ran.
func TestVersionsListUnqualifiedRestartOnAlias(t *testing.T) {
	const (
		alias = testStateMachine + ":live"
		v1    = testStateMachine + ":1"
		v2    = testStateMachine + ":2"
	)
	launch := event(t, "launch")
	lc := workflow.LifecycleResult{Completed: true, Result: workflow.Continue, Error: "CommandFailed"}
	for _, tc := range []struct {
		name    string
		args    []string
		outputs map[string]string
		aliases map[string]string
	}{
		{"the alias ARN", []string{"--state-machine-arn", alias}, nil, map[string]string{alias: v2}},
		{"a version ARN", []string{"--state-machine-arn", v1}, nil, map[string]string{alias: v2}},
		{"the unqualified ARN", []string{"--state-machine-arn", testStateMachine}, nil, map[string]string{testStateMachine + ":canary": v2, alias: v2}},
		{"the stack's outputs", []string{"--stack", "asgdns-prod"}, map[string]string{stackOutput: testStateMachine, stackAliasOutput: alias}, map[string]string{alias: v2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := failedAfterRelease(t, "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", 60, launch, lc)
			old.versionArn, old.aliasArn = v1, alias
			f := newFakeSFN(old, succeeded("a-new-one", 5, launch))
			f.execs[1].versionArn, f.execs[1].aliasArn = v2, alias
			f.aliases = tc.aliases
			te := newTestEnv(f)
			if tc.outputs != nil {
				te.cfn.outputs = tc.outputs
			}

			// executions: both versions, with their version.
			te.stdout.Reset()
			args := append([]string{"--json", "--read-rate", "1e6"}, tc.args...)
			if code := Executions(context.Background(), te.env(), args); code != ExitOK {
				t.Fatalf("executions exit %d; stderr: %s", code, te.stderr.String())
			}
			doc := decodeJSON[executionsDocument](t, te.stdout.Bytes())
			if doc.StateMachineARN != testStateMachine || doc.Count != 2 {
				t.Fatalf("executions of %s: %d, want 2 of %s", doc.StateMachineARN, doc.Count, testStateMachine)
			}
			var versions []int
			for _, e := range doc.Executions {
				if e.Version == nil || aws.ToString(e.AliasARN) != alias {
					t.Fatalf("%s: version %v alias %v", e.Name, e.Version, e.AliasARN)
				}
				versions = append(versions, *e.Version)
			}
			if !slices.Equal(versions, []int{2, 1}) {
				t.Errorf("versions %v, want [2 1] (newest first)", versions)
			}

			// replay --yes: the restart starts on the alias.
			te.stdout.Reset()
			args = append(append([]string{"--json", "--yes"}, fast...), tc.args...)
			if code := Replay(context.Background(), te.env(), args); code != ExitOK {
				t.Fatalf("replay exit %d; stderr: %s", code, te.stderr.String())
			}
			if len(f.starts) != 1 || aws.ToString(f.starts[0].StateMachineArn) != alias {
				t.Fatalf("starts %+v, want one on %s", f.starts, alias)
			}
			if n := f.count("ListStateMachineAliases"); tc.outputs != nil && n != 0 {
				t.Errorf("%d ListStateMachineAliases calls: the stack's output names the alias", n)
			}
			for _, in := range f.lists {
				if aws.ToString(in.StateMachineArn) != testStateMachine {
					t.Errorf("listed %s, want the unqualified %s", aws.ToString(in.StateMachineArn), testStateMachine)
				}
			}
		})
	}

	// Without an alias (a stack deployed before versions), restarts start on
	// the state machine itself.
	f := newFakeSFN(failedAfterRelease(t, "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", 60, launch, lc))
	te := newTestEnv(f)
	if code, _ := te.replay(t, "--yes"); code != ExitOK || len(f.starts) != 1 || aws.ToString(f.starts[0].StateMachineArn) != testStateMachine {
		t.Errorf("exit %d, starts %+v; want one on %s", code, f.starts, testStateMachine)
	}
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return v
}
