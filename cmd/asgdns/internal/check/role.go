package check

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/asgdns/asgdns/workflow"
)

// assumeRoleLogicalID is the AssumeRole function's logical id in
// template.yaml.
const assumeRoleLogicalID = "AssumeRoleFunction"

// checkExecution names the synthetic execution: the session name in the
// shared-services account's CloudTrail says the check assumed the role.
const checkExecution = "asgdns-check"

// checkRole invokes the deployed AssumeRole function with a state that
// DescribeInstance could have produced for a launch of SampleInstanceID.
// The function assumes the shared-services role exactly as an execution
// does (its own role, the trust policy, the ExternalId, SourceIdentity) and
// returns the session's parameters; it sends nothing and changes nothing.
func (c *checker) checkRole(ctx context.Context) {
	field := "AssumeRole function"
	if c.d.assumeRoleFunction == "" {
		fix := "run with --stack-name NAME once the stack is deployed, or --assume-role-function NAME"
		c.add(Result{Status: StatusNotChecked, Check: "role", Field: field,
			Message: fmt.Sprintf("the shared-services role cannot be assumed as the workflow assumes it: %s; fix: %s", c.d.functionUnavailable, fix), Fix: fix})
		return
	}
	field += " " + c.d.assumeRoleFunction
	payload, err := json.Marshal(c.syntheticRequest())
	if err != nil {
		c.add(Result{Status: StatusError, Check: "role", Field: field, Message: err.Error()})
		return
	}
	out, err := c.app.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(c.d.assumeRoleFunction), Payload: payload})
	if err != nil {
		c.add(Result{Status: StatusError, Check: "role", Field: field, Message: "lambda:Invoke: " + err.Error(),
			Fix: "allow lambda:InvokeFunction on the AssumeRole function to the principal running asgdns check"})
		return
	}
	if out.FunctionError != nil {
		var doc struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		_ = json.Unmarshal(out.Payload, &doc)
		if doc.Type == "" {
			doc.Type = aws.ToString(out.FunctionError)
		}
		status := StatusProblem
		if workflow.Transient(doc.Type) {
			status = StatusError // the session could not be tried: run the check again
		}
		c.add(Result{Status: status, Check: "role", Field: field, Error: doc.Type,
			Message: doc.Type + ": " + doc.Message, Fix: fixOf(doc.Message)})
		return
	}
	var session workflow.SessionResult
	if err := json.Unmarshal(out.Payload, &session); err != nil || session.AssumedRoleARN == "" {
		c.add(Result{Status: StatusError, Check: "role", Field: field,
			Message: fmt.Sprintf("the function returned no session: %s", truncate(string(out.Payload), 200))})
		return
	}
	if session.Account != c.d.sharedAccount {
		fix := fmt.Sprintf("deploy the stack with %s %s, or correct the parameter", paramSharedAccount, session.Account)
		c.add(Result{Status: StatusProblem, Check: "role", Field: field,
			Message: problem("AssumeRole function session", session.AssumedRoleARN,
				fmt.Sprintf("is in account %s, but %s is %s: the deployed stack and these parameters differ", session.Account, paramSharedAccount, c.d.sharedAccount), fix),
			Fix: fix})
		return
	}
	c.add(Result{Status: StatusOK, Check: "role", Field: field, Message: "assumed " + session.AssumedRoleARN})
}

// syntheticRequest is the AssumeRole Task's payload for a launch of
// SampleInstanceID in the first group checked.
func (c *checker) syntheticRequest() workflow.Request {
	detail, _ := json.Marshal(workflow.LifecycleActionDetail{
		AutoScalingGroupName: c.d.asgs[0], LifecycleHookName: c.d.launchHook, EC2InstanceID: SampleInstanceID,
		LifecycleTransition: transitionLaunching,
	})
	return workflow.Request{
		Execution: checkExecution,
		State: workflow.State{
			Event: workflow.Event{
				Version: "0", ID: "00000000-0000-0000-0000-000000000000", DetailType: "EC2 Instance-launch Lifecycle Action",
				Source: workflow.SourceAutoScaling, Account: c.d.account, Region: c.d.region, Resources: []string{}, Detail: detail,
			},
			Instance: &workflow.InstanceResult{
				Action: workflow.ActionRegister, Reason: "asgdns check: a synthetic launch, to assume the role as the workflow does",
				Transition: workflow.TransitionLaunch, InstanceID: SampleInstanceID, ASG: c.d.asgs[0], OnFailure: workflow.Continue,
			},
		},
	}
}

// fixOf is the fix part of a routed error's message.
func fixOf(msg string) string {
	if _, fix, ok := strings.Cut(msg, "; fix: "); ok {
		return fix
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
