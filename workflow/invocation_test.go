package workflow

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSleep covers the real Sleep, which the functions' tests replace.
func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Errorf("Sleep on a cancelled context returned %v after %v", err, time.Since(start))
	}
}
