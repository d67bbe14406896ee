// Package cli is the subcommand table shared by the operator's binary
// (asgdns) and the local rig's (asgdns-local): dispatch by name, help, and
// the exit codes.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Exit codes of every subcommand.
const (
	ExitOK     = 0 // done (a dry run included)
	ExitFailed = 1 // something failed (for check: problems found)
	ExitUsage  = 2 // bad usage
)

// RunFunc runs one subcommand with its arguments (after its name) and
// returns the exit code.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Command is one entry of a subcommand table.
type Command struct {
	Name    string
	Summary string
	Run     RunFunc
}

// Table is a program's subcommands, looked up by name.
type Table struct {
	// Program is the binary's name, for usage lines.
	Program string
	// Footer ends the usage text (environment, exit codes).
	Footer   string
	Commands []Command
}

// Main runs the subcommand named by the process's arguments until it ends
// or the process is interrupted, and exits with its code.
func (t Table) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := t.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run dispatches to the subcommand named by args[0].
func (t Table) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		t.usage(stderr)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 { // asgdns help replay = asgdns replay -h
			if c, ok := t.lookup(rest[0]); ok {
				return c.Run(ctx, []string{"-h"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "%s help: unknown command %q\n", t.Program, rest[0])
			return ExitUsage
		}
		t.usage(stdout)
		return ExitOK
	}
	c, ok := t.lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", t.Program, name)
		t.usage(stderr)
		return ExitUsage
	}
	return c.Run(ctx, rest, stdout, stderr)
}

func (t Table) lookup(name string) (Command, bool) {
	i := slices.IndexFunc(t.Commands, func(c Command) bool { return c.Name == name })
	if i < 0 {
		return Command{}, false
	}
	return t.Commands[i], true
}

func (t Table) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", t.Program)
	sorted := slices.SortedFunc(slices.Values(t.Commands), func(a, b Command) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range sorted {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun '%s help <command>' for a command's flags.%s", t.Program, t.Footer)
}

// ConnectOptions are the AWS configuration flags common to the commands;
// empty means "as the standard AWS configuration says".
type ConnectOptions struct {
	Profile string
	Region  string
}

// Env is what a command needs from the process around it; C is the AWS
// clients it works with.
type Env[C any] struct {
	Stdout io.Writer
	Stderr io.Writer
	// StderrIsTerminal says a person is watching: progress on stderr is
	// then worth showing (in a log it is noise).
	StderrIsTerminal bool
	// Connect builds the clients once the flags are valid, so a usage
	// error never needs credentials.
	Connect func(ctx context.Context, opts ConnectOptions) (C, error)
	// Now is the clock (relative times, durations, run names).
	Now func() time.Time
}
