package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/local/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// raw sends a hand-made request; scope is "AKID/region/service" or "" for
// an unsigned one.
func (w *world) raw(t *testing.T, scope, target, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if scope != "" {
		parts := strings.Split(scope, "/")
		req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20261120/%s/%s/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
			parts[0], parts[1], parts[2]))
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const (
	formType = "application/x-www-form-urlencoded; charset=utf-8"
	json11   = "application/x-amz-json-1.1"
)

// The error shapes of each protocol, byte for byte where it matters.
func TestErrorShapes(t *testing.T) {
	w := newWorld(t)
	op := keyAppOperator + "/eu-west-1/"

	type queryError struct {
		XMLName xml.Name
		Error   struct{ Type, Code, Message string }
		Errors  struct {
			Error struct{ Code, Message string }
		}
		RequestID  string `xml:"RequestId"`
		RequestID2 string `xml:"RequestID"`
	}
	for _, tc := range []struct {
		name, scope, target, contentType, body string
		status                                 int
		root, code, message                    string // root: ErrorResponse, Response (EC2) or json
	}{
		{"EC2 unknown action", op + "ec2", "", formType, "Action=DescribeVpcs&Version=2016-11-15",
			400, "Response", "InvalidAction", "The action DescribeVpcs is not valid for this web service."},
		{"Auto Scaling unknown action", op + "autoscaling", "", formType, "Action=DescribeWarmPool&Version=2011-01-01",
			400, "ErrorResponse", "InvalidAction", "The action DescribeWarmPool is not valid for this web service."},
		{"STS missing action", op + "sts", "", formType, "Version=2011-06-15",
			400, "ErrorResponse", "MissingAction", "No action was supplied with this request."},
		{"wrong API version", op + "sts", "", formType, "Action=GetCallerIdentity&Version=2010-01-01",
			400, "ErrorResponse", "NoSuchVersion", "The requested version (2010-01-01) of service sts does not exist"},
		{"malformed query", op + "autoscaling", "", formType, "Action=DescribeAutoScalingGroups&Version=2011-01-01&bad=%zz",
			404, "ErrorResponse", "MalformedQueryString", ""},
		{"unknown query service", op + "iam", "", formType, "Action=ListRoles&Version=2010-05-08",
			400, "ErrorResponse", "InvalidAction", ""},
		{"SSM unknown operation", op + "ssm", "AmazonSSM.ListDocuments", json11, "{}",
			400, "json", "UnknownOperationException", "Unknown operation AmazonSSM.ListDocuments"},
		{"SSM malformed body", op + "ssm", "AmazonSSM.SendCommand", json11, `{"DocumentName": `,
			400, "json", "SerializationException", ""},
		{"SSM wrong types", op + "ssm", "AmazonSSM.SendCommand", json11, `{"InstanceIds": "i-1"}`,
			400, "json", "SerializationException", ""},
		{"EventBridge malformed body", op + "events", "AWSEvents.PutEvents", json11, `[1,2]`,
			400, "json", "SerializationException", ""},
		{"unknown JSON service", op + "dynamodb", "DynamoDB_20120810.ListTables", "application/x-amz-json-1.0", "{}",
			400, "json", "UnknownOperationException", ""},
		{"JSON without a target", op + "ssm", "", json11, "{}",
			400, "json", "UnknownOperationException", "Missing X-Amz-Target: a JSON-protocol request must name its operation"},
		{"unsigned", "", "", formType, "Action=GetCallerIdentity&Version=2011-06-15",
			403, "ErrorResponse", "MissingAuthenticationToken", "Request is missing Authentication Token"},
		{"unknown key, query", "AKIANOBODY/eu-west-1/sts", "", formType, "Action=GetCallerIdentity&Version=2011-06-15",
			403, "ErrorResponse", "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"unknown key, EC2", "AKIANOBODY/eu-west-1/ec2", "", formType, "Action=DescribeInstances&Version=2016-11-15",
			401, "Response", "AuthFailure", "AWS was not able to validate the provided access credentials"},
		{"unknown key, JSON", "AKIANOBODY/eu-west-1/ssm", "AmazonSSM.SendCommand", json11, "{}",
			400, "json", "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"another region", keyAppOperator + "/us-east-1/sts", "", formType, "Action=GetCallerIdentity&Version=2011-06-15",
			403, "ErrorResponse", "SignatureDoesNotMatch", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := w.raw(t, tc.scope, tc.target, tc.contentType, tc.body)
			if status != tc.status {
				t.Errorf("status = %d, want %d: %s", status, tc.status, body)
			}
			if header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			var code, message string
			if tc.root == "json" {
				var e map[string]string
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("body is not JSON: %s", body)
				}
				code, message = e["__type"], e["message"]
				if header.Get("X-Amzn-ErrorType") != tc.code {
					t.Errorf("X-Amzn-ErrorType = %q", header.Get("X-Amzn-ErrorType"))
				}
			} else {
				var e queryError
				if err := xml.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("body is not XML: %s", body)
				}
				if e.XMLName.Local != tc.root {
					t.Errorf("root element = %s, want %s: %s", e.XMLName.Local, tc.root, body)
				}
				code, message = e.Error.Code, e.Error.Message
				if tc.root == "Response" {
					code, message = e.Errors.Error.Code, e.Errors.Error.Message
					if e.RequestID2 == "" {
						t.Error("no RequestID")
					}
				} else if e.Error.Type != "Sender" || e.RequestID == "" {
					t.Errorf("Type %q RequestId %q", e.Error.Type, e.RequestID)
				}
			}
			if code != tc.code || (tc.message != "" && message != tc.message) {
				t.Errorf("code %q message %q, want %q %q", code, message, tc.code, tc.message)
			}
		})
	}
}

// rewriteBody changes a request's serialized body before it is sent, for
// requests the SDK itself would never make.
func rewriteBody(f func([]byte) []byte) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("rewriteBody", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			req := in.Request.(*smithyhttp.Request)
			body, err := io.ReadAll(req.GetStream())
			if err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, err
			}
			body = f(body)
			if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, err
			}
			req.ContentLength = int64(len(body))
			in.Request = req
			return next.HandleBuild(ctx, in)
		}), middleware.Before)
	}
}

// The same errors as the SDK parses them.
func TestErrorsThroughTheSDK(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	// An unknown query action (what a newer SDK or a typo would send).
	_, err := w.ec2(keyCreds(keyAppOperator)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}, func(o *ec2.Options) {
		o.APIOptions = append(o.APIOptions, rewriteBody(func(b []byte) []byte {
			return bytes.Replace(b, []byte("Action=DescribeInstances"), []byte("Action=DescribeVpcs"), 1)
		}))
	})
	if msg := wantCode(t, err, "InvalidAction"); msg != "The action DescribeVpcs is not valid for this web service." {
		t.Errorf("message = %q", msg)
	}
	if httpStatus(err) != 400 {
		t.Errorf("status = %d", httpStatus(err))
	}
	// A malformed JSON body.
	_, err = w.ssm(keyCreds(keySharedAdmin)).GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
		CommandId: aws.String("x"), InstanceId: aws.String(dcID)}, func(o *ssm.Options) {
		o.APIOptions = append(o.APIOptions, rewriteBody(func([]byte) []byte { return []byte(`{"CommandId":`) }))
	})
	wantCode(t, err, "SerializationException")
	// A service this endpoint does not serve (JSON 1.0, AWSStepFunctions)
	// until a handler is registered for it.
	client := sfn.NewFromConfig(w.config(keyCreds(keyAppOperator)))
	_, err = client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if msg := wantCode(t, err, "UnknownOperationException"); !strings.Contains(msg, "AWSStepFunctions.ListStateMachines") {
		t.Errorf("message = %q", msg)
	}
	w.cloud.HandleTarget("AWSStepFunctions", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		caller, ok := CallerFrom(r.Context())
		body, _ := io.ReadAll(r.Body)
		if !ok || caller.Account != AppAccount || !json.Valid(body) {
			wire.WriteJSONError(rw, r, 500, "InternalFailure", fmt.Sprintf("caller %v %v body %s", caller, ok, body))
			return
		}
		if r.Header.Get("X-Amz-Target") == "AWSStepFunctions.ListStateMachines" {
			rw.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_, _ = rw.Write([]byte(`{"stateMachines":[{"name":"asgdns","stateMachineArn":"arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns","type":"STANDARD","creationDate":1.7e9}]}`))
			return
		}
		wire.WriteJSONError(rw, r, 400, "UnknownOperationException", "nope")
	}))
	list, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 || aws.ToString(list.StateMachines[0].Name) != "asgdns" {
		t.Errorf("through the registered handler: %v %+v", err, list)
	}
	_, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:x")})
	wantCode(t, err, "UnknownOperationException")
	// Unknown credentials and the wrong region.
	_, err = w.sts(keyCreds("AKIANOBODY")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = w.ec2(keyCreds("AKIANOBODY")).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantCode(t, err, "AuthFailure")
	_, err = w.ssm(keyCreds("AKIANOBODY")).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{})
	wantCode(t, err, "UnrecognizedClientException")
	_, err = w.sts(keyCreds(keyAppOperator)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.Region = "us-east-1" })
	if msg := wantCode(t, err, "SignatureDoesNotMatch"); !strings.Contains(msg, "not 'us-east-1'") {
		t.Errorf("message = %q", msg)
	}
}

// The same errors as the AWS CLI reports them.
func TestErrorsThroughTheCLI(t *testing.T) {
	w := newWorld(t)
	op := keyCreds(keyAppOperator)
	for _, tc := range []struct {
		creds   creds
		code    string
		args    []string
		message string
	}{
		{op, "InvalidAction", []string{"ec2", "describe-vpcs"}, "The action DescribeVpcs is not valid for this web service."},
		{op, "InvalidAction", []string{"autoscaling", "describe-warm-pool", "--auto-scaling-group-name", "x"}, "The action DescribeWarmPool is not valid for this web service."},
		{op, "UnknownOperationException", []string{"ssm", "list-documents"}, "Unknown operation AmazonSSM.ListDocuments"},
		{op, "InvalidAction", []string{"iam", "list-roles"}, ""},
		{op, "UnknownOperationException", []string{"stepfunctions", "list-state-machines"}, ""},
		{keyCreds("AKIANOBODY"), "InvalidClientTokenId", []string{"sts", "get-caller-identity"}, "The security token included in the request is invalid."},
		{keyCreds("AKIANOBODY"), "UnrecognizedClientException", []string{"events", "put-events", "--entries", `[{"Source":"a.b","DetailType":"x","Detail":"{}"}]`}, ""},
	} {
		_, msg := w.cliError(tc.creds, tc.code, tc.args...)
		if tc.message != "" && msg != tc.message {
			t.Errorf("aws %s: message %q, want %q", strings.Join(tc.args, " "), msg, tc.message)
		}
		if strings.Contains(tc.args[0], "iam") && !strings.Contains(msg, "not served by the asgdns local endpoint") {
			t.Errorf("aws iam: %q does not say what is served", msg)
		}
	}
}

func TestPanicsBecomeInternalFailure(t *testing.T) {
	w := newWorld(t)
	w.cloud.json["AmazonSSM"]["Boom"] = func(*call) (any, *wire.Error) { panic("boom") }
	status, _, body := w.raw(t, keySharedAdmin+"/eu-west-1/ssm", "AmazonSSM.Boom", json11, "{}")
	if status != 500 || !strings.Contains(body, "InternalFailure") {
		t.Errorf("%d %s", status, body)
	}
}
