package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

// reconcileLogicalID is the reconcile function's logical id in
// template.yaml.
const reconcileLogicalID = "ReconcileFunction"

// runPrefix starts the run names of on-demand runs, so the executions they
// start (and the function's logs) say an operator asked for them.
const runPrefix = "cli-"

// runTime is the UTC timestamp in a run name: sortable, and only
// characters an execution name may hold.
const runTime = "20060102T150405Z"

// Request is the reconcile function's input.
type Request struct {
	Mode decision.Mode `json:"mode"`
	// ASG limits the run to one configured group; empty is all of them.
	ASG string `json:"asg,omitempty"`
	// Run names the run; the executions it starts are named after it.
	Run string `json:"run"`
	// DryRun plans in Mode and carries nothing out: the plan says what
	// Mode would execute, decided by the function (workflow/reconcile), not
	// guessed here.
	DryRun bool `json:"dryRun"`
	// DrainDeadLetters starts the lifecycle events in the dead-letter
	// queue: only when the operator said --yes.
	DrainDeadLetters bool `json:"drainDeadLetters"`
}

// Run is `asgdns reconcile`: it returns the exit code.
func Run(ctx context.Context, env Env, args []string) int {
	o, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stderr, usage) // where the other commands print theirs
		return ExitOK
	}
	if err != nil {
		return fail(env, err)
	}
	clients, err := env.Connect(ctx, ConnectOptions{Profile: o.profile, Region: o.region})
	if err != nil {
		return fail(env, fmt.Errorf("AWS configuration: %w", err))
	}
	function := o.function
	if o.stack != "" {
		if function, err = findFunction(ctx, clients.CloudFormation, o.stack); err != nil {
			return fail(env, err)
		}
	}
	req := Request{
		Mode: o.mode, DryRun: o.dryRun(), ASG: o.asg, DrainDeadLetters: o.yes,
		Run: runPrefix + env.Now().UTC().Format(runTime),
	}
	if env.StderrIsTerminal {
		fmt.Fprintf(env.Stderr, "asgdns reconcile: running %s as %s (mode %s); a run reads every zone and can take minutes…\n", function, req.Run, req.Mode)
	}
	payload, err := invoke(ctx, clients.Lambda, function, req)
	if err != nil {
		return fail(env, err)
	}
	var rep Report
	if err := json.Unmarshal(payload, &rep); err != nil {
		return fail(env, fmt.Errorf("the function %s returned no report (%v): %s", function, err, truncate(string(payload), 300)))
	}
	if ran := rep.ranMode(); ran != "" && ran != req.Mode {
		// Never show a plan for another mode than the one asked for as if
		// it were that one: the function and this command disagree.
		fmt.Fprintf(env.Stderr, "asgdns reconcile: asked the function for mode %s, its report says %s: check the deployed function's version\n", req.Mode, ran)
		return ExitFailed
	}
	if o.json {
		err = writeJSON(env.Stdout, payload)
	} else {
		err = writeText(env.Stdout, newView(o, function), rep)
	}
	if err != nil {
		return fail(env, err)
	}
	if len(rep.Errors) > 0 {
		return ExitFailed
	}
	return ExitOK
}

// findFunction reads the reconcile function's name from the application
// stack. A stack that does not exist, or has no reconcile function, is bad
// input and named as such.
func findFunction(ctx context.Context, cfn CloudFormation, stack string) (string, error) {
	out, err := cfn.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stack), LogicalResourceId: aws.String(reconcileLogicalID)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" {
			return "", usagef("--stack %q: %s (is it the asgdns application stack, deployed with the reconciler?)", stack, apiErr.ErrorMessage())
		}
		return "", fmt.Errorf("--stack %q: cloudformation:DescribeStackResource %s: %w", stack, reconcileLogicalID, err)
	}
	if r := out.StackResourceDetail; r != nil && aws.ToString(r.PhysicalResourceId) != "" {
		return aws.ToString(r.PhysicalResourceId), nil
	}
	return "", fmt.Errorf("--stack %q: %s has no physical id yet: is the stack still being created?", stack, reconcileLogicalID)
}

// functionError is the reconcile function's own failure: lambda:Invoke
// succeeded, the function did not.
type functionError struct {
	function string
	Type     string `json:"errorType"`
	Message  string `json:"errorMessage"`
}

func (e *functionError) Error() string {
	return fmt.Sprintf("the reconcile function %s failed: %s: %s", e.function, e.Type, e.Message)
}

// invoke runs the function synchronously and returns its report.
func invoke(ctx context.Context, api Lambda, function string, req Request) ([]byte, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(function), InvocationType: types.InvocationTypeRequestResponse, Payload: payload})
	if err != nil {
		err = fmt.Errorf("lambda:Invoke %s: %w", function, err)
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied") {
			err = fmt.Errorf("%w; fix: allow lambda:InvokeFunction on the reconcile function to the principal running asgdns reconcile", err)
		}
		return nil, err
	}
	if out.FunctionError != nil {
		fe := &functionError{function: function}
		_ = json.Unmarshal(out.Payload, fe) // an unreadable payload is shown as it is
		if fe.Type == "" {
			fe.Type = aws.ToString(out.FunctionError)
		}
		if fe.Message == "" {
			fe.Message = truncate(string(out.Payload), 300)
		}
		return nil, fe
	}
	return out.Payload, nil
}

// fail reports err and returns its exit code: 2 for bad usage, 1 otherwise.
func fail(env Env, err error) int {
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(env.Stderr, "asgdns reconcile: %s\nRun 'asgdns reconcile -h' for usage.\n", u.msg)
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "asgdns reconcile: %v\n", err)
	return ExitFailed
}

// writeJSON prints the report as the function returned it, indented.
func writeJSON(w io.Writer, payload []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, payload, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
