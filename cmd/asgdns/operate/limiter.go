package operate

import (
	"context"
	"sync"
	"time"
)

// limiter spaces calls evenly at a fixed rate, shared by all goroutines.
// Step Functions throttles per account and Region with token buckets (the
// published defaults refill DescribeExecution at 10-15 and ListExecutions at
// 2-5 calls per second), and the state machine's own Lambdas share that
// account: an operator command should stay well under them rather than
// lean on the SDK's retries.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// newLimiter allows perSecond calls per second; zero or less means no limit.
func newLimiter(perSecond float64) *limiter {
	l := &limiter{}
	if perSecond > 0 {
		l.interval = time.Duration(float64(time.Second) / perSecond)
	}
	return l
}

// Wait blocks until the caller's turn, or until ctx ends.
func (l *limiter) Wait(ctx context.Context) error {
	if l.interval == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()

	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
