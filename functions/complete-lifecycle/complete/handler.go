// Package complete is the logic of functions/complete-lifecycle: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package complete

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/workflow"
)

// autoScalingAPI is the one Auto Scaling call this step makes.
type autoScalingAPI interface {
	CompleteLifecycleAction(ctx context.Context, params *autoscaling.CompleteLifecycleActionInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// Handler is the CompleteLifecycle step.
type Handler struct {
	AutoScaling autoScalingAPI
	// OnFailure is the deployment's default failure policy, for a failed
	// launch whose state has no instance section (DescribeInstance never
	// resolved the ASG's own policy).
	OnFailure workflow.FailurePolicy
	Log       *slog.Logger
}

// noActiveAction is how Auto Scaling says the lifecycle action is no longer
// pending: completed already (a replay, a second execution) or timed out.
// It comes as a ValidationError with no code of its own.
const noActiveAction = "No active Lifecycle Action found"

// Handle decides the lifecycle action result from the state and completes the
// lifecycle action, returning the LifecycleResult for $.lifecycle. An event
// without a lifecycle action token has nothing to complete: no call is made.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.LifecycleResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	// The event is validated again rather than trusting $.instance: this
	// step also runs when DescribeInstance failed, and the hook, ASG and
	// token it sends must come from a valid event.
	plan, err := workflow.PlanFor(req.State.Event)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid event", slog.String("execution", req.Execution), slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(req.LogAttrs()...)
	outcome := describeOutcome(req.State, plan)

	if !plan.Complete() {
		res := &workflow.LifecycleResult{Reason: outcome + "; nothing to complete: the event carries no lifecycle action token"}
		if plan.Action == workflow.ActionNone && req.State.Error == nil {
			res.Reason = plan.Reason // e.g. the test notification: says it all
		}
		log.InfoContext(ctx, "no lifecycle action to complete", slog.String("reason", res.Reason))
		return withFailure(res, req.State, plan), nil
	}

	result, why := h.decide(req.State, plan)
	in := &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName:  aws.String(plan.ASG),
		LifecycleHookName:     aws.String(plan.HookName),
		LifecycleActionToken:  aws.String(plan.Token),
		InstanceId:            aws.String(plan.InstanceID),
		LifecycleActionResult: aws.String(string(result)),
	}
	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	if _, err := h.AutoScaling.CompleteLifecycleAction(ctx, in); err != nil {
		if workflow.ErrorCode(err) == "ValidationError" && workflow.ErrorMessageContains(err, noActiveAction) {
			res := &workflow.LifecycleResult{AlreadyCompleted: true, Result: result, Reason: fmt.Sprintf(
				"%s; %s not applied: the lifecycle action was already completed or the hook timed out", outcome, result)}
			log.WarnContext(ctx, "no active lifecycle action", slog.String("result", string(result)), slog.Any("error", err))
			return withFailure(res, req.State, plan), nil
		}
		err = routeError(err, plan)
		log.ErrorContext(ctx, "complete lifecycle action failed", slog.String("result", string(result)), slog.Any("error", err))
		return nil, err
	}
	res := &workflow.LifecycleResult{Completed: true, Result: result, Reason: outcome + ": " + string(result) + why}
	log.InfoContext(ctx, "lifecycle action completed", slog.String("result", string(result)), slog.String("reason", res.Reason))
	return withFailure(res, req.State, plan), nil
}

// withFailure carries a caught error into the result, for the state
// machine's Fail state: the error name, and a cause that says what went
// wrong and how to fix it (the failing step's message) and what became of
// the instance.
func withFailure(res *workflow.LifecycleResult, state workflow.State, plan workflow.Plan) *workflow.LifecycleResult {
	if state.Error == nil {
		return res
	}
	res.Error = state.Error.Error
	if res.Error == "" {
		res.Error = "UnknownError"
	}
	subject := "the event"
	if plan.InstanceID != "" {
		subject = fmt.Sprintf("instance %s of ASG %s", plan.InstanceID, strconv.QuoteToASCII(plan.ASG))
	}
	res.Cause = fmt.Sprintf("%s. For %s: %s.", strings.TrimSuffix(state.Error.Message(), "."), subject, res.Reason)
	return res
}

// decide returns the lifecycle action result and, for a failure, why that
// result (appended to the reason an operator reads).
func (h *Handler) decide(state workflow.State, plan workflow.Plan) (workflow.FailurePolicy, string) {
	switch {
	case state.Error == nil:
		// Success, including warm-pool moves that needed no DNS work.
		return workflow.Continue, ""
	case plan.Transition == workflow.TransitionTerminate:
		// ABANDON would not save the instance; it would only stop the
		// ASG's other termination hooks from running.
		return workflow.Continue, ", the instance terminates either way"
	case state.Instance != nil && validPolicy(state.Instance.OnFailure):
		return state.Instance.OnFailure, " per onFailure policy"
	}
	// DescribeInstance failed before resolving the ASG's policy (or the
	// state was edited): the deployment's default decides.
	return h.OnFailure, " per the deployment's default onFailure policy (the state has no valid instance.onFailure)"
}

func validPolicy(p workflow.FailurePolicy) bool {
	return p == workflow.Continue || p == workflow.Abandon
}

// describeOutcome says in words what the DNS work came to.
func describeOutcome(state workflow.State, plan workflow.Plan) string {
	if state.Error != nil {
		name := state.Error.Error
		if name == "" {
			name = "unknown error"
		}
		return "DNS work failed (" + name + ")"
	}
	switch plan.Action {
	case workflow.ActionRegister:
		return "DNS registered"
	case workflow.ActionDeregister:
		return "DNS deregistered"
	}
	return "no DNS work (" + plan.Reason + ")"
}

// routeError turns a refused call into the error the state machine routes
// on. A ValidationError other than "no active action" means the hook or ASG
// named by the event does not exist (or the token is not theirs): retrying
// cannot help.
func routeError(err error, plan workflow.Plan) error {
	if workflow.ErrorCode(err) == "ValidationError" {
		return &workflow.InvalidEvent{Problem: workflow.Problem{
			Field: "detail.LifecycleHookName", Value: plan.HookName,
			Reason: "was refused by autoscaling:CompleteLifecycleAction for ASG " + strconv.QuoteToASCII(plan.ASG),
			Err:    err,
			Fix:    "check the lifecycle hook still exists on the ASG; the instance is released by the hook's DefaultResult when it times out",
		}}
	}
	return workflow.FromAWS("autoscaling:CompleteLifecycleAction "+plan.ASG, err,
		"allow autoscaling:CompleteLifecycleAction on ASG "+strconv.QuoteToASCII(plan.ASG)+" to the CompleteLifecycle function's role")
}
