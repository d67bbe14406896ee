package complete

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/metrics"
)

// The metrics CompleteLifecycle writes (namespace asgdns) for every
// execution that reaches it with an outcome: the Outcome dimension says
// what became of the instance's record, the others how long it took.
const (
	// MetricCompleted counts outcomes, per ASG and Outcome, and per
	// Outcome over all ASGs.
	MetricCompleted = "Completed"
	// MetricFailures is 1 when the DNS work failed, 0 otherwise: its Sum
	// counts failures, its Average is the failure rate.
	MetricFailures = "Failures"
	// MetricAbandoned is 1 when this call released a launch with ABANDON
	// (the ASG replaces the instance), 0 otherwise.
	MetricAbandoned = "Abandoned"
	// MetricCompletionSeconds is the time from the lifecycle event to its
	// completion.
	MetricCompletionSeconds = "CompletionSeconds"
	// MetricTotalHeldSeconds is how long the instance was held for
	// transient failures ($.hold.heldSeconds; 0 when never held).
	MetricTotalHeldSeconds = "TotalHeldSeconds"
	// MetricDCsTried is how many DCs this execution tried
	// ($.command.attempt): 1 when the first DC did the work.
	MetricDCsTried = "DCsTried"
)

// The dimensions.
const (
	DimensionASG     = "AutoScalingGroupName"
	DimensionOutcome = "Outcome"
)

// The outcomes, a fixed vocabulary: a failure is "failed-" and the name of
// a routed error (workflow.ErrorNames, States.Timeout), "failed-Lambda" for
// the Lambda service's own errors, or "failed-other".
const (
	OutcomeRegistered   = "registered"
	OutcomeDeregistered = "deregistered"
	OutcomeNothingToDo  = "nothing-to-do"
	// OutcomeUndone is a launch that outlived its instance: the record it
	// wrote was removed again.
	OutcomeUndone      = "undone"
	outcomeFailed      = "failed-"
	OutcomeFailedOther = outcomeFailed + "other"
)

// outcomeOf names what the DNS work came to, in the fixed vocabulary.
func outcomeOf(state workflow.State, plan workflow.Plan) string {
	if failure := state.Failure(); failure != nil {
		switch name := failure.Error; {
		case slices.Contains(workflow.ErrorNames, name) || name == "States.Timeout":
			return outcomeFailed + name
		case strings.HasPrefix(name, "Lambda."):
			return outcomeFailed + "Lambda"
		}
		return OutcomeFailedOther
	}
	if undone(state, plan) {
		return OutcomeUndone
	}
	action := plan.Action
	if state.Instance != nil {
		action = state.Instance.Action
	}
	switch action {
	case workflow.ActionRegister:
		return OutcomeRegistered
	case workflow.ActionDeregister:
		return OutcomeDeregistered
	}
	return OutcomeNothingToDo
}

// emit writes the metrics of an outcome. An event that names no ASG (one
// asgdns does not act on) has none to write; metrics never fail the step.
func (h *Handler) emit(ctx context.Context, log *slog.Logger, state workflow.State, plan workflow.Plan, res *workflow.LifecycleResult) {
	if plan.ASG == "" {
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	at := now()
	outcome := outcomeOf(state, plan)
	failed, abandoned := 0.0, 0.0
	if state.Failure() != nil {
		failed = 1
	}
	if res.Completed && res.Result == workflow.Abandon {
		abandoned = 1
	}
	perASG := []metrics.Metric{
		{Name: MetricFailures, Unit: metrics.Count, Value: failed},
		{Name: MetricAbandoned, Unit: metrics.Count, Value: abandoned},
	}
	if outcome != OutcomeNothingToDo {
		if t, err := time.Parse(time.RFC3339, state.Time); err == nil && !at.Before(t) {
			perASG = append(perASG, metrics.Metric{Name: MetricCompletionSeconds, Unit: metrics.Seconds, Value: at.Sub(t).Seconds()})
		}
		held := 0
		if state.Hold != nil {
			held = state.Hold.HeldSeconds
		}
		perASG = append(perASG, metrics.Metric{Name: MetricTotalHeldSeconds, Unit: metrics.Seconds, Value: float64(held)})
	}
	if state.Command != nil && state.Command.Attempt > 0 {
		perASG = append(perASG, metrics.Metric{Name: MetricDCsTried, Unit: metrics.Count, Value: float64(state.Command.Attempt)})
	}
	err := metrics.Emit(ctx, log, metrics.Document{Time: at,
		Dimensions: []metrics.Dimension{{Name: DimensionASG, Value: plan.ASG}, {Name: DimensionOutcome, Value: outcome}},
		Sets: []metrics.Set{
			{Dimensions: [][]string{{DimensionASG, DimensionOutcome}, {DimensionOutcome}},
				Metrics: []metrics.Metric{{Name: MetricCompleted, Unit: metrics.Count, Value: 1}}},
			{Dimensions: [][]string{{DimensionASG}, {}}, Metrics: perASG},
		}})
	if err != nil {
		log.WarnContext(ctx, "metrics not written", slog.Any("error", err))
	}
}
