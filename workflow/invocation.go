package workflow

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// Headroom is kept back from the Lambda deadline so a slow AWS call ends as a
// routed Unavailable error rather than the runtime killing the function
// (which Step Functions would see as an opaque timeout).
const Headroom = 500 * time.Millisecond

// WithHeadroom returns ctx with its deadline moved Headroom earlier.
func WithHeadroom(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-Headroom))
	}
	return context.WithCancel(ctx)
}

// LogAttrs are the attributes every log line of an execution carries: the
// execution, and the instance and ASG from $.instance or, before
// DescribeInstance has run, from the event.
func (r Request) LogAttrs() []any {
	id, asg := "", ""
	if inst := r.State.Instance; inst != nil {
		id, asg = inst.InstanceID, inst.ASG
	} else {
		var d struct {
			ID  string `json:"EC2InstanceId"`
			ASG string `json:"AutoScalingGroupName"`
		}
		_ = json.Unmarshal(r.State.Detail, &d) // best effort: only for logs
		id, asg = d.ID, d.ASG
	}
	return []any{slog.String("execution", r.Execution), slog.String("instanceId", id), slog.String("asg", asg)}
}

// Sleep waits for d, or until ctx ends: the one wait the functions
// make inside an invocation (polling a command, backing off a call).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
