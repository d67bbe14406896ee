// Package complete is the logic of functions/complete-lifecycle: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package complete

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/workflow"
)

// autoScalingAPI completes the lifecycle action and, when it is gone
// already, reads whether the instance is still in its group.
type autoScalingAPI interface {
	CompleteLifecycleAction(ctx context.Context, params *autoscaling.CompleteLifecycleActionInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	DescribeAutoScalingInstances(ctx context.Context, params *autoscaling.DescribeAutoScalingInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// Handler is the CompleteLifecycle step.
type Handler struct {
	AutoScaling autoScalingAPI
	// OnFailure is the deployment's default failure policy, for a failed
	// launch whose state has no instance section (DescribeInstance never
	// resolved the ASG's own policy).
	OnFailure workflow.LifecycleActionResult
	// Hooks are asgdns's own lifecycle hooks: the only ones it completes,
	// whatever the event says.
	Hooks workflow.HookNames
	// Log receives the step's log lines and its metrics (metrics.go).
	Log *slog.Logger
	// Now is the clock the metrics measure with; time.Now when nil.
	Now func() time.Time
}

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
	plan, err := workflow.PlanFor(req.State.Event, h.Hooks)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid event", slog.String("execution", req.Execution), slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(req.LogAttrs()...)
	outcome := describeOutcome(req.State, plan)

	if undone(req.State, plan) {
		res := &workflow.LifecycleResult{Reason: "the launch outlived its instance (" + req.State.Instance.LifecycleState +
			"): " + outcome + ", so no record is left for it; its lifecycle action is gone with it"}
		log.InfoContext(ctx, "launch undone", slog.String("reason", res.Reason))
		return h.done(ctx, log, res, req.State, plan), nil
	}
	if !plan.Complete() {
		res := &workflow.LifecycleResult{Reason: outcome + "; nothing to complete: the event carries no lifecycle action token"}
		switch {
		case plan.Action == workflow.ActionNone && req.State.Failure() == nil:
			res.Reason = plan.Reason // e.g. the test notification: says it all
		case plan.Action == workflow.ActionNone && plan.HookName != "":
			res.Reason = outcome + "; nothing completed: " + plan.Reason // another team's hook
		}
		log.InfoContext(ctx, "no lifecycle action to complete", slog.String("reason", res.Reason))
		return h.done(ctx, log, res, req.State, plan), nil
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
		if workflow.NoActiveLifecycleAction(err) {
			if err := h.checkStillThere(ctx, req.State, plan); err != nil {
				log.WarnContext(ctx, "the launch outlived its instance", slog.Any("error", err))
				return nil, err
			}
			res := &workflow.LifecycleResult{AlreadyCompleted: true, Result: result, Reason: fmt.Sprintf(
				"%s; %s not applied: the lifecycle action was already completed or the hook timed out", outcome, result)}
			log.WarnContext(ctx, "no active lifecycle action", slog.String("result", string(result)), slog.Any("error", err))
			return h.done(ctx, log, res, req.State, plan), nil
		}
		err = routeError(err, plan)
		log.ErrorContext(ctx, "complete lifecycle action failed", slog.String("result", string(result)), slog.Any("error", err))
		return nil, err
	}
	res := &workflow.LifecycleResult{Completed: true, Result: result, Reason: outcome + ": " + string(result) + why}
	log.InfoContext(ctx, "lifecycle action completed", slog.String("result", string(result)), slog.String("reason", res.Reason))
	return h.done(ctx, log, res, req.State, plan), nil
}

// done finishes an outcome: the failure carried into the result, and the
// outcome's metrics written to the log.
func (h *Handler) done(ctx context.Context, log *slog.Logger, res *workflow.LifecycleResult, state workflow.State, plan workflow.Plan) *workflow.LifecycleResult {
	res = withFailure(res, state, plan)
	h.emit(ctx, log, state, plan, res)
	return res
}

// checkStillThere runs when a registering launch finds its lifecycle action
// gone. If the instance is still in its group, the action was completed
// elsewhere (a replay, a second execution) and the record stays. If it is
// leaving or gone, the record just written names nothing: InstanceNotFound
// sends the state machine back to Describe instance, which removes it.
func (h *Handler) checkStillThere(ctx context.Context, state workflow.State, plan workflow.Plan) error {
	if state.Failure() != nil || state.Instance == nil || state.Instance.Action != workflow.ActionRegister {
		return nil
	}
	out, err := h.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{
		InstanceIds: []string{plan.InstanceID}})
	if err != nil {
		return workflow.FromAWS("autoscaling:DescribeAutoScalingInstances "+plan.InstanceID, err,
			"allow autoscaling:DescribeAutoScalingInstances to the CompleteLifecycle function's role")
	}
	where, found := "not in any group", false
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.InstanceId) == plan.InstanceID {
			where, found = aws.ToString(i.LifecycleState), true
		}
	}
	if !workflow.LeavingGroup(where, found) {
		return nil
	}
	return &workflow.InstanceNotFound{Problem: workflow.Problem{
		Field: "instance", Value: plan.InstanceID,
		Reason: "is " + where + " and its lifecycle action is gone: the launch outlived its instance",
		Fix:    "nothing: the state machine removes the record this launch wrote",
	}}
}

// withFailure carries a caught error into the result, for the state
// machine's Fail state: the error name, and a cause that says what went
// wrong and how to fix it (the failing step's message) and what became of
// the instance.
func withFailure(res *workflow.LifecycleResult, state workflow.State, plan workflow.Plan) *workflow.LifecycleResult {
	failure := state.Failure()
	if failure == nil {
		return res
	}
	res.Error = failure.Error
	if res.Error == "" {
		res.Error = "UnknownError"
	}
	subject := "the event"
	if plan.InstanceID != "" {
		subject = fmt.Sprintf("instance %s of ASG %s", plan.InstanceID, strconv.QuoteToASCII(plan.ASG))
	}
	res.Cause = fmt.Sprintf("%s. For %s: %s.", strings.TrimSuffix(failure.Message(), "."), subject, res.Reason)
	return res
}

// decide returns the lifecycle action result and, for a failure, why that
// result (appended to the reason an operator reads).
//
// Hold, don't kill (DESIGN §7): a launch gets the configured failure result
// only when transient failures outlasted the hold budget. A terminal
// failure is one every instance would hit (configuration, hostname
// template, access, the document, the zone, a name conflict): replacing
// the instance would only start a kill loop, so it goes into service
// without its record and the execution fails for a person to fix.
func (h *Handler) decide(state workflow.State, plan workflow.Plan) (workflow.LifecycleActionResult, string) {
	failure := state.Failure()
	switch {
	case failure == nil:
		// Success, including warm-pool moves that needed no DNS work.
		return workflow.Continue, ""
	case plan.Transition == workflow.TransitionTerminate:
		// ABANDON would not save the instance; it would only stop the
		// ASG's other termination hooks from running.
		return workflow.Continue, ", the instance terminates either way"
	case state.Error != nil:
		return workflow.Continue, ", never replaced for a failure every instance would hit: it runs without its record until this is fixed and replayed"
	case state.Instance != nil && validPolicy(state.Instance.OnFailure):
		return state.Instance.OnFailure, fmt.Sprintf(" per onFailure policy, after holding it %s (the hold budget)", held(state.Hold))
	}
	// The hold ran out before DescribeInstance resolved the ASG's policy
	// (or the state was edited): the deployment's default decides.
	return h.OnFailure, fmt.Sprintf(" per the deployment's default onFailure policy, after holding it %s (the hold budget)", held(state.Hold))
}

func held(hold *workflow.HoldResult) string {
	return (time.Duration(hold.HeldSeconds) * time.Second).String()
}

func validPolicy(p workflow.LifecycleActionResult) bool {
	return p == workflow.Continue || p == workflow.Abandon
}

// undone reports whether this launch ended up removing its record: its
// instance left the group before the launch finished (Describe instance
// turned the registration into a removal).
func undone(state workflow.State, plan workflow.Plan) bool {
	return plan.Transition == workflow.TransitionLaunch && state.Instance != nil && state.Instance.Action == workflow.ActionDeregister
}

// describeOutcome says in words what the DNS work came to.
func describeOutcome(state workflow.State, plan workflow.Plan) string {
	if failure := state.Failure(); failure != nil {
		name := failure.Error
		if name == "" {
			name = "unknown error"
		}
		return "DNS work failed (" + name + ")"
	}
	action, reason := plan.Action, plan.Reason
	if state.Instance != nil {
		// What Describe instance decided, which may differ from what the
		// event asked: an instance gone before its launch finished.
		action, reason = state.Instance.Action, state.Instance.Reason
	}
	switch action {
	case workflow.ActionRegister:
		return "DNS registered"
	case workflow.ActionDeregister:
		return "DNS deregistered"
	}
	return "no DNS work (" + reason + ")"
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
