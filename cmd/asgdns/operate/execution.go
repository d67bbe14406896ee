package operate

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

// Execution is one execution of the asgdns state machine as the commands
// show it: what Step Functions says about it, and what its input (the
// lifecycle event) was about.
type Execution struct {
	Name   string `json:"name"`
	ARN    string `json:"executionArn"`
	Status string `json:"status"`
	// Transition is launch or terminate; empty for events without one
	// (the test notification, events asgdns does not act on).
	Transition string     `json:"transition"`
	InstanceID string     `json:"instanceId"`
	ASG        string     `json:"asg"`
	Start      time.Time  `json:"startDate"`
	Stop       *time.Time `json:"stopDate"`
	// DurationSeconds runs to now for an execution still running.
	DurationSeconds float64    `json:"durationSeconds"`
	RedriveCount    int        `json:"redriveCount"`
	RedriveDate     *time.Time `json:"redriveDate"`
	// Error and Cause say why an execution failed (for asgdns: the error
	// name and what to fix, from the Fail state).
	Error string `json:"error"`
	Cause string `json:"cause"`
	// Version is the state machine version the execution runs (a redrive
	// keeps it), Alias the alias it was started through: the deployment
	// it belongs to. Both null for one started on the unqualified ARN.
	Version    *int    `json:"version"`
	VersionARN *string `json:"stateMachineVersionArn"`
	AliasARN   *string `json:"stateMachineAliasArn"`

	// What replay needs and the listing does not print.
	input               string
	redriveStatus       types.ExecutionRedriveStatus
	redriveStatusReason string
	plan                workflow.Plan
	planErr             error
}

// newExecution builds an Execution from DescribeExecution's answer.
func newExecution(d *sfn.DescribeExecutionOutput, now time.Time) Execution {
	e := Execution{
		Name:                aws.ToString(d.Name),
		ARN:                 aws.ToString(d.ExecutionArn),
		Status:              string(d.Status),
		Start:               aws.ToTime(d.StartDate).UTC(),
		Stop:                utcPtr(d.StopDate),
		RedriveCount:        int(aws.ToInt32(d.RedriveCount)),
		RedriveDate:         utcPtr(d.RedriveDate),
		Error:               aws.ToString(d.Error),
		Cause:               aws.ToString(d.Cause),
		input:               aws.ToString(d.Input),
		redriveStatus:       d.RedriveStatus,
		redriveStatusReason: aws.ToString(d.RedriveStatusReason),
	}
	if arn := aws.ToString(d.StateMachineVersionArn); arn != "" {
		e.VersionARN = &arn
		if _, q, err := splitStateMachineARN(arn); err == nil && isVersion(q) {
			if n, err := strconv.Atoi(q); err == nil {
				e.Version = &n
			}
		}
	}
	if arn := aws.ToString(d.StateMachineAliasArn); arn != "" {
		e.AliasARN = &arn
	}
	end := now
	if e.Stop != nil {
		end = *e.Stop
	}
	e.DurationSeconds = end.Sub(e.Start).Round(time.Millisecond).Seconds()
	e.readInput()
	return e
}

// readInput reads the instance, ASG and transition from the execution
// input, with the same workflow.ParseEvent and PlanFor the Lambdas use, so
// the commands and the state machine agree on what an event means.
func (e *Execution) readInput() {
	event, err := workflow.ParseEvent([]byte(e.input))
	if err == nil {
		e.plan, err = DescribeEvent(event)
	}
	e.planErr = err
	if err == nil {
		e.Transition, e.InstanceID, e.ASG = string(e.plan.Transition), e.plan.InstanceID, e.plan.ASG
		return
	}
	// An event the workflow rejects may still name its instance and group:
	// show them, so --asg and --instance find it too.
	var detail struct {
		InstanceID string `json:"EC2InstanceId"`
		ASG        string `json:"AutoScalingGroupName"`
	}
	if json.Unmarshal(event.Detail, &detail) == nil {
		e.InstanceID, e.ASG = detail.InstanceID, detail.ASG
	}
}

// DescribeEvent is the workflow's plan for an event, read the way the
// Lambdas read it. Whose hook it is does not matter here: the plan only
// describes the event, and the functions of a replayed execution check hook
// ownership themselves against the deployment's hook names.
func DescribeEvent(event workflow.Event) (workflow.Plan, error) {
	var d struct {
		Hook string `json:"LifecycleHookName"`
	}
	_ = json.Unmarshal(event.Detail, &d) // PlanFor reports a malformed detail
	return workflow.PlanFor(event, workflow.HookNames{d.Hook})
}

// matches applies the filters that need the input.
func (q query) matches(e Execution) bool {
	return (q.ASG == "" || e.ASG == q.ASG) && (q.Instance == "" || e.InstanceID == q.Instance)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
