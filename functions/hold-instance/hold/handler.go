// Package hold is the logic of functions/hold-instance: its Handler, over a
// narrow interface of the Auto Scaling client main.go wires in.
package hold

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// autoScalingAPI is the heartbeat that keeps the lifecycle hook holding the
// instance.
type autoScalingAPI interface {
	RecordLifecycleActionHeartbeat(ctx context.Context, params *autoscaling.RecordLifecycleActionHeartbeatInput, optFns ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// Handler is the HoldInstance step.
type Handler struct {
	AutoScaling autoScalingAPI
	// Hooks are asgdns's own lifecycle hooks: the only ones it heartbeats.
	Hooks workflow.HookNames
	// Budget is how long an instance may be held for transient failures,
	// from the first hold of the execution.
	Budget time.Duration
	// Now is the clock; Rand draws the jitter in [0, 1).
	Now  func() time.Time
	Rand func() float64
	// Log receives the step's log lines and its metrics (metrics.go).
	Log *slog.Logger
}

// EnvHoldBudget is the stack parameter HoldBudgetSeconds.
const EnvHoldBudget = "ASGDNS_HOLD_BUDGET_SECONDS"

// The hold budget's bounds. The default, 30 minutes, rides out what DNS
// and DCs ordinarily go through — a DC rebooting after patches, a DNS
// service restart, an SSM agent update, a throttled burst — while a real
// outage still reaches the configured failure result (and its alarm)
// within the half hour. MaxBudget keeps the whole execution inside the
// state machine's TimeoutSeconds (24 h; a test checks the two agree) and
// well inside the hook's global timeout (at most 48 h).
const (
	DefaultBudget = 30 * time.Minute
	MinBudget     = 60 * time.Second
	MaxBudget     = 12 * time.Hour
)

// Heartbeat states in HoldResult.Heartbeat.
const (
	HeartbeatRecorded = "recorded"
	HeartbeatNone     = "none"
	HeartbeatGone     = "gone"
)

// LoadBudget reads ASGDNS_HOLD_BUDGET_SECONDS (default 1800).
func LoadBudget(env config.Lookup) (time.Duration, error) {
	v, ok := env(EnvHoldBudget)
	if !ok || strings.TrimSpace(v) == "" {
		return DefaultBudget, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < int(MinBudget.Seconds()) || n > int(MaxBudget.Seconds()) {
		return 0, &workflow.InvalidConfig{Problem: workflow.Problem{
			Field: "environment variable " + EnvHoldBudget, Value: v,
			Reason: fmt.Sprintf("is not a whole number of seconds from %d to %d", int(MinBudget.Seconds()), int(MaxBudget.Seconds())),
			Fix:    "set the HoldBudgetSeconds stack parameter within those bounds (default 1800)",
		}}
	}
	return time.Duration(n) * time.Second, nil
}

// Handle records a heartbeat for asgdns's lifecycle action (if one waits)
// and returns the HoldResult for $.hold: how long to back off, or that the
// hold budget is spent.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.HoldResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(req.LogAttrs()...)
	if err := validate(req.Backoff); err != nil {
		log.ErrorContext(ctx, "invalid backoff", slog.Any("error", err))
		return nil, err
	}
	plan, err := workflow.PlanFor(req.State.Event, h.Hooks)
	if err != nil {
		log.ErrorContext(ctx, "invalid event", slog.Any("error", err))
		return nil, err
	}

	now := h.Now().UTC()
	res := &workflow.HoldResult{Holds: 1, Since: now, BudgetSeconds: int(h.Budget.Seconds())}
	if prev := req.State.Hold; prev != nil && !prev.Since.IsZero() {
		res.Holds, res.Since = prev.Holds+1, prev.Since
	}
	if e := req.State.CommandError; e != nil {
		res.Retrying = e.Error
	}
	held := now.Sub(res.Since)
	res.HeldSeconds = int(held.Seconds())

	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	if res.Heartbeat, err = h.heartbeat(ctx, plan); err != nil {
		log.ErrorContext(ctx, "lifecycle heartbeat failed", slog.Any("error", err))
		return nil, err
	}

	if held >= h.Budget {
		res.Expired = true
		log.WarnContext(ctx, "hold budget spent: releasing the instance", slog.Int("heldSeconds", res.HeldSeconds),
			slog.Int("holds", res.Holds), slog.String("retrying", res.Retrying))
		emit(ctx, log, plan, res, now)
		return res, nil
	}
	// Never wait past the budget: the last try comes just as it ends.
	left := int(math.Ceil((h.Budget - held).Seconds()))
	res.WaitSeconds = max(1, min(wait(*req.Backoff, res.Holds, res.Retrying, h.Rand()), left))
	log.InfoContext(ctx, "holding the instance", slog.Int("holds", res.Holds), slog.Int("heldSeconds", res.HeldSeconds),
		slog.Int("waitSeconds", res.WaitSeconds), slog.String("heartbeat", res.Heartbeat), slog.String("retrying", res.Retrying))
	emit(ctx, log, plan, res, now)
	return res, nil
}

// wait is the n-th backoff: d = min(first × rate^(n-1), max), drawn from
// [d/2, d] with r in [0, 1); max is the throttled cap when what is being
// retried is throttling.
func wait(b workflow.Backoff, n int, retrying string, r float64) int {
	limit := b.MaxSeconds
	if retrying == "Throttled" && b.ThrottledMaxSeconds > 0 {
		limit = b.ThrottledMaxSeconds
	}
	d := math.Min(float64(b.FirstSeconds)*math.Pow(b.Rate, float64(n-1)), float64(limit))
	return int(math.Round(d/2 + r*d/2))
}

// heartbeat resets the hook's heartbeat timeout. Only asgdns's own hook is
// ever touched (PlanFor gives another team's action no token). An action
// that already ended is not an error: the next round's Describe instance
// finds out why (the instance left, or someone completed it).
func (h *Handler) heartbeat(ctx context.Context, plan workflow.Plan) (string, error) {
	if !plan.Complete() {
		return HeartbeatNone, nil
	}
	_, err := h.AutoScaling.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(plan.ASG), LifecycleHookName: aws.String(plan.HookName),
		LifecycleActionToken: aws.String(plan.Token), InstanceId: aws.String(plan.InstanceID),
	})
	switch {
	case err == nil:
		return HeartbeatRecorded, nil
	case workflow.NoActiveLifecycleAction(err):
		return HeartbeatGone, nil
	}
	return "", workflow.FromAWS("autoscaling:RecordLifecycleActionHeartbeat "+plan.ASG, err,
		"allow autoscaling:RecordLifecycleActionHeartbeat on ASG "+strconv.QuoteToASCII(plan.ASG)+" to the HoldInstance function's role")
}

// validate checks the backoff the ASL declares.
func validate(b *workflow.Backoff) error {
	switch {
	case b == nil:
		return invalidBackoff("", "is missing")
	case b.FirstSeconds < 1 || b.MaxSeconds < b.FirstSeconds:
		return invalidBackoff(fmt.Sprintf("%+v", *b), "needs firstSeconds ≥ 1 and maxSeconds ≥ firstSeconds")
	case b.Rate < 1:
		return invalidBackoff(fmt.Sprintf("%+v", *b), "needs rate ≥ 1")
	case b.ThrottledMaxSeconds != 0 && (b.ThrottledMaxSeconds < b.FirstSeconds || b.ThrottledMaxSeconds > b.MaxSeconds):
		return invalidBackoff(fmt.Sprintf("%+v", *b), "needs throttledMaxSeconds from firstSeconds to maxSeconds")
	}
	return nil
}

func invalidBackoff(value, reason string) error {
	return &workflow.InvalidConfig{Problem: workflow.Problem{Field: "backoff", Value: value, Reason: reason,
		Fix: `declare "backoff": {"firstSeconds": 10, "rate": 2, "maxSeconds": 300, "throttledMaxSeconds": 30} in the Hold instance state's Parameters`}}
}
