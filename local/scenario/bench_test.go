package scenario

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/asgdns/asgdns/local/asl"
)

// BenchmarkLaunch runs the real definition for a happy launch, with the
// five real handlers in process over the fake world, as many at once as
// GOMAXPROCS allows. It reports executions per second and allocations per
// state transition (an execution is 8 transitions).
func BenchmarkLaunch(b *testing.B) {
	w := newWorld()
	w.forget = true
	r := newRig(b, w, nil)
	input := fixture(b, "launch")
	var n, transitions atomic.Int64
	var before, after runtime.MemStats
	b.ReportAllocs()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, res := r.runNamed(b, "bench-"+strconv.FormatInt(n.Add(1), 10), input)
			if res.Status != asl.StatusSucceeded {
				b.Fatalf("%s %s: %s", res.Status, res.Error, res.Cause)
			}
			transitions.Add(res.Transitions)
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	t := transitions.Load()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
	b.ReportMetric(float64(t)/float64(b.N), "transitions/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(t), "allocs/transition")
}
