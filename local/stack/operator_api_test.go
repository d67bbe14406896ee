package stack

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// TestOperatorAPIs: the application stacks as CloudFormation describes
// them, and the hosted functions as Lambda invokes them, to each account's
// operator; errors in the services' own shapes.
func TestOperatorAPIs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 2*time.Minute)
	cfn := cloudformation.NewFromConfig(h.cfg)

	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(StackName)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Stacks) != 1 {
		t.Fatalf("%d stacks", len(out.Stacks))
	}
	st := out.Stacks[0]
	if !strings.HasPrefix(aws.ToString(st.StackId), "arn:aws:cloudformation:"+Region+":"+AppAccount+":stack/"+StackName+"/") ||
		st.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("stack %s %s", aws.ToString(st.StackId), st.StackStatus)
	}
	params := map[string]string{}
	for _, p := range st.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for k, want := range map[string]string{
		"Zone": Zone, "DcInstanceIds": DC, "SharedServicesAccountId": SharedAccount,
		"ExternalId":       "****",          // NoEcho
		"LaunchHookName":   "asgdns-launch", // a default
		"HostnameTemplate": "{asg-label}-{instance-id}",
	} {
		if params[k] != want {
			t.Errorf("parameter %s = %q, want %q", k, params[k], want)
		}
	}
	if !strings.Contains(","+params["AsgNames"]+",", ","+asgCLI+",") {
		t.Errorf("AsgNames %q", params["AsgNames"])
	}
	outputs := map[string]string{}
	for _, o := range st.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if outputs["StateMachineArn"] != h.s.StateMachineARN || outputs["StateMachineAliasArn"] != h.s.StateMachineARN+":live" ||
		outputs["AssumeRoleFunctionRoleArn"] != h.s.FunctionRoleARN("AssumeRoleFunction") {
		t.Errorf("outputs %v", outputs)
	}
	// The dead-letter queue's URL is the output, and it is a queue the
	// operator can read (drain) on the endpoint.
	dlq := h.s.Deployments[0].UndeliveredEventsQueueURL
	if dlq == "" || outputs["UndeliveredEventsQueueUrl"] != dlq {
		t.Errorf("UndeliveredEventsQueueUrl %q, deployment's %q", outputs["UndeliveredEventsQueueUrl"], dlq)
	}
	qa, err := sqs.NewFromConfig(h.cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil || !strings.HasPrefix(qa.Attributes["QueueArn"], "arn:aws:sqs:"+Region+":"+AppAccount+":"+StackName+"-UndeliveredEvents-") {
		t.Errorf("the dead-letter queue: %v %+v", err, qa)
	}
	if other := h.s.Deployment(OtherAppAccount); other != nil && (other.UndeliveredEventsQueueURL == "" || other.UndeliveredEventsQueueURL == dlq) {
		t.Errorf("the other deployment's queue %q", other.UndeliveredEventsQueueURL)
	}
	// The other account's operator sees its own deployment.
	other := h.operatorConfig(OtherAppAccount)
	oout, err := cloudformation.NewFromConfig(other).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil || len(oout.Stacks) != 1 || !strings.Contains(aws.ToString(oout.Stacks[0].StackId), ":"+OtherAppAccount+":") {
		t.Errorf("the other account's stacks: %v %+v", err, oout)
	}

	_, err = cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("nope")})
	wantAPIError(t, err, "ValidationError", "Stack with id nope does not exist")
	res, err := cfn.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(StackName), LogicalResourceId: aws.String("AssumeRoleFunction")})
	if err != nil || aws.ToString(res.StackResourceDetail.PhysicalResourceId) != "asgdns-AssumeRole" {
		t.Errorf("DescribeStackResource: %v %+v", err, res)
	}
	// A refusal of the endpoint's own reaches the client as a query error.
	bad := h.cfg.Copy()
	bad.Credentials = credentials.NewStaticCredentialsProvider("AKIANOBODY0000000000", "x", "")
	_, err = cloudformation.NewFromConfig(bad).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	wantAPIError(t, err, "InvalidClientTokenId", "")

	lam := lambda.NewFromConfig(h.cfg)
	_, err = lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("asgdns-Nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found")
	_, err = lam.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("arn:aws:lambda:" + Region + ":" + OtherAppAccount + ":function:asgdns-AssumeRole")})
	wantAPIError(t, err, "AccessDeniedException", "lambda:InvokeFunction")
	if _, err := lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("asgdns-AssumeRole"),
		InvocationType: lambdatypes.InvocationTypeDryRun}); err != nil {
		t.Errorf("DryRun: %v", err)
	}
	// A function error is the function's error document, flagged.
	inv, err := lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("asgdns-AssumeRole"), Payload: []byte(`{"execution":"x","state":{}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(inv.Payload, &doc); err != nil || aws.ToString(inv.FunctionError) != "Unhandled" || doc.ErrorType != "InvalidEvent" {
		t.Errorf("function error %q, payload %s (%v)", aws.ToString(inv.FunctionError), inv.Payload, err)
	}
}

func wantAPIError(t *testing.T, err error, code, contains string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code || !strings.Contains(apiErr.ErrorMessage(), contains) {
		t.Errorf("error %v, want %s containing %q", err, code, contains)
	}
}
