package document

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/local/bind"
	sharedservices "github.com/asgdns/asgdns/shared-services"
)

// The application accounts of these tests and the stack's TenantZones.
const (
	accountA = "111111111111"
	accountB = "333333333333"
)

var tenantZones = []string{
	accountA + ":corp.example.com", accountA + ":wild.example.com",
	accountA + ":20.10.in-addr.arpa", // allow-listed, still never a forward zone
	accountA + ":gone.example.com",   // allow-listed, not served by the DC
	accountB + ":corp.example.com",
}

// templatePath is the shared-services stack, read as its own tests read it.
const templatePath = "../../shared-services/template.yaml"

// loadDocumentFor is the document as the stack deploys it for one account.
func loadDocumentFor(t *testing.T, account string) sharedservices.Document {
	t.Helper()
	doc, err := sharedservices.LoadDocument(templatePath, sharedservices.Tenancy{AccountID: account, TenantZones: tenantZones})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// dc is a domain controller's DNS: a real named (package bind) serving the
// zones on a loopback port, accepting RFC 2136 updates signed with a TSIG
// key the way a Linux DC does (there, with its local key), and dir, where a
// test writes files beside it (a broken key, a dns.conf pointing nowhere).
type dc struct {
	*bind.Server
	dir    string
	closed []string // the zones that refuse transfers (bind.Zone.NoTransfer)
}

// startDC starts named for opts, stopped when the test ends. A missing
// tool fails the test with the install command (bind.Require), never skips.
func startDC(t *testing.T, opts bind.Options) *dc {
	t.Helper()
	if err := bind.Require(); err != nil {
		t.Fatal(err)
	}
	s, err := bind.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	var closed []string
	for _, z := range opts.Zones {
		if z.NoTransfer {
			closed = append(closed, strings.TrimSuffix(z.Name, "."))
		}
	}
	return &dc{Server: s, dir: t.TempDir(), closed: closed}
}

func (b *dc) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dig answers a query as +short text ("" when there is no answer); a query
// named does not answer fails the test.
func (b *dc) dig(t *testing.T, qtype, name string) string {
	t.Helper()
	out, err := b.Lookup(qtype, name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// records returns every record of every zone the server serves that allows
// transfers (AXFR signed with the server's key), one per line in
// presentation form with single spaces, sorted, without the SOA (its serial
// moves with each update).
func (b *dc) records(t *testing.T) []string {
	t.Helper()
	var all []string
	for _, z := range b.Zones() {
		if slices.Contains(b.closed, z) {
			continue
		}
		out, err := b.Transfer(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] == "SOA" {
				continue
			}
			all = append(all, strings.Join(f, " "))
		}
	}
	sort.Strings(all)
	return all
}
