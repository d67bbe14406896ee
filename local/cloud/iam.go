package cloud

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
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

// statement is one IAM policy statement. Principals is nil in identity
// policies; trust policies name who may assume the role.
type statement struct {
	Effect     string
	Principals []string
	Actions    []string
	Resources  []string
	Conditions []condition
}

// condition is one operator/key pair of a Condition block: any of Values
// matches (OR); all conditions of a statement must hold (AND).
type condition struct {
	Operator string // StringEquals, StringLike, ArnLike, … (IfExists stripped)
	IfExists bool
	Key      string // lower case: IAM condition keys are case-insensitive
	Values   []string
}

var conditionOperators = []string{
	"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
	"StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
}

// parsePolicy reads a policy document (as JSON or the template decodes it).
// What it cannot evaluate faithfully (NotAction, NotPrincipal, set
// operators, unknown operators) is an error rather than a silent allow.
func parsePolicy(doc any) ([]statement, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy document is not an object")
	}
	raw := m["Statement"]
	var list []any
	switch s := raw.(type) {
	case []any:
		list = s
	case map[string]any:
		list = []any{s}
	default:
		return nil, fmt.Errorf("policy document has no Statement")
	}
	var out []statement
	for i, item := range list {
		sm, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %d is not an object", i)
		}
		for _, unsupported := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := sm[unsupported]; ok {
				return nil, fmt.Errorf("statement %d: %s is not supported", i, unsupported)
			}
		}
		st := statement{Effect: fmt.Sprint(sm["Effect"]), Actions: toStrings(sm["Action"]), Resources: toStrings(sm["Resource"])}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("statement %d: Effect %q is not Allow or Deny", i, st.Effect)
		}
		if len(st.Resources) == 0 {
			st.Resources = []string{"*"} // trust policies name no resource
		}
		switch p := sm["Principal"].(type) {
		case nil:
		case string:
			st.Principals = []string{p}
		case map[string]any:
			st.Principals = toStrings(p["AWS"])
			if st.Principals == nil {
				st.Principals = []string{} // only service principals: no AWS caller matches
			}
		default:
			return nil, fmt.Errorf("statement %d: Principal is not \"*\" or an object", i)
		}
		conds, _ := sm["Condition"].(map[string]any)
		for op, kv := range conds {
			c := condition{Operator: op}
			if base, ok := strings.CutSuffix(op, "IfExists"); ok {
				c.Operator, c.IfExists = base, true
			}
			if !slices.Contains(conditionOperators, c.Operator) {
				return nil, fmt.Errorf("statement %d: condition operator %s is not supported", i, op)
			}
			pairs, ok := kv.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("statement %d: condition %s is not an object", i, op)
			}
			for k, v := range pairs {
				cc := c
				cc.Key, cc.Values = strings.ToLower(k), toStrings(v)
				st.Conditions = append(st.Conditions, cc)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// toStrings reads a policy value that may be one value or a list.
func toStrings(v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	case []string:
		return t
	default:
		return []string{fmt.Sprint(t)}
	}
}

// authzRequest is what a policy is evaluated for.
type authzRequest struct {
	Action   string
	Resource string
	Caller   Principal // matched against Principal in trust policies
	Context  map[string]string
}

// evaluate applies IAM's rule: an explicit Deny wins, else an Allow is
// needed.
func evaluate(stmts []statement, req authzRequest) bool {
	allowed := false
	for _, st := range stmts {
		if !st.applies(req) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (st statement) applies(req authzRequest) bool {
	if st.Principals != nil && !slices.ContainsFunc(st.Principals, func(p string) bool { return principalMatches(p, req.Caller) }) {
		return false
	}
	if !slices.ContainsFunc(st.Actions, func(a string) bool { return wildcard(strings.ToLower(a), strings.ToLower(req.Action)) }) {
		return false
	}
	if !slices.ContainsFunc(st.Resources, func(r string) bool { return wildcard(r, req.Resource) }) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(req.Context) {
			return false
		}
	}
	return true
}

// principalMatches: "*" is anyone; an account id or its root ARN is anyone
// in that account; a role ARN is any session of the role; any other ARN
// must be the caller's.
func principalMatches(spec string, p Principal) bool {
	switch {
	case spec == "*":
		return true
	case accountRE.MatchString(spec):
		return spec == p.Account
	case strings.HasSuffix(spec, ":root"):
		return strings.TrimSuffix(strings.TrimPrefix(spec, "arn:aws:iam::"), ":root") == p.Account
	}
	return spec == p.ARN || (p.RoleARN != "" && spec == p.RoleARN)
}

func (c condition) holds(ctx map[string]string) bool {
	v, present := ctx[c.Key]
	if c.Operator == "Null" {
		return slices.Contains(c.Values, fmt.Sprint(!present))
	}
	negated := strings.Contains(c.Operator, "Not")
	if !present {
		// IAM: a missing key fails a positive operator and satisfies a
		// negated one; ...IfExists makes a missing key satisfy both.
		return c.IfExists || negated
	}
	match := slices.ContainsFunc(c.Values, func(want string) bool {
		switch c.Operator {
		case "StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals", "Bool":
			return want == v
		case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
			return strings.EqualFold(want, v)
		default: // StringLike, StringNotLike, ArnLike, ArnNotLike
			return wildcard(want, v)
		}
	})
	return match != negated
}

// wildcard matches s against an IAM pattern: * is any run of characters,
// ? any one character.
func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
