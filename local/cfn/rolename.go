package cfn

import (
	"crypto/sha256"
	"strings"
)

// Names CloudFormation generates for resources the template does not name
// (the roles SAM creates for functions: logical id <Function>Role).

// Generated names are cut when stack name and logical id are long
// together: shared/reference/aws-facts.md §8 reports roles named
// <stack>-<LogicalId>-<suffix> whose halves are each cut to 25 characters
// once stack + "-" + logicalId exceeds 51 (observed:
// "…-WaitForCommandFunctionRol-…"). That exact rule is UNVERIFIED: it is
// modelled here, in this one place, so that everything relying on role
// names meets truncated ones; asgdns itself never matches role names.
const (
	generatedNameLimit = 51 // len(stack + "-" + logicalId) beyond which both are cut
	generatedHalfLimit = 25 // what each half is cut to
	generatedSuffixLen = 12 // CloudFormation's random suffix
)

// GeneratedRoleName is the name CloudFormation gives the role with this
// logical id (for a SAM function: <FunctionLogicalId>Role) in this stack:
// <stack>-<logicalId>-<suffix>, with both halves cut as aws-facts §8
// describes (see generatedNameLimit: UNVERIFIED rule). The suffix, random
// in CloudFormation, is derived from the stack and logical id here, so a
// local run names a role the same way every time.
func GeneratedRoleName(stack, logicalID string) string {
	s, id := stack, logicalID
	if len(s)+1+len(id) > generatedNameLimit {
		s, id = s[:min(len(s), generatedHalfLimit)], id[:min(len(id), generatedHalfLimit)]
	}
	return s + "-" + id + "-" + generatedSuffix(stack+"/"+logicalID)
}

// generatedSuffix is 12 upper-case letters and digits, as CloudFormation's
// suffixes are, derived from key.
func generatedSuffix(key string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	for i := range generatedSuffixLen {
		b.WriteByte(alphabet[int(sum[i])%len(alphabet)])
	}
	return b.String()
}
