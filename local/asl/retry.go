package asl

import (
	"math"
	"math/rand/v2"
	"time"
)

// Retriers and Catchers (spec, "Retrying after error" and "Fallback states";
// developer guide, concepts-error-handling).

type retrier struct {
	errorEquals     []string
	intervalSeconds int     // default 1
	maxAttempts     int     // default 3; 0 never retries
	backoffRate     float64 // default 2.0
	maxDelaySeconds int     // 0: no cap
	jitterFull      bool    // JitterStrategy FULL
}

type catcher struct {
	errorEquals   []string
	next          string
	resultPath    *path // nil: $ (the error output replaces the input)
	resultDiscard bool  // ResultPath null
	assign        *tmpl
}

// delay is the wait before retry number attempt (0 for the first retry):
// IntervalSeconds × BackoffRate^attempt, capped at MaxDelaySeconds, and with
// JitterStrategy FULL a uniformly random duration between 0 and that value
// ("FULL ... randomizes the interval between 0 and the computed interval").
func (r *retrier) delay(attempt int, rng *rand.Rand) time.Duration {
	seconds := float64(r.intervalSeconds) * math.Pow(r.backoffRate, float64(attempt))
	if r.maxDelaySeconds > 0 && seconds > float64(r.maxDelaySeconds) {
		seconds = float64(r.maxDelaySeconds)
	}
	// Keep far-out delays representable; 99999999 s is the largest interval
	// the service accepts anywhere.
	seconds = min(seconds, 99999999)
	if r.jitterFull {
		seconds *= rng.Float64()
	}
	return time.Duration(seconds * float64(time.Second)).Round(time.Millisecond)
}

// retryPolicy tracks the retriers of one state execution. "A Retrier's
// parameters apply across all visits to that Retrier in the context of a
// single state execution" and "once the interpreter transitions to another
// state in any way, all the Retrier parameters reset" (spec, "Complex retry
// scenarios").
type retryPolicy struct {
	retriers []*retrier
	attempts []int
	total    int // retries so far: $$.State.RetryCount
}

// next decides whether err is retried: the first retrier whose ErrorEquals
// matches handles it, and once that retrier has used up MaxAttempts the
// error goes to the Catchers (a later retrier that also matches is not
// consulted; spec example ErrorA/ErrorB/ErrorC/ErrorB).
func (p *retryPolicy) next(f *failure, rng *rand.Rand) (time.Duration, bool) {
	if f.terminal() || f.aborted {
		return 0, false
	}
	for i, r := range p.retriers {
		if !errorMatches(r.errorEquals, f.Error) {
			continue
		}
		if p.attempts[i] >= r.maxAttempts {
			return 0, false
		}
		d := r.delay(p.attempts[i], rng)
		p.attempts[i]++
		p.total++
		return d, true
	}
	return 0, false
}

// findCatcher returns the first Catcher whose ErrorEquals matches.
func findCatcher(catchers []*catcher, f *failure) *catcher {
	if f.terminal() || f.aborted {
		return nil
	}
	for _, c := range catchers {
		if errorMatches(c.errorEquals, f.Error) {
			return c
		}
	}
	return nil
}
