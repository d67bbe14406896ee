package sharedservices

import (
	"encoding/json"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// maxTemplateBytes is CloudFormation's limit on a template, which the
// expanded template (Fn::ForEach unrolled, one role and one document per
// application account) must fit: 1 MB, counted here as 1,000,000 bytes to
// stay on the safe side (CloudFormation quotas: template body size in an
// S3 object).
const maxTemplateBytes = 1_000_000

// documentedAccounts is how many application accounts the README says one
// stack holds before TenantAccountIds must be split across stacks.
const documentedAccounts = 18

// TestTemplateFitsTheDocumentedAccounts: the expanded template for the
// number of accounts the README promises stays under the limit, measured as
// JSON (what CloudFormation stores after the transform).
func TestTemplateFitsTheDocumentedAccounts(t *testing.T) {
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	resources := tmpl["Resources"].(map[string]any)
	loop, ok := resources[tenantsLoop].([]any)
	if !ok || len(loop) != 3 {
		t.Fatalf("Resources.%s is not [identifier, collection, body]", tenantsLoop)
	}
	perAccount := jsonSize(t, loop[2])
	rest := jsonSize(t, tmpl) - perAccount
	total := rest + documentedAccounts*perAccount
	t.Logf("%d bytes per account, %d for the rest: %d accounts make %d bytes", perAccount, rest, documentedAccounts, total)
	if total > maxTemplateBytes {
		t.Errorf("%d accounts expand to %d bytes, over %d: lower the number in the README (and documentedAccounts)", documentedAccounts, total, maxTemplateBytes)
	}
}

func jsonSize(t *testing.T, v any) int {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}
