package cloud

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/asgdns/asgdns/local/wire"
)

// API throttling as AWS applies it: a token bucket per account and per API
// action (EC2 documents its request throttling that way; the other
// services publish little, and SSM's SendCommand/GetCommandInvocation
// limits are unpublished), so that a test or a benchmark can see what the
// workflow does when the services push back. Buckets run on the world's
// clock.

// Rate configures a token bucket: it holds at most Burst tokens, a call
// takes one, and PerSecond tokens come back each second.
type Rate struct {
	PerSecond float64
	Burst     int
}

// CallCount is how many calls an API received: let through and throttled.
type CallCount struct {
	Allowed, Throttled int
}

// ValidateThrottle checks a throttle key ("service:Operation" or
// "service:*", service being the signing name: ssm, autoscaling, ec2, sts,
// events, states) and its rate, as Options.Throttle and SetThrottle do.
func ValidateThrottle(key string, r Rate) error {
	service, op, ok := strings.Cut(key, ":")
	if !ok || service == "" || op == "" || strings.Contains(op, ":") || service != strings.ToLower(service) {
		return fmt.Errorf("throttle key %q is not service:Operation (e.g. ssm:SendCommand, or ssm:* for every SSM operation)", key)
	}
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 1) || r.Burst < 1 {
		return fmt.Errorf("throttle %s: rate %g/s with burst %d is not a rate: PerSecond must be a number > 0 and Burst ≥ 1", key, r.PerSecond, r.Burst)
	}
	return nil
}

// limiter holds the configured rates, a bucket per (account, service,
// operation) and the call counts. Time is passed in, so it is pure.
type limiter struct {
	mu      sync.Mutex
	rates   map[string]Rate // "service:Operation" or "service:*"
	buckets map[bucketKey]*bucket
	counts  map[string]CallCount // "service:Operation", all accounts
}

type bucketKey struct{ account, service, operation string }

type bucket struct {
	rate   Rate // what it was filled with: a changed rate starts a new bucket
	tokens float64
	last   time.Time
}

func newLimiter(rates map[string]Rate) *limiter {
	l := &limiter{rates: map[string]Rate{}, buckets: map[bucketKey]*bucket{}, counts: map[string]CallCount{}}
	maps.Copy(l.rates, rates)
	return l
}

// set configures the rate of a key; the zero Rate removes it.
func (l *limiter) set(key string, r Rate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r == (Rate{}) {
		delete(l.rates, key)
		return
	}
	l.rates[key] = r
}

// allow counts a call and reports whether the account's bucket for the
// operation had a token. An operation's own rate wins over its service's
// "service:*"; each operation has its own bucket either way, as AWS
// throttles each action separately.
func (l *limiter) allow(account, service, operation string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := service + ":" + operation
	n := l.counts[key]
	ok := l.take(bucketKey{account, service, operation}, now)
	if ok {
		n.Allowed++
	} else {
		n.Throttled++
	}
	l.counts[key] = n
	return ok
}

// take takes a token from a bucket, if its operation is throttled at all
// (caller holds l.mu).
func (l *limiter) take(bk bucketKey, now time.Time) bool {
	r, ok := l.rates[bk.service+":"+bk.operation]
	if !ok {
		r, ok = l.rates[bk.service+":*"]
	}
	if !ok {
		return true
	}
	b := l.buckets[bk]
	if b == nil || b.rate != r {
		// A new or reconfigured bucket starts full, as an account that
		// has not called the API for a while can burst.
		b = &bucket{rate: r, tokens: float64(r.Burst), last: now}
		l.buckets[bk] = b
	}
	if now.After(b.last) {
		b.tokens = min(float64(r.Burst), b.tokens+now.Sub(b.last).Seconds()*r.PerSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// snapshot copies the call counts.
func (l *limiter) snapshot() map[string]CallCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// SetThrottle throttles an API for every account from now on: key is
// "service:Operation" (ssm:SendCommand, autoscaling:RecordLifecycleActionHeartbeat,
// ec2:DescribeInstances, sts:AssumeRole, …) or "service:*" for each of the
// service's operations; the zero Rate turns it off again.
func (c *Cloud) SetThrottle(key string, r Rate) error {
	if r != (Rate{}) {
		if err := ValidateThrottle(key, r); err != nil {
			return fmt.Errorf("cloud: %w", err)
		}
	}
	c.limits.set(key, r)
	return nil
}

// APICalls are the calls the endpoint has answered or throttled since it
// started, by "service:Operation" (service being the signing name), summed
// over accounts; counted whether or not throttling is on. Calls refused
// before the caller is known (unsigned, unknown key) are not counted.
func (c *Cloud) APICalls() map[string]CallCount { return c.limits.snapshot() }

// throttle counts a call and, when the caller's account has used up its
// bucket for the operation, returns the error the real service sends.
func (c *Cloud) throttle(caller Principal, service, operation string, proto wire.Protocol) *wire.Error {
	if c.limits.allow(caller.Account, service, operation, c.clock.Now()) {
		return nil
	}
	switch {
	case proto == wire.EC2:
		// EC2 answers 503 RequestLimitExceeded ("Request limit exceeded.").
		return wire.NewError(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
	case proto == wire.Query:
		// Auto Scaling and STS: <Code>Throttling</Code>, "Rate exceeded", 400.
		return wire.NewError(http.StatusBadRequest, "Throttling", "Rate exceeded")
	}
	// SSM and EventBridge (JSON 1.1), Step Functions (JSON 1.0).
	return wire.NewError(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
}
