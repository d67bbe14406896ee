package asl

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of executions: Wait states, retry backoff,
// timeouts and history timestamps all go through it.
//
// RealClock sleeps for real. A VirtualClock never sleeps: a Wait of an hour
// moves its time forward by an hour at once, so hours of waiting and
// backoff run in microseconds and identical runs give identical timestamps.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Sleep waits for d, or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
	// AfterFunc calls f once d has passed, unless stop is called first.
	// stop reports whether it prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Fork returns the clock for a new line of work that runs alongside
	// this one: an execution, a Parallel branch, a Map iteration. A real
	// clock returns itself. A virtual clock returns a clock that starts at
	// this one's time, advances on its own, and still fires this clock's
	// timers (such as the execution's TimeoutSeconds).
	Fork() Clock
}

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

func (c realClock) Fork() Clock { return c }

// VirtualClock is a Clock whose time only moves when something sleeps on it
// (or when Advance is called). Each line of work sleeps on its own fork, so
// concurrent executions do not push each other's time: an execution sees
// exactly the time its own Waits, backoffs and simulated task durations
// (see Sleep) add up to.
//
// Timers fire when a sleeper's time passes them. A task handler that blocks
// on something other than Sleep does not move virtual time, so a Task
// timeout can only fire during Sleep calls.
type VirtualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*vtimer
	parent *VirtualClock
	seq    uint64
}

type vtimer struct {
	at   time.Time
	seq  uint64
	f    func()
	mu   sync.Mutex
	done bool // fired or stopped: f runs at most once
}

// NewVirtualClock returns a virtual clock that starts at start.
func NewVirtualClock(start time.Time) *VirtualClock {
	return &VirtualClock{now: start.UTC()}
}

// Now returns the clock's time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, firing the timers that fall due.
// Executions already running keep their own forked time.
func (c *VirtualClock) Advance(d time.Duration) {
	_ = c.Sleep(context.Background(), d)
}

// Sleep moves the clock forward by d at once, firing due timers in time
// order. If a timer's function cancels ctx (a timeout), the clock stops at
// that timer's time and Sleep returns ctx.Err().
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	target := c.now.Add(max(d, 0))
	c.mu.Unlock()
	for {
		t := c.dueTimer(target)
		if t == nil {
			break
		}
		c.mu.Lock()
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.fire()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if target.After(c.now) {
		c.now = target
	}
	c.mu.Unlock()
	return ctx.Err()
}

// dueTimer finds the earliest pending timer at or before target on this
// clock or an ancestor.
func (c *VirtualClock) dueTimer(target time.Time) *vtimer {
	var best *vtimer
	for k := c; k != nil; k = k.parent {
		k.mu.Lock()
		live := k.timers[:0]
		for _, t := range k.timers {
			if t.isDone() {
				continue
			}
			live = append(live, t)
			if t.at.After(target) {
				continue
			}
			if best == nil || t.at.Before(best.at) || t.at.Equal(best.at) && t.seq < best.seq {
				best = t
			}
		}
		clear(k.timers[len(live):])
		k.timers = live
		k.mu.Unlock()
	}
	return best
}

// AfterFunc registers f to run when a sleeper's time reaches Now()+d.
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	c.seq++
	t := &vtimer{at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	return t.stop
}

// Fork returns a clock that starts at c's time and sees c's timers.
func (c *VirtualClock) Fork() Clock {
	return &VirtualClock{now: c.Now(), parent: c}
}

func (t *vtimer) isDone() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

func (t *vtimer) stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

func (t *vtimer) fire() {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return
	}
	t.done = true
	t.mu.Unlock()
	t.f()
}

// Handlers see the clock of the task they run through their context, so
// that a handler can simulate work that takes time (Sleep) and keep a long
// task alive (Heartbeat).

type taskCtxKey struct{}

// TaskInfo describes the task a handler is running for.
type TaskInfo struct {
	// ExecutionArn and ExecutionName identify the execution.
	ExecutionArn, ExecutionName string
	// StateName is the Task state's name.
	StateName string
	// Resource is the state's Resource after DefinitionSubstitutions.
	Resource string
	// RetryCount is $$.State.RetryCount: 0 on the first attempt.
	RetryCount int
	// Attempt counts every run of the state in this execution, from 1,
	// including retries and re-entries (a loop back to the state, a
	// redrive); mock configurations number their responses this way.
	Attempt int

	clock     Clock
	heartbeat func()
}

func withTaskInfo(ctx context.Context, ti *TaskInfo) context.Context {
	return context.WithValue(ctx, taskCtxKey{}, ti)
}

// TaskInfoFrom returns the task a handler's context belongs to.
func TaskInfoFrom(ctx context.Context) (TaskInfo, bool) {
	ti, ok := ctx.Value(taskCtxKey{}).(*TaskInfo)
	if !ok {
		return TaskInfo{}, false
	}
	return *ti, true
}

// Sleep pauses a task handler for d on the execution's clock: real time with
// RealClock, simulated time with a VirtualClock (which is how a test makes a
// handler "take" 40 seconds and trip a 30-second TimeoutSeconds). It returns
// ctx.Err() if the task is timed out or stopped meanwhile. Outside a task it
// sleeps for real.
func Sleep(ctx context.Context, d time.Duration) error {
	if ti, ok := ctx.Value(taskCtxKey{}).(*TaskInfo); ok && ti.clock != nil {
		return ti.clock.Sleep(ctx, d)
	}
	return realClock{}.Sleep(ctx, d)
}

// Now returns the time on the clock of the task ctx belongs to (with a
// VirtualClock, the execution's own simulated time), or the real time
// outside a task. Handlers that keep time (a poller's budget, a timestamp
// they record) read it here so that it agrees with Sleep.
func Now(ctx context.Context) time.Time {
	if ti, ok := ctx.Value(taskCtxKey{}).(*TaskInfo); ok && ti.clock != nil {
		return ti.clock.Now()
	}
	return time.Now().UTC()
}

// Heartbeat tells the engine that the task is alive, as SendTaskHeartbeat
// does: it restarts the HeartbeatSeconds countdown. Without a heartbeat in
// time the task fails with States.HeartbeatTimeout.
func Heartbeat(ctx context.Context) {
	if ti, ok := ctx.Value(taskCtxKey{}).(*TaskInfo); ok && ti.heartbeat != nil {
		ti.heartbeat()
	}
}
