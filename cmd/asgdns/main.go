// Command asgdns is the operator's tool for the asgdns state machine:
// `asgdns check` finds, before the first launch, what the workflow would
// fail on, `asgdns executions` lists what ran and why it failed, `asgdns
// replay` redrives or restarts what failed, `asgdns reconcile` runs one
// reconciliation now and shows its plan. It uses the standard AWS
// configuration (profiles, AWS_REGION, AWS_ENDPOINT_URL), so it works the
// same against AWS and against the local stack. It links nothing of the
// local rig (TestLinksNoRig).
package main

import (
	"context"
	"io"

	"github.com/asgdns/asgdns/cmd/asgdns/cli"
	"github.com/asgdns/asgdns/cmd/asgdns/internal/check"
	"github.com/asgdns/asgdns/cmd/asgdns/internal/reconcile"
	"github.com/asgdns/asgdns/cmd/asgdns/operate"
)

// commands is the subcommand table.
var commands = cli.Table{
	Program: "asgdns",
	Footer: `
AWS access uses the standard configuration: AWS_PROFILE / --profile,
AWS_REGION / --region, AWS_ENDPOINT_URL (e.g. the local stack).

Exit codes: 0 done (a dry run included), 1 something failed (for check:
problems found; for reconcile: the run failed), 2 bad usage.
`,
	Commands: []cli.Command{
		{Name: "check", Summary: check.CommandSummary, Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return check.Run(ctx, checkEnv(stdout, stderr), args)
		}},
		{Name: "executions", Summary: operate.ExecutionsUsage, Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return operate.Executions(ctx, operate.AWSEnv(stdout, stderr), args)
		}},
		{Name: "reconcile", Summary: reconcile.CommandSummary, Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return reconcile.Run(ctx, reconcileEnv(stdout, stderr), args)
		}},
		{Name: "replay", Summary: operate.ReplayUsage, Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return operate.Replay(ctx, operate.AWSEnv(stdout, stderr), args)
		}},
	},
}

func main() { commands.Main() }
