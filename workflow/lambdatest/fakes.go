package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// FakeSTS answers AssumeRole in-process as STS does: a session of the role
// asked for in Account (222222222222 when empty) with the fake credentials,
// expiring at Expires (15 minutes after the call when zero); or, with
// NoSession, an answer without one; or Err. It records every call and is
// safe for concurrent use.
type FakeSTS struct {
	Account   string
	Expires   time.Time
	NoSession bool
	Err       error

	mu    sync.Mutex
	calls []*sts.AssumeRoleInput
}

// AssumeRole records the call and answers it.
func (f *FakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.Err != nil {
		return nil, f.Err
	}
	if f.NoSession {
		return &sts.AssumeRoleOutput{}, nil
	}
	account := f.Account
	if account == "" {
		account = "222222222222"
	}
	expires := f.Expires
	if expires.IsZero() {
		expires = time.Now().Add(15 * time.Minute)
	}
	role, session := aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName)
	name := role[strings.LastIndex(role, "/")+1:]
	return &sts.AssumeRoleOutput{
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String(fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, name, session)),
			AssumedRoleId: aws.String("AROAFAKE:" + session),
		},
		Credentials: &types.Credentials{
			AccessKeyId:     aws.String(FakeAccessKeyID),
			SecretAccessKey: aws.String(FakeSecretAccessKey),
			SessionToken:    aws.String(FakeSessionToken),
			Expiration:      aws.Time(expires),
		},
		SourceIdentity: in.SourceIdentity,
	}, nil
}

// Calls lists the AssumeRole calls so far.
func (f *FakeSTS) Calls() []*sts.AssumeRoleInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sts.AssumeRoleInput(nil), f.calls...)
}

// Reset forgets the calls so far (a benchmark keeps them out of its count).
func (f *FakeSTS) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = f.calls[:0]
}

// Session stands in for the shared-services credentials of one instance's
// execution, so a test can tell which session a call was made with.
type Session struct{ InstanceID, Execution string }

// Retrieve fails: the fake session is only ever compared, never used.
func (s *Session) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("fake session: never retrieved")
}

// Sessions records which sessions a handler asked for; For stands in for
// crossaccount.Provider.For.
type Sessions struct{ Asked []Session }

// For records the session asked for and returns it.
func (s *Sessions) For(instanceID, execution string) aws.CredentialsProvider {
	s.Asked = append(s.Asked, Session{instanceID, execution})
	return &Session{instanceID, execution}
}

// Call is one call to a fake SDK client as the fake saw it: the input, and
// the option functions that came with it (which carry per-call credentials).
type Call[In, Options any] struct {
	In     *In
	OptFns []func(*Options)
}

// Options applies the call's option functions to zero Options as the SDK
// does, so a test can see what they select (the credentials, say).
func (c Call[In, Options]) Options() Options {
	var o Options
	for _, fn := range c.OptFns {
		fn(&o)
	}
	return o
}

// APIError is an AWS API error as the SDK returns it.
func APIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message}
}

// httpError is an API error with the HTTP status it came with.
type httpError struct {
	smithy.GenericAPIError
	status int
}

func (e *httpError) HTTPStatusCode() int { return e.status }

// HTTPError is an AWS API error as the SDK returns it, with its HTTP status.
func HTTPError(code, message string, status int) error {
	return &httpError{smithy.GenericAPIError{Code: code, Message: message}, status}
}

// CredentialsError is how the SDK reports a refused AssumeRole made while
// signing a call (service's operation, SSM's SendCommand say): the call's
// operation error wrapping STS's.
func CredentialsError(service, operation string, err error) error {
	return &smithy.OperationError{ServiceID: service, OperationName: operation, Err: fmt.Errorf("failed to retrieve credentials: %w",
		&smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: err})}
}
