// Package iampolicy evaluates IAM policies as the local endpoint enforces
// them: identity policies set on a role, and the trust policy of the
// shared-services role. A policy is parsed once (Parse) and asked whether
// it allows a request (Allows); what it cannot evaluate faithfully is
// refused when parsed rather than allowed.
package iampolicy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Policy is a policy document's statements.
type Policy []Statement

// Statement is one IAM policy statement. Principals is nil in identity
// policies; trust policies name who may assume the role.
type Statement struct {
	Effect     string
	Principals []string
	Actions    []string
	Resources  []string
	Conditions []Condition
}

// Condition is one operator/key pair of a Condition block: any of Values
// matches (OR); all conditions of a statement must hold (AND).
type Condition struct {
	Operator string // StringEquals, StringLike, ArnLike, … (IfExists stripped)
	IfExists bool
	Key      string // lower case: IAM condition keys are case-insensitive
	Values   []string
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

var conditionOperators = []string{
	"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
	"StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
}

// Parse reads a policy document (decoded JSON, or a template's evaluated
// PolicyDocument). What it cannot evaluate faithfully (NotAction,
// NotPrincipal, set operators, unknown operators) is an error rather than
// a silent allow.
func Parse(doc any) (Policy, error) {
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
	var out Policy
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
		st := Statement{Effect: fmt.Sprint(sm["Effect"]), Actions: toStrings(sm["Action"]), Resources: toStrings(sm["Resource"])}
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
			c := Condition{Operator: op}
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

// Caller is who makes a request, as a statement's Principal names them.
type Caller struct {
	// ARN is the caller's ARN: a user's, an account root's, or a role
	// session's (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
	ARN     string
	Account string
	// RoleARN is the role of a role session, empty otherwise: trust
	// policies name roles, not sessions.
	RoleARN string
}

// Request is what a policy is evaluated for.
type Request struct {
	Action   string
	Resource string
	Caller   Caller // matched against Principal in trust policies
	// Context holds the condition keys, lower case (IAM condition keys
	// are case-insensitive): aws:PrincipalTag/… as aws:principaltag/….
	Context map[string]string
}

// Allows applies IAM's rule: an explicit Deny wins, else an Allow is
// needed.
func (p Policy) Allows(req Request) bool {
	allowed := false
	for _, st := range p {
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

func (st Statement) applies(req Request) bool {
	if st.Principals != nil && !slices.ContainsFunc(st.Principals, func(p string) bool { return principalMatches(p, req.Caller) }) {
		return false
	}
	if !slices.ContainsFunc(st.Actions, func(a string) bool { return Wildcard(strings.ToLower(a), strings.ToLower(req.Action)) }) {
		return false
	}
	if !slices.ContainsFunc(st.Resources, func(r string) bool { return Wildcard(r, req.Resource) }) {
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
func principalMatches(spec string, p Caller) bool {
	switch {
	case spec == "*":
		return true
	case accountID.MatchString(spec):
		return spec == p.Account
	case strings.HasSuffix(spec, ":root"):
		return strings.TrimSuffix(strings.TrimPrefix(spec, "arn:aws:iam::"), ":root") == p.Account
	}
	return spec == p.ARN || (p.RoleARN != "" && spec == p.RoleARN)
}

func (c Condition) holds(ctx map[string]string) bool {
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
			return Wildcard(want, v)
		}
	})
	return match != negated
}

// Wildcard matches s against an IAM pattern: * is any run of characters,
// ? any one character. EC2's filter values are the same patterns.
func Wildcard(pattern, s string) bool {
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
