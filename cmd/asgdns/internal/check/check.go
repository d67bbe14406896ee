package check

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/statemachine"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// Status is the outcome of one check.
type Status string

// The outcomes. Only StatusProblem and StatusError make the exit code 1.
const (
	StatusOK         Status = "ok"
	StatusProblem    Status = "problem"
	StatusError      Status = "error"       // the check could not run: an AWS call failed
	StatusNotChecked Status = "not-checked" // the check needs access this run does not have
)

// Result is one check's outcome, one line of the report.
type Result struct {
	Status Status `json:"status"`
	// Check is what was checked: asg, hook, heartbeat, metadata, hostname,
	// config, dc-online, dc-platform, dc-tag, document, role.
	Check string `json:"check"`
	// ASG is the group the result is about; empty for the whole deployment.
	ASG string `json:"asg,omitempty"`
	// Field is where the operator looks: a stack parameter, a hook, a tag,
	// a DC, the document, the AssumeRole function.
	Field string `json:"field"`
	// Error is the routed error name the workflow would fail with
	// (InvalidConfig, InvalidHostname, AccessDenied, …), when there is one.
	Error string `json:"error,omitempty"`
	// Message says what is wrong and how to fix it; for a workflow error
	// it is that error's exact message.
	Message string `json:"message"`
	// Fix is the fix alone.
	Fix string `json:"fix,omitempty"`
}

// Report is everything `asgdns check` found.
type Report struct {
	Stack                 string   `json:"stack,omitempty"`
	Account               string   `json:"account"`
	Region                string   `json:"region"`
	SharedServicesAccount string   `json:"sharedServicesAccount"`
	ASGs                  []string `json:"asgs"`
	Results               []Result `json:"results"`
	Summary               Summary  `json:"summary"`
}

// Summary counts the results by status.
type Summary struct {
	OK         int `json:"ok"`
	Problems   int `json:"problems"`
	Errors     int `json:"errors"`
	NotChecked int `json:"notChecked"`
}

// SampleInstanceID is the instance id hostnames are derived for: as long
// as an instance id gets, so a template that fits for it fits for all.
const SampleInstanceID = "i-0123456789abcdef0"

// Run is `asgdns check`: it returns the exit code.
func Run(ctx context.Context, env Env, args []string) int {
	o, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stderr, usage) // where executions and replay print theirs
		return ExitOK
	}
	if err != nil {
		return fail(env, err)
	}
	app, err := env.Connect(ctx, ConnectOptions{Profile: o.profile, Region: o.region})
	if err != nil {
		return fail(env, fmt.Errorf("AWS configuration: %w", err))
	}
	d, err := resolve(ctx, app, o)
	if err != nil {
		return fail(env, err)
	}
	c := &checker{app: app, d: d}
	if o.sharedProfile != "" {
		shared, err := env.Connect(ctx, ConnectOptions{Profile: o.sharedProfile, Region: app.Region})
		if err != nil {
			return fail(env, usagef("--shared-services-profile %s: %v", o.sharedProfile, err))
		}
		if err := sharedAccount(ctx, shared, o.sharedProfile, d.sharedAccount); err != nil {
			return fail(env, err)
		}
		c.shared = &shared
	}
	report := c.run(ctx)
	if err := write(env.Stdout, report, o.json); err != nil {
		fmt.Fprintf(env.Stderr, "asgdns check: %v\n", err)
		return ExitProblems
	}
	if report.Summary.Problems > 0 || report.Summary.Errors > 0 {
		return ExitProblems
	}
	return ExitOK
}

// fail reports err and returns its exit code: 2 for bad usage, 1 otherwise.
func fail(env Env, err error) int {
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(env.Stderr, "asgdns check: %s\nRun 'asgdns check -h' for usage.\n", u.msg)
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "asgdns check: %v\n", err)
	return ExitProblems
}

// deployment is what the check works from: the parameters in effect and
// what follows from them.
type deployment struct {
	stack   string
	account string
	region  string
	params  parameters
	// asgNames is the AsgNames parameter: the groups the EventBridge rule
	// routes; asgs the groups to check (AsgNames, or --asg).
	asgNames, asgs      []string
	launchHook          string
	terminateHook       string
	createHooks         bool
	hookHeartbeat       int
	sharedAccount       string
	assumeRoleFunction  string
	functionUnavailable string // why there is no function to invoke
}

// resolve reads the stack (if any), applies the overrides and checks the
// parameters the check itself needs.
func resolve(ctx context.Context, app Clients, o options) (deployment, error) {
	d := deployment{stack: o.stack, region: app.Region, params: parameters{}}
	if o.stack != "" {
		out, err := app.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(o.stack)})
		if err != nil {
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" {
				return d, usagef("--stack-name %q: %s", o.stack, apiErr.ErrorMessage())
			}
			return d, fmt.Errorf("--stack-name %q: cloudformation:DescribeStacks: %w", o.stack, err)
		}
		if len(out.Stacks) != 1 {
			return d, usagef("--stack-name %q: cloudformation:DescribeStacks returned %d stacks", o.stack, len(out.Stacks))
		}
		st := out.Stacks[0]
		for _, p := range st.Parameters {
			d.params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
		}
		if _, ok := d.params[paramAsgNames]; !ok {
			return d, usagef("--stack-name %q has no %s parameter: is it the asgdns application stack (template.yaml)?", o.stack, paramAsgNames)
		}
		if a, err := arn.Parse(aws.ToString(st.StackId)); err == nil {
			d.account = a.AccountID
		}
	}
	for k, v := range o.overrides {
		d.params[k] = v
	}
	if d.account == "" {
		out, err := app.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return d, fmt.Errorf("sts:GetCallerIdentity (which account is this?): %w", err)
		}
		d.account = aws.ToString(out.Account)
	}

	d.asgNames = d.params.list(paramAsgNames)
	if len(d.asgNames) == 0 {
		return d, usagef("parameter %s is empty: name at least one Auto Scaling group", paramAsgNames)
	}
	d.asgs = d.asgNames
	if len(o.asgs) > 0 {
		d.asgs = o.asgs
	}
	d.sharedAccount = d.params[paramSharedAccount]
	if !accountPattern.MatchString(d.sharedAccount) {
		return d, usagef("parameter %s %q is not a 12-digit account id", paramSharedAccount, d.sharedAccount)
	}
	d.launchHook = d.params.get(paramLaunchHookName, defaultLaunchHook)
	d.terminateHook = d.params.get(paramTerminateHookName, defaultTerminateHook)
	for _, p := range []string{paramLaunchHookName, paramTerminateHookName} {
		if v := d.params.get(p, "x"); !workflow.ValidHookName(v) {
			return d, usagef("parameter %s %q is not a lifecycle hook name (1-255 of A-Z a-z 0-9 _ - /)", p, v)
		}
	}
	switch v := d.params.get(paramCreateLifecycleHooks, "true"); v {
	case "true", "false":
		d.createHooks = v == "true"
	default:
		return d, usagef("parameter %s %q: want true or false", paramCreateLifecycleHooks, v)
	}
	hb := d.params.get(paramHookHeartbeatTimeout, "3600")
	var err error
	if d.hookHeartbeat, err = strconv.Atoi(hb); err != nil {
		return d, usagef("parameter %s %q is not a number of seconds", paramHookHeartbeatTimeout, hb)
	}

	switch {
	case o.assumeRoleFunction != "":
		d.assumeRoleFunction = o.assumeRoleFunction
	case o.stack != "":
		out, err := app.CloudFormation.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
			StackName: aws.String(o.stack), LogicalResourceId: aws.String(assumeRoleLogicalID)})
		if err != nil {
			d.functionUnavailable = fmt.Sprintf("cloudformation:DescribeStackResource %s: %v", assumeRoleLogicalID, err)
		} else if r := out.StackResourceDetail; r != nil && aws.ToString(r.PhysicalResourceId) != "" {
			d.assumeRoleFunction = aws.ToString(r.PhysicalResourceId)
		} else {
			d.functionUnavailable = "the stack has no " + assumeRoleLogicalID + " resource"
		}
	default:
		d.functionUnavailable = "no deployed stack to find the AssumeRole function in"
	}
	return d, nil
}

// sharedAccount checks the shared-services profile is in the account the
// stack's SharedServicesAccountId names: checking DCs elsewhere would
// prove nothing.
func sharedAccount(ctx context.Context, shared Clients, profile, want string) error {
	out, err := shared.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return usagef("--shared-services-profile %s: sts:GetCallerIdentity: %v", profile, err)
	}
	if got := aws.ToString(out.Account); got != want {
		return usagef("--shared-services-profile %s signs as account %s, but %s is %s: use a profile of the shared-services account",
			profile, got, paramSharedAccount, want)
	}
	return nil
}

// checker runs the checks of one deployment and collects the results.
type checker struct {
	app    Clients
	shared *Clients // nil without --shared-services-profile
	d      deployment

	results []Result
}

// run runs every check, in the order the report lists them: each group's,
// then the deployment's.
func (c *checker) run(ctx context.Context) Report {
	required, requiredErr := statemachine.RequiredHeartbeatTimeout()
	defaults, defaultsErr := config.Load(c.lookup)
	if defaultsErr != nil {
		c.configProblem(defaultsErr)
	}
	c.checkHeartbeatParameter(required, requiredErr)

	groups, err := c.describeGroups(ctx)
	uses := &targets{}
	if defaultsErr == nil {
		uses.add("", defaults)
	}
	for _, name := range c.d.asgs {
		if !slices.Contains(c.d.asgNames, name) {
			c.add(Result{Status: StatusProblem, Check: "asg", ASG: name, Field: "stack parameter " + paramAsgNames,
				Message: problem("ASG", name, "is not in "+paramAsgNames+": the EventBridge rule does not route its lifecycle events to asgdns",
					"add it to the "+paramAsgNames+" parameter and deploy"),
				Fix: "add it to the " + paramAsgNames + " parameter and deploy"})
		}
		if err != nil {
			c.add(Result{Status: StatusError, Check: "asg", ASG: name, Field: "autoscaling:DescribeAutoScalingGroups",
				Message: err.Error(), Fix: "allow autoscaling:DescribeAutoScalingGroups to the principal running asgdns check"})
			continue
		}
		c.checkGroup(ctx, name, groups[name], defaults, defaultsErr, required, requiredErr, uses)
	}
	c.checkShared(ctx, uses)
	c.checkRole(ctx)

	r := Report{Stack: c.d.stack, Account: c.d.account, Region: c.d.region, SharedServicesAccount: c.d.sharedAccount,
		ASGs: c.d.asgs, Results: c.results}
	for _, res := range c.results {
		switch res.Status {
		case StatusOK:
			r.Summary.OK++
		case StatusProblem:
			r.Summary.Problems++
		case StatusError:
			r.Summary.Errors++
		case StatusNotChecked:
			r.Summary.NotChecked++
		}
	}
	return r
}

func (c *checker) add(r Result) { c.results = append(c.results, r) }

// lookup is the DescribeInstance function's environment, as config.Load
// reads it.
func (c *checker) lookup(name string) (string, bool) {
	v, ok := c.d.params.environment(c.d.account)[name]
	return v, ok
}

// configProblem reports a stack-wide configuration error (config.Load's):
// every execution would fail with it.
func (c *checker) configProblem(err error) {
	name, p := routed(err)
	field := p.Field
	if env, ok := strings.CutPrefix(p.Field, "environment variable "); ok {
		if param, ok := envParameter(env); ok {
			field = "stack parameter " + param
		}
	}
	c.add(Result{Status: StatusProblem, Check: "config", Field: field, Error: name, Message: err.Error(), Fix: p.Fix})
}

// checkHeartbeatParameter: the hooks the stack creates get
// HookHeartbeatTimeout, so a value below the state machine's need is found
// before there are hooks to look at.
func (c *checker) checkHeartbeatParameter(required time.Duration, requiredErr error) {
	if !c.d.createHooks {
		return
	}
	field := "stack parameter " + paramHookHeartbeatTimeout
	switch need := seconds(required); {
	case requiredErr != nil:
		c.add(Result{Status: StatusError, Check: "heartbeat", Field: field, Message: "the state machine's heartbeat need: " + requiredErr.Error()})
	case c.d.hookHeartbeat < need:
		fix := fmt.Sprintf("set %s to at least %d", paramHookHeartbeatTimeout, need)
		c.add(Result{Status: StatusProblem, Check: "heartbeat", Field: field,
			Message: problem(paramHookHeartbeatTimeout, strconv.Itoa(c.d.hookHeartbeat),
				fmt.Sprintf("is below %d s, the longest the state machine can go without a heartbeat: a hook would release an instance the workflow still holds", need), fix),
			Fix: fix})
	default:
		c.add(Result{Status: StatusOK, Check: "heartbeat", Field: field,
			Message: fmt.Sprintf("%d s, at least the %d s the state machine needs", c.d.hookHeartbeat, need)})
	}
}

// seconds rounds a duration up to whole seconds, as HeartbeatTimeout counts.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// routed returns an error's routed name and, for the configuration
// errors, its Problem (whose Fix the report shows on its own).
func routed(err error) (string, workflow.Problem) {
	var (
		invalidConfig   *workflow.InvalidConfig
		invalidHostname *workflow.InvalidHostname
	)
	switch {
	case errors.As(err, &invalidConfig):
		return "InvalidConfig", invalidConfig.Problem
	case errors.As(err, &invalidHostname):
		return "InvalidHostname", invalidHostname.Problem
	}
	return workflow.Routed(err), workflow.Problem{}
}

// problem renders a finding of the check's own the way the workflow's
// errors read: field "value": reason; fix: fix.
func problem(field, value, reason, fix string) string {
	return workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}.Error()
}
