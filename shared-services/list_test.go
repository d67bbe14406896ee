package sharedservices

// Static checks of the list action in both steps: what reading shows of the
// Windows step (PowerShell does not run here), and of the Linux step what
// makes it the Windows step's twin. The Linux step runs against a real BIND
// in the rig (local/document).

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

// winFunction returns the body of a top-level function of the Windows
// step's code.
func winFunction(t *testing.T, code, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\nfunction ` + regexp.QuoteMeta(name) + `(?:\([^)]*\))? \{\n(.*?)\n\}\n`).FindStringSubmatch(code)
	if m == nil {
		t.Fatalf("the Windows step has no function %s", name)
	}
	return m[1]
}

// linuxFunction returns the body of a shell function of the Linux step.
func linuxFunction(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\n` + regexp.QuoteMeta(name) + `\(\) \{\n(.*?)\n\}\n`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("the Linux step has no function %s", name)
	}
	return m[1]
}

// keysOf returns the keys of a PowerShell [ordered]@{ k = v; ... } table
// (values without ';') or of a JSON printf format ("k":...).
func keysOf(table string) []string {
	var keys []string
	if strings.Contains(table, `":`) {
		for _, m := range regexp.MustCompile(`"(\w+)":`).FindAllStringSubmatch(table, -1) {
			keys = append(keys, m[1])
		}
		return keys
	}
	for _, kv := range strings.Split(table, "; ") {
		keys = append(keys, strings.TrimSpace(strings.SplitN(kv, "=", 2)[0]))
	}
	return keys
}

var (
	listedKeys = []string{"asgdns", "outcome", "zone", "page", "pages", "owned", "otherOwners", "unmarked", "conflicts", "message"}
	ownedKeys  = []string{"fqdn", "ips", "ttl", "owner"}
)

// TestListStepsWriteTheContract: both steps print the owned names and the
// result line with exactly the keys ParseListing reads, in order; page
// through the same page size and address limit as the contract
// (workflow.ListPageSize, ListMaxIPs); and name the stack's account as the
// owner, never one read from the zone.
func TestListStepsWriteTheContract(t *testing.T) {
	code := winCode(t)
	_, l := winSteps(t)
	linux := l.Script()
	win := winFunction(t, code, "Write-Listing")
	list := linuxFunction(t, linux, "list_zone")

	for _, c := range []struct {
		step, text, re string
	}{
		{"Windows", code, `(?m)^\$listPageSize = (\d+); \$listMaxIps = (\d+)$`},
		{"Linux", linux, `(?m)^list_page=(\d+) list_max_ips=(\d+)$`},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(c.text)
		if m == nil {
			t.Errorf("the %s step sets no page size and address limit: %s", c.step, c.re)
			continue
		}
		if m[1] != strconv.Itoa(workflow.ListPageSize) || m[2] != strconv.Itoa(workflow.ListMaxIPs) {
			t.Errorf("the %s step pages %s names with at most %s addresses, the contract %d and %d", c.step, m[1], m[2], workflow.ListPageSize, workflow.ListMaxIPs)
		}
	}

	// The result lines.
	wl := regexp.MustCompile(`\n\s*Write-Json \(\[ordered\]@\{ (asgdns = 1; outcome = 'listed'; [^\n]*?) \}\)\n\s*exit 0$`).FindStringSubmatch(win)
	ll := regexp.MustCompile(`\n\s*printf '(\{"asgdns":1,"outcome":"listed",[^']*\})\\n' \\\n[^\n]*\n[^\n]*\n\s*exit 0$`).FindStringSubmatch(list)
	if wl == nil || ll == nil {
		t.Fatalf("a step writes no listed result line, then exits 0: Windows %v, Linux %v", wl != nil, ll != nil)
	}
	for step, table := range map[string]string{"Windows": wl[1], "Linux": ll[1]} {
		if got := keysOf(table); !slices.Equal(got, listedKeys) {
			t.Errorf("the %s step's listed line has keys %v, want %v", step, got, listedKeys)
		}
	}

	// The owned names' lines, the owner being the stack's account and the
	// marker's instance.
	wo := regexp.MustCompile(`Line = \[ordered\]@\{ ([^}]*) \}`).FindStringSubmatch(win)
	lo := regexp.MustCompile(`owned\+=\("\$\(printf '(\{"fqdn":[^']*\})' "\$name" "\$json" "\$\(\(10#\$t\)\)" "\$owner_account" "\$inst"\)"\)`).FindStringSubmatch(list)
	if wo == nil || lo == nil {
		t.Fatalf("a step writes no owned-name line of validated values: Windows %v, Linux %v", wo != nil, lo != nil)
	}
	for step, table := range map[string]string{"Windows": wo[1], "Linux": lo[1]} {
		if got := keysOf(table); !slices.Equal(got, ownedKeys) {
			t.Errorf("the %s step's owned-name line has keys %v, want %v", step, got, ownedKeys)
		}
	}
	if !strings.Contains(wo[1], `owner = "$OwnerAccount/$markerInstance"`) || !strings.Contains(lo[1], `"owner":"%s/%s"`) {
		t.Error("an owned name's owner is not the stack's account and the marker's instance")
	}
}

// TestListStepsRules: the listing's rules, each as the code that keeps it,
// on both steps.
func TestListStepsRules(t *testing.T) {
	code := winCode(t)
	_, l := winSteps(t)
	linux := l.Script()
	win := winFunction(t, code, "Write-Listing")
	list := linuxFunction(t, linux, "list_zone")
	for _, r := range []struct{ step, text, re, why string }{
		// Windows.
		{"Windows", win, `(?m)^\s*foreach \(\$r in @\(Get-DnsServerResourceRecord @dnsServer -ZoneName \$zone -ErrorAction Stop\)\) \{$`, "one read of the whole zone, a failure thrown"},
		{"Windows", win, `@\('RRSIG', 'NSEC', 'NSEC3'\) -ccontains \$type\) \{ continue \}`, "DNSSEC records are nobody's data"},
		{"Windows", win, `\$text\.StartsWith\('asgdns-owner=', \[StringComparison\]::Ordinal\)`, "every TXT starting asgdns-owner= is a marker"},
		{"Windows", win, `if \(\$node\.Markers\.Count -eq 0\) \{ \$unmarked\+\+; continue \}`, "a name without a marker is unmarked"},
		{"Windows", win, `\$node\.Markers\.Count -gt 1 -or \$node\.Foreign -gt 0 -or \$at -ceq '\*' -or \$at\.StartsWith\('\*\.', \[StringComparison\]::Ordinal\)\) \{ \$conflicts\+\+; continue \}`,
			"two markers, data asgdns never writes, a marker at a wildcard: conflicts"},
		{"Windows", win, `\$at -cnotmatch '\\A\[a-z0-9\]\(\[a-z0-9-\]\{0,61\}\[a-z0-9\]\)\?\\z' -or \$listed\.Length -gt 253 -or \$node\.A\.Count -gt \$listMaxIps\) \{ \$conflicts\+\+; continue \}`,
			"asgdns writes one host label under the zone, at most $listMaxIps addresses"},
		{"Windows", win, `-cmatch '\\Aasgdns-owner=\(\[0-9\]\{12\}\)/\(i-\(\[0-9a-f\]\{8\}\|\[0-9a-f\]\{17\}\)\)\\z'\)\) \{ \$conflicts\+\+; continue \}`, "a marker asgdns does not write is a conflict"},
		{"Windows", win, `if \(\$markerAccount -cne \$OwnerAccount\) \{ \$others\+\+; continue \}`, "another account's marker is counted, never listed"},
		{"Windows", win, `\[string\]::CompareOrdinal\(\$x\.Fqdn, \$y\.Fqdn\)`, "byte order, not the culture's"},
		{"Windows", code, `(?s)\.Contains\(" \$\{OwnerAccount\}:\$zone "\)\).*DnsError '9601' .*DnsError \(\[string\]\$served\[0\]\.ZoneType\) [^\n]*\n\s*if \(\$action -ceq 'list'\) \{ Write-Listing \}`,
			"list only in an allowed zone this server serves as primary"},
		// Linux.
		{"Linux", list, `\[ -r "\$key" \] \|\| dns_error ERROR [^\n]*\n\s*out=\$\(dig [^\n]*-k "\$key" [^\n]*"\$zone" AXFR 2>/dev/null\)`, "the transfer is signed (dig would go on unsigned without a readable key)"},
		{"Linux", list, `\[ "\$x_rcode" = NOERROR \] \|\| dns_error "\$x_rcode" `, "a failed transfer is a dns-error with its code"},
		{"Linux", list, `exit !\(first && soa && n >= 2\)`, "a transfer is whole only between its two SOA records"},
		{"Linux", list, `type == "RRSIG" \|\| type == "NSEC" \|\| type == "NSEC3"\) next`, "DNSSEC records are nobody's data"},
		{"Linux", list, `if \(!markers\[name\]\) \{ unmarked\+\+; continue \}`, "a name without a marker is unmarked"},
		{"Linux", list, `if \(markers\[name\] > 1 \|\| foreign\[name\] \|\| index\(name, "\*\."\) == 1\) \{ conflicts\+\+; continue \}`, "two markers, data asgdns never writes, a marker at a wildcard: conflicts"},
		{"Linux", list, `if \(p\[1\] != account\) \{ others\+\+; continue \}`, "another account's marker is counted, never listed"},
		{"Linux", list, `\$inst =~ \^i-\(\[0-9a-f\]\{8\}\|\[0-9a-f\]\{17\}\)\$`, "the owner's instance is checked with the contract's pattern"},
		{"Linux", linux, `(?s)allowed_zones:-\}.*query SOA "\$zone".*\n\s*\[ "\$action" != list \] \|\| list_zone\n`, "list only in an allowed zone the server serves"},
	} {
		if !regexp.MustCompile(r.re).MatchString(r.text) {
			t.Errorf("%s step: %s: no %s", r.step, r.why, r.re)
		}
	}
	// Nothing dig printed is passed on: the listing prints only the
	// validated lines it built and its result.
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "echo") || (strings.Contains(line, "printf") && (strings.Contains(line, "$out") || strings.Contains(line, "$classified"))) {
			t.Errorf("the Linux listing prints what it read: %s", strings.TrimSpace(line))
		}
	}
}

// TestChangesNeedHostnameAndOwner: hostname and ownerInstanceId default to
// "" (list's); both steps refuse them empty for register and deregister,
// as invalid parameters, before anything else.
func TestChangesNeedHostnameAndOwner(t *testing.T) {
	code := winCode(t)
	_, l := winSteps(t)
	for _, r := range []struct{ step, text, re string }{
		{"Windows", code, `if \(\$action -cne 'list'\) \{\n(?:\s*#[^\n]*\n)?\s*if \(\$hostLabel -ceq ''\) \{ Invalid 'hostname' \}\n\s*if \(\$instance -ceq ''\) \{ Invalid 'ownerInstanceId' \}\n`},
		{"Linux", l.Script(), `if \[ "\$action" != list \]; then\n(?:\s*#[^\n]*\n)?\s*\[ -n "\$SSM_hostname" \] \|\| invalid hostname\n\s*\[ -n "\$owner" \] \|\| invalid ownerInstanceId\n`},
	} {
		if !regexp.MustCompile(r.re).MatchString(r.text) {
			t.Errorf("the %s step does not refuse an empty hostname or owner for a change: no %s", r.step, r.re)
		}
	}
}
