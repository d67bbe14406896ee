package stack

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/asgdns/asgdns/local/cloud"
)

// latencyLaunches is how many launches BenchmarkLaunchLatency times.
const latencyLaunches = 20

// BenchmarkLaunchLatency times one launch at a time, 20 times: from the
// lifecycle event reaching EventBridge to CompleteLifecycleAction, minus
// the DNS command's own run time.
//
// The start is the Auto Scaling group's own emission of the "EC2
// Instance-launch Lifecycle Action" event onto the default bus (the
// stack's log line for the event, timed as it is written), not a
// PutEvents call: PutEvents refuses aws.* sources, as EventBridge does, so
// no client can put a real lifecycle event. The end is the stack's log
// line for the completed lifecycle action. The DNS command's run time is
// what SSM reports for its invocation (ExecutionStartDateTime to
// ExecutionEndDateTime, read in the shared-services account).
//
// Metrics: median_ms and p90_ms of that latency; cmd_median_ms, the
// command's own time; total_median_ms, event to completion including it;
// to_cmd_median_ms, event to the command's start (DescribeInstance,
// AssumeRole, SendCommand, the agent picking it up); from_cmd_median_ms,
// the command's end to completion (WaitForCommand seeing it done, which
// its poll schedule of 1 s, 1.5 s, … bounds, and CompleteLifecycle).
func BenchmarkLaunchLatency(b *testing.B) {
	ctx := testContext(b, 30*time.Minute)
	createGroup(ctx, b, asgBenchLatency, latencyLaunches, 0, standardHooks(""))
	var shared *ssm.Client
	seen := map[string]bool{}
	var latency, command, total, before, after []time.Duration
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			drain(ctx, b, asgBenchLatency)
			b.StartTimer()
		}
		for k := 1; k <= latencyLaunches; k++ {
			since := time.Now().Add(-time.Second)
			setDesired(ctx, b, asgBenchLatency, int32(k))
			e := waitExecutions(ctx, b, asgBenchLatency, since, 1, func(e execution) bool { return e.Transition == "launch" && !seen[e.Instance] })[0]
			seen[e.Instance] = true
			if e.Status != sfntypes.ExecutionStatusSucceeded {
				b.Fatalf("launch %v, want SUCCEEDED", e)
			}
			if shared == nil {
				shared = sharedSSM(ctx, b) // once a WaitForCommand sandbox exists
			}
			evAt, ok1 := h.log.find("msg=event ", `Instance-launch Lifecycle Action`, `EC2InstanceId\":\"`+e.Instance+`\"`)
			doneAt, ok2 := h.log.find(`msg="lifecycle action completed"`, "hook=asgdns-launch", "instance="+e.Instance)
			if !ok1 || !ok2 {
				b.Fatalf("%s: event logged %v, completion logged %v", e.Instance, ok1, ok2)
			}
			cmdStart, cmdEnd := commandRun(ctx, b, shared, e)
			cmd := cmdEnd.Sub(cmdStart)
			total = append(total, doneAt.Sub(evAt))
			command = append(command, cmd)
			latency = append(latency, doneAt.Sub(evAt)-cmd)
			before = append(before, cmdStart.Sub(evAt))
			after = append(after, doneAt.Sub(cmdEnd))
		}
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(latency, 50)), "median_ms")
	b.ReportMetric(ms(percentile(latency, 90)), "p90_ms")
	b.ReportMetric(ms(percentile(command, 50)), "cmd_median_ms")
	b.ReportMetric(ms(percentile(total, 50)), "total_median_ms")
	b.ReportMetric(ms(percentile(before, 50)), "to_cmd_median_ms")
	b.ReportMetric(ms(percentile(after, 50)), "from_cmd_median_ms")
	b.Logf("%d launches: event→completion minus the command: %s; the command alone: %s", len(latency), durations(latency), durations(command))
	drain(ctx, b, asgBenchLatency)
}

// commandRun is when the execution's DNS command ran, as SSM reports it
// (millisecond precision, on this machine's clock).
func commandRun(ctx context.Context, b *testing.B, shared *ssm.Client, e execution) (start, end time.Time) {
	b.Helper()
	st := parseState(b, e.Output)
	out, err := shared.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
		CommandId: aws.String(st.Command.CommandID), InstanceId: aws.String(st.Command.DCInstanceID), PluginName: aws.String(st.Command.Step)})
	if err != nil {
		b.Fatalf("GetCommandInvocation: %v", err)
	}
	var err1, err2 error
	start, err1 = time.Parse(time.RFC3339, aws.ToString(out.ExecutionStartDateTime))
	end, err2 = time.Parse(time.RFC3339, aws.ToString(out.ExecutionEndDateTime))
	if err1 != nil || err2 != nil {
		b.Fatalf("command %s: execution %q to %q", st.Command.CommandID, aws.ToString(out.ExecutionStartDateTime), aws.ToString(out.ExecutionEndDateTime))
	}
	return start, end
}

// burstSize is how many instances BenchmarkConcurrentLaunches launches at
// once.
const burstSize = 100

// BenchmarkConcurrentLaunches scales one group from 0 to 100 in one call
// and waits for the 100 launch executions. Metrics: wall_s, from the
// SetDesiredCapacity call to the last execution's end; succeeded, of the
// 100 executions; registered, InService instances whose name resolves to
// their address; pending_wait, instances left in Pending:Wait (want 0).
// The hooks ask for onFailure CONTINUE, so a failed registration shows as
// an instance in service without a name rather than as replacements.
func BenchmarkConcurrentLaunches(b *testing.B) {
	ctx := testContext(b, 60*time.Minute)
	createGroup(ctx, b, asgBenchBurst, burstSize, 0, standardHooks(`{"onFailure":"CONTINUE"}`))
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			drain(ctx, b, asgBenchBurst)
			b.StartTimer()
		}
		since := time.Now().Add(-time.Second)
		start := time.Now()
		setDesired(ctx, b, asgBenchBurst, burstSize)
		runs, err := endedLaunches(ctx, asgBenchBurst, since, burstSize, 20*time.Minute)
		if err != nil {
			b.Logf("waiting for the launches: %v", err)
		}
		var last time.Time
		succeeded := 0
		failures := map[string]int{}
		for _, e := range runs {
			last = maxTime(last, e.Stop)
			if e.Status == sfntypes.ExecutionStatusSucceeded {
				succeeded++
			} else {
				failures[string(e.Status)+" "+e.Error+": "+firstLine(e.Cause)]++
			}
		}
		wall := last.Sub(start)
		b.StopTimer()

		instances, err := groupInstances(ctx, asgBenchBurst)
		if err != nil {
			b.Fatal(err)
		}
		pendingWait, registered := 0, 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, inst := range instances {
			switch inst.LifecycleState {
			case astypes.LifecycleStatePendingWait:
				pendingWait++
			case astypes.LifecycleStateInService:
				id := aws.ToString(inst.InstanceId)
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
					if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
						return
					}
					ip := aws.ToString(out.Reservations[0].Instances[0].PrivateIpAddress)
					got, err := resolve(ctx, fqdn(asgBenchBurst, id))
					if err == nil && slices.Equal(got, []string{ip}) {
						mu.Lock()
						registered++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(float64(succeeded), "succeeded")
		b.ReportMetric(float64(registered), "registered")
		b.ReportMetric(float64(pendingWait), "pending_wait")
		b.Logf("%d launches at once: %d executions ended in %s, %d SUCCEEDED; %d instances (%d InService and registered, %d Pending:Wait)",
			burstSize, len(runs), wall.Round(time.Millisecond), succeeded, len(instances), registered, pendingWait)
		for why, n := range failures {
			b.Logf("  %d× %s", n, why)
		}
		b.StartTimer()
	}
	b.StopTimer()
	drain(ctx, b, asgBenchBurst)
}

// endedLaunches waits up to limit for want launch executions of the group
// started since since to end, and returns those that did.
func endedLaunches(ctx context.Context, asg string, since time.Time, want int, limit time.Duration) ([]execution, error) {
	var ended []execution
	err := poll(ctx, limit, func() (bool, error) {
		all, err := executionsSince(ctx, since)
		if err != nil {
			return false, err
		}
		ended = nil
		for _, e := range all {
			if e.ASG == asg && e.Transition == "launch" && e.Status != sfntypes.ExecutionStatusRunning {
				ended = append(ended, e)
			}
		}
		return len(ended) >= want, nil
	})
	return ended, err
}

// drain scales a group to 0 and waits until its instances are gone and
// their terminate executions have ended.
func drain(ctx context.Context, b *testing.B, asg string) {
	b.Helper()
	instances, err := groupInstances(ctx, asg)
	if err != nil {
		b.Fatal(err)
	}
	since := time.Now().Add(-time.Second)
	setDesired(ctx, b, asg, 0)
	waitGroup(ctx, b, asg, "drained", func(is []astypes.Instance) bool { return len(is) == 0 })
	if n := len(instances); n > 0 {
		waitExecutions(ctx, b, asg, since, n, ofTransition("terminate"))
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank.
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func durations(ds []time.Duration) string {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d.Round(time.Millisecond))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// The throttled burst's world: SSM throttles each API per account (rates
// chosen well below what a burst asks, since AWS publishes none for
// SendCommand or GetCommandInvocation: aws-facts §8), and the DC's agent
// runs at most dcWorkers commands at once, each taking commandTime.
var (
	burstThrottle = map[string]cloud.Rate{
		"ssm:SendCommand":          {PerSecond: 10, Burst: 20},
		"ssm:GetCommandInvocation": {PerSecond: 20, Burst: 40},
	}
	dcWorkers   = 5
	commandTime = 500 * time.Millisecond
)

// benchHarnessCalls are the calls the benchmark itself makes while the
// burst runs (it scales the groups and watches the executions through
// states:*), left out of calls_per_launch.
var benchHarnessCalls = map[string]bool{"autoscaling:SetDesiredCapacity": true, "autoscaling:DescribeAutoScalingGroups": true}

// EnvThrottledBurst sets BenchmarkThrottledBurst's burst size (default
// 200, which `make bench` runs; the target is 1,000).
const EnvThrottledBurst = "ASGDNS_BENCH_BURST"

// BenchmarkThrottledBurst launches a burst spread over four ASGs at once,
// with SSM throttling on and a DC that runs at most 5 commands at once,
// each taking 0.5 s. The DC alone bounds the burst: n × 0.5 s / 5.
// Metrics: registered (InService and resolving to its address), abandoned
// (instances terminated or replaced), pending_wait (left held), wall_s
// from the scale-out call to the last launch execution's end, x_bound
// (wall_s over the DC's own bound), calls_per_launch (the workflow's AWS
// API calls of every kind, throttled ones included, per launch) and
// throttled (calls refused as throttled).
func BenchmarkThrottledBurst(b *testing.B) {
	burst := 200
	if v := os.Getenv(EnvThrottledBurst); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < len(asgBenchThrottled) {
			b.Fatalf("%s=%q: want a whole number ≥ %d", EnvThrottledBurst, v, len(asgBenchThrottled))
		}
		burst = n
	}
	ctx := testContext(b, 90*time.Minute)
	c := h.s.Cloud
	for key, r := range burstThrottle {
		if err := c.SetThrottle(key, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.SetAgentWorkers(dcWorkers); err != nil {
		b.Fatal(err)
	}
	if err := c.SetCommandDuration(commandTime); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for key := range burstThrottle {
			_ = c.SetThrottle(key, cloud.Rate{})
		}
		_ = c.SetAgentWorkers(0)
		_ = c.SetCommandDuration(0)
	})
	per := burst / len(asgBenchThrottled)
	sizes := make([]int, len(asgBenchThrottled))
	for i := range sizes {
		sizes[i] = per
		if i < burst%len(asgBenchThrottled) {
			sizes[i]++
		}
	}
	for i, asg := range asgBenchThrottled {
		createGroup(ctx, b, asg, int32(sizes[i]), 0, standardHooks(""))
	}
	bound := time.Duration(burst) * commandTime / time.Duration(dcWorkers)
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			for _, asg := range asgBenchThrottled {
				drain(ctx, b, asg)
			}
			b.StartTimer()
		}
		callsBefore := c.APICalls()
		since := time.Now().Add(-time.Second)
		start := time.Now()
		for k, asg := range asgBenchThrottled {
			setDesired(ctx, b, asg, int32(sizes[k]))
		}
		var runs []execution
		for k, asg := range asgBenchThrottled {
			r, err := endedLaunches(ctx, asg, since, sizes[k], 60*time.Minute)
			if err != nil {
				b.Logf("%s: waiting for the launches: %v", asg, err)
			}
			runs = append(runs, r...)
		}
		wall := latest(runs).Sub(start)
		b.StopTimer()
		calls, throttled := 0, 0
		var perKey []string
		for key, n := range c.APICalls() {
			if benchHarnessCalls[key] || strings.HasPrefix(key, "states:") {
				continue // the benchmark's own calls, not the workflow's
			}
			all := n.Allowed + n.Throttled - callsBefore[key].Allowed - callsBefore[key].Throttled
			calls += all
			throttled += n.Throttled - callsBefore[key].Throttled
			if all > 0 {
				perKey = append(perKey, fmt.Sprintf("%s %.1f (%d throttled)", key, float64(all)/float64(burst), n.Throttled-callsBefore[key].Throttled))
			}
		}
		slices.Sort(perKey)
		registered, pendingWait, abandoned := 0, 0, 0
		failures := map[string]int{}
		for _, e := range runs {
			if e.Status != sfntypes.ExecutionStatusSucceeded {
				failures[string(e.Status)+" "+e.Error+": "+firstLine(e.Cause)]++
			}
		}
		for _, asg := range asgBenchThrottled {
			instances, err := groupInstances(ctx, asg)
			if err != nil {
				b.Fatal(err)
			}
			launched := map[string]bool{}
			for _, e := range runs {
				if e.ASG == asg {
					launched[e.Instance] = true
				}
			}
			for _, inst := range instances {
				id := aws.ToString(inst.InstanceId)
				switch {
				case inst.LifecycleState == astypes.LifecycleStatePendingWait:
					pendingWait++
				case inst.LifecycleState == astypes.LifecycleStateInService && launched[id]:
					ip, _ := privateIP(ctx, b, id)
					if got, err := resolve(ctx, fqdn(asg, id)); err == nil && slices.Equal(got, []string{ip}) {
						registered++
					}
				}
			}
			// A launch whose instance is no longer in the group was
			// abandoned (or replaced).
			for id := range launched {
				if !slices.ContainsFunc(instances, func(i astypes.Instance) bool { return aws.ToString(i.InstanceId) == id }) {
					abandoned++
				}
			}
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(registered), "registered")
		b.ReportMetric(float64(abandoned), "abandoned")
		b.ReportMetric(float64(pendingWait), "pending_wait")
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(wall.Seconds()/bound.Seconds(), "x_bound")
		b.ReportMetric(float64(calls)/float64(burst), "calls_per_launch")
		b.ReportMetric(float64(throttled), "throttled")
		b.Logf("burst of %d over %d ASGs: %d executions ended in %s (the DC's bound: %s, ×%.2f); %d registered, %d abandoned, %d Pending:Wait; %d API calls (%.1f per launch), %d throttled",
			burst, len(asgBenchThrottled), len(runs), wall.Round(time.Millisecond), bound, wall.Seconds()/bound.Seconds(),
			registered, abandoned, pendingWait, calls, float64(calls)/float64(burst), throttled)
		b.Logf("API calls per launch: %s", strings.Join(perKey, "; "))
		for why, n := range failures {
			b.Logf("  %d× %s", n, why)
		}
		b.StartTimer()
	}
	b.StopTimer()
	for _, asg := range asgBenchThrottled {
		drain(ctx, b, asg)
	}
}
