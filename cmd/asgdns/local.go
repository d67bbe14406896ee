package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asgdns/asgdns/cmd/asgdns/internal/operate"
	"github.com/asgdns/asgdns/local/cloud/bind"
	"github.com/asgdns/asgdns/local/stack"
)

func init() {
	commands.register("local", "`local serve` runs the whole workflow on this machine; `local demo` shows it working", localCommand)
}

func localCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "demo") {
		fmt.Fprint(stderr, `Usage: asgdns local serve [--addr 127.0.0.1:4566] [--asg web-demo,...] [--accounts 111111111111,...]
                          [--stack-name asgdns] [--trust-by-organization] [--repo DIR]
       asgdns local demo  [--repo DIR] [--verbose]

serve starts the local stack (AWS endpoint, real function binaries, the real
state machine, BIND) and prints the environment a client needs; Ctrl-C stops it.
Each of --accounts deploys the application stack (named --stack-name); the
shared-services stack gets one role and document per account, trusting the
function roles by ARN, or with --trust-by-organization by principal tag.
demo starts it, scales a demo ASG out and in, breaks and mends DNS, replays the
failed execution, and checks every step with real DNS queries.
`)
		return operate.ExitUsage
	}
	fs := flag.NewFlagSet("asgdns local "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "the asgdns repository (default: found from the working directory)")
	addr := fs.String("addr", "127.0.0.1:4566", "listen address (serve)")
	asgs := fs.String("asg", demoASG, "comma-separated ASG names the deployment serves (serve)")
	accounts := fs.String("accounts", stack.AppAccount, "comma-separated application accounts, each with a deployment (serve; the first is the operator's)")
	stackName := fs.String("stack-name", stack.StackName, "the application stacks' name: CloudFormation generates role names from it (serve)")
	byOrg := fs.Bool("trust-by-organization", false, "the shared-services roles trust asgdns's principal tag in the organization, not role ARNs (serve)")
	verbose := fs.Bool("verbose", false, "show the stack's and the functions' logs (demo)")
	if err := fs.Parse(args[1:]); err != nil {
		return operate.ExitUsage
	}
	root, err := repoRoot(*repo)
	if err != nil {
		fmt.Fprintf(stderr, "asgdns local: --repo: %v\n", err)
		return operate.ExitUsage
	}
	if err := bind.Require(); err != nil {
		fmt.Fprintf(stderr, "asgdns local: %v\n", err)
		return operate.ExitFailed
	}
	if args[0] == "demo" {
		return runDemo(ctx, root, *verbose, stdout, stderr)
	}
	s, err := stack.Start(ctx, stack.Options{RepoRoot: root, Addr: *addr, ASGNames: strings.Split(*asgs, ","),
		Accounts: strings.Split(*accounts, ","), StackName: *stackName, TrustByOrganization: *byOrg, Log: stderr, FunctionLogs: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "asgdns local: %v\n", err)
		return operate.ExitFailed
	}
	defer s.Close()
	fmt.Fprintf(stdout, "asgdns local stack on %s (DNS: 127.0.0.1:%d, zone %s). For clients:\n\n", s.URL, s.DNS.Port(), stack.Zone)
	for _, kv := range s.OperatorEnv() {
		fmt.Fprintf(stdout, "  export %s\n", kv)
	}
	for _, d := range s.Deployments[1:] {
		fmt.Fprintf(stdout, "\nAccount %s: operator AWS_ACCESS_KEY_ID=%s (same secret), state machine %s", d.Account, d.OperatorKeyID, d.StateMachineARN)
	}
	fmt.Fprintf(stdout, "\nState machine: %s\nCtrl-C stops it.\n", s.StateMachineARN)
	<-ctx.Done()
	return operate.ExitOK
}

// repoRoot finds the repository: the given folder, or the nearest parent of
// the working directory holding go.work and template.yaml.
func repoRoot(given string) (string, error) {
	dir := given
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		dir = wd
	}
	for d := dir; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.work")) && exists(filepath.Join(d, "template.yaml")) {
			return filepath.Abs(d)
		}
		if given != "" || filepath.Dir(d) == d {
			return "", errors.New(dir + " is not the asgdns repository (no go.work and template.yaml)")
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func elapsed(since time.Time) string { return time.Since(since).Round(100 * time.Millisecond).String() }
