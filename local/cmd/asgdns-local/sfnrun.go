package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/asgdns/asgdns/cmd/asgdns/cli"
	"github.com/asgdns/asgdns/cmd/asgdns/operate"
	"github.com/asgdns/asgdns/local/asl"
)

// `asgdns-local sfn run` runs any state machine definition with the asl engine on
// this machine: on virtual time, so hours of Waits and retry backoff take
// milliseconds, and with a fixed seed and start time, so two runs print the
// same document. Task states are answered by a Step Functions Local mock
// configuration file, so teams leaving Step Functions Local keep their
// test files.

const sfnSummary = "`sfn run`: run a state machine definition here, on virtual time, with Step Functions Local mock files"

// sfnCommand is `asgdns-local sfn`; stdin is what `--input -` reads.
func sfnCommand(stdin io.Reader) cli.RunFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		switch {
		case len(args) > 0 && args[0] == "run":
			return sfnRun(ctx, args[1:], stdin, stdout, stderr)
		case len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]):
			return sfnRun(ctx, []string{"-h"}, stdin, stdout, stderr) // run is the only one
		case len(args) == 0:
			fmt.Fprint(stderr, "Usage: asgdns-local sfn run --definition FILE [flags]\n\nRun 'asgdns-local sfn run -h' for its flags.\n")
		default:
			fmt.Fprintf(stderr, "asgdns-local sfn: unknown command %q (want: run)\n", args[0])
		}
		return operate.ExitUsage
	}
}

// Every run starts at the same virtual time with the same random seed, so
// that timestamps, $$.Execution.StartTime, Timestamp Waits, retry jitter,
// execution names and States.UUID come out the same on every run.
const (
	sfnRunStartUnix = 1704067200 // 2024-01-01T00:00:00Z
	sfnRunSeed1     = 1
	sfnRunSeed2     = 2
	// sfnRunMachineARN prefixes the mock configuration's state machine
	// name, in the engine's placeholder region and account.
	sfnRunMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
)

// runFlags are the flags of `asgdns-local sfn run`.
type runFlags struct {
	definition   string
	input        string
	mockConfig   string
	stateMachine string
	testCase     string
	subs         substitutions
}

// substitutions is the repeatable --substitution Key=Value flag.
type substitutions asl.Substitutions

func (s *substitutions) String() string { return "" }

func (s *substitutions) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("%q is not Key=Value", v)
	}
	if _, dup := (*s)[key]; dup {
		return fmt.Errorf("%s is given twice", key)
	}
	if *s == nil {
		*s = substitutions{}
	}
	(*s)[key] = value
	return nil
}

// runDocument is what `asgdns-local sfn run` prints: every key is always
// present, null when there is no value.
type runDocument struct {
	Status      asl.Status         `json:"status"`
	Output      json.RawMessage    `json:"output"`
	Error       *string            `json:"error"`
	Cause       *string            `json:"cause"`
	Transitions int64              `json:"transitions"`
	Events      []asl.HistoryEvent `json:"events"`
}

func sfnRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("asgdns-local sfn run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.definition, "definition", "", "the state machine definition `FILE` (Amazon States Language, JSON); required")
	fs.StringVar(&f.input, "input", "", "the execution input, a JSON `FILE`, or - to read stdin (default {})")
	fs.StringVar(&f.mockConfig, "mock-config", "", "a Step Functions Local mock configuration `FILE` (MockConfigFile.json) answering the Task states")
	fs.StringVar(&f.stateMachine, "state-machine", "", "the `NAME` of the state machine in the mock configuration's StateMachines")
	fs.StringVar(&f.testCase, "test-case", "", "the `NAME` of the test case, in that state machine's TestCases")
	fs.Var(&f.subs, "substitution", "fill ${Key} in the definition, as DefinitionSubstitutions do: `Key=Value`; repeatable")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: asgdns-local sfn run --definition FILE [--input FILE|-] [--substitution Key=Value ...]
                      [--mock-config FILE --state-machine NAME --test-case NAME]

Runs the definition with the asgdns States Language engine on virtual time
(Waits and retry backoff take no real time; the start time and the random
seed are fixed, so every run prints the same) and prints one JSON object:
{"status", "output", "error", "cause", "transitions", "events"}, the events
shaped like GetExecutionHistory's.

Task states are answered by the chosen test case of a Step Functions Local
mock configuration, by state name and invocation number ("0", "1-2", ...).
A Return is the task's result as written, except for a Lambda function ARN
Resource, whose result is the Return's Payload (the Return being Lambda's
Invoke response, {"StatusCode": 200, "Payload": ...}); for
arn:aws:states:::lambda:invoke the whole Return is the result, nothing
added. A Throw {"Error", "Cause"} is the task's error. A Task state without
a mocked response fails as a resource that nothing answers does.

Exit codes: 0 the execution ran, whatever its status; 2 bad flags, an
invalid definition, input or mock configuration.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return operate.ExitOK
		}
		return operate.ExitUsage // flag printed the problem and the usage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "asgdns-local sfn run: %v\n", err)
		return operate.ExitUsage
	}
	if err := f.validate(fs.Args()); err != nil {
		return fail(err)
	}
	setup, err := prepareRun(f, stdin)
	if err != nil {
		return fail(err)
	}
	for _, w := range setup.mocks.warnings() {
		fmt.Fprintf(stderr, "asgdns-local sfn run: warning: %s\n", w)
	}

	eng := asl.NewEngine(asl.Options{
		Clock:     asl.NewVirtualClock(time.Unix(sfnRunStartUnix, 0).UTC()),
		Rand:      rand.New(rand.NewPCG(sfnRunSeed1, sfnRunSeed2)),
		Resources: setup.mocks.resources(),
		// A mocked lambda:invoke Return is the task's whole result, as Step
		// Functions Local reads it (sfnmock.go).
		InvokeResponses: true,
	})
	x, res, err := eng.Run(ctx, setup.def, asl.StartInput{Input: setup.input, StateMachineArn: setup.stateMachineARN})
	if err != nil {
		return fail(fmt.Errorf("the execution did not start: %w", err))
	}
	history := x.History()
	for _, n := range setup.mocks.notes(history) {
		fmt.Fprintf(stderr, "asgdns-local sfn run: note: %s\n", n)
	}
	doc := runDocument{Status: res.Status, Transitions: res.Transitions, Events: history}
	if res.Status == asl.StatusSucceeded {
		doc.Output = res.Output
	}
	if res.Error != "" {
		doc.Error = &res.Error
	}
	if res.Cause != "" {
		doc.Cause = &res.Cause
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // inputs and outputs are read by people and jq, not browsers
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(stderr, "asgdns-local sfn run: writing the result: %v\n", err)
		return operate.ExitFailed
	}
	return operate.ExitOK
}

// validate checks the flags together, before any file is read.
func (f runFlags) validate(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q (flags only)", rest[0])
	case f.definition == "":
		return fmt.Errorf("--definition FILE is required")
	case f.mockConfig != "" && (f.stateMachine == "" || f.testCase == ""):
		return fmt.Errorf("--mock-config needs --state-machine NAME and --test-case NAME to choose the test case")
	case f.mockConfig == "" && (f.stateMachine != "" || f.testCase != ""):
		return fmt.Errorf("--state-machine and --test-case choose a test case of --mock-config FILE, which is missing")
	}
	return nil
}

// runSetup is everything a run needs, read and checked.
type runSetup struct {
	def             *asl.Definition
	input           json.RawMessage
	mocks           *taskMocks
	stateMachineARN string
}

// stateMachineName is what a state machine name may hold (CreateStateMachine).
var stateMachineName = regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)

func prepareRun(f runFlags, stdin io.Reader) (*runSetup, error) {
	src, err := os.ReadFile(f.definition)
	if err != nil {
		return nil, fmt.Errorf("--definition: %v", err)
	}
	def, err := asl.Parse(src, asl.Substitutions(f.subs))
	if err != nil {
		return nil, definitionProblem(f.definition, err)
	}
	input, err := readInput(f.input, stdin)
	if err != nil {
		return nil, err
	}
	s := &runSetup{def: def, input: input, mocks: &taskMocks{tasks: def.Tasks()}}
	if f.mockConfig == "" {
		return s, nil
	}
	data, err := os.ReadFile(f.mockConfig)
	if err != nil {
		return nil, fmt.Errorf("--mock-config: %v", err)
	}
	cfg, err := parseMockConfig(data)
	if err != nil {
		return nil, fmt.Errorf("--mock-config %s: %v", f.mockConfig, err)
	}
	if s.mocks, err = cfg.testCase(f.stateMachine, f.testCase, s.mocks.tasks); err != nil {
		return nil, fmt.Errorf("--mock-config %s: %v", f.mockConfig, err)
	}
	if stateMachineName.MatchString(f.stateMachine) {
		// $$.StateMachine.Name is the mock configuration's name for it.
		s.stateMachineARN = sfnRunMachineARN + f.stateMachine
	}
	return s, nil
}

// definitionProblem lists what asl.Parse found, one problem per line, with
// a hint when a substitution is missing.
func definitionProblem(file string, err error) error {
	var de *asl.DefinitionError
	if !errors.As(err, &de) {
		return fmt.Errorf("invalid definition %s: %v", file, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid definition %s:", file)
	hint := false
	for _, p := range de.Problems {
		fmt.Fprintf(&b, "\n  %s", p)
		hint = hint || strings.HasPrefix(p, "DefinitionSubstitutions:")
	}
	if hint {
		b.WriteString("\n(give each placeholder a value with --substitution Key=Value)")
	}
	return errors.New(b.String())
}

// readInput reads --input: a file, - for stdin, {} when not given.
func readInput(name string, stdin io.Reader) (json.RawMessage, error) {
	var (
		data []byte
		err  error
	)
	switch name {
	case "":
		return json.RawMessage("{}"), nil
	case "-":
		data, err = io.ReadAll(stdin)
		name = "- (stdin)"
	default:
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("--input: %v", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return json.RawMessage("{}"), nil // as StartExecution without input
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("--input %s is not valid JSON: %v", name, err)
	}
	return data, nil
}
