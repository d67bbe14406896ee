package document

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/local/bind"
	sharedservices "github.com/asgdns/asgdns/shared-services"
	"github.com/asgdns/asgdns/workflow"
)

// listed is what one run of the list action printed and returned, and
// what workflow.ParseListing made of it.
type listed struct {
	stdout, stderr string
	exitCode       int
	page           workflow.ListingPage
	err            error // ParseListing's
}

// list runs the document's Linux step, as deployed for doc, with action
// list: the parameters it is given, and every other parameter at its
// default, as SSM fills them in.
func (b *dc) list(t *testing.T, doc sharedservices.Document, zone string, page int, env ...string) listed {
	t.Helper()
	params := map[string]string{}
	for name, p := range doc.Parameters {
		params[name] = p.Default
	}
	sent, err := workflow.ListParameters(zone, page)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range sent {
		params[name] = v[0]
	}
	var l listed
	l.stdout, l.stderr, l.exitCode = b.execLinux(t, doc, params, env...)
	l.page, l.err = workflow.ParseListing(l.stdout)
	return l
}

// ok fails the test unless the list succeeded (exit 0, a listing
// ParseListing accepts).
func (l listed) ok(t *testing.T) workflow.ListingPage {
	t.Helper()
	if l.exitCode != 0 || l.err != nil {
		t.Fatalf("list: exit %d, %v\nstdout %q\nstderr %q", l.exitCode, l.err, l.stdout, l.stderr)
	}
	return l.page
}

// failed checks a failed list: the exit code, a result line alone (no
// names), and the outcome and rcode ParseListing reports as a ListFailed.
func (l listed) failed(t *testing.T, outcome string, exitCode int, rcode string) {
	t.Helper()
	var lf *workflow.ListFailed
	if l.exitCode != exitCode || !asListFailed(l.err, &lf) || lf.Outcome.Outcome != outcome || (rcode != "" && lf.Outcome.Rcode != rcode) {
		t.Fatalf("want %s (%s) exit %d, got exit %d, %v\nstdout %q\nstderr %q", outcome, rcode, exitCode, l.exitCode, l.err, l.stdout, l.stderr)
	}
	if n := strings.Count(l.stdout, "\n"); n != 1 {
		t.Errorf("a failed list printed %d lines, want the result line alone: %q", n, l.stdout)
	}
	if strings.Contains(l.stdout+l.stderr, "c2VjcmV0") {
		t.Errorf("the key's secret left the DC: %s %s", l.stdout, l.stderr)
	}
}

func asListFailed(err error, to **workflow.ListFailed) bool { return errors.As(err, to) }

// owned is an OwnedRecord in short: "fqdn ttl account/instance ip ip".
func owned(r workflow.OwnedRecord) string {
	return strings.Join(append([]string{r.FQDN, strconv.Itoa(r.TTL), r.OwnerAccount + "/" + r.OwnerInstance}, r.IPs...), " ")
}

// listDC is sharedDC's zones with more of what a real zone holds beside
// asgdns's names: a wildcard, a marker at a wildcard, a marker deeper than
// a host label, a marker without an address (a Windows change stopped
// halfway), two and five addresses under one marker, another account's
// marker beside an SPF record; and wild.example.com, which the DNS server
// does not let anyone transfer.
func listDC(t *testing.T) *dc {
	corp := []string{
		"manual IN A 10.20.99.99",
		`spf IN TXT "v=spf1 ip4:10.20.0.0/16 -all"`,
		"mx IN MX 10 mail.corp.example.com.",
		"v6 IN AAAA 2001:db8::1",
		"alias IN CNAME web.example.net.",
		"sub IN NS ns.example.net.",
		"taken IN A 10.20.96.1", "taken IN TXT " + marker(accountA, other),
		"owned IN A 10.20.95.1", "owned IN TXT " + marker(accountA, me),
		"owned-b IN A 10.20.94.1", "owned-b IN TXT " + marker(accountB, me),
		"owned-spf IN A 10.20.93.1", "owned-spf IN TXT " + marker(accountA, me), `owned-spf IN TXT "v=spf1 -all"`,
		"owned-mx IN A 10.20.92.1", "owned-mx IN TXT " + marker(accountA, me), "owned-mx IN MX 10 mail.corp.example.com.",
		"owned-p IN A 10.20.30.99", "owned-p IN TXT " + marker(accountA, me),
		"two IN A 10.20.91.1", "two IN TXT " + marker(accountA, me), "two IN TXT " + marker(accountA, other),
		"legacy IN A 10.20.90.1", `legacy IN TXT "asgdns-owner=` + me + `"`,
		"unreadable IN A 10.20.89.1", `unreadable IN TXT "asgdns-owner=x\"y"`,
		// More than sharedDC.
		"* IN A 10.9.9.9",
		"*.wc IN A 10.20.88.1", "*.wc IN TXT " + marker(accountA, me),
		"deep.er IN A 10.20.87.1", "deep.er IN TXT " + marker(accountA, me),
		"bare 600 IN TXT " + marker(accountA, me),
		"pair 120 IN A 10.20.86.1", "pair 120 IN A 10.20.86.2", "pair 120 IN TXT " + marker(accountA, other),
		"many IN A 10.20.85.1", "many IN A 10.20.85.2", "many IN A 10.20.85.3", "many IN A 10.20.85.4", "many IN A 10.20.85.5",
		"many IN TXT " + marker(accountA, me),
		"b-spf IN TXT " + marker(accountB, other), `b-spf IN TXT "v=spf1 -all"`,
	}
	return startDC(t, bind.Options{Zone: "corp.example.com", Records: corp, Zones: []bind.Zone{
		{Name: "wild.example.com", Records: []string{"* IN A 10.9.9.9", "web IN A 10.9.9.8", "web IN TXT " + marker(accountA, me)}, NoTransfer: true},
		{Name: "other.example.org"},
		{Name: "20.10.in-addr.arpa", Records: []string{"99.30 IN PTR someone-else.corp.example.com."}},
	}})
}

// TestLinuxListAgainstSharedDC: list reads the zone as it is and returns
// exactly the names the document's account owns, with the right counts of
// the rest, for each account; and changes nothing.
func TestLinuxListAgainstSharedDC(t *testing.T) {
	b := listDC(t)
	before := b.records(t)
	// Not owned by anyone: the apex, ns, manual, spf, mx, v6, alias, sub
	// and the wildcard. Conflicts for both accounts: owned-spf, owned-mx,
	// two, legacy, unreadable, the marker at *.wc, deep.er, many (five
	// addresses), b-spf.
	for _, tc := range []struct {
		account                       string
		want                          []string
		others, unmarked, conflicting int
	}{
		{accountA, []string{
			"bare.corp.example.com 600 " + accountA + "/" + me,
			"owned-p.corp.example.com 300 " + accountA + "/" + me + " 10.20.30.99", // '-' sorts before '.'
			"owned.corp.example.com 300 " + accountA + "/" + me + " 10.20.95.1",
			"pair.corp.example.com 120 " + accountA + "/" + other + " 10.20.86.1 10.20.86.2",
			"taken.corp.example.com 300 " + accountA + "/" + other + " 10.20.96.1",
		}, 1, 9, 9},
		{accountB, []string{"owned-b.corp.example.com 300 " + accountB + "/" + me + " 10.20.94.1"}, 5, 9, 9},
	} {
		t.Run(tc.account, func(t *testing.T) {
			p := b.list(t, loadDocumentFor(t, tc.account), "corp.example.com", 0).ok(t)
			var got []string
			for _, r := range p.Owned {
				ips := slices.Clone(r.IPs)
				slices.Sort(ips)
				r.IPs = ips
				got = append(got, owned(r))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("owned:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			want := workflow.ListingPage{Zone: "corp.example.com", Page: 0, Pages: 1, OwnedTotal: len(tc.want),
				OtherOwners: tc.others, Unmarked: tc.unmarked, Conflicts: tc.conflicting}
			p.Owned = nil
			if p.Zone != want.Zone || p.Page != want.Page || p.Pages != want.Pages || p.OwnedTotal != want.OwnedTotal ||
				p.OtherOwners != want.OtherOwners || p.Unmarked != want.Unmarked || p.Conflicts != want.Conflicts {
				t.Errorf("listing %+v, want %+v", p, want)
			}
		})
	}
	if after := b.records(t); !slices.Equal(before, after) {
		added, removed := diff(before, after)
		t.Fatalf("listing changed the zone: added %q removed %q", added, removed)
	}
	// A page past the end is listed, empty; the counts say there is one.
	p := b.list(t, loadDocumentFor(t, accountA), "corp.example.com", 1).ok(t)
	if p.Pages != 1 || len(p.Owned) != 0 || p.OwnedTotal != 5 {
		t.Errorf("page past the end: %+v", p)
	}
}

// TestLinuxListFailures: a list that cannot read the whole zone reports
// why (exit 10 or 20, the rcode) and prints no names: a failed read is
// never an empty listing.
func TestLinuxListFailures(t *testing.T) {
	b := listDC(t)
	badKey := filepath.Join(b.dir, "bad-key.conf")
	b.write(t, "bad-key.conf", "key \"asgdns\" {\n\talgorithm hmac-sha256;\n\tsecret \""+leakedSecret+"\";\n};\n")
	b.write(t, "bad-dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s\n", b.Port(), badKey))
	b.write(t, "nokey-dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%d\n", b.Port()))
	other, err := bind.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b.write(t, "down-dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s\n", other, b.KeyFile()))
	conf := func(name string) string { return "ASGDNS_CONFIG=" + filepath.Join(b.dir, name) }
	// dig's answer to the AXFR without its last lines: the closing SOA.
	cut := shims(t, map[string]string{"dig": `for a in "$@"; do
  if [ "$a" = AXFR ]; then "$real" "$@" | head -n -2; exit 0; fi
done
exec "$real" "$@"`})
	docA := loadDocumentFor(t, accountA)
	for _, tc := range []struct {
		name     string
		zone     string
		account  string
		env      []string
		outcome  string
		exitCode int
		rcode    string
	}{
		{name: "zone outside the allow-list", zone: "other.example.org", outcome: "zone-not-allowed", exitCode: 10},
		{name: "another account's zone", zone: "wild.example.com", account: accountB, outcome: "zone-not-allowed", exitCode: 10},
		{name: "reverse zone, even allow-listed", zone: "20.10.in-addr.arpa", outcome: "zone-not-allowed", exitCode: 10},
		{name: "allowed zone the server does not serve", zone: "gone.example.com", outcome: "dns-error", exitCode: 20, rcode: "REFUSED"},
		{name: "the server refuses the transfer", zone: "wild.example.com", outcome: "dns-error", exitCode: 20, rcode: "REFUSED"},
		{name: "a malformed key: dig would send unsigned", zone: "corp.example.com", env: []string{conf("bad-dns.conf")}, outcome: "dns-error", exitCode: 20, rcode: "REFUSED"},
		{name: "no keyfile and no session key", zone: "corp.example.com", env: []string{conf("nokey-dns.conf")}, outcome: "dns-error", exitCode: 20},
		{name: "the server is down", zone: "corp.example.com", env: []string{conf("down-dns.conf")}, outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "the transfer times out", zone: "corp.example.com", env: []string{shims(t, map[string]string{"dig": failingRead("AXFR")})}, outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "the transfer stops short", zone: "corp.example.com", env: []string{cut}, outcome: "dns-error", exitCode: 20, rcode: "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := docA
			if tc.account != "" {
				doc = loadDocumentFor(t, tc.account)
			}
			b.list(t, doc, tc.zone, 0, tc.env...).failed(t, tc.outcome, tc.exitCode, tc.rcode)
		})
	}
}

// TestLinuxListParameters: list validates its parameters like the changes
// (page as the contract's pattern), and ignores hostname and owner.
func TestLinuxListParameters(t *testing.T) {
	b := listDC(t)
	doc := loadDocumentFor(t, accountA)
	defaults := func() map[string]string {
		p := map[string]string{}
		for name, decl := range doc.Parameters {
			p[name] = decl.Default
		}
		p["action"], p["zone"] = "list", "corp.example.com"
		return p
	}
	for _, bad := range []map[string]string{{"page": "10000"}, {"page": "-1"}, {"page": "1a"}, {"page": ""}, {"page": "0\n"}, {"zone": "corp.example.com\n"}} {
		p := defaults()
		maps.Copy(p, bad)
		stdout, _, code := b.execLinux(t, doc, p)
		if o := workflow.ParseOutcome(stdout); code != 10 || o == nil || o.Outcome != "invalid" {
			t.Errorf("%q: exit %d %s", bad, code, stdout)
		}
	}
	// A page with leading zeros is that page; hostname and owner, when
	// given, change nothing.
	p := defaults()
	p["page"], p["hostname"], p["ownerInstanceId"] = "0000", "owned", other
	stdout, stderr, code := b.execLinux(t, doc, p)
	page, err := workflow.ParseListing(stdout)
	if code != 0 || err != nil || page.Page != 0 || page.OwnedTotal != 5 {
		t.Errorf("page 0000 with a hostname and owner: exit %d %v %+v %s", code, err, page, stderr)
	}
}

// TestLinuxChangesNeedHostnameAndOwner: hostname and ownerInstanceId
// default to "" (for list); register and deregister refuse them empty as
// invalid parameters and change nothing.
func TestLinuxChangesNeedHostnameAndOwner(t *testing.T) {
	b := sharedDC(t)
	before := b.records(t)
	for _, tc := range []struct {
		params map[string]string
		param  string
	}{
		{map[string]string{"action": "register", "hostname": "", "ipv4Address": "10.20.30.60"}, "hostname"},
		{map[string]string{"action": "deregister", "hostname": ""}, "hostname"},
		{map[string]string{"action": "register", "hostname": "web-9", "ipv4Address": "10.20.30.60", "ownerInstanceId": ""}, "ownerInstanceId"},
		{map[string]string{"action": "deregister", "hostname": "owned", "ownerInstanceId": ""}, "ownerInstanceId"},
	} {
		r := b.runLinux(t, accountA, tc.params)
		r.expect(t, "invalid", 10)
		if want := "parameter " + tc.param + " is not valid"; !strings.HasPrefix(r.out.Message, want) {
			t.Errorf("%v: message %q, want %q", tc.params, r.out.Message, want)
		}
	}
	if after := b.records(t); !slices.Equal(before, after) {
		t.Fatalf("zones changed:\n%q\n---\n%q", before, after)
	}
}

// TestLinuxListPages: 120 owned names among another account's come back
// over three pages of workflow.ListPageSize, each exactly once, in byte
// order; a fourth page is listed and empty.
func TestLinuxListPages(t *testing.T) {
	var records, want []string
	for i := range 120 {
		host := fmt.Sprintf("web-%d", i) // web-1, web-10, web-100, web-101, ...: byte order, not numeric
		records = append(records, fmt.Sprintf("%s IN A 10.21.%d.%d", host, i/200, i%200+1), host+" IN TXT "+marker(accountA, me))
		want = append(want, host+".corp.example.com")
		records = append(records, fmt.Sprintf("b-%d IN A 10.22.0.%d", i, i+1), fmt.Sprintf("b-%d IN TXT %s", i, marker(accountB, other)))
	}
	slices.Sort(want)
	b := startDC(t, bind.Options{Zone: "corp.example.com", Records: records})
	doc := loadDocumentFor(t, accountA)
	var got []string
	for page := range 4 {
		p := b.list(t, doc, "corp.example.com", page).ok(t)
		if p.Page != page || p.Pages != 3 || p.OwnedTotal != 120 || p.OtherOwners != 120 || p.Unmarked != 2 || p.Conflicts != 0 {
			t.Errorf("page %d: %+v", page, p)
		}
		if n, wantN := len(p.Owned), []int{workflow.ListPageSize, workflow.ListPageSize, 120 - 2*workflow.ListPageSize, 0}[page]; n != wantN {
			t.Errorf("page %d holds %d names, want %d", page, n, wantN)
		}
		for _, r := range p.Owned {
			got = append(got, r.FQDN)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the pages together:\n%q\nwant every owned name once, in byte order:\n%q", got, want)
	}
}

// TestLinuxListWorstPageFitsInline: a full page of the longest names (253
// characters), each with workflow.ListMaxIPs addresses of 15 characters,
// the longest TTL and a 17-digit instance id, fits the 24,000 characters of
// stdout Run Command returns inline, with the result line.
func TestLinuxListWorstPageFitsInline(t *testing.T) {
	zone := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	var records []string
	for i := range workflow.ListPageSize + 1 {
		host := fmt.Sprintf("%03d", i) + strings.Repeat("h", 60)
		for j := range workflow.ListMaxIPs {
			records = append(records, fmt.Sprintf("%s 2147483647 IN A 255.255.%d.%d", host, 200+i%50, 250+j))
		}
		records = append(records, host+" 2147483647 IN TXT "+marker(accountA, "i-0ffffffffffffffff"))
	}
	b := startDC(t, bind.Options{Zone: zone, Records: records})
	doc, err := sharedservices.LoadDocument(templatePath, sharedservices.Tenancy{AccountID: accountA, TenantZones: []string{accountA + ":" + zone}})
	if err != nil {
		t.Fatal(err)
	}
	l := b.list(t, doc, zone, 0)
	p := l.ok(t)
	if len(p.Owned) != workflow.ListPageSize || p.Pages != 2 {
		t.Fatalf("%d names on page 0 of %d, want a full page", len(p.Owned), p.Pages)
	}
	for _, r := range p.Owned {
		if len(r.FQDN) != workflow.MaxFQDN || len(r.IPs) != workflow.ListMaxIPs || r.TTL != 2147483647 || len(r.OwnerInstance) != 19 {
			t.Fatalf("not a worst-case name: %+v", r)
		}
	}
	t.Logf("worst page: %d characters of stdout (limit %d)", len(l.stdout), workflow.MaxInlineStdout)
	if len(l.stdout) > workflow.MaxInlineStdout {
		t.Fatalf("a full page of the longest names is %d characters, over the %d Run Command returns inline", len(l.stdout), workflow.MaxInlineStdout)
	}
}
