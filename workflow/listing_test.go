package workflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

const (
	ownerA = "111111111111/i-0a1b2c3d4e5f60718"
	ownerB = "111111111111/i-0fedcba9876543210"
)

func ownedLine(fqdn string, ips []string, ttl int, owner string) string {
	b, _ := json.Marshal(map[string]any{"fqdn": fqdn, "ips": ips, "ttl": ttl, "owner": owner})
	return string(b)
}

func listedLine(zone string, page, pages, owned, others, unmarked, conflicts int) string {
	return fmt.Sprintf(`{"asgdns":1,"outcome":"listed","zone":%q,"page":%d,"pages":%d,"owned":%d,"otherOwners":%d,"unmarked":%d,"conflicts":%d,"message":"page %d of %d"}`,
		zone, page, pages, owned, others, unmarked, conflicts, page, pages)
}

func TestParseListing(t *testing.T) {
	web1 := ownedLine("web-1.corp.example.com", []string{"10.0.0.5"}, 300, ownerA)
	web2 := ownedLine("web-2.corp.example.com", []string{"10.0.0.6", "10.0.0.7"}, 60, ownerB)
	bare := ownedLine("bare.corp.example.com", []string{}, 600, ownerA)
	result := listedLine("corp.example.com", 0, 1, 3, 1, 9, 2)
	good := bare + "\n" + web1 + "\n" + web2 + "\n" + result + "\n"
	want := workflow.ListingPage{Zone: "corp.example.com", Page: 0, Pages: 1, OwnedTotal: 3, OtherOwners: 1, Unmarked: 9, Conflicts: 2,
		Owned: []workflow.OwnedRecord{
			{FQDN: "bare.corp.example.com", IPs: []string{}, TTL: 600, OwnerAccount: "111111111111", OwnerInstance: "i-0a1b2c3d4e5f60718"},
			{FQDN: "web-1.corp.example.com", IPs: []string{"10.0.0.5"}, TTL: 300, OwnerAccount: "111111111111", OwnerInstance: "i-0a1b2c3d4e5f60718"},
			{FQDN: "web-2.corp.example.com", IPs: []string{"10.0.0.6", "10.0.0.7"}, TTL: 60, OwnerAccount: "111111111111", OwnerInstance: "i-0fedcba9876543210"},
		}}

	for _, tc := range []struct {
		name, stdout string
		want         *workflow.ListingPage
		err          string // part of the error, when one is wanted
	}{
		{name: "a page", stdout: good, want: &want},
		{name: "CRLF line ends (the Windows step)", stdout: strings.ReplaceAll(good, "\n", "\r\n"), want: &want},
		{name: "no final newline", stdout: strings.TrimSuffix(good, "\n"), want: &want},
		{name: "no names", stdout: listedLine("corp.example.com", 0, 0, 0, 4, 2, 0) + "\n",
			want: &workflow.ListingPage{Zone: "corp.example.com", Pages: 0, OtherOwners: 4, Unmarked: 2}},
		{name: "a page past the end", stdout: listedLine("corp.example.com", 7, 1, 3, 0, 0, 0) + "\n",
			want: &workflow.ListingPage{Zone: "corp.example.com", Page: 7, Pages: 1, OwnedTotal: 3}},

		// Whole output.
		{name: "empty", stdout: "", err: "line 1: empty"},
		{name: "no result line", stdout: bare + "\n" + web1 + "\n", err: "line 2 (the result line)"},
		{name: "a blank line", stdout: bare + "\n\n" + web1 + "\n" + web2 + "\n" + result + "\n", err: "line 2: not a JSON object"},
		{name: "a name too few", stdout: bare + "\n" + web1 + "\n" + result + "\n", err: "2 owned-name lines"},
		{name: "a name too many", stdout: bare + "\n" + web1 + "\n" + web2 + "\n" + ownedLine("web-3.corp.example.com", []string{}, 300, ownerA) + "\n" + result + "\n", err: "4 owned-name lines"},
		{name: "out of order", stdout: web1 + "\n" + bare + "\n" + web2 + "\n" + result + "\n", err: "line 2: bare.corp.example.com does not come after web-1"},
		{name: "a name twice", stdout: bare + "\n" + web1 + "\n" + web1 + "\n" + listedLine("corp.example.com", 0, 1, 3, 0, 0, 0), err: "line 3: web-1.corp.example.com does not come after"},
		{name: "two accounts", stdout: bare + "\n" + web1 + "\n" + ownedLine("web-3.corp.example.com", []string{"10.0.0.8"}, 300, "222222222222/i-0a1b2c3d4e5f60718") + "\n" + result, err: "line 3: owner account 222222222222"},
		{name: "output cut short by SSM", stdout: bare + "\n" + web1 + "\n" + web2 + "\n" + result + "\n---Output truncated---", err: "the result line"},
		{name: "a stray line", stdout: "hello\n" + bare + "\n" + web1 + "\n" + web2 + "\n" + result, err: "line 1: not a JSON object"},

		// The result line.
		{name: "pages do not match the count", stdout: bare + "\n" + web1 + "\n" + web2 + "\n" + listedLine("corp.example.com", 0, 2, 3, 0, 0, 0), err: "2 pages for 3 owned names, want 1"},
		{name: "another outcome", stdout: strings.Replace(result, `"listed"`, `"created"`, 1), err: "the result line"},
		{name: "version 2", stdout: strings.Replace(result, `"asgdns":1`, `"asgdns":2`, 1), err: "asgdns is 2"},
		{name: "a key missing", stdout: strings.Replace(result, `"conflicts":2,`, "", 1), err: "missing conflicts"},
		{name: "an extra key", stdout: strings.Replace(result, `"message"`, `"extra":1,"message"`, 1), err: "a key other than"},
		{name: "a key in another case", stdout: strings.Replace(result, `"owned"`, `"Owned"`, 1), err: "a key other than"},
		{name: "a key twice", stdout: strings.Replace(result, `"page":0`, `"page":0,"page":0`, 1), err: "key page twice"},
		{name: "a null count", stdout: strings.Replace(result, `"unmarked":9`, `"unmarked":null`, 1), err: "unmarked is null"},
		{name: "a negative count", stdout: strings.Replace(result, `"unmarked":9`, `"unmarked":-1`, 1), err: "negative"},
		{name: "a fractional count", stdout: strings.Replace(result, `"unmarked":9`, `"unmarked":9.5`, 1), err: "unmarked is not"},
		{name: "a count as a string", stdout: strings.Replace(result, `"unmarked":9`, `"unmarked":"9"`, 1), err: "unmarked is not"},
		{name: "a page out of range", stdout: listedLine("corp.example.com", 10000, 0, 0, 0, 0, 0), err: "page 10000"},
		{name: "a zone that is no zone", stdout: listedLine("corp example.com", 0, 0, 0, 0, 0, 0), err: "zone is not a zone name"},
		{name: "data after the object", stdout: result + ` {}`, err: "the result line"},
		{name: "spaces around", stdout: " " + result, err: "not a JSON object"},

		// The owned names.
		{name: "a name in another zone", stdout: ownedLine("web-1.corp.example.org", []string{"10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn is not a host label in zone corp.example.com"},
		{name: "a name deeper than a label", stdout: ownedLine("a.web-1.corp.example.com", []string{"10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn is not a host label"},
		{name: "the apex", stdout: ownedLine("corp.example.com", []string{"10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn"},
		{name: "a wildcard", stdout: ownedLine("*.corp.example.com", []string{"10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn"},
		{name: "upper case", stdout: ownedLine("WEB-1.corp.example.com", []string{"10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn"},
		{name: "a name too long", stdout: ownedLine(strings.Repeat("a", 63)+"."+strings.Repeat("b", 63)+"."+strings.Repeat("c", 63)+"."+strings.Repeat("d", 62)+".com", []string{"10.0.0.5"}, 300, ownerA) + "\n" +
			listedLine(strings.Repeat("b", 63)+"."+strings.Repeat("c", 63)+"."+strings.Repeat("d", 62)+".com", 0, 1, 1, 0, 0, 0), err: "line 1: fqdn"},
		{name: "an IPv6 address", stdout: ownedLine("web-1.corp.example.com", []string{"::1"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ips[0] is not an IPv4 address"},
		{name: "an empty address", stdout: ownedLine("web-1.corp.example.com", []string{""}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ips[0]"},
		{name: "an address twice", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.5", "10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ips[1] repeats"},
		{name: "too many addresses", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}, 300, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "5 addresses, at most 4"},
		{name: "ips null", stdout: `{"fqdn":"web-1.corp.example.com","ips":null,"ttl":300,"owner":"` + ownerA + `"}` + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ips is null"},
		{name: "ips a string", stdout: `{"fqdn":"web-1.corp.example.com","ips":"10.0.0.5","ttl":300,"owner":"` + ownerA + `"}` + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ips is not"},
		{name: "a negative TTL", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.5"}, -1, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "ttl -1 is out of range"},
		{name: "a TTL past 2^31-1", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.5"}, 1<<31, ownerA) + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "out of range"},
		{name: "an owner without an account", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.5"}, 300, "i-0a1b2c3d4e5f60718") + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "owner is not <account>/<instance id>"},
		{name: "an owner with a newline", stdout: ownedLine("web-1.corp.example.com", []string{"10.0.0.5"}, 300, ownerA+"\n") + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "owner is not"},
		{name: "an unknown key", stdout: `{"fqdn":"web-1.corp.example.com","ips":[],"ttl":300,"owner":"` + ownerA + `","note":"x"}` + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: a key other than"},
		{name: "a key missing from a name", stdout: `{"fqdn":"web-1.corp.example.com","ips":[],"owner":"` + ownerA + `"}` + "\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: missing ttl"},
		{name: "not JSON", stdout: "web-1.corp.example.com 10.0.0.5\n" + listedLine("corp.example.com", 0, 1, 1, 0, 0, 0), err: "line 1: not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := workflow.ParseListing(tc.stdout)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if !reflect.DeepEqual(got, *tc.want) {
					t.Fatalf("got  %+v\nwant %+v", got, *tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
			if !reflect.DeepEqual(got, workflow.ListingPage{}) {
				t.Errorf("an error returned a page too: %+v", got)
			}
		})
	}
}

// TestParseListingFailedList: a list that failed prints the changes' result
// line; ParseListing returns it as a *ListFailed, with the outcome and rcode
// to route on.
func TestParseListingFailedList(t *testing.T) {
	for _, tc := range []struct{ line, outcome, rcode string }{
		{`{"asgdns":1,"outcome":"dns-error","fqdn":"","ip":"","ptr":"off","rcode":"REFUSED","owner":"","message":"the transfer of zone corp.example.com failed: nothing was changed"}`, "dns-error", "REFUSED"},
		{`{"asgdns":1,"outcome":"zone-not-allowed","fqdn":"","ip":"","ptr":"off","rcode":"","owner":"","message":"zone x.example.com is not allowed"}`, "zone-not-allowed", ""},
		{`{"asgdns":1,"outcome":"invalid","fqdn":"","ip":"","ptr":"off","rcode":"","owner":"","message":"parameter page is not valid: nothing was changed"}`, "invalid", ""},
		// The Windows step's, from ConvertTo-Json, CRLF.
		{`{"asgdns":1,"outcome":"dns-error","fqdn":"","ip":"","ptr":"off","rcode":"9005","owner":"","message":"reading zone corp.example.com from this DNS server failed: nothing was changed"}` + "\r\n", "dns-error", "9005"},
	} {
		_, err := workflow.ParseListing(tc.line)
		var lf *workflow.ListFailed
		if !errors.As(err, &lf) || lf.Outcome.Outcome != tc.outcome || lf.Outcome.Rcode != tc.rcode {
			t.Errorf("%s: got %v, want a ListFailed %s %s", tc.line, err, tc.outcome, tc.rcode)
			continue
		}
		if !strings.Contains(err.Error(), tc.outcome) {
			t.Errorf("error %q does not say %s", err, tc.outcome)
		}
	}
}

// TestListPageFitsInline: the worst page the document can print — a full
// page of 253-character names, each with ListMaxIPs addresses of 15
// characters, the longest TTL and a 17-digit instance id, CRLF line ends,
// and the longest result line — parses and fits the 24,000 characters
// GetCommandInvocation returns inline. (local/document measures the Linux
// step's real output.)
func TestListPageFitsInline(t *testing.T) {
	zone := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	var lines []string
	for i := range workflow.ListPageSize {
		fqdn := fmt.Sprintf("%03d%s.%s", i, strings.Repeat("h", 60), zone)
		if len(fqdn) != workflow.MaxFQDN {
			t.Fatalf("%d characters", len(fqdn))
		}
		var ips []string
		for j := range workflow.ListMaxIPs {
			ips = append(ips, fmt.Sprintf("255.255.%d.%d", 200+i, 250+j))
		}
		lines = append(lines, ownedLine(fqdn, ips, 1<<31-1, "999999999999/i-0ffffffffffffffff"))
	}
	const big = 999_999_999
	result := fmt.Sprintf(`{"asgdns":1,"outcome":"listed","zone":%q,"page":%d,"pages":%d,"owned":%d,"otherOwners":%d,"unmarked":%d,"conflicts":%d,"message":"page %d of %d (%d names a page) of the %d names account 999999999999 owns in zone %s: nothing was changed"}`,
		zone, workflow.MaxListPage-1, workflow.MaxListPage, workflow.MaxListPage*workflow.ListPageSize, big, big, big,
		workflow.MaxListPage-1, workflow.MaxListPage, workflow.ListPageSize, workflow.MaxListPage*workflow.ListPageSize, zone)
	stdout := strings.Join(append(lines, result), "\r\n") + "\r\n"
	p, err := workflow.ParseListing(stdout)
	if err != nil || len(p.Owned) != workflow.ListPageSize {
		t.Fatalf("the worst page does not parse: %v", err)
	}
	t.Logf("worst page: %d characters (%d a name), limit %d", len(stdout), len(lines[0])+2, workflow.MaxInlineStdout)
	if len(stdout) > workflow.MaxInlineStdout {
		t.Fatalf("the worst page is %d characters, over the %d returned inline", len(stdout), workflow.MaxInlineStdout)
	}
}

func TestListParameters(t *testing.T) {
	got, err := workflow.ListParameters("corp.example.com", 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"action": {"list"}, "zone": {"corp.example.com"}, "page": {"3"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, tc := range []struct {
		zone string
		page int
		want string
	}{
		{"corp.example.com\nx", 0, "InvalidHostname"},
		{"", 0, "InvalidHostname"},
		{"corp.example.com", -1, "InvalidEvent"},
		{"corp.example.com", workflow.MaxListPage + 1, "InvalidEvent"},
	} {
		if _, err := workflow.ListParameters(tc.zone, tc.page); workflow.Routed(err) != tc.want {
			t.Errorf("%q page %d: %v, want %s", tc.zone, tc.page, err, tc.want)
		}
	}
}

// TestListingPageJSON: a page survives the trip through functions/list-zone's
// JSON result unchanged, under the keys reconcile reads.
func TestListingPageJSON(t *testing.T) {
	page := workflow.ListingPage{Zone: "corp.example.com", Page: 1, Pages: 2, OwnedTotal: 51, OtherOwners: 2, Unmarked: 3, Conflicts: 1,
		Owned: []workflow.OwnedRecord{{FQDN: "web-1.corp.example.com", IPs: []string{"10.0.0.5"}, TTL: 300,
			OwnerAccount: "111111111111", OwnerInstance: "i-0a1b2c3d4e5f60718"}}}
	data, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"zone":"corp.example.com","page":1,"pages":2,"owned":[{"fqdn":"web-1.corp.example.com","ips":["10.0.0.5"],"ttl":300,` +
		`"ownerAccount":"111111111111","ownerInstance":"i-0a1b2c3d4e5f60718"}],"ownedTotal":51,"otherOwners":2,"unmarked":3,"conflicts":1}`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
	var back workflow.ListingPage
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, page) {
		t.Errorf("round trip %+v, want %+v", back, page)
	}
}
