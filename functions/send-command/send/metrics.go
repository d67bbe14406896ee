package send

import (
	"context"
	"log/slog"
	"time"

	"github.com/asgdns/asgdns/workflow/metrics"
)

// The metrics SendCommand writes (namespace asgdns), per DC (the DC's
// instance id: a dimension of bounded cardinality, the deployment's DC
// list), one EMF document each.
const (
	// MetricCommandsSent is 1 per DNS command sent to the DC.
	MetricCommandsSent = "CommandsSent"
	// MetricDCSkipped is 1 per DC passed over because SSM did not have it
	// online (InvalidInstanceId).
	MetricDCSkipped = "DCSkipped"
	// DimensionDC is the DC's instance id.
	DimensionDC = "DC"
)

// emit writes one count for dc; metrics never fail the step.
func emit(ctx context.Context, log *slog.Logger, at time.Time, metric, dc string) {
	err := metrics.Emit(ctx, log, metrics.Document{Time: at,
		Dimensions: []metrics.Dimension{{Name: DimensionDC, Value: dc}},
		Sets: []metrics.Set{{Dimensions: [][]string{{DimensionDC}},
			Metrics: []metrics.Metric{{Name: metric, Unit: metrics.Count, Value: 1}}}},
	})
	if err != nil {
		log.WarnContext(ctx, "metrics not written", slog.Any("error", err))
	}
}
