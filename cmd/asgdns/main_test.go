package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // phrases the output must contain
		stderr string
	}{
		{name: "no command", args: nil, code: 2, stderr: "Usage: asgdns <command>"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "  executions  list executions"},
		{name: "help lists replay", args: []string{"--help"}, code: 0, stdout: "  replay      replay failed"},
		{name: "help lists reconcile", args: []string{"help"}, code: 0, stdout: "  reconcile   run one reconciliation now"},
		{name: "help for a command", args: []string{"help", "replay"}, code: 0, stderr: "Usage: asgdns replay"},
		{name: "help for reconcile", args: []string{"help", "reconcile"}, code: 0, stderr: "Usage: asgdns reconcile (--stack NAME | --function NAME)"},
		{name: "help for an unknown command", args: []string{"help", "fly"}, code: 2, stderr: `unknown command "fly"`},
		{name: "unknown command", args: []string{"fly"}, code: 2, stderr: `asgdns: unknown command "fly"`},
		// Usage errors are found before any AWS configuration is loaded.
		{name: "executions without a state machine", args: []string{"executions"}, code: 2,
			stderr: "asgdns executions: --state-machine-arn or --stack is required"},
		{name: "replay with a bad status", args: []string{"replay", "--stack", "asgdns", "--status", "RUNNING"}, code: 2,
			stderr: "asgdns replay: --status RUNNING: replay selects only FAILED, TIMED_OUT, ABORTED"},
		{name: "reconcile with an unknown mode", args: []string{"reconcile", "--stack", "asgdns", "--mode", "delete"}, code: 2,
			stderr: `asgdns reconcile: --mode "delete": want report`},
		{name: "reconcile with both stack and function", args: []string{"reconcile", "--stack", "asgdns", "--function", "f"}, code: 2,
			stderr: "asgdns reconcile: --stack and --function: give one, not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := commands.Run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout:\n%s\nwant it to contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}
