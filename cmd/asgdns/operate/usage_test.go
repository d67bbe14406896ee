package operate

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestUsageAndExitCodes(t *testing.T) {
	arn := []string{"--state-machine-arn", testStateMachine}
	for _, tc := range []struct {
		name    string
		replay  bool
		args    []string
		code    int
		stderr  string // a phrase stderr must contain
		connect bool   // whether AWS configuration may be loaded
	}{
		{name: "neither state machine nor stack", args: nil, code: ExitUsage,
			stderr: "--state-machine-arn or --stack is required"},
		{name: "both state machine and stack", args: append(arn, "--stack", "asgdns-prod"), code: ExitUsage,
			stderr: "--state-machine-arn and --stack: give one, not both"},
		{name: "malformed ARN", args: []string{"--state-machine-arn", "arn:aws:states:eu-west-1:111111111111:execution:asgdns:x"},
			code: ExitUsage, stderr: "--state-machine-arn: \"arn:aws:states:eu-west-1:111111111111:execution:asgdns:x\" is not a state machine ARN"},
		// A version or alias ARN is accepted (listing uses the unqualified
		// ARN); a qualifier that is neither is not.
		{name: "qualifier that is neither version nor alias", args: []string{"--state-machine-arn", testStateMachine + ":live:3"}, code: ExitUsage,
			stderr: "optionally :<alias> or :<version>"},
		{name: "since after until", args: append(arn, "--since", "1h", "--until", "2h"), code: ExitUsage,
			stderr: "--since 2026-11-20T11:00:00Z is after --until 2026-11-20T10:00:00Z"},
		{name: "bad since", args: append(arn, "--since", "yesterday"), code: ExitUsage,
			stderr: `--since: "yesterday" is neither an RFC 3339 time`},
		{name: "bad until", args: append(arn, "--until", "2026-11-20"), code: ExitUsage, stderr: "--until:"},
		{name: "unknown status", args: append(arn, "--status", "FAILED,BROKEN"), code: ExitUsage,
			stderr: `invalid value "FAILED,BROKEN" for flag -status: unknown status "BROKEN"`},
		{name: "bad instance", args: append(arn, "--instance", "web-1"), code: ExitUsage,
			stderr: `--instance "web-1" is not an EC2 instance id`},
		{name: "bad read rate", args: append(arn, "--read-rate", "0"), code: ExitUsage, stderr: "--read-rate must be more than 0"},
		{name: "unknown flag", args: append(arn, "--colour"), code: ExitUsage, stderr: "flag provided but not defined: -colour"},
		{name: "stray argument", args: append(arn, "FAILED"), code: ExitUsage, stderr: `unexpected argument "FAILED"`},
		{name: "help", args: []string{"-h"}, code: ExitOK, stderr: "Usage: asgdns executions"},
		{name: "replay: status it does not replay", replay: true, args: append(arn, "--status", "SUCCEEDED"), code: ExitUsage,
			stderr: "--status SUCCEEDED: replay selects only FAILED, TIMED_OUT, ABORTED"},
		{name: "replay: bad rate", replay: true, args: append(arn, "--rate", "-1"), code: ExitUsage,
			stderr: "--rate must be more than 0"},
		{name: "replay: help", replay: true, args: []string{"--help"}, code: ExitOK, stderr: "Usage: asgdns replay"},
		{name: "stack that does not exist", args: []string{"--stack", "asgdns-dev"}, code: ExitUsage, connect: true,
			stderr: `--stack "asgdns-dev": Stack with id asgdns-dev does not exist`},
		{name: "stack", args: []string{"--stack", "asgdns-prod"}, code: ExitOK, connect: true},
		{name: "replay: stack", replay: true, args: []string{"--stack", "asgdns-prod"}, code: ExitOK, connect: true},
		{name: "dry run that plans", replay: true, args: append(arn, "--rate", "1e6"), code: ExitOK, connect: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := world(t)
			te := newTestEnv(f)
			run := Executions
			if tc.replay {
				run = Replay
			}
			// No waiting on rate limits; a --read-rate under test comes later and wins.
			args := append([]string{"--read-rate", "1e6"}, tc.args...)
			code := run(context.Background(), te.env(), args)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, te.stderr.String())
			}
			if !strings.Contains(te.stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", te.stderr.String(), tc.stderr)
			}
			if (te.connects > 0) != tc.connect {
				t.Errorf("connected %d times; want connect %v", te.connects, tc.connect)
			}
			if n := f.count("RedriveExecution") + f.count("StartExecution"); n != 0 {
				t.Errorf("%d mutating calls", n)
			}
		})
	}
}

func TestStackWithoutOutput(t *testing.T) {
	te := newTestEnv(newFakeSFN())
	te.cfn.outputs = map[string]string{"SomethingElse": "x"}
	code := Executions(context.Background(), te.env(), []string{"--stack", "asgdns-prod"})
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if want := `--stack "asgdns-prod" has no StateMachineArn output`; !strings.Contains(te.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", te.stderr.String(), want)
	}
}

func TestAWSFailuresExitOne(t *testing.T) {
	t.Run("configuration", func(t *testing.T) {
		te := newTestEnv(newFakeSFN())
		env := te.env()
		env.Connect = func(context.Context, ConnectOptions) (Clients, error) {
			return Clients{}, errors.New("failed to get shared config profile, ops")
		}
		code := Executions(context.Background(), env, []string{"--state-machine-arn", testStateMachine, "--profile", "ops"})
		if code != ExitFailed || !strings.Contains(te.stderr.String(), "AWS configuration: failed to get shared config profile") {
			t.Errorf("exit %d, stderr %q", code, te.stderr.String())
		}
	})
	t.Run("listing", func(t *testing.T) {
		f := newFakeSFN()
		f.fail["ListExecutions"] = errors.New("AccessDeniedException: not authorized to perform states:ListExecutions")
		te := newTestEnv(f)
		for _, run := range []func(context.Context, Env, []string) int{Executions, Replay} {
			te.stderr.Reset()
			code := run(context.Background(), te.env(), []string{"--state-machine-arn", testStateMachine})
			if code != ExitFailed || !strings.Contains(te.stderr.String(), "list executions of "+testStateMachine+": AccessDeniedException") {
				t.Errorf("exit %d, stderr %q", code, te.stderr.String())
			}
		}
	})
	t.Run("describing", func(t *testing.T) {
		f, _ := world(t)
		f.fail["DescribeExecution fine-launch"] = errors.New("ThrottlingException")
		te := newTestEnv(f)
		code := Executions(context.Background(), te.env(), []string{"--state-machine-arn", testStateMachine, "--read-rate", "1e6"})
		if code != ExitFailed || !strings.Contains(te.stderr.String(), "describe execution "+testExecPrefix+"fine-launch: ThrottlingException") {
			t.Errorf("exit %d, stderr %q", code, te.stderr.String())
		}
	})
}
