package reconcile

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"

	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

// CommandSummary is the one-line description in `asgdns help`.
const CommandSummary = "run one reconciliation now and show its plan (upsert/sync repair with --yes)"

// StackParameterMode and StackParameterRemovalPercent are the application
// stack's parameters for scheduled runs, named in the help and the fixes.
const (
	StackParameterMode           = "ReconcileMode"
	StackParameterRemovalPercent = "ReconcileRemovalPercent"
)

// usage is printed for -h and named after a usage error.
const usage = `Usage: asgdns reconcile (--stack NAME | --function NAME) [--mode report|upsert|sync]
                        [--asg NAME] [--yes] [--json] [--profile P] [--region R]

Runs one reconciliation now, as the schedule does: it invokes the deployed
reconcile function (the stack's ReconcileFunction), which compares the
configured Auto Scaling groups' instances with the DNS records this account
owns, and prints its report: the zones listed, the drift by kind, every
repair and whether it executes (or why it is withheld), the removal cap, the
executions started and the dead letters drained.

Modes:
  report  the default: nothing changes, the plan is the output
  upsert  registers missing records and replaces wrong ones, each through an
          execution of the state machine (so every repair is an execution
          'asgdns executions' lists); never removes a record
  sync    upsert, and REMOVES records whose instance is proven gone, outside
          the configured groups or leaving: the only mode that removes
          records. Only from zones listed completely, and only while the run
          removes no more than the cap: max(ReconcileRemovalFloor,
          ` + StackParameterRemovalPercent + `% of the records this account owns).
          Over the cap it removes none

upsert and sync change DNS only with --yes. Without it the run is a dry run:
the function plans in that mode and carries nothing out, and the output says
what the mode would do. --yes also drains the dead-letter queue (lifecycle events that
never started an execution are started now); report never drains it.

Scheduled runs use the stack's ` + StackParameterMode + ` parameter; --mode is for this
run only.

Flags:
  --stack NAME       the application stack; the function is its ReconcileFunction
  --function NAME    the reconcile function's name or ARN, instead of --stack
  --mode MODE        report (default), upsert or sync
  --asg NAME         reconcile only this Auto Scaling group (default: every
                     configured group)
  --yes              carry out upsert or sync, and drain the dead letters
  --json             print the function's report as it returned it
  --profile PROFILE  AWS profile of the application account
  --region REGION    AWS region (default: AWS_REGION or the profile's)

Exit codes: 0 the run succeeded (drift or not; a dry run included), 1 the
function failed or its report lists errors, 2 bad usage (nothing was called).
`

// usageError is bad input: the command prints it, says where the usage is,
// and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// options are the validated flags.
type options struct {
	stack, function string
	mode            decision.Mode
	asg             string
	yes             bool
	json            bool
	profile, region string
}

// dryRun reports whether a mode that changes DNS was asked for without
// --yes: the function then plans in that mode and carries nothing out.
func (o options) dryRun() bool { return o.mode != decision.ModeReport && !o.yes }

var (
	// A stack name, or a stack id (ARN).
	stackNamePattern = regexp.MustCompile(`^([a-zA-Z][-a-zA-Z0-9]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[a-zA-Z][-a-zA-Z0-9]{0,127}/[-a-f0-9]+)$`)
	// A function name, partial or full ARN, as lambda:Invoke takes it.
	functionPattern = regexp.MustCompile(`^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?([0-9]{12}:)?(function:)?[a-zA-Z0-9_-]{1,140}(:(\$LATEST|[a-zA-Z0-9_-]+))?$`)
)

// parseArgs parses and validates the flags. -h is flag.ErrHelp.
func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("asgdns reconcile", flag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.Usage = func() {}
	var mode string
	fs.StringVar(&o.stack, "stack", "", "")
	fs.StringVar(&o.function, "function", "", "")
	fs.StringVar(&mode, "mode", string(decision.ModeReport), "")
	fs.StringVar(&o.asg, "asg", "", "")
	fs.BoolVar(&o.yes, "yes", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.profile, "profile", "", "")
	fs.StringVar(&o.region, "region", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q (flags only)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch {
	case set["stack"] && set["function"]:
		return o, usagef("--stack and --function: give one, not both")
	case !set["stack"] && !set["function"]:
		return o, usagef("--stack or --function is required: the application stack, or the reconcile function itself")
	case set["stack"] && !stackNamePattern.MatchString(o.stack):
		return o, usagef("--stack %q is not a CloudFormation stack name (a letter, then letters, digits and -, up to 128) or stack id", o.stack)
	case set["function"] && !functionPattern.MatchString(o.function):
		return o, usagef("--function %q is not a Lambda function name or ARN", o.function)
	}
	switch m := decision.Mode(mode); m {
	case decision.ModeReport, decision.ModeUpsert, decision.ModeSync:
		o.mode = m
	default:
		return o, usagef("--mode %q: want report (the default: nothing changes), upsert or sync (sync removes records)", mode)
	}
	if set["asg"] {
		// The flag package takes the next argument as the value, so
		// "--asg --yes" would reconcile a group named "--yes".
		switch {
		case strings.TrimSpace(o.asg) == "" || strings.HasPrefix(o.asg, "-"):
			return o, usagef("--asg needs an Auto Scaling group name (got %q)", o.asg)
		case len(o.asg) > 255:
			return o, usagef("--asg %q is longer than an Auto Scaling group name can be (255)", o.asg)
		}
	}
	if o.yes && o.mode == decision.ModeReport {
		return o, usagef("--yes with --mode report: report changes nothing and drains no dead letters; give --mode upsert or --mode sync to act")
	}
	if set["profile"] && strings.TrimSpace(o.profile) == "" {
		return o, usagef("--profile is empty: name an AWS profile, or leave the flag out")
	}
	return o, nil
}

// discard swallows the flag package's own messages: usage errors are
// printed once, by Run.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
