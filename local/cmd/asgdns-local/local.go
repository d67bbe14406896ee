package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asgdns/asgdns/cmd/asgdns/operate"
	"github.com/asgdns/asgdns/local/bind"
	"github.com/asgdns/asgdns/local/cloud"
	"github.com/asgdns/asgdns/local/stack"
)

func localCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "demo") {
		fmt.Fprint(stderr, `Usage: asgdns-local serve [--addr 127.0.0.1:4566] [--asg web-demo,...] [--accounts 111111111111,...]
                          [--stack-name asgdns] [--trust-by-organization] [--repo DIR]
                          [--throttle service:Operation=RATE/BURST ...] [--dc-workers 5]
                          [--command-duration 500ms]
       asgdns-local demo  [--repo DIR] [--verbose]

serve starts the local stack (AWS endpoint, real function binaries, the real
state machine, BIND) and prints the environment a client needs; Ctrl-C stops it.
Each of --accounts deploys the application stack (named --stack-name); the
shared-services stack gets one role and document per account, trusting the
function roles by ARN, or with --trust-by-organization by principal tag.
--throttle, --dc-workers and --command-duration put the world under load: API
throttling per account, a DC that runs a bounded number of commands at once,
each taking longer.
demo starts it, scales a demo ASG out and in, breaks and mends DNS, replays the
failed execution, and checks every step with real DNS queries.
`)
		return operate.ExitUsage
	}
	fs := flag.NewFlagSet("asgdns-local "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "the asgdns repository (default: found from the working directory)")
	addr := fs.String("addr", "127.0.0.1:4566", "listen address (serve)")
	asgs := fs.String("asg", demoASG, "comma-separated ASG names the deployment serves (serve)")
	accounts := fs.String("accounts", stack.AppAccount, "comma-separated application accounts, each with a deployment (serve; the first is the operator's)")
	stackName := fs.String("stack-name", stack.StackName, "the application stacks' name: CloudFormation generates role names from it (serve)")
	byOrg := fs.Bool("trust-by-organization", false, "the shared-services roles trust asgdns's principal tag in the organization, not role ARNs (serve)")
	throttle := map[string]cloud.Rate{}
	fs.Func("throttle", "throttle an API per account: service:Operation=RATE/BURST, RATE calls a second with bursts of BURST,\n"+
		"e.g. ssm:SendCommand=5/10 or ssm:*=20/40 for each SSM operation; repeatable (serve)", func(v string) error {
		key, rate, err := parseThrottle(v)
		if err != nil {
			return err
		}
		if _, dup := throttle[key]; dup {
			return fmt.Errorf("%s is throttled twice: give each service:Operation once", key)
		}
		throttle[key] = rate
		return nil
	})
	dcWorkers := fs.Int("dc-workers", 0, "how many commands the DC runs at once; more wait their turn (serve; 0: the SSM agent's default, 5)")
	commandDuration := fs.Duration("command-duration", 0, "extra time each command takes on the DC, e.g. 500ms (serve)")
	verbose := fs.Bool("verbose", false, "show the stack's and the functions' logs (demo)")
	if err := fs.Parse(args[1:]); err != nil {
		return operate.ExitUsage
	}
	if *dcWorkers < 0 {
		fmt.Fprintf(stderr, "asgdns-local: --dc-workers %d: the DC runs at least one command at a time; give 1 or more (or 0 for the agent's default, 5)\n", *dcWorkers)
		return operate.ExitUsage
	}
	if *commandDuration < 0 {
		fmt.Fprintf(stderr, "asgdns-local: --command-duration %s: a duration cannot be negative; give e.g. 500ms, or 0 for none\n", *commandDuration)
		return operate.ExitUsage
	}
	root, err := repoRoot(*repo)
	if err != nil {
		fmt.Fprintf(stderr, "asgdns-local: --repo: %v\n", err)
		return operate.ExitUsage
	}
	if err := bind.Require(); err != nil {
		fmt.Fprintf(stderr, "asgdns-local: %v\n", err)
		return operate.ExitFailed
	}
	if args[0] == "demo" {
		return runDemo(ctx, root, *verbose, stdout, stderr)
	}
	s, err := stack.Start(ctx, stack.Options{RepoRoot: root, Addr: *addr, ASGNames: strings.Split(*asgs, ","),
		Accounts: strings.Split(*accounts, ","), StackName: *stackName, TrustByOrganization: *byOrg,
		Throttle: throttle, AgentWorkers: *dcWorkers, CommandDuration: *commandDuration, Log: stderr, FunctionLogs: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "asgdns-local: %v\n", err)
		return operate.ExitFailed
	}
	defer stop(s, stderr)
	fmt.Fprintf(stdout, "asgdns-local stack on %s (DNS: 127.0.0.1:%d, zone %s). For clients:\n\n", s.URL, s.DNS.Port(), stack.Zone)
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

// stop stops the stack, and says so if something of it would not stop.
func stop(s *stack.Stack, stderr io.Writer) {
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "asgdns-local: stopping the stack: %v\n", err)
	}
}

// parseThrottle reads a --throttle value, service:Operation=RATE/BURST. The
// flag package names the flag and the value with the error.
func parseThrottle(v string) (string, cloud.Rate, error) {
	const want = "want service:Operation=RATE/BURST, e.g. ssm:SendCommand=5/10 (5 calls a second, bursts of 10)"
	key, spec, ok := strings.Cut(v, "=")
	perSecond, burst, ok2 := strings.Cut(spec, "/")
	if !ok || !ok2 {
		return "", cloud.Rate{}, errors.New(want)
	}
	var r cloud.Rate
	var err error
	if r.PerSecond, err = strconv.ParseFloat(perSecond, 64); err != nil || !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 1) {
		return "", cloud.Rate{}, fmt.Errorf("RATE %q is not a number of calls a second above 0; %s", perSecond, want)
	}
	if r.Burst, err = strconv.Atoi(burst); err != nil || r.Burst < 1 {
		return "", cloud.Rate{}, fmt.Errorf("BURST %q is not a whole number of calls, 1 or more; %s", burst, want)
	}
	if err := cloud.ValidateThrottle(key, r); err != nil {
		return "", cloud.Rate{}, err
	}
	return key, r, nil
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
