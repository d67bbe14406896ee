package asl

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestVirtualClockTimers(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewVirtualClock(start)
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "3s") })
	stop := c.AfterFunc(2*time.Second, func() { fired = append(fired, "2s-stopped") })
	c.AfterFunc(time.Second, func() { fired = append(fired, "1s") })
	c.AfterFunc(time.Second, func() { fired = append(fired, "1s-second") })
	if !stop() || stop() {
		t.Error("stop should work once")
	}
	c.Advance(2 * time.Second)
	if !slices.Equal(fired, []string{"1s", "1s-second"}) || !c.Now().Equal(start.Add(2*time.Second)) {
		t.Errorf("fired %q at %v", fired, c.Now())
	}
	// A fork fires its parent's timers when its own time passes them,
	// without moving the parent.
	f := c.Fork()
	if err := f.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fired, []string{"1s", "1s-second", "3s"}) || !f.Now().Equal(start.Add(7*time.Second)) || !c.Now().Equal(start.Add(2*time.Second)) {
		t.Errorf("fired %q, fork at %v, parent at %v", fired, f.Now(), c.Now())
	}
	// A timer that cancels the sleeper's context stops the clock there.
	ctx, cancel := context.WithCancel(context.Background())
	f.AfterFunc(10*time.Second, cancel)
	if err := f.Sleep(ctx, time.Hour); err == nil {
		t.Error("Sleep was not cancelled")
	}
	if !f.Now().Equal(start.Add(17 * time.Second)) {
		t.Errorf("stopped at %v, want +17s", f.Now())
	}
	if err := f.Sleep(ctx, time.Second); err == nil {
		t.Error("Sleep on a done context")
	}
	// Negative durations do not move time.
	if err := c.Sleep(context.Background(), -time.Hour); err != nil || !c.Now().Equal(start.Add(2*time.Second)) {
		t.Error("negative sleep moved the clock")
	}
}

func TestRealClockMethods(t *testing.T) {
	c := RealClock()
	if c.Fork() != c {
		t.Error("a real clock forks to itself")
	}
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Errorf("Now is off by %v", d)
	}
	var n atomic.Int32
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { n.Add(1); close(done) })
	<-done
	stop := c.AfterFunc(time.Hour, func() { n.Add(1) })
	if !stop() || n.Load() != 1 {
		t.Error("AfterFunc")
	}
	if err := c.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Error("a cancelled Sleep returned nil")
	}
	if err := c.Sleep(ctx, 0); err == nil {
		t.Error("a zero Sleep on a done context returned nil")
	}
}
