// Package asl is an interpreter of the Amazon States Language (JSONPath
// query language, standard workflows) with a pluggable clock and pluggable
// task handlers. It runs a state machine definition the way AWS Step
// Functions does, so that a definition can be tested on a laptop or in CI
// without an AWS account: fast and deterministic on a VirtualClock, or in
// real time on RealClock for a local stack.
//
//	def, err := asl.Parse(definitionJSON, asl.Substitutions{"FnArn": "arn:aws:lambda:us-east-1:123456789012:function:fn"})
//	eng := asl.NewEngine(asl.Options{
//		Clock:     asl.NewVirtualClock(start),
//		Rand:      rand.New(rand.NewPCG(1, 2)),
//		Resources: asl.Resources{"arn:aws:lambda:us-east-1:123456789012:function:fn": handler},
//	})
//	exec, res, err := eng.Run(ctx, def, asl.StartInput{Name: "x", Input: json.RawMessage(`{}`)})
//	res.Status, res.Output, res.Error, res.Cause, res.Transitions
//	exec.History() // GetExecutionHistory-shaped events
//	eng.Redrive(ctx, exec) // RedriveExecution semantics
//	exec.Stop("Err", "cause") // StopExecution
//
// # What is supported
//
// States: Pass, Task, Choice, Wait, Succeed, Fail, Parallel and inline Map.
// Input and output processing: InputPath, Parameters, ResultSelector,
// ResultPath (null, and new nested fields), OutputPath, with paths over the
// input ($), the context object ($$) and variables ($name); Assign; the
// intrinsic functions of the spec's Appendix B. Retry (ErrorEquals,
// IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds,
// JitterStrategy) and Catch (ResultPath, Assign). Task TimeoutSeconds(Path)
// and HeartbeatSeconds(Path), the machine's TimeoutSeconds, the 256 KiB
// payload limit. Definitions are validated on Parse. History events have
// the GetExecutionHistory shape.
//
// Not supported: the JSONata query language, Distributed Map (ItemReader,
// ItemBatcher, ResultWriter, tolerated failures), callbacks
// (.waitForTaskToken: $$.Task.Token is absent) and activities other than
// through a registered handler, Express workflows.
//
// # Semantics chosen where sources differ
//
//   - A Task's default TimeoutSeconds is 99999999, as the developer guide
//     says (the spec says 60).
//   - Path, Parameters and intrinsic function failures, and a Choice state
//     without a matching rule or Default, fail with States.Runtime: the
//     developer guide reports them so and keeps
//     States.ParameterPathFailure, States.IntrinsicFailure and
//     States.NoChoiceMatched "for future use". States.Runtime is never
//     retried or caught.
//   - A missed heartbeat fails with States.HeartbeatTimeout (spec, Appendix
//     A), which a States.Timeout retrier or catcher also matches.
//   - States.ALL matches every error but States.Runtime and
//     States.DataLimitExceeded; States.TaskFailed also excludes
//     States.Timeout and States.HeartbeatTimeout. States.DataLimitExceeded
//     can still be caught by naming it.
//
// # State transitions
//
// Result.Transitions counts what Step Functions bills: one transition per
// state entered (including states inside Parallel branches and Map
// iterations), one per retry attempt, one per redrive.
//
// # Time
//
// With a VirtualClock, Wait states, retry backoff and handler calls to
// Sleep advance the execution's own virtual time at once, and timers
// (TimeoutSeconds, HeartbeatSeconds, the machine's TimeoutSeconds) fire
// when that time passes them. Each execution, Parallel branch and Map
// iteration has its own fork of the clock, so concurrent executions do not
// disturb each other's time.
package asl
