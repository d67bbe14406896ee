package stepfunctions

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// states ARNs have the form arn:<partition>:states:<region>:<account>:<type>:<rest>.
type stateARN struct {
	region, account string
	kind            string   // stateMachine, execution, …
	resource        []string // what follows the type, split on ':'
}

// parseARN splits a Step Functions ARN; ok is false for anything that is
// not one (another service, too few parts, empty parts).
func parseARN(s string) (stateARN, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[1] == "" || parts[2] != "states" ||
		parts[3] == "" || parts[4] == "" || parts[5] == "" {
		return stateARN{}, false
	}
	for _, p := range parts[6:] {
		if p == "" {
			return stateARN{}, false
		}
	}
	return stateARN{region: parts[3], account: parts[4], kind: parts[5], resource: parts[6:]}, true
}

// checkStateMachineARN refuses what cannot name a state machine at all
// (InvalidArn); a well-formed ARN of a machine this service does not have is
// the caller's StateMachineDoesNotExist. A version or alias ARN
// (…:stateMachine:name:1) is well formed: there are none here, so it does
// not exist.
func checkStateMachineARN(s string) error {
	a, ok := parseARN(s)
	if !ok {
		return errorf(codeInvalidArn, "Invalid Arn: '%s'", s)
	}
	if a.kind != "stateMachine" || len(a.resource) > 2 {
		return errorf(codeInvalidArn, "Invalid Arn: 'Resource type not valid in this context: %s'", a.kind)
	}
	return nil
}

// checkExecutionARN is checkStateMachineARN for execution ARNs
// (…:execution:<stateMachineName>:<executionName>).
func checkExecutionARN(s string) error {
	a, ok := parseARN(s)
	if !ok {
		return errorf(codeInvalidArn, "Invalid Arn: '%s'", s)
	}
	if a.kind != "execution" || len(a.resource) != 2 {
		return errorf(codeInvalidArn, "Invalid Arn: 'Resource type not valid in this context: %s'", a.kind)
	}
	return nil
}

// validName applies the rules StartExecution and CreateStateMachine give
// for names (API reference, StartExecution "name"): 1–80 characters; no
// whitespace, brackets < > { } [ ], wildcards ? *, special characters
// " # % \ ^ | ~ ` $ & , ; : /, control characters (U+0000–001F,
// U+007F–009F, U+FFFE–FFFF) or surrogates (which cannot reach here: JSON
// decoding turns a lone one into U+FFFD, and invalid UTF-8 is refused).
// The developer guide's quota page lists the same set without "/"; the API
// reference, which is the contract, includes it.
func validName(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("it is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > 80 {
		return fmt.Errorf("it has %d characters; names have 1 to 80", n)
	}
	for _, r := range s {
		switch {
		case r <= ' ', r >= 0x7f && r <= 0xa0, r == 0x1680, r >= 0x2000 && r <= 0x200a,
			r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
			return fmt.Errorf("it contains %q (whitespace or a control character)", r)
		case r >= 0xfffe && r <= 0xffff:
			return fmt.Errorf("it contains %U", r)
		case strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, r):
			return fmt.Errorf("it contains %q", r)
		}
	}
	return nil
}
