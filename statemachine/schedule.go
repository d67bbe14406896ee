package statemachine

import (
	"math"
	"time"
)

// WorstVisit bounds one visit of a Task state: the first attempt and every
// retry of every retrier run to the Task's TimeoutSeconds, and every retry
// first waits its full backoff (FULL jitter only ever shortens it), capped
// by MaxDelaySeconds. Retriers keep separate counts, so a visit may exhaust
// them all.
func (s State) WorstVisit() time.Duration {
	attempts := 1
	var waits float64
	for _, r := range s.Retry {
		attempts += r.MaxAttempts
		for k := range r.MaxAttempts {
			d := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(k))
			if r.MaxDelaySeconds > 0 {
				d = math.Min(d, r.MaxDelaySeconds)
			}
			waits += d
		}
	}
	return time.Duration(attempts*s.TimeoutSeconds)*time.Second + time.Duration(waits*float64(time.Second))
}
