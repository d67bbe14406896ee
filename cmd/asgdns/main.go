// Command asgdns is the operator's tool for the asgdns state machine:
// `asgdns check` finds, before the first launch, what the workflow would
// fail on, `asgdns executions` lists what ran and why it failed, `asgdns
// replay` redrives or restarts what failed. It uses the standard AWS
// configuration (profiles, AWS_REGION, AWS_ENDPOINT_URL), so it works the
// same against AWS and against the local stack.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/cmd/asgdns/internal/check"
	"github.com/asgdns/asgdns/cmd/asgdns/internal/operate"
)

// runFunc runs one subcommand with its arguments (after its name) and
// returns the exit code.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// command is one entry of the subcommand table.
type command struct {
	name    string
	summary string
	run     runFunc
}

// table is a set of subcommands, looked up by name.
type table []command

// commands is the subcommand table. Subcommands living in other files of
// this package (`sfn run …`, `local …`) add themselves from their own init
// functions with commands.register, so each stays in its own file.
var commands = table{
	{"check", check.CommandSummary, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return check.Run(ctx, checkEnv(stdout, stderr), args)
	}},
	{"executions", operate.ExecutionsUsage, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return operate.Executions(ctx, awsEnv(stdout, stderr), args)
	}},
	{"replay", operate.ReplayUsage, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return operate.Replay(ctx, awsEnv(stdout, stderr), args)
	}},
}

// register adds a subcommand. A name registered twice is a programming
// error, found by the first run of any test.
func (t *table) register(name, summary string, run runFunc) {
	if _, dup := t.lookup(name); dup {
		panic("asgdns: subcommand " + name + " registered twice")
	}
	*t = append(*t, command{name, summary, run})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to the subcommand named by args[0].
func (t table) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		t.usage(stderr)
		return operate.ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 { // asgdns help replay = asgdns replay -h
			if c, ok := t.lookup(rest[0]); ok {
				return c.run(ctx, []string{"-h"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "asgdns help: unknown command %q\n", rest[0])
			return operate.ExitUsage
		}
		t.usage(stdout)
		return operate.ExitOK
	}
	c, ok := t.lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "asgdns: unknown command %q\n\n", name)
		t.usage(stderr)
		return operate.ExitUsage
	}
	return c.run(ctx, rest, stdout, stderr)
}

func (t table) lookup(name string) (command, bool) {
	i := slices.IndexFunc(t, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return t[i], true
}

func (t table) usage(w io.Writer) {
	fmt.Fprint(w, "Usage: asgdns <command> [flags]\n\nCommands:\n")
	sorted := slices.SortedFunc(slices.Values(t), func(a, b command) int { return strings.Compare(a.name, b.name) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range sorted {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
Run 'asgdns help <command>' for a command's flags. AWS access uses the
standard configuration: AWS_PROFILE / --profile, AWS_REGION / --region,
AWS_ENDPOINT_URL (e.g. the local stack).

Exit codes: 0 done (a dry run included), 1 something failed (for check:
problems found), 2 bad usage.
`)
}

// awsEnv is the environment of a command run for real: the process's
// stdout and stderr, the wall clock, and AWS clients from the standard
// configuration.
func awsEnv(stdout, stderr io.Writer) operate.Env {
	return operate.Env{
		Stdout: stdout, Stderr: stderr, StderrIsTerminal: isTerminal(stderr),
		Connect: connect, Now: time.Now,
	}
}

// connect loads the standard AWS configuration. AWS_ENDPOINT_URL (and
// AWS_ENDPOINT_URL_SFN / _CLOUDFORMATION) are read by the SDK itself, which
// is all the local stack needs.
func connect(ctx context.Context, opts operate.ConnectOptions) (operate.Clients, error) {
	cfg, err := loadConfig(ctx, opts.Profile, opts.Region)
	if err != nil {
		return operate.Clients{}, err
	}
	return operate.Clients{SFN: sfn.NewFromConfig(cfg), CloudFormation: cloudformation.NewFromConfig(cfg)}, nil
}

// loadConfig loads the standard AWS configuration for an operator command:
// a profile and region if given, and a region required.
func loadConfig(ctx context.Context, profile, region string) (aws.Config, error) {
	var lo []func(*config.LoadOptions) error
	if profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		lo = append(lo, config.WithRegion(region))
	}
	// A listing of thousands may meet throttling despite the rate limits:
	// give the SDK's backoff a few more tries than its default three,
	// unless the operator chose.
	if _, set := os.LookupEnv("AWS_MAX_ATTEMPTS"); !set {
		lo = append(lo, config.WithRetryMaxAttempts(6))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS Region: set AWS_REGION, a region in the profile, or --region")
	}
	return cfg, nil
}

// isTerminal reports whether w is a character device (a terminal), without
// a dependency for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
