package operate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// stateMachineARN matches an unqualified Standard state machine ARN
// (arn:<partition>:states:<region>:<account>:stateMachine:<name>). Version
// and alias ARNs are refused: executions, and the names replay links to
// them, live under the unqualified ARN.
var stateMachineARN = regexp.MustCompile(`^arn:(aws[a-z-]*):states:([a-z0-9-]+):([0-9]{12}):stateMachine:([^:\s]{1,80})$`)

// parseStateMachineARN validates arn and returns the prefix that execution
// ARNs of that machine share: arn:…:execution:<name>:.
func parseStateMachineARN(arn string) (executionPrefix string, err error) {
	m := stateMachineARN.FindStringSubmatch(arn)
	if m == nil {
		return "", fmt.Errorf("%q is not a state machine ARN (want arn:aws:states:<region>:<account>:stateMachine:<name>, without a version or alias)", arn)
	}
	return fmt.Sprintf("arn:%s:states:%s:%s:execution:%s:", m[1], m[2], m[3], m[4]), nil
}

// qualifiedARN matches a state machine ARN, unqualified or qualified with a
// version number or an alias name (…:stateMachine:<name>:<version|alias>).
var qualifiedARN = regexp.MustCompile(`^(arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[^:\s]{1,80})(?::([A-Za-z0-9_.-]{1,80}))?$`)

// splitStateMachineARN validates a state machine ARN, qualified or not, and
// splits it into the unqualified ARN (which lists the executions of every
// version: ListExecutions with a version or alias ARN lists only those
// started through it) and the qualifier: a version number, an alias name or
// "".
func splitStateMachineARN(arn string) (unqualified, qualifier string, err error) {
	m := qualifiedARN.FindStringSubmatch(arn)
	if m == nil {
		return "", "", fmt.Errorf("%q is not a state machine ARN (want arn:aws:states:<region>:<account>:stateMachine:<name>, optionally :<alias> or :<version>)", arn)
	}
	return m[1], m[2], nil
}

// isVersion says whether a qualifier is a version number (alias names
// are never all digits).
func isVersion(qualifier string) bool {
	return qualifier != "" && strings.Trim(qualifier, "0123456789") == ""
}

// maxNameLen is Step Functions' limit on execution names, in characters.
const maxNameLen = 80

// replayPrefix links a restarted execution to the one it replays.
const replayPrefix = "replay-"

// replayName is the name of the execution that restarts the execution
// called name: "replay-<name>". Being a function of the original name only,
// a second replay finds the first one's execution instead of starting
// another. When the result would pass the 80-character limit the original
// name is shortened and a hash of it keeps the link unique.
func replayName(name string) string {
	if utf8.RuneCountInString(replayPrefix+name) <= maxNameLen {
		return replayPrefix + name
	}
	sum := sha256.Sum256([]byte(name))
	tag := "-" + hex.EncodeToString(sum[:])[:8]
	keep := maxNameLen - len(replayPrefix) - len(tag)
	runes := []rune(name)
	return replayPrefix + strings.TrimRight(string(runes[:keep]), "-") + tag
}

// redriveToken is the RedriveExecution ClientToken for an execution's next
// redrive. It is deterministic per (execution, redriveCount), so a call
// retried after a lost response is recognised by Step Functions (it answers
// the last 10 tokens idempotently for 15 minutes) instead of redriving a
// second time, while the next legitimate redrive, after redriveCount went
// up, gets a fresh token. Hex and a dash keep it well inside the 64
// printable ASCII characters the API accepts.
func redriveToken(executionARN string, redriveCount int) string {
	sum := sha256.Sum256([]byte(executionARN))
	return fmt.Sprintf("asgdns-replay-%s-%d", hex.EncodeToString(sum[:])[:32], redriveCount)
}
