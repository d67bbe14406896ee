package contract_test

import (
	"strings"
	"testing"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
)

// TestDecode: only the keys given, exactly as spelled.
func TestDecode(t *testing.T) {
	var r contract.ListRequest
	if err := contract.Decode([]byte(`{"run":"r","zone":"corp.example.com","page":2,"dcInstanceIds":["i-0123456789abcdef0"]}`), &r,
		contract.ListRequestKeys...); err != nil || r.Page != 2 || r.Zone != "corp.example.com" {
		t.Fatalf("%+v, %v", r, err)
	}
	for input, want := range map[string]string{
		`{"Zone":"x"}`:  `unknown key "Zone"`,
		`{"zone":1}`:    "cannot unmarshal",
		`[]`:            "cannot unmarshal",
		`null`:          "not a JSON object",
		`{"run":"a"} x`: "invalid character",
	} {
		var r contract.ListRequest
		if err := contract.Decode([]byte(input), &r, contract.ListRequestKeys...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", input, err, want)
		}
	}
}
