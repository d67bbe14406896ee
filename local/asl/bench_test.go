package asl

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// benchDefinition is a 10-state machine shaped like a real workflow: five
// Lambda tasks with retriers and catchers, a Choice, a Wait, Pass states
// with Parameters and an intrinsic, and a Succeed. Every execution makes 10
// state transitions.
const benchDefinition = `{
  "StartAt": "Prepare",
  "TimeoutSeconds": 3600,
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution.Name", "event.$": "$"}, "Next": "Describe"},
    "Describe": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:describe",
      "Parameters": {"execution.$": "$.execution", "state.$": "$"}, "ResultPath": "$.instance", "TimeoutSeconds": 30,
      "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Release"}], "Next": "Route"},
    "Route": {"Type": "Choice", "Choices": [{"Variable": "$.instance.action", "StringEquals": "none", "Next": "Release"}], "Default": "Assume"},
    "Assume": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:assume",
      "Parameters": {"execution.$": "$.execution", "state.$": "$"}, "ResultPath": "$.session", "TimeoutSeconds": 30,
      "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "MaxAttempts": 5}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Release"}], "Next": "Send"},
    "Send": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:send",
      "Parameters": {"execution.$": "$.execution", "retryCount.$": "$$.State.RetryCount", "state.$": "$"}, "ResultPath": "$.command", "TimeoutSeconds": 30,
      "Retry": [{"ErrorEquals": ["Unavailable"], "IntervalSeconds": 3, "MaxAttempts": 3}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Release"}], "Next": "Pause"},
    "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
    "Poll": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:poll",
      "Parameters": {"execution.$": "$.execution", "state.$": "$"}, "ResultPath": "$.invocation", "TimeoutSeconds": 90,
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Release"}], "Next": "Summarise"},
    "Summarise": {"Type": "Pass", "Parameters": {"fqdn.$": "States.Format('{}.{}', $.instance.host, $.instance.zone)", "all.$": "$"}, "Next": "Complete"},
    "Complete": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:complete",
      "Parameters": {"execution.$": "$.all.execution", "state.$": "$"}, "ResultPath": "$.lifecycle", "TimeoutSeconds": 30,
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Release"}], "Next": "Done"},
    "Release": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:complete", "ResultPath": "$.lifecycle", "Next": "Failed"},
    "Failed": {"Type": "Fail", "Error": "Failed"},
    "Done": {"Type": "Succeed"}
  }
}`

const benchInput = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance-launch Lifecycle Action",
"source":"aws.autoscaling","account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1",
"detail":{"LifecycleActionToken":"87654321-4321-4321-4321-210987654321","AutoScalingGroupName":"web","LifecycleHookName":"dns",
"EC2InstanceId":"i-1234567890abcdef0","LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING"}}`

func benchEngine() *Engine {
	ok := func(out string) Handler {
		b := json.RawMessage(out)
		return func(context.Context, json.RawMessage) (json.RawMessage, error) { return b, nil }
	}
	return NewEngine(Options{
		Clock: NewVirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
		Rand:  rand.New(rand.NewPCG(1, 2)),
		Resources: Resources{
			"arn:aws:lambda:us-east-1:123456789012:function:describe": ok(`{"action":"register","host":"web-1","zone":"corp.example.com","ip":"10.0.0.5"}`),
			"arn:aws:lambda:us-east-1:123456789012:function:assume":   ok(`{"roleArn":"arn:aws:iam::210987654321:role/dns","expires":"2024-01-01T01:00:00Z"}`),
			"arn:aws:lambda:us-east-1:123456789012:function:send":     ok(`{"commandId":"c-1","dc":"dc1","attempt":1}`),
			"arn:aws:lambda:us-east-1:123456789012:function:poll":     ok(`{"done":true,"status":"Success","polls":1}`),
			"arn:aws:lambda:us-east-1:123456789012:function:complete": ok(`{"completed":true,"result":"CONTINUE"}`),
		},
	})
}

// BenchmarkExecution runs the 10-transition machine end to end (Start to
// ExecutionSucceeded, history included) with in-process handlers, on as
// many goroutines as GOMAXPROCS, and reports executions per second and
// allocations per state transition.
func BenchmarkExecution(b *testing.B) {
	def, err := Parse([]byte(benchDefinition), nil)
	if err != nil {
		b.Fatal(err)
	}
	eng := benchEngine()
	ctx := context.Background()
	in := StartInput{Name: "bench", Input: json.RawMessage(benchInput)}
	// Check the machine once, outside the measurement.
	if _, res, err := eng.Run(ctx, def, in); err != nil || res.Status != StatusSucceeded || res.Transitions != 10 {
		b.Fatalf("%v %+v", err, res)
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, res, err := eng.Run(ctx, def, in); err != nil || res.Status != StatusSucceeded {
				b.Errorf("%v %+v", err, res)
				return
			}
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/10, "allocs/transition")
}
