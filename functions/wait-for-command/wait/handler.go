// Package wait is the logic of functions/wait-for-command: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package wait

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

// ssmAPI is the one SSM call this step makes.
type ssmAPI interface {
	GetCommandInvocation(ctx context.Context, params *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

// autoScalingAPI is the heartbeat that keeps the lifecycle hook holding the
// instance while the command is still running.
type autoScalingAPI interface {
	RecordLifecycleActionHeartbeat(ctx context.Context, params *autoscaling.RecordLifecycleActionHeartbeatInput, optFns ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// Handler is the WaitForCommand step.
type Handler struct {
	SSM ssmAPI
	// AutoScaling records lifecycle heartbeats, with the function's own
	// credentials (the hook is in the application account).
	AutoScaling autoScalingAPI
	// Credentials returns the shared-services session for one instance's
	// execution: (*crossaccount.Provider).For in production.
	Credentials func(instanceID, execution string) aws.CredentialsProvider
	// Budget bounds how long one invocation polls before handing back to the
	// state machine's Wait loop (never past the Lambda deadline either).
	Budget time.Duration
	// Hooks are asgdns's own lifecycle hooks: the only ones it heartbeats.
	Hooks workflow.HookNames
	// Now and Sleep are the clock; tests replace them to poll instantly.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

// EnvPollBudget sets Budget in whole seconds.
const EnvPollBudget = "ASGDNS_POLL_BUDGET_SECONDS"

const (
	// DefaultBudget keeps one invocation well under a 60 s function timeout
	// while catching most DNS commands, which take a few seconds.
	DefaultBudget = 20 * time.Second
	maxBudget     = 300 * time.Second

	// The in-invocation poll schedule: 1 s, 1.5 s, 2.25 s, ... capped at 5 s.
	firstWait = time.Second
	maxWait   = 5 * time.Second
	// pollReserve is kept back from the deadline for the last
	// GetCommandInvocation, so the budget never ends in a timeout.
	pollReserve = 2 * time.Second
	// grace is how long after SendCommand an InvocationDoesNotExist means
	// "not visible yet": Run Command is eventually consistent.
	grace = 30 * time.Second

	// The state machine's Wait between invocations: 5, 10, 20, 40, 60, 60 s.
	firstNextWait = 5
	maxNextWait   = workflow.MaxNextWaitSeconds

	// notVisible is the status details reported while the invocation is
	// not readable yet.
	notVisible = "not visible yet (InvocationDoesNotExist)"
)

// LoadBudget reads ASGDNS_POLL_BUDGET_SECONDS (default 20; 0 polls once per
// invocation).
func LoadBudget(env config.Lookup) (time.Duration, error) {
	v, ok := env(EnvPollBudget)
	if !ok || strings.TrimSpace(v) == "" {
		return DefaultBudget, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > int(maxBudget/time.Second) {
		return 0, &workflow.InvalidConfig{Problem: workflow.Problem{
			Field: "environment variable " + EnvPollBudget, Value: v,
			Reason: fmt.Sprintf("is not a whole number of seconds from 0 to %d", int(maxBudget/time.Second)),
			Fix:    "set it well under the function's timeout (default 20)",
		}}
	}
	return time.Duration(n) * time.Second, nil
}

// heartbeat tells Auto Scaling the workflow is still working, resetting the
// hook's heartbeat timeout, whenever the state machine goes on after this
// poll (to wait and poll again, or to re-send a failed command). It is best
// effort: a failed heartbeat is logged, never
// routed, because the command itself is fine (and statemachine tests prove
// the schedule between heartbeats fits the hook's timeout).
func (h *Handler) heartbeat(ctx context.Context, log *slog.Logger, event workflow.Event) {
	plan, err := workflow.PlanFor(event, h.Hooks)
	if err != nil || !plan.Complete() {
		return // nothing is holding the instance
	}
	_, err = h.AutoScaling.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(plan.ASG), LifecycleHookName: aws.String(plan.HookName),
		LifecycleActionToken: aws.String(plan.Token), InstanceId: aws.String(plan.InstanceID),
	})
	if err != nil {
		log.WarnContext(ctx, "lifecycle heartbeat not recorded", slog.Any("error", err))
	}
}

// observation is what one poll saw of the invocation.
type observation struct {
	status         types.CommandInvocationStatus
	details        string
	code           int
	stdout, stderr string
}

// Handle polls $.command's invocation for up to Budget and returns the
// InvocationResult for $.invocation: done with the outcome, or not done
// with how long the state machine should wait before asking again. A
// command that ended badly is a routed error.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.InvocationResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	cmd := req.State.Command
	log := h.Log.With(req.LogAttrs()...)
	if err := validate(cmd); err != nil {
		log.ErrorContext(ctx, "nothing to wait for", slog.Any("error", err))
		return nil, err
	}
	log = log.With(slog.String("commandId", cmd.CommandID), slog.String("dc", cmd.DCInstanceID))

	// Polls counts invocations for this command; a re-sent command (a new
	// id) starts again, and so does its wait.
	polls := 1
	if prev := req.State.Invocation; prev != nil && prev.CommandID == cmd.CommandID {
		polls = prev.Polls + 1
	}
	instanceID := ""
	if req.State.Instance != nil {
		instanceID = req.State.Instance.InstanceID
	}
	creds := withCredentials(h.Credentials(instanceID, req.Execution))
	in := &ssm.GetCommandInvocationInput{
		CommandId: aws.String(cmd.CommandID), InstanceId: aws.String(cmd.DCInstanceID),
		// The document has one step per platform, so the invocation
		// cannot be read without naming the step that ran.
		PluginName: aws.String(cmd.Step),
	}

	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	stopAt := h.Now().Add(h.Budget)
	if d, ok := ctx.Deadline(); ok && d.Add(-pollReserve).Before(stopAt) {
		stopAt = d.Add(-pollReserve)
	}
	for wait := firstWait; ; wait = min(wait*3/2, maxWait) {
		o, err := h.poll(ctx, cmd, in, creds)
		if err != nil {
			log.ErrorContext(ctx, "command failed", slog.Any("error", err))
			return nil, err
		}
		log.DebugContext(ctx, "polled", slog.String("status", string(o.status)), slog.String("details", o.details))
		switch o.status {
		case types.CommandInvocationStatusPending, types.CommandInvocationStatusInProgress,
			types.CommandInvocationStatusDelayed, types.CommandInvocationStatusCancelling:
			// Not finished: poll again below if the budget allows.
		case types.CommandInvocationStatusSuccess:
			if outcomeOf(o.stdout) == nil {
				// Exit 0 but no result line: asgdns cannot tell what the
				// DNS server holds now, so it does not count as done.
				err := &workflow.CommandFailed{Problem: workflow.Problem{
					Field:  "command " + cmd.CommandID + " on " + cmd.DCInstanceID,
					Reason: "succeeded without printing an asgdns result line, so what it did is unknown",
					Fix: "deploy the shared-services stack's document unmodified (its last stdout line is the result); " +
						"instances are held meanwhile (up to the hold budget), each try on the next DC",
				}}
				log.ErrorContext(ctx, "command failed", slog.Any("error", err))
				h.heartbeat(ctx, log, req.State.Event)
				return nil, err
			}
			res := &workflow.InvocationResult{
				CommandID: cmd.CommandID, Done: true, Polls: polls, Status: string(o.status), StatusDetails: o.details,
				ResponseCode: o.code, Result: outcomeOf(o.stdout), Output: output(o.stdout, o.stderr),
			}
			h.logSuccess(ctx, log, res)
			return res, nil
		default:
			err := failure(cmd, o)
			log.ErrorContext(ctx, "command failed", slog.Any("error", err))
			// The state machine may re-send the command (to the next DC):
			// the hook must keep holding the instance for that too.
			h.heartbeat(ctx, log, req.State.Event)
			return nil, err
		}
		if h.Now().Add(wait).After(stopAt) {
			res := &workflow.InvocationResult{
				CommandID: cmd.CommandID, Polls: polls, NextWaitSeconds: nextWait(polls),
				Status: string(o.status), StatusDetails: o.details, ResponseCode: o.code,
			}
			log.InfoContext(ctx, "command still running", slog.String("status", res.Status),
				slog.Int("polls", polls), slog.Int("nextWaitSeconds", res.NextWaitSeconds))
			h.heartbeat(ctx, log, req.State.Event)
			return res, nil
		}
		if err := h.Sleep(ctx, wait); err != nil {
			err = &workflow.Unavailable{Problem: workflow.Problem{
				Field: "command " + cmd.CommandID + " on " + cmd.DCInstanceID, Reason: "waiting was interrupted", Err: err}}
			log.ErrorContext(ctx, "wait interrupted", slog.Any("error", err))
			return nil, err
		}
	}
}

// logSuccess logs a finished command with what the state machine cannot
// route on but an operator should see: a PTR warning.
func (h *Handler) logSuccess(ctx context.Context, log *slog.Logger, res *workflow.InvocationResult) {
	r := res.Result
	log.InfoContext(ctx, "command succeeded", slog.String("outcome", r.Outcome), slog.String("fqdn", r.FQDN),
		slog.String("ptr", r.PTR), slog.Int("polls", res.Polls))
	if slices.Contains(workflow.PTRWarnings, r.PTR) {
		log.WarnContext(ctx, "PTR record not written", slog.String("ptr", r.PTR), slog.String("message", r.Message))
	}
}

// poll reads the invocation once.
func (h *Handler) poll(ctx context.Context, cmd *workflow.CommandResult, in *ssm.GetCommandInvocationInput, creds func(*ssm.Options)) (observation, error) {
	out, err := h.SSM.GetCommandInvocation(ctx, in, creds)
	if err == nil {
		return observation{
			status: out.Status, details: aws.ToString(out.StatusDetails), code: int(out.ResponseCode),
			stdout: aws.ToString(out.StandardOutputContent), stderr: aws.ToString(out.StandardErrorContent),
		}, nil
	}
	op := "ssm:GetCommandInvocation " + cmd.CommandID + " on " + cmd.DCInstanceID
	if workflow.ErrorCode(err) == "InvocationDoesNotExist" {
		age := h.Now().Sub(cmd.SentAt)
		if age < grace {
			return observation{status: types.CommandInvocationStatusPending, details: notVisible, code: -1}, nil
		}
		return observation{}, &workflow.Unavailable{Problem: workflow.Problem{
			Field: op, Err: err,
			Reason: fmt.Sprintf("the invocation still does not exist %s after the command was sent (grace %s)", age.Round(time.Second), grace),
			Fix:    "check the DC shows Online in Fleet Manager of the shared-services account; the state machine re-sends to the next DC",
		}}
	}
	return observation{}, crossaccount.RouteError(op, err,
		"check the shared-services role may ssm:GetCommandInvocation and the deployed document has the step "+cmd.Step)
}

// failure routes a command that ended without success. The status details
// say whether it ran at all: an unreachable DC is worth trying again
// elsewhere, a DNS command that ran and failed is not.
func failure(cmd *workflow.CommandResult, o observation) error {
	result := outcomeOf(o.stdout)
	p := workflow.Problem{
		Field: "command " + cmd.CommandID + " on " + cmd.DCInstanceID,
		Reason: fmt.Sprintf("ended %s (%s), exit code %d, %s, %s",
			o.status, o.details, o.code, describeOutcome(result), describeStderr(o.stderr)),
	}
	logs := fmt.Sprintf("look at the command output in CloudWatch Logs, log group aws/ssm/%s, streams %s/%s/",
		cmd.DocumentName, cmd.CommandID, cmd.DCInstanceID)
	// Both "Delivery Timed Out" and "DeliveryTimedOut" are in AWS's docs.
	switch strings.ToLower(strings.ReplaceAll(o.details, " ", "")) {
	case "undeliverable", "deliverytimedout", "terminated":
		p.Fix = "check the DC is running and shows Online in Fleet Manager of the shared-services account; " +
			"the state machine re-sends to the next DC; " + logs
		return &workflow.Unavailable{Problem: p}
	case "accessdenied":
		p.Fix = "check the shared-services role may ssm:SendCommand the document on this DC; " + logs
		return &workflow.AccessDenied{Problem: p}
	case "invalidplatform":
		p.Fix = "step " + cmd.Step + " does not match the DC's OS: set dcPlatform for this ASG to the DC's platform; " + logs
		return &workflow.CommandRejected{Problem: p}
	}
	// The command ran: its verdict decides whether trying again can help.
	outcome := ""
	if result != nil {
		outcome = result.Outcome
	}
	switch {
	case outcome == workflow.OutcomeConflict:
		p.Fix = "the name holds records asgdns did not write for this instance and nothing was changed: " +
			"remove them (if their owner agrees) or change the hostname template, then replay the execution"
		return &workflow.Conflict{Problem: p}
	case outcome == workflow.OutcomeZoneNotAllowed:
		p.Fix = "add <application account>:<zone> to the shared-services stack's TenantZones parameter, " +
			"or set a zone this account is allowed, then replay the execution"
		return &workflow.AccessDenied{Problem: p}
	case outcome == workflow.OutcomeInvalid:
		p.Fix = "the document refused the parameters asgdns validated: deploy the shared-services document that matches " +
			"this version of asgdns (the limits differ), then replay the execution; " + logs
		return &workflow.CommandRejected{Problem: p}
	case outcome == workflow.OutcomeDNSError && slices.Contains(workflow.RefusingRcodes, result.Rcode):
		p.Fix = "the DNS server refuses asgdns's updates (" + result.Rcode + "): check the TSIG key and update policy " +
			"for the zone on the DNS server (dns.conf on the DC), then replay the execution; " + logs
		return &workflow.AccessDenied{Problem: p}
	case outcome == workflow.OutcomeDNSError:
		p.Fix = "the DNS server did not answer or failed (" + result.Rcode + "): instances are held meanwhile (up to the hold budget), " +
			"each try on the next DC; check the DNS service; " + logs
		return &workflow.Unavailable{Problem: p}
	}
	p.Fix = logs + ", fix what the DNS command reported; instances are held meanwhile (up to the hold budget), each try on the next DC"
	return &workflow.CommandFailed{Problem: p}
}

// nextWait is the state machine's Wait before invocation polls+1:
// 5, 10, 20, 40, then 60 seconds.
func nextWait(polls int) int {
	w := firstNextWait
	for i := 1; i < polls && w < maxNextWait; i++ {
		w *= 2
	}
	return min(w, maxNextWait)
}

// validate checks $.command names an invocation to read.
func validate(cmd *workflow.CommandResult) error {
	switch {
	case cmd == nil:
		return invalidState("state.command", "", "is missing")
	case cmd.CommandID == "":
		return invalidState("state.command.commandId", "", "is empty")
	case !workflow.ValidInstanceID(cmd.DCInstanceID):
		return invalidState("state.command.dcInstanceId", cmd.DCInstanceID, "is not an EC2 instance id")
	case cmd.Step != workflow.StepWindows && cmd.Step != workflow.StepLinux:
		return invalidState("state.command.step", cmd.Step, "is not "+workflow.StepWindows+" or "+workflow.StepLinux)
	case cmd.SentAt.IsZero():
		return invalidState("state.command.sentAt", "", "is missing, so the grace period for a new invocation is unknown")
	}
	return nil
}

func invalidState(field, value, reason string) error {
	return &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason,
		Fix: "WaitForCommand reads SendCommand's result: check the state machine passes $.command, or replay from SendCommand"}}
}

// withCredentials makes one SSM call with the shared-services session.
func withCredentials(p aws.CredentialsProvider) func(*ssm.Options) {
	return func(o *ssm.Options) { o.Credentials = p }
}
