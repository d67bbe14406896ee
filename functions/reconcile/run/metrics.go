package run

import (
	"context"
	"log/slog"

	"github.com/asgdns/asgdns/workflow/metrics"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// The metrics a run writes (namespace asgdns), without dimensions except
// DriftFound's Kind.
const (
	// MetricSucceeded is 1 for a run that succeeded (Report.Succeeded), 0
	// for one that did not or failed: alarm on its maximum below 1 over the
	// schedule's period, missing data breaching.
	MetricSucceeded = "ReconcileSucceeded"
	// MetricDriftFound counts the plan's drift, per Kind (every kind, 0
	// included, so a kind's graph has no gaps).
	MetricDriftFound = "DriftFound"
	// MetricSkippedOtherOwner counts the names another account's marker
	// holds in the listed zones (never touched).
	MetricSkippedOtherOwner = "RecordsSkippedOtherOwner"
	// MetricRepairsStarted counts executions this try of the run started
	// (not those an earlier try had started).
	MetricRepairsStarted = "RepairsStarted"
	// MetricDeadLettersDrained counts dead letters handed to the state
	// machine and deleted.
	MetricDeadLettersDrained = "DeadLettersDrained"
	// MetricReadCommands counts the list commands that ran (Reads.Commands).
	MetricReadCommands = "ReconcileReadCommands"
	// DimensionKind is the drift's kind (reconcile.Kind).
	DimensionKind = "Kind"
)

// driftKinds pairs each kind with its count in a Drift.
func driftKinds(d reconcile.Drift) []struct {
	kind reconcile.Kind
	n    int
} {
	return []struct {
		kind reconcile.Kind
		n    int
	}{
		{reconcile.KindMissing, d.Missing}, {reconcile.KindWrongAddress, d.WrongAddress}, {reconcile.KindWrongTTL, d.WrongTTL},
		{reconcile.KindStale, d.Stale}, {reconcile.KindConflict, d.Conflict}, {reconcile.KindUnconfirmed, d.Unconfirmed},
		{reconcile.KindUnverified, d.Unverified},
	}
}

// emit writes the run's metrics; a run that failed writes only
// ReconcileSucceeded 0. Metrics never fail the run.
func (r *runner) emit(ctx context.Context, succeeded bool) {
	ok := 0.0
	if succeeded {
		ok = 1
	}
	docs := []metrics.Document{{Sets: []metrics.Set{{Dimensions: [][]string{{}},
		Metrics: []metrics.Metric{{Name: MetricSucceeded, Unit: metrics.Count, Value: ok}}}}}}
	rep := r.report
	if rep.Plan.Mode != "" { // a plan was made
		dl := rep.DeadLetters
		docs[0].Sets[0].Metrics = append(docs[0].Sets[0].Metrics,
			metrics.Metric{Name: MetricSkippedOtherOwner, Unit: metrics.Count, Value: float64(rep.Plan.Drift.OtherOwner)},
			metrics.Metric{Name: MetricRepairsStarted, Unit: metrics.Count, Value: float64(r.repairsStarted)},
			metrics.Metric{Name: MetricDeadLettersDrained, Unit: metrics.Count, Value: float64(dl.Deleted)},
			metrics.Metric{Name: MetricReadCommands, Unit: metrics.Count, Value: float64(rep.Reads.Commands)})
		for _, k := range driftKinds(rep.Plan.Drift) {
			docs = append(docs, metrics.Document{Dimensions: []metrics.Dimension{{Name: DimensionKind, Value: string(k.kind)}},
				Sets: []metrics.Set{{Dimensions: [][]string{{DimensionKind}},
					Metrics: []metrics.Metric{{Name: MetricDriftFound, Unit: metrics.Count, Value: float64(k.n)}}}}})
		}
	}
	for _, d := range docs {
		d.Time = r.h.Now()
		if err := metrics.Emit(ctx, r.log, d); err != nil {
			r.log.WarnContext(ctx, "metrics not written", slog.Any("error", err))
		}
	}
}
