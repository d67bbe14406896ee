// Package crossaccount assumes the shared-services role for asgdns: session
// names and SourceIdentity derived from the instance and execution, the
// ExternalId when configured, the shortest useful duration, and credentials
// cached for the life of the Lambda execution environment.
package crossaccount

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// Duration is the session length asked for: STS's minimum. A Lambda calling
// AssumeRole is role chaining, capped at one hour; a DNS registration needs
// minutes, and the cache refreshes before expiry when a poller lives longer.
const Duration = 15 * time.Minute

// STSAPI is the one STS call asgdns makes.
type STSAPI interface {
	AssumeRole(ctx context.Context, params *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

var _ STSAPI = (*sts.Client)(nil)

// maxCached bounds the credential cache: one entry per execution the
// environment has served recently.
const maxCached = 64

// AccessDeniedFix is the advice for a refused AssumeRole.
const AccessDeniedFix = "check that the shared-services role trusts this function's role, allows sts:SetSourceIdentity, " +
	"and expects the ExternalId configured here"

// Provider hands out credentials for the shared-services role.
type Provider struct {
	api     STSAPI
	session config.Session
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	creds   *aws.CredentialsCache
	created time.Time
}

// New returns a Provider. It makes no calls until credentials are needed.
func New(api STSAPI, session config.Session) *Provider {
	return &Provider{api: api, session: session, now: time.Now, cache: map[string]cached{}}
}

var unsafeSessionChars = regexp.MustCompile(`[^\w+=,.@-]`)

// Names derives the role session name and SourceIdentity. The session name
// ties CloudTrail entries in the shared-services account to the instance and
// the execution; SourceIdentity (which cannot change along a role chain)
// names the instance.
func Names(instanceID, execution string) (sessionName, sourceIdentity string) {
	id := unsafeSessionChars.ReplaceAllString(instanceID, "")
	if id == "" {
		id = "unknown"
	}
	sourceIdentity = truncate("asgdns-"+id, 64)
	sessionName = sourceIdentity
	if exec := unsafeSessionChars.ReplaceAllString(execution, ""); exec != "" {
		sessionName = truncate(sessionName+"-"+exec, 64)
	}
	return sessionName, sourceIdentity
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (p *Provider) options(sessionName, sourceIdentity string) func(*stscreds.AssumeRoleOptions) {
	return func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
		o.SourceIdentity = aws.String(sourceIdentity)
		o.Duration = Duration
		if p.session.ExternalID != "" {
			o.ExternalID = aws.String(p.session.ExternalID)
		}
	}
}

// For returns credentials for the session of one instance's execution. They
// are fetched on first use and cached (and refreshed before expiry) for as
// long as this execution environment lives.
func (p *Provider) For(instanceID, execution string) aws.CredentialsProvider {
	name, source := Names(instanceID, execution)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cache[name]; ok {
		return c.creds
	}
	p.evictLocked()
	c := cached{
		creds:   aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(p.api, p.session.RoleARN, p.options(name, source))),
		created: p.now(),
	}
	p.cache[name] = c
	return c.creds
}

// evictLocked drops sessions older than Duration (the execution they served
// is almost certainly over) and, if still full, the oldest one.
func (p *Provider) evictLocked() {
	now := p.now()
	var oldestKey string
	var oldest time.Time
	for k, c := range p.cache {
		if now.Sub(c.created) > Duration {
			delete(p.cache, k)
			continue
		}
		if oldestKey == "" || c.created.Before(oldest) {
			oldestKey, oldest = k, c.created
		}
	}
	if len(p.cache) >= maxCached {
		delete(p.cache, oldestKey)
	}
}

// Verify assumes the role afresh and checks the session is the expected role
// in the expected account. It returns the session's parameters, never its
// credentials.
func (p *Provider) Verify(ctx context.Context, instanceID, execution string) (workflow.SessionResult, error) {
	name, source := Names(instanceID, execution)
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(p.session.RoleARN),
		RoleSessionName: aws.String(name),
		SourceIdentity:  aws.String(source),
		DurationSeconds: aws.Int32(int32(Duration / time.Second)),
	}
	if p.session.ExternalID != "" {
		in.ExternalId = aws.String(p.session.ExternalID)
	}
	out, err := p.api.AssumeRole(ctx, in)
	if err != nil {
		return workflow.SessionResult{}, workflow.FromAWS("sts:AssumeRole "+p.session.RoleARN, err, AccessDeniedFix)
	}
	if out.AssumedRoleUser == nil || out.Credentials == nil {
		return workflow.SessionResult{}, &workflow.Unavailable{Problem: workflow.Problem{
			Field: "sts:AssumeRole", Reason: "returned no session"}}
	}
	assumed := aws.ToString(out.AssumedRoleUser.Arn)
	if err := p.checkIdentity(assumed); err != nil {
		return workflow.SessionResult{}, err
	}
	return workflow.SessionResult{
		RoleARN: p.session.RoleARN, AssumedRoleARN: assumed, Account: p.session.Account,
		SessionName: name, SourceIdentity: source, Expires: aws.ToTime(out.Credentials.Expiration).UTC(),
	}, nil
}

// checkIdentity checks an assumed-role ARN
// (arn:aws:sts::123456789012:assumed-role/NAME/SESSION) is our role in the
// shared-services account.
func (p *Provider) checkIdentity(assumed string) error {
	wantRole := p.session.RoleARN[strings.LastIndex(p.session.RoleARN, "/")+1:]
	a, err := arn.Parse(assumed)
	parts := strings.Split(a.Resource, "/")
	if err == nil && a.AccountID == p.session.Account && len(parts) == 3 && parts[0] == "assumed-role" && parts[1] == wantRole {
		return nil
	}
	return &workflow.AccessDenied{Problem: workflow.Problem{
		Field: "sts:AssumeRole", Value: assumed,
		Reason: fmt.Sprintf("is not a session of role %s in account %s", wantRole, p.session.Account),
		Fix:    "check " + config.EnvRoleARN + " names the shared-services role",
	}}
}

// RouteError routes the error of a call made with Provider credentials. The
// SDK assumes the role lazily, while signing that call, so a refused
// AssumeRole surfaces as the call's error: it is named as the AssumeRole it
// is, with the trust-policy fix rather than the call's own.
func RouteError(op string, err error, fix string) error {
	var opErr *smithy.OperationError
	for e := err; errors.As(e, &opErr); e = opErr.Err {
		if opErr.ServiceID == sts.ServiceID {
			return workflow.FromAWS("sts:AssumeRole (credentials for "+op+")", err, AccessDeniedFix)
		}
	}
	return workflow.FromAWS(op, err, fix)
}
