package check

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// CommandSummary is the one-line description in `asgdns help`.
const CommandSummary = "find, before the first launch, every problem the workflow would hit"

// usage is printed for -h and after a usage error.
const usage = `Usage: asgdns check (--stack-name NAME | --parameter-overrides Key=Value ...) [flags]

Reads the application stack's parameters (--stack-name, overridden or replaced
by --parameter-overrides Key=Value ... as sam deploy takes them) and the Auto
Scaling groups its AsgNames parameter names, and reports every problem the
workflow would hit: hostnames and configuration resolved exactly as
DescribeInstance resolves them (stack defaults, each hook's
NotificationMetadata, the groups' AZs and propagated tags), missing asgdns
lifecycle hooks or a HeartbeatTimeout below what the state machine needs,
domain controllers that are not online SSM managed nodes tagged asgdns-dc=true,
a missing document, and a role the AssumeRole function cannot assume (it is
invoked with a synthetic instance: it assumes the role and sends nothing).

Flags:
  --stack-name NAME        the application stack (also --stack)
  --parameter-overrides Key=Value ...
                           parameters to use instead of the stack's; without
                           --stack-name give at least AsgNames, Zone,
                           DcInstanceIds and SharedServicesAccountId
  --asg NAME               check only this group (repeatable, or a comma list;
                           default: every group in AsgNames)
  --shared-services-profile PROFILE
                           AWS profile of the shared-services account, used in
                           the application's region, for the DC and document
                           checks (without it they are NOT CHECKED)
  --assume-role-function NAME
                           the AssumeRole function to invoke when there is no
                           --stack-name (default: the stack's AssumeRoleFunction)
  --output text|json       text (default): one line per check; json: one document
                           (also --json)
  --profile PROFILE        AWS profile of the application account
  --region REGION          AWS region (default: AWS_REGION or the profile's)

Each line says the status (PROBLEM, ERROR, NOT CHECKED, ok), the ASG ("-" for
the whole deployment), the field at fault, and what is wrong and how to fix it.

Exit codes: 0 no problem found (NOT CHECKED lines may remain), 1 problems
found or a check could not run (ERROR), 2 bad usage.
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
	stack              string
	overrides          parameters
	asgs               []string
	sharedProfile      string
	assumeRoleFunction string
	json               bool
	profile, region    string
}

var (
	// A stack name, or a stack id (ARN).
	stackNamePattern = regexp.MustCompile(`^([a-zA-Z][-a-zA-Z0-9]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[a-zA-Z][-a-zA-Z0-9]{0,127}/[-a-f0-9]+)$`)
	// A function name, partial or full ARN, as lambda:Invoke takes it.
	functionPattern = regexp.MustCompile(`^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?([0-9]{12}:)?(function:)?[a-zA-Z0-9_-]{1,140}(:(\$LATEST|[a-zA-Z0-9_-]+))?$`)
	parameterKey    = regexp.MustCompile(`^[a-zA-Z0-9]{1,255}$`)
)

// parseArgs parses and validates the flags. -h is flag.ErrHelp.
func parseArgs(args []string) (options, error) {
	var o options
	rest, pairs, err := splitOverrides(args)
	if err != nil {
		return o, err
	}
	fs := flag.NewFlagSet("asgdns check", flag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.Usage = func() {}
	var stackName, stack, output string
	var asgs listFlag
	var jsonOut bool
	fs.StringVar(&stackName, "stack-name", "", "")
	fs.StringVar(&stack, "stack", "", "")
	fs.Var(&asgs, "asg", "")
	fs.StringVar(&o.sharedProfile, "shared-services-profile", "", "")
	fs.StringVar(&o.assumeRoleFunction, "assume-role-function", "", "")
	fs.StringVar(&output, "output", "text", "")
	fs.BoolVar(&jsonOut, "json", false, "")
	fs.StringVar(&o.profile, "profile", "", "")
	fs.StringVar(&o.region, "region", "", "")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q: flags only (--parameter-overrides takes Key=Value pairs)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch {
	case set["stack-name"] && set["stack"] && stackName != stack:
		return o, usagef("--stack-name %q and --stack %q: give one", stackName, stack)
	case set["stack"]:
		stackName = stack
	}
	if (set["stack-name"] || set["stack"]) && !stackNamePattern.MatchString(stackName) {
		return o, usagef("--stack-name %q is not a CloudFormation stack name (a letter, then letters, digits and -, up to 128) or stack id", stackName)
	}
	o.stack = stackName
	if o.overrides, err = parseOverrides(pairs); err != nil {
		return o, err
	}
	if o.stack == "" && len(o.overrides) == 0 {
		return o, usagef("--stack-name or --parameter-overrides is required: give the deployed stack, or the parameters you are about to deploy")
	}
	if o.stack == "" {
		var missing []string
		for _, p := range requiredParameters {
			if _, ok := o.overrides[p]; !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return o, usagef("--parameter-overrides without --stack-name must give %s (template.yaml has no default for them)", strings.Join(missing, ", "))
		}
	}
	for _, a := range asgs {
		if len(a) > 255 {
			return o, usagef("--asg %q is longer than an Auto Scaling group name can be (255)", a)
		}
	}
	o.asgs = asgs
	if set["shared-services-profile"] && strings.TrimSpace(o.sharedProfile) == "" {
		return o, usagef("--shared-services-profile is empty: name an AWS profile of the shared-services account")
	}
	if o.assumeRoleFunction != "" && !functionPattern.MatchString(o.assumeRoleFunction) {
		return o, usagef("--assume-role-function %q is not a Lambda function name or ARN", o.assumeRoleFunction)
	}
	switch {
	case jsonOut && set["output"] && output != "json":
		return o, usagef("--json and --output %s: give one", output)
	case jsonOut || output == "json":
		o.json = true
	case output != "text":
		return o, usagef("--output %q: want text or json", output)
	}
	return o, nil
}

// splitOverrides takes --parameter-overrides and the Key=Value arguments
// after it out of args, as sam deploy takes them: every argument up to the
// next flag. The rest is for the flag package.
func splitOverrides(args []string) (rest, pairs []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), pairs, nil
		}
		name, value, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "parameter-overrides" {
			rest = append(rest, a)
			continue
		}
		n := len(pairs)
		if inline {
			pairs = append(pairs, value)
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			pairs = append(pairs, args[i])
		}
		if len(pairs) == n {
			return nil, nil, usagef("--parameter-overrides needs Key=Value arguments, e.g. --parameter-overrides Zone=corp.example.com AsgNames=web")
		}
	}
	return rest, pairs, nil
}

// parseOverrides reads Key=Value (or sam's ParameterKey=K,ParameterValue=V)
// pairs. A value may hold '=' and ','; a key must be a template parameter.
func parseOverrides(pairs []string) (parameters, error) {
	out := parameters{}
	for _, pair := range pairs {
		key, value, ok := strings.Cut(pair, "=")
		if k, v, long := strings.Cut(pair, ",ParameterValue="); long && strings.HasPrefix(k, "ParameterKey=") {
			key, value, ok = strings.TrimPrefix(k, "ParameterKey="), v, true
		}
		if !ok || !parameterKey.MatchString(key) {
			return nil, usagef("--parameter-overrides %q: want Key=Value, e.g. Zone=corp.example.com", pair)
		}
		if !slices.Contains(knownParameters, key) {
			return nil, usagef("--parameter-overrides %s: template.yaml has no parameter %s (it has %s)", pair, key, strings.Join(knownParameters, ", "))
		}
		if prev, dup := out[key]; dup && prev != value {
			return nil, usagef("--parameter-overrides gives %s twice (%q and %q): give it once", key, prev, value)
		}
		out[key] = value
	}
	return out, nil
}

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		s := strings.TrimSpace(part)
		if s == "" {
			return errors.New("empty name")
		}
		if !slices.Contains(*l, s) {
			*l = append(*l, s)
		}
	}
	return nil
}

// discard swallows the flag package's own messages: usage errors are
// printed once, by Run, with the fix.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
