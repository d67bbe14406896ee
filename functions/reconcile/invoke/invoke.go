// Package invoke calls the Lambda Invoke API (RequestResponse) for the
// reconciler, which invokes functions/list-zone and
// functions/drain-dead-letters.
//
// It is not github.com/aws/aws-sdk-go-v2/service/lambda: that client builds
// the schema of every Lambda API shape at init and adds about 1.9 MiB to a
// bootstrap, which would put the reconciler over the 10 MiB budget
// (`make sizes`). Invoke is one signed POST; this package makes it with
// the SDK's own configuration (region, credentials, HTTP client, endpoint
// overrides) and SigV4 signer, and answers in the SDK's shapes: the
// InvokeInput and InvokeOutput fields the reconciler uses, and errors
// that carry the API error code and HTTP status as the SDK's do, so
// workflow.FromAWS routes them the same.
package invoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdamain"
)

// InvocationTypeRequestResponse runs the function and waits for its result.
const InvocationTypeRequestResponse = "RequestResponse"

// Input is lambda.InvokeInput's fields the reconciler uses.
type Input struct {
	FunctionName   *string
	InvocationType string
	Payload        []byte
}

// Output is lambda.InvokeOutput's fields the reconciler uses.
type Output struct {
	StatusCode int32
	// FunctionError is set ("Unhandled") when the function returned an
	// error; Payload then holds {"errorMessage":…,"errorType":…}.
	FunctionError   *string
	ExecutedVersion *string
	Payload         []byte
}

// Attempts bounds the tries of one call, as every SDK client of the
// functions is bounded (lambdamain.SDKAttempts, the one owner): a throttled
// or failed Lambda service answer (429, 5xx) or no answer is tried again,
// with a growing wait. A function's own error is never retried here.
const Attempts = lambdamain.SDKAttempts

// firstBackoff is the wait before the second try.
const firstBackoff = 500 * time.Millisecond

// maxPayload bounds the response read: Lambda's synchronous response
// limit (6 MB), plus room for the error envelope.
const maxPayload = 7 << 20

// Client invokes functions with the credentials and region of cfg.
type Client struct {
	cfg      aws.Config
	endpoint string
	signer   *v4.Signer
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time
}

// NewFromConfig returns a Client. The endpoint is, as the SDK resolves it,
// AWS_ENDPOINT_URL_LAMBDA, else cfg.BaseEndpoint (AWS_ENDPOINT_URL), else
// the region's public endpoint.
func NewFromConfig(cfg aws.Config) *Client {
	endpoint := strings.TrimSpace(os.Getenv("AWS_ENDPOINT_URL_LAMBDA"))
	if endpoint == "" {
		endpoint = aws.ToString(cfg.BaseEndpoint)
	}
	if endpoint == "" {
		suffix := "amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		endpoint = "https://lambda." + cfg.Region + "." + suffix
	}
	return &Client{cfg: cfg, endpoint: strings.TrimRight(endpoint, "/"), signer: v4.NewSigner(), sleep: workflow.Sleep, now: time.Now}
}

// Invoke calls POST /2015-03-31/functions/{FunctionName}/invocations, as
// lambda.Client.Invoke does.
func (c *Client) Invoke(ctx context.Context, params *Input) (*Output, error) {
	if params == nil || aws.ToString(params.FunctionName) == "" {
		return nil, &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: fmt.Errorf("FunctionName is required")}
	}
	var lastErr error
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		out, retry, err := c.try(ctx, params)
		if err == nil {
			return out, nil
		}
		lastErr = &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: err}
		if !retry || attempt >= Attempts || ctx.Err() != nil {
			return nil, lastErr
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, lastErr
		}
		wait *= 2
	}
}

// try makes one call; retry says whether another may succeed.
func (c *Client) try(ctx context.Context, params *Input) (*Output, bool, error) {
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return nil, false, fmt.Errorf("endpoint %q: %w", c.endpoint, err)
	}
	name := aws.ToString(params.FunctionName)
	base := strings.TrimRight(u.Path, "/")
	u.Path = base + "/2015-03-31/functions/" + name + "/invocations"
	u.RawPath = (&url.URL{Path: base}).EscapedPath() + "/2015-03-31/functions/" + escape(name) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(params.Payload))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if params.InvocationType != "" {
		req.Header.Set("X-Amz-Invocation-Type", params.InvocationType)
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(params.Payload)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.cfg.Region, c.now().UTC()); err != nil {
		return nil, false, err
	}
	client := c.cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, true, err // no answer: worth another try
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxPayload))
	if err != nil {
		return nil, true, err
	}
	if res.StatusCode/100 != 2 {
		return nil, res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500, apiError(res, body)
	}
	out := &Output{StatusCode: int32(res.StatusCode), Payload: body}
	if v := res.Header.Get("X-Amz-Function-Error"); v != "" {
		out.FunctionError = aws.String(v)
	}
	if v := res.Header.Get("X-Amz-Executed-Version"); v != "" {
		out.ExecutedVersion = aws.String(v)
	}
	return out, false, nil
}

// escape escapes a path segment as the SDK's httpbinding does: everything
// but unreserved characters, so an ARN's colons go as %3A.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || strings.IndexByte("-_.~", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// ResponseError is a Lambda service error: its API error code and message
// (smithy.APIError), and the HTTP status (as the SDK's errors carry it).
type ResponseError struct {
	smithy.GenericAPIError
	Status int
}

// HTTPStatusCode is the response's status.
func (e *ResponseError) HTTPStatusCode() int { return e.Status }

func (e *ResponseError) Error() string {
	return fmt.Sprintf("https response error StatusCode: %d, api error %s: %s", e.Status, e.Code, e.Message)
}

// apiError reads the REST-JSON error: the code from X-Amzn-ErrorType (or
// the body's __type / Type), the message from the body.
func apiError(res *http.Response, body []byte) error {
	var e struct {
		Type        string `json:"__type"`
		Message     string `json:"message"`
		MessageCaps string `json:"Message"`
	}
	_ = json.Unmarshal(body, &e) // best effort: the status says enough
	code := res.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = e.Type
	}
	if i := strings.IndexAny(code, ":#"); i >= 0 {
		if strings.Contains(code, "#") {
			code = code[strings.LastIndex(code, "#")+1:]
		} else {
			code = code[:i]
		}
	}
	msg := e.Message
	if msg == "" {
		msg = e.MessageCaps
	}
	return &ResponseError{GenericAPIError: smithy.GenericAPIError{Code: code, Message: msg}, Status: res.StatusCode}
}
