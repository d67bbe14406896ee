package sharedservices

import (
	"fmt"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

// The Linux step is run against a real BIND, holding other owners' records,
// wildcards, SPF and CNAMEs, by the rig (local/document); what is here needs
// only Go.

// TestLinuxStepLimitsAreTheContracts: the DC enforces the same TTL range and
// name length as the functions (workflow.MinTTL, MaxTTL, MaxFQDN), so a
// value one side accepts the other never refuses.
func TestLinuxStepLimitsAreTheContracts(t *testing.T) {
	s, err := loadDocument(t).Step(workflow.StepLinux)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("10#$SSM_ttl >= %d && 10#$SSM_ttl <= %d", workflow.MinTTL, workflow.MaxTTL),
		fmt.Sprintf("$((%d - 1 - ${#SSM_zone}))", workflow.MaxFQDN),
	} {
		if !strings.Contains(s.Script(), want) {
			t.Errorf("the Linux step does not check %s", want)
		}
	}
}
