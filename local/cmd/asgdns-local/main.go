// Command asgdns-local is the local rig: `asgdns-local serve` runs the
// whole workflow on this machine (the AWS endpoint, the real function
// binaries, the real state machine on the States Language engine, BIND),
// `asgdns-local demo` shows it working, and `asgdns-local sfn run` runs any
// state machine definition on virtual time. The operator's own commands
// (check, executions, replay) are the product's binary, cmd/asgdns, which
// links none of this.
package main

import (
	"context"
	"io"
	"os"

	"github.com/asgdns/asgdns/cmd/asgdns/cli"
)

var commands = cli.Table{
	Program: "asgdns-local",
	Footer: `
Exit codes: 0 done, 1 something failed, 2 bad usage.
`,
	Commands: []cli.Command{
		{Name: "serve", Summary: "run the whole workflow on this machine and print the environment a client needs", Run: localSubcommand("serve")},
		{Name: "demo", Summary: "start the local stack and show the workflow working, checked step by step", Run: localSubcommand("demo")},
		{Name: "sfn", Summary: sfnSummary, Run: sfnCommand(os.Stdin)},
	},
}

// localSubcommand runs `serve` or `demo`, which share their flags.
func localSubcommand(name string) cli.RunFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return localCommand(ctx, append([]string{name}, args...), stdout, stderr)
	}
}

func main() { commands.Main() }
