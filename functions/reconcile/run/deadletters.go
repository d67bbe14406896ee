package run

import (
	"context"
	"log/slog"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
)

// drain invokes functions/drain-dead-letters, which starts an execution
// for each dead-lettered event and deletes a message only once its
// execution started; its report becomes the run's deadLetters. An
// invocation that fails is one of the report's problems: the messages
// stay in the queue for the next run.
func (r *runner) drain(ctx context.Context) {
	fn := r.h.Config.DrainFunction
	var dl contract.DeadLetters
	if err := r.invoke(ctx, fn, contract.DrainRequest{Run: r.in.Run}, &dl); err != nil {
		msg := errText("dead letters not drained: "+fn, err)
		r.report.DeadLetters = contract.DeadLetters{Drained: true, Problems: []string{msg}}
		r.log.WarnContext(ctx, msg)
		return
	}
	if dl.Problems == nil {
		dl.Problems = []string{}
	}
	r.report.DeadLetters = dl
	r.log.InfoContext(ctx, "dead letters drained", slog.Int("received", dl.Received), slog.Int("started", dl.Started),
		slog.Int("alreadyStarted", dl.AlreadyStarted), slog.Int("deleted", dl.Deleted), slog.Int("left", dl.Left),
		slog.Int("problems", len(dl.Problems)))
}
