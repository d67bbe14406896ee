package stack

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/cloud"
	"github.com/asgdns/asgdns/local/lambdahost"
	"github.com/asgdns/asgdns/local/wire"
)

// What an operator asks of the deployments themselves, served from what
// this stack deployed: CloudFormation's DescribeStacks and
// DescribeStackResource (the application stacks: parameters with their
// defaults, outputs, the functions' physical names) and Lambda's Invoke
// (the hosted functions, as `asgdns check` invokes the AssumeRole
// function). Both reach the endpoint in their own protocols (AWS query,
// REST-JSON); operatorAPIs turns them into requests the endpoint
// authenticates and hands to HandleTarget, so callers are who their keys
// say, in their own accounts.

// The pseudo targets the two services are routed under.
const (
	cloudFormationTarget = "AsgdnsLocalCloudFormation"
	lambdaTarget         = "AsgdnsLocalLambda"
	functionHeader       = "X-Asgdns-Local-Function"
	cloudFormationNS     = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
)

// operatorAPIs returns the endpoint with CloudFormation and Lambda added.
// A template it cannot read makes DescribeStacks fail, not the stack.
func (s *Stack) operatorAPIs(opts Options) http.Handler {
	api := &operatorAPI{s: s, created: time.Now().UTC()}
	template := filepath.Join(opts.RepoRoot, "template.yaml")
	api.params, api.err = cfn.StackParameters(template, appParameters(opts))
	if api.err == nil {
		api.outputs, api.err = templateOutputs(template)
	}
	s.Cloud.HandleTarget(cloudFormationTarget, http.HandlerFunc(api.cloudFormation))
	s.Cloud.HandleTarget(lambdaTarget, http.HandlerFunc(api.invoke))
	endpoint := s.Cloud.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := invocationPath(r); ok {
			r.Header.Set("X-Amz-Target", lambdaTarget+".Invoke")
			r.Header.Set(functionHeader, name)
			endpoint.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("X-Amz-Target") != "" || signingService(r) != "cloudformation" {
			endpoint.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeQueryError(w, http.StatusBadRequest, "ValidationError", "the request body could not be read: "+err.Error())
			return
		}
		form, _ := url.ParseQuery(string(body))
		action := form.Get("Action")
		if action == "" {
			action = "Unknown"
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Set("X-Amz-Target", cloudFormationTarget+"."+action)
		// The endpoint answers a refused request (credentials, region,
		// throttling) in JSON; CloudFormation's clients read XML.
		rec := &recorder{header: http.Header{}}
		endpoint.ServeHTTP(rec, r)
		if code := rec.header.Get("X-Amzn-ErrorType"); code != "" && strings.Contains(rec.header.Get("Content-Type"), "json") {
			var doc struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(rec.body.Bytes(), &doc)
			status := rec.status
			// The query protocols name the credential refusals otherwise.
			switch code {
			case "UnrecognizedClientException":
				code, status = "InvalidClientTokenId", http.StatusForbidden
			case "InvalidSignatureException":
				code, status = "SignatureDoesNotMatch", http.StatusForbidden
			}
			writeQueryError(w, status, code, doc.Message)
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

type operatorAPI struct {
	s       *Stack
	created time.Time
	params  []cfn.StackParameter
	outputs []templateOutput
	err     error
}

// --- CloudFormation -------------------------------------------------------------

type cfnParameter struct {
	ParameterKey   string `xml:"ParameterKey"`
	ParameterValue string `xml:"ParameterValue"`
}

type cfnOutput struct {
	OutputKey   string `xml:"OutputKey"`
	OutputValue string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

type cfnStack struct {
	StackName    string         `xml:"StackName"`
	StackID      string         `xml:"StackId"`
	CreationTime string         `xml:"CreationTime"`
	StackStatus  string         `xml:"StackStatus"`
	Parameters   []cfnParameter `xml:"Parameters>member"`
	Outputs      []cfnOutput    `xml:"Outputs>member"`
	Capabilities []string       `xml:"Capabilities>member"`
}

type cfnResource struct {
	StackName            string `xml:"StackName"`
	StackID              string `xml:"StackId"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId"`
	ResourceType         string `xml:"ResourceType"`
	LastUpdatedTimestamp string `xml:"LastUpdatedTimestamp"`
	ResourceStatus       string `xml:"ResourceStatus"`
}

func (a *operatorAPI) cloudFormation(w http.ResponseWriter, r *http.Request) {
	caller, _ := cloud.CallerFrom(r.Context())
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeQueryError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	if a.err != nil {
		writeQueryError(w, http.StatusInternalServerError, "InternalFailure", "the local stack cannot describe its stacks: "+a.err.Error())
		return
	}
	action, name := form.Get("Action"), form.Get("StackName")
	d := a.s.Deployment(caller.Account)
	if name != "" && (d == nil || (name != d.StackName && name != a.stackID(d))) {
		writeQueryError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", name))
		return
	}
	switch action {
	case "DescribeStacks":
		var stacks []cfnStack
		if d != nil {
			stacks = append(stacks, a.describe(d))
		}
		writeQueryResult(w, action, struct {
			Stacks []cfnStack `xml:"Stacks>member"`
		}{stacks})
	case "DescribeStackResource":
		if d == nil || name == "" {
			writeQueryError(w, http.StatusBadRequest, "ValidationError", "Stack with id "+name+" does not exist")
			return
		}
		logical := form.Get("LogicalResourceId")
		if _, ok := d.Roles[logical]; !ok {
			writeQueryError(w, http.StatusBadRequest, "ValidationError",
				fmt.Sprintf("Resource %s does not exist for stack %s", logical, d.StackName))
			return
		}
		writeQueryResult(w, action, struct {
			Detail cfnResource `xml:"StackResourceDetail"`
		}{cfnResource{
			StackName: d.StackName, StackID: a.stackID(d), LogicalResourceID: logical, PhysicalResourceID: functionName(logical),
			ResourceType: "AWS::Lambda::Function", LastUpdatedTimestamp: a.created.Format(time.RFC3339), ResourceStatus: "CREATE_COMPLETE",
		}})
	default:
		writeQueryError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("The action %s is not valid for this web service (the local stack serves cloudformation DescribeStacks and DescribeStackResource).", action))
	}
}

// describe is a deployment as DescribeStacks lists it.
func (a *operatorAPI) describe(d *Deployment) cfnStack {
	st := cfnStack{StackName: d.StackName, StackID: a.stackID(d), CreationTime: a.created.Format(time.RFC3339),
		StackStatus: "CREATE_COMPLETE", Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}}
	for _, p := range a.params {
		st.Parameters = append(st.Parameters, cfnParameter{p.Key, p.Value})
	}
	for _, o := range a.outputs {
		var v string
		switch {
		case o.stateMachine:
			v = d.StateMachineARN
		case o.stateMachineAlias:
			v = d.StateMachineAliasARN
		case o.queueOf != "":
			v = d.Queues[o.queueOf].URL
		default:
			v = d.Roles[o.roleOf]
		}
		if v != "" {
			st.Outputs = append(st.Outputs, cfnOutput{o.key, v, o.description})
		}
	}
	return st
}

// stackID is the deployment's stack ARN, stable for its account and name.
func (a *operatorAPI) stackID(d *Deployment) string {
	sum := sha256.Sum256([]byte(d.Account + "/" + d.StackName))
	h := fmt.Sprintf("%x", sum[:16])
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s-%s-%s-%s-%s", Region, d.Account, d.StackName, h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// templateOutput is one of template.yaml's Outputs the local deployments
// have a value for: the state machine, a function's role, or a queue.
type templateOutput struct {
	key, description string
	stateMachine     bool
	// stateMachineAlias: the alias SAM generates for AutoPublishAlias
	// (!Ref <StateMachine>Alias<name>).
	stateMachineAlias bool
	roleOf            string // the function whose role the output is
	queueOf           string // the queue whose URL (!Ref) the output is
}

func templateOutputs(path string) ([]templateOutput, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources map[string]yaml.Node `yaml:"Resources"` // Fn::ForEach entries are lists
		Outputs   yaml.Node            `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	typeOf := func(logicalID string) string {
		var r struct {
			Type string `yaml:"Type"`
		}
		if n, ok := doc.Resources[logicalID]; ok && n.Kind == yaml.MappingNode {
			_ = n.Decode(&r)
		}
		return r.Type
	}
	var out []templateOutput
	for i := 0; i+1 < len(doc.Outputs.Content); i += 2 {
		var o struct {
			Description string    `yaml:"Description"`
			Value       yaml.Node `yaml:"Value"`
		}
		if err := doc.Outputs.Content[i+1].Decode(&o); err != nil {
			return nil, fmt.Errorf("%s: Outputs: %w", path, err)
		}
		t := templateOutput{key: doc.Outputs.Content[i].Value, description: o.Description}
		switch v := o.Value; {
		case v.Tag == "!Ref" && typeOf(v.Value) == "AWS::Serverless::StateMachine":
			t.stateMachine = true
		case v.Tag == "!Ref" && strings.Contains(v.Value, "Alias") &&
			typeOf(v.Value[:strings.Index(v.Value, "Alias")]) == "AWS::Serverless::StateMachine":
			t.stateMachineAlias = true
		case v.Tag == "!GetAtt" && strings.HasSuffix(v.Value, "Role.Arn"):
			t.roleOf = strings.TrimSuffix(v.Value, "Role.Arn")
		case v.Tag == "!Ref" && typeOf(v.Value) == "AWS::SQS::Queue":
			t.queueOf = v.Value
		default:
			continue // a resource the local stack does not create (topic)
		}
		out = append(out, t)
	}
	return out, nil
}

func writeQueryResult(w http.ResponseWriter, action string, result any) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%sResponse xmlns=\"%s\">\n", action, cloudFormationNS)
	enc := xml.NewEncoder(&b)
	enc.Indent("  ", "  ")
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		writeQueryError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	fmt.Fprintf(&b, "\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n", requestID(), action)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b.Bytes())
}

func writeQueryError(w http.ResponseWriter, status int, code, message string) {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(message))
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
		cloudFormationNS, fault, code, b.String(), requestID())
}

func requestID() string {
	sum := sha256.Sum256([]byte(time.Now().String()))
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// recorder buffers a response so it can be rewritten.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// signingService is the service of a request's SigV4 credential scope
// (Credential=AKID/date/region/service/aws4_request).
func signingService(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		cred = r.URL.Query().Get("X-Amz-Credential") // a presigned request
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// --- Lambda ---------------------------------------------------------------------

var invocationRE = regexp.MustCompile(`^/2015-03-31/functions/([^/]+)/invocations$`)

// invocationPath reads the function of a Lambda Invoke request.
func invocationPath(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	m := invocationRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var functionRE = regexp.MustCompile(`^(?:arn:aws:lambda:([a-z0-9-]+):([0-9]{12}):function:|([0-9]{12}):function:)?([a-zA-Z0-9_-]{1,64})(?::(\$LATEST))?$`)

// invoke runs a hosted function of the caller's account, as Lambda's
// synchronous Invoke does: the function's output, or its error document
// with X-Amz-Function-Error.
func (a *operatorAPI) invoke(w http.ResponseWriter, r *http.Request) {
	caller, _ := cloud.CallerFrom(r.Context())
	ref := r.Header.Get(functionHeader)
	m := functionRE.FindStringSubmatch(ref)
	if m == nil {
		wire.WriteJSONError(w, r, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint", ref))
		return
	}
	account := caller.Account
	if m[2] != "" {
		account = m[2]
	} else if m[3] != "" {
		account = m[3]
	}
	name := m[4]
	if account != caller.Account {
		wire.WriteJSONError(w, r, http.StatusForbidden, "AccessDeniedException",
			fmt.Sprintf("User: %s is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:%s:%s:function:%s because no resource-based policy allows the lambda:InvokeFunction action",
				caller.ARN, Region, account, name))
		return
	}
	d := a.s.Deployment(account)
	if d == nil {
		wire.WriteJSONError(w, r, http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", Region, account, name))
		return
	}
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "DryRun":
		if _, ok := d.AccessKeys[name]; !ok {
			wire.WriteJSONError(w, r, http.StatusNotFound, "ResourceNotFoundException",
				fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", Region, account, name))
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		wire.WriteJSONError(w, r, http.StatusBadRequest, "InvalidParameterValueException",
			fmt.Sprintf("the local stack invokes synchronously only (RequestResponse or DryRun), not %s", t))
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		wire.WriteJSONError(w, r, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	out, err := d.Lambdas.Invoke(r.Context(), name, payload)
	var fnErr *lambdahost.FunctionError
	var svcErr *lambdahost.ServiceError
	switch {
	case errors.As(err, &fnErr):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, fnErr.ErrorCause())
	case errors.As(err, &svcErr):
		wire.WriteJSONError(w, r, svcErr.StatusCode, svcErr.Code, svcErr.Message)
	case err != nil:
		wire.WriteJSONError(w, r, http.StatusInternalServerError, "ServiceException", err.Error())
	default:
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}
