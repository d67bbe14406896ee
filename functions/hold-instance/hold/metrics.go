package hold

import (
	"context"
	"log/slog"
	"time"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/metrics"
)

// The metrics HoldInstance writes (namespace asgdns) on every round of
// the hold loop, per ASG (AutoScalingGroupName) and over all ASGs: an alarm
// on HeldSeconds' Maximum fires while any instance has been held longer
// than a threshold (each held instance reports at least every back-off,
// at most maxSeconds apart).
const (
	// MetricHeldInstances is 1 per hold round.
	MetricHeldInstances = "HeldInstances"
	// MetricHeldSeconds is how long the instance has been held so far.
	MetricHeldSeconds = "HeldSeconds"
	// DimensionASG is the Auto Scaling group.
	DimensionASG = "AutoScalingGroupName"
)

// emit writes a hold round's metrics; metrics never fail the step.
func emit(ctx context.Context, log *slog.Logger, plan workflow.Plan, res *workflow.HoldResult, at time.Time) {
	if plan.ASG == "" {
		return
	}
	err := metrics.Emit(ctx, log, metrics.Document{Time: at,
		Dimensions: []metrics.Dimension{{Name: DimensionASG, Value: plan.ASG}},
		Sets: []metrics.Set{{Dimensions: [][]string{{DimensionASG}, {}}, Metrics: []metrics.Metric{
			{Name: MetricHeldInstances, Unit: metrics.Count, Value: 1},
			{Name: MetricHeldSeconds, Unit: metrics.Seconds, Value: float64(res.HeldSeconds)},
		}}},
	})
	if err != nil {
		log.WarnContext(ctx, "metrics not written", slog.Any("error", err))
	}
}
