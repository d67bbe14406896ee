package cloud

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/asgdns/asgdns/local/iampolicy"
)

// Principal is who made a call, resolved from the access key id in the
// request's SigV4 signature. Calls act in the principal's account.
type Principal struct {
	// ARN is arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:root or,
	// for a role session, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN     string
	Account string
	// UserID is what GetCallerIdentity reports: AIDA… for a user,
	// AROA…:SESSION for a role session, the account id for root.
	UserID string
	// RoleARN is the role of a role session (arn:aws:iam::ACCOUNT:role/ROLE),
	// empty otherwise. Trust policies name roles, not sessions.
	RoleARN string
	// SourceIdentity is the session's SourceIdentity; once set it persists
	// along a role chain.
	SourceIdentity string
}

// roleSession reports whether the principal is a role session: what it
// assumes next is role chaining, capped at one hour.
func (p Principal) roleSession() bool { return p.RoleARN != "" }

var (
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	sessionNameRE  = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	userPathNameRE = regexp.MustCompile(`^[\w+=,.@/-]{1,512}$`)
)

// parsePrincipal reads the ARN credentials are registered for. A role ARN
// stands for a session of that role named "local" (credentials always
// belong to a session, never to the role itself).
func parsePrincipal(principalARN string) (Principal, error) {
	parts := strings.SplitN(principalARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || !accountRE.MatchString(parts[4]) {
		return Principal{}, fmt.Errorf("principal %q is not an IAM or STS ARN of a 12-digit account", principalARN)
	}
	account, resource := parts[4], parts[5]
	id := strings.ToUpper(randomString(17, "abcdefghijklmnopqrstuvwxyz234567"))
	switch {
	case parts[2] == "iam" && resource == "root":
		return Principal{ARN: principalARN, Account: account, UserID: account}, nil
	case parts[2] == "iam" && strings.HasPrefix(resource, "user/") && userPathNameRE.MatchString(strings.TrimPrefix(resource, "user/")):
		return Principal{ARN: principalARN, Account: account, UserID: "AIDA" + id}, nil
	case parts[2] == "iam" && strings.HasPrefix(resource, "role/"):
		name := resource[strings.LastIndex(resource, "/")+1:]
		if !iamNameRE.MatchString(name) {
			break
		}
		return sessionOf(principalARN, name, "local", id), nil
	case parts[2] == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		role, session, ok := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		if !ok || !iamNameRE.MatchString(role) || !sessionNameRE.MatchString(session) {
			break
		}
		return sessionOf("arn:aws:iam::"+account+":role/"+role, role, session, id), nil
	}
	return Principal{}, fmt.Errorf("principal %q is not a user, root, role or assumed-role ARN", principalARN)
}

// sessionOf is the principal of a session of roleARN.
func sessionOf(roleARN, roleName, session, roleID string) Principal {
	account := strings.Split(roleARN, ":")[4]
	return Principal{
		ARN:     "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + session,
		Account: account, UserID: "AROA" + roleID + ":" + session, RoleARN: roleARN,
	}
}

// notAuthorized is IAM's refusal message for an identity policy.
func notAuthorized(p Principal, action, resource string) string {
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		p.ARN, action, resource, action)
}

// policyCaller is p as the policy evaluator matches it against a Principal
// element.
func (p Principal) policyCaller() iampolicy.Caller {
	return iampolicy.Caller{ARN: p.ARN, Account: p.Account, RoleARN: p.RoleARN}
}
