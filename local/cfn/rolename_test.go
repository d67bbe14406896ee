package cfn

import (
	"regexp"
	"strings"
	"testing"
)

func TestGeneratedRoleName(t *testing.T) {
	suffix := regexp.MustCompile(`-[A-Z0-9]{12}$`)
	for _, tc := range []struct {
		stack, logicalID, wantPrefix string
	}{
		// Short: whole halves.
		{"asgdns", "WaitForCommandFunctionRole", "asgdns-WaitForCommandFunctionRole"},
		// StackSets name their stacks StackSet-<set>-<uuid>: both halves cut
		// to 25 (aws-facts §8, UNVERIFIED), as observed: …-WaitForCommandFunctionRol-….
		{"StackSet-asgdns-app-0a1b2c3d-4e5f-6789-abcd-ef0123456789", "WaitForCommandFunctionRole", "StackSet-asgdns-app-0a1b2-WaitForCommandFunctionRol"},
		{"StackSet-asgdns-app-0a1b2c3d-4e5f-6789-abcd-ef0123456789", "AssumeRoleFunctionRole", "StackSet-asgdns-app-0a1b2-AssumeRoleFunctionRole"},
		// Just at the limit (51): not cut.
		{strings.Repeat("s", 25), "AssumeRoleFunctionRole" + "xxx", strings.Repeat("s", 25) + "-AssumeRoleFunctionRolexxx"},
	} {
		got := GeneratedRoleName(tc.stack, tc.logicalID)
		if !suffix.MatchString(got) || strings.TrimRight(suffix.ReplaceAllString(got, ""), "-") != tc.wantPrefix || len(got) > 64 {
			t.Errorf("GeneratedRoleName(%s, %s) = %s (%d chars), want %s-<12 upper-case alphanumerics>, at most 64",
				tc.stack, tc.logicalID, got, len(got), tc.wantPrefix)
		}
		if again := GeneratedRoleName(tc.stack, tc.logicalID); again != got {
			t.Errorf("not stable: %s, then %s", got, again)
		}
	}
	if GeneratedRoleName("a", "X") == GeneratedRoleName("b", "X") {
		t.Error("two stacks' roles have the same name")
	}
}
