// Package stepfunctions is the local stack's AWS Step Functions: the Step
// Functions API over an asl.Engine, spoken on the wire as AWS does (AWS JSON
// 1.0, X-Amz-Target: AWSStepFunctions.<Operation>), so that the AWS CLI, the
// SDKs and `asgdns executions` / `asgdns replay` work against it unchanged
// through AWS_ENDPOINT_URL.
//
//	eng := asl.NewEngine(asl.Options{Resources: handlers})
//	svc, err := stepfunctions.New(stepfunctions.Options{Engine: eng, Region: "eu-west-1", Account: "111111111111"})
//	arn, err := svc.AddStateMachine("asgdns", definition, substitutions, roleArn)
//	http.Handle("/", svc)                       // the API
//	execArn, err := svc.Start(ctx, arn, "", eventJSON) // EventBridge's target
//	res, err := svc.Wait(ctx, execArn)           // or svc.OnFinish(func(stepfunctions.Finished){…})
//
// # Operations
//
// StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
// StopExecution, RedriveExecution, DescribeStateMachine, ListStateMachines,
// DescribeStateMachineForExecution, and for versions and aliases
// PublishStateMachineVersion, ListStateMachineVersions,
// CreateStateMachineAlias, DescribeStateMachineAlias,
// UpdateStateMachineAlias and ListStateMachineAliases. State machines are
// registered with AddStateMachine rather than CreateStateMachine (and
// changed with UpdateStateMachine, PublishVersion and SetAlias, as a
// deployment changes them): the local stack reads them, with their
// DefinitionSubstitutions, from template.yaml. Any other operation is an
// UnknownOperationException.
//
// # Semantics
//
//   - StartExecution is idempotent by name: the same name and input while
//     the execution runs return it again; otherwise the name is
//     ExecutionAlreadyExists (names are kept for the service's life, not 90
//     days).
//   - ListExecutions lists newest first, pages with a nextToken that stays
//     valid while new executions start (no repeats, no gaps), and refuses
//     statusFilter PENDING_REDRIVE with a stateMachineArn, as AWS does: it
//     is a Map Run status.
//   - RedriveExecution redrives FAILED, TIMED_OUT and ABORTED executions
//     within 14 days of their stop on the service clock (and started after
//     RedriveExecution launched, open for less than a year, with fewer than
//     24,999 history events); it answers the last 10 client tokens, each
//     for 15 minutes, with the redrive they made. DescribeExecution's
//     redriveStatus and redriveStatusReason say the same, in the API
//     reference's words.
//   - Versions and aliases behave as versions.go describes: an execution
//     started on a version or alias runs, and a redrive of it keeps, the
//     version it started on; ListExecutions with the unqualified ARN lists
//     them all, with a version or alias ARN only those started through it.
//   - StopExecution ends a running execution ABORTED and answers once the
//     execution has stopped; stopping one that has ended changes nothing.
//   - Executions run in the background on the engine's clock for the
//     service's life: Close aborts those still running.
//
// The handler does not check signatures: the endpoint in front of it
// authenticates callers.
package stepfunctions
