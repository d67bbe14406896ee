package lambdahost

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// BenchmarkInvokeWarm is the round trip of one invocation on a warm
// sandbox: Invoke, the event through /next, the answer back through
// /response or /error. The allocations are the host's (the test process),
// not the function's.
func BenchmarkInvokeWarm(b *testing.B) {
	b.Run("testfn", func(b *testing.B) {
		fn := testFunction("bench")
		fn.Concurrency = 1
		h := newHost(b, fn)
		benchInvoke(b, h, "bench", []byte(`{"echo":1}`), nil)
	})
	b.Run("describe-instance", func(b *testing.B) {
		h := newHost(b, Function{Name: "asgdns-DescribeInstance", Dir: describeDir, Concurrency: 1, Env: describeEnv("http://127.0.0.1:1")})
		// Fails validation without calling AWS: the function's own work is
		// a few microseconds.
		benchInvoke(b, h, "asgdns-DescribeInstance", []byte(`{"execution":"x","state":{"source":"aws.ec2"}}`), func(err error) bool {
			var fe *FunctionError
			return errors.As(err, &fe) && fe.Type == "InvalidEvent"
		})
	})
}

func benchInvoke(b *testing.B, h *Host, name string, event []byte, expected func(error) bool) {
	ctx := context.Background()
	check := func(err error) {
		if err != nil && (expected == nil || !expected(err)) {
			b.Fatal(err)
		}
	}
	_, err := h.Invoke(ctx, name, event) // cold start, outside the timing
	check(err)
	b.ReportAllocs()
	for b.Loop() {
		_, err := h.Invoke(ctx, name, event)
		check(err)
	}
}

// BenchmarkHundredLaunches is 100 concurrent DescribeInstance invocations
// of a launch event (real bootstrap, fake EC2), 10 sandboxes at most: one op
// is the whole batch, on warm sandboxes after the first.
func BenchmarkHundredLaunches(b *testing.B) {
	ec2 := newFakeEC2(b)
	h := newHost(b, Function{Name: "asgdns-DescribeInstance", Dir: describeDir, Env: describeEnv(ec2.URL)})
	event := fixture(b, "launch.input.json")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if _, err := h.Invoke(ctx, "asgdns-DescribeInstance", event); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}
