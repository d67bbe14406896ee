package cloud

import (
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/asgdns/asgdns/local/iampolicy"
	"github.com/asgdns/asgdns/local/wire"
)

// STS: AssumeRole, evaluated against the shared-services role's trust
// policy as the template defines it, and GetCallerIdentity.

var (
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	stsNameRE    = regexp.MustCompile(`^[\w+=,.@-]*$`)
)

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	SourceIdentity string `xml:"SourceIdentity,omitempty"`
}

// roleID is the stable unique id of the shared-services role (AROA…).
const roleID = "AROAASGDNSREGISTRAR01"

func (c *Cloud) assumeRole(cl *call) (any, *wire.Error) {
	f := cl.form
	roleARN, session := f.Get("RoleArn"), f.Get("RoleSessionName")
	externalID, sourceIdentity := f.Get("ExternalId"), f.Get("SourceIdentity")
	duration, durationSet, apiErr := f.IntParam("DurationSeconds")
	if apiErr != nil {
		return nil, apiErr
	}
	if !durationSet {
		duration = 3600
	}

	// The model's constraints, all reported at once as STS does.
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(f.Has("RoleArn"), "Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	check(!f.Has("RoleArn") || (len(roleARN) >= 20 && len(roleARN) <= 2048),
		"Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleARN)
	check(f.Has("RoleSessionName"), "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	if f.Has("RoleSessionName") {
		check(len(session) >= 2 && len(session) <= 64,
			"Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64 and greater than or equal to 2", session)
		check(stsNameRE.MatchString(session),
			"Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	check(duration >= 900, "Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", duration)
	check(duration <= 43200, "Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", duration)
	if f.Has("ExternalId") {
		check(len(externalID) >= 2 && len(externalID) <= 1224,
			"Value '%s' at 'externalId' failed to satisfy constraint: Member must have length less than or equal to 1224 and greater than or equal to 2", externalID)
		check(externalIDRE.MatchString(externalID),
			"Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:/-]*", externalID)
	}
	if f.Has("SourceIdentity") {
		check(len(sourceIdentity) >= 2 && len(sourceIdentity) <= 64,
			"Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must have length less than or equal to 64 and greater than or equal to 2", sourceIdentity)
		check(stsNameRE.MatchString(sourceIdentity),
			"Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", sourceIdentity)
	}
	if len(problems) > 0 {
		return nil, wire.ValidationError("%s", wire.ValidationMessage(problems))
	}
	if f.Has("Policy") || len(f.Structs("PolicyArns.member")) > 0 {
		// Session policies would narrow the session; refusing is safer
		// than pretending to apply them.
		return nil, wire.ValidationError("Session policies (Policy, PolicyArns) are not supported by the asgdns local endpoint")
	}

	caller := cl.caller
	denied := func(action string) *wire.Error {
		return wire.NewError(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s", caller.ARN, action, roleARN)
	}
	if caller.UserID == caller.Account {
		return nil, wire.NewError(http.StatusForbidden, "AccessDenied", "Roles may not be assumed by root accounts.")
	}
	if !c.allows(caller, "sts:AssumeRole", roleARN, nil) {
		return nil, wire.NewError(http.StatusForbidden, "AccessDenied", "%s", notAuthorized(caller, "sts:AssumeRole", roleARN))
	}
	role := c.shared.byRole(roleARN)
	if role == nil {
		// A role that does not exist is refused like one that does not
		// trust the caller.
		return nil, denied("sts:AssumeRole")
	}
	if sourceIdentity == "" {
		sourceIdentity = caller.SourceIdentity // it persists along a role chain
	}
	ctx := map[string]string{
		"aws:principalarn":     caller.ARN,
		"aws:principalaccount": caller.Account,
		"aws:principalorgid":   OrganizationID,
		"sts:rolesessionname":  session,
	}
	if caller.RoleARN != "" {
		ctx["aws:principalarn"] = caller.RoleARN
	}
	if f.Has("ExternalId") {
		ctx["sts:externalid"] = externalID
	}
	if sourceIdentity != "" {
		ctx["sts:sourceidentity"] = sourceIdentity
	}
	if caller.SourceIdentity != "" {
		ctx["aws:sourceidentity"] = caller.SourceIdentity
	}
	for k, v := range c.principalTags(caller) {
		ctx[k] = v
	}
	trust := func(action string) bool {
		return role.trust.Allows(iampolicy.Request{Action: action, Resource: roleARN, Caller: caller.policyCaller(), Context: ctx})
	}
	if !trust("sts:AssumeRole") {
		return nil, denied("sts:AssumeRole")
	}
	if sourceIdentity != "" && !trust("sts:SetSourceIdentity") {
		return nil, denied("sts:SetSourceIdentity")
	}
	if len(f.Structs("Tags.member")) > 0 && !trust("sts:TagSession") {
		return nil, denied("sts:TagSession")
	}
	if caller.roleSession() && duration > 3600 {
		return nil, wire.ValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if time.Duration(duration)*time.Second > role.maxSession {
		return nil, wire.ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}

	p := sessionOf(roleARN, roleARN[len("arn:aws:iam::"+SharedServicesAccount+":role/"):], session, roleID[4:])
	p.SourceIdentity = sourceIdentity
	akid := "ASIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	cred := &credential{
		secret:    randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		token:     "IQoJb3JpZ2luX2VjE" + randomString(300, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		principal: p,
	}
	c.mu.Lock()
	c.creds[akid] = cred
	c.mu.Unlock()
	c.log.Info("role assumed", "caller", caller.ARN, "session", p.ARN, "sourceIdentity", sourceIdentity)

	var out assumeRoleResult
	out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = akid, cred.secret, cred.token
	out.Credentials.Expiration = c.clock.Now().Add(time.Duration(duration) * time.Second).UTC().Format(time.RFC3339)
	out.AssumedRoleUser.AssumedRoleID, out.AssumedRoleUser.Arn = p.UserID, p.ARN
	out.SourceIdentity = p.SourceIdentity
	return out, nil
}

func (c *Cloud) getCallerIdentity(cl *call) (any, *wire.Error) {
	// GetCallerIdentity needs no permission: no policy can deny it.
	return struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}{cl.caller.ARN, cl.caller.UserID, cl.caller.Account}, nil
}
