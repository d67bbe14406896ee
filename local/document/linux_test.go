package document

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/asgdns/asgdns/local/bind"
	sharedservices "github.com/asgdns/asgdns/shared-services"
	"github.com/asgdns/asgdns/workflow"
)

// The instances of these tests.
const (
	me    = "i-0a1b2c3d4e5f60718"
	other = "i-0fedcba9876543210"
)

// marker is the ownership TXT record's data for an account's instance.
func marker(account, instance string) string {
	return `"asgdns-owner=` + account + "/" + instance + `"`
}

// sharedDC is a domain controller's DNS as a shared-services account really
// has it: zones full of other teams' records (SPF, MX, AAAA, CNAME, a
// delegation, a child zone, a wildcard), other asgdns owners' records, a
// foreign PTR, a reverse zone that refuses updates and a zone no
// application account may use. (bind.Start adds ns.corp.example.com, the
// name server every zone names.)
func sharedDC(t *testing.T) *dc {
	corp := []string{
		"manual IN A 10.20.99.99",
		`spf IN TXT "v=spf1 ip4:10.20.0.0/16 -all"`,
		"mx IN MX 10 mail.corp.example.com.",
		"v6 IN AAAA 2001:db8::1",
		"alias IN CNAME web.example.net.",
		"sub IN NS ns.example.net.",
		// Another instance of account A, an instance of account B, and
		// this instance's records, some with another team's data beside.
		"taken IN A 10.20.96.1", "taken IN TXT " + marker(accountA, other),
		"owned IN A 10.20.95.1", "owned IN TXT " + marker(accountA, me),
		"owned-b IN A 10.20.94.1", "owned-b IN TXT " + marker(accountB, me),
		"owned-spf IN A 10.20.93.1", "owned-spf IN TXT " + marker(accountA, me), `owned-spf IN TXT "v=spf1 -all"`,
		"owned-mx IN A 10.20.92.1", "owned-mx IN TXT " + marker(accountA, me), "owned-mx IN MX 10 mail.corp.example.com.",
		"owned-p IN A 10.20.30.99", "owned-p IN TXT " + marker(accountA, me),
		"two IN A 10.20.91.1", "two IN TXT " + marker(accountA, me), "two IN TXT " + marker(accountA, other),
		"legacy IN A 10.20.90.1", `legacy IN TXT "asgdns-owner=` + me + `"`,
		"unreadable IN A 10.20.89.1", `unreadable IN TXT "asgdns-owner=x\"y"`,
	}
	return startDC(t, bind.Options{Zone: "corp.example.com", Records: corp, Zones: []bind.Zone{
		{Name: "child.corp.example.com"},
		{Name: "wild.example.com", Records: []string{"* IN A 10.9.9.9"}},
		{Name: "other.example.org"},
		{Name: "20.10.in-addr.arpa", Records: []string{"99.30 IN PTR someone-else.corp.example.com."}},
		{Name: "30.10.in-addr.arpa", ReadOnly: true}, // refuses updates
	}})
}

// run is what one run of the Linux step printed and returned.
type run struct {
	out            workflow.CommandOutcome
	exitCode       int
	stdout, stderr string
}

// runLinux executes the document's Linux step, as deployed for account, the
// way the SSM agent does: bash, the parameters as SSM_<name> environment
// variables, nothing else from this process's environment but PATH (env
// adds or overrides variables, e.g. a PATH with shims first).
func (b *dc) runLinux(t *testing.T, account string, params map[string]string, env ...string) run {
	t.Helper()
	full := map[string]string{"action": "register", "zone": "corp.example.com", "ownerInstanceId": me, "ttl": "300", "ptr": "false", "ipv4Address": "", "page": "0"}
	for k, v := range params {
		full[k] = v
	}
	var r run
	r.stdout, r.stderr, r.exitCode = b.execLinux(t, loadDocumentFor(t, account), full, env...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r.out) != nil {
		t.Fatalf("stdout is not exactly one JSON result line: %q (stderr %q)", r.stdout, r.stderr)
	}
	if o := workflow.ParseOutcome(r.stdout); o == nil || *o != r.out {
		t.Fatalf("WaitForCommand would not read this result: %q", r.stdout)
	}
	return r
}

// execLinux runs the Linux step of doc with exactly these parameters, each
// as SSM_<name>, and returns what it printed and its exit code.
func (b *dc) execLinux(t *testing.T, doc sharedservices.Document, params map[string]string, env ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	s, err := doc.Step(workflow.StepLinux)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "_script.sh")
	if err := os.WriteFile(script, []byte(s.Script()), 0o700); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PATH": os.Getenv("PATH") + ":/usr/sbin", "ASGDNS_CONFIG": b.ConfigPath()}
	for k, v := range params {
		vars["SSM_"+k] = v
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cmd := exec.Command("sh", "-c", script) // as the agent runs it: the shebang picks bash
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		exitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), exitCode
}

func (r run) expect(t *testing.T, outcome string, exitCode int) {
	t.Helper()
	if r.out.Outcome != outcome || r.exitCode != exitCode {
		t.Fatalf("outcome %s exit %d, want %s exit %d: %s%s", r.out.Outcome, r.exitCode, outcome, exitCode, r.stdout, r.stderr)
	}
}

// shims returns a PATH whose dig and nsupdate are scripts in front of the
// real ones; each body runs with the real tool as $real.
func shims(t *testing.T, bodies map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for tool, body := range bodies {
		real, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		script := fmt.Sprintf("#!/bin/sh\nreal=%s\n%s\n", real, body)
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH") + ":/usr/sbin"
}

// A dig that never gets an answer to one query type: what a lost UDP or
// TCP exchange looks like (dig prints its error on stdout, exit 9).
func failingRead(qtype string) string {
	return fmt.Sprintf(`for a in "$@"; do
  if [ "$a" = %s ]; then echo ';; communications error to 127.0.0.1#53: timed out'; echo ';; no servers could be reached'; exit 9; fi
done
exec "$real" "$@"`, qtype)
}

// The secret of a TSIG key file a DC administrator mistyped: nsupdate
// quotes it in its error ("could not create key from …: bad base64").
const leakedSecret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0!!!"

// TestLinuxStepAgainstSharedDC: each row runs the document's real Linux step
// against a real named holding real-world data, and checks the exit code,
// the outcome and the full contents of every zone after (AXFR): exactly
// the records the row adds and removes, and nothing else.
func TestLinuxStepAgainstSharedDC(t *testing.T) {
	b := sharedDC(t)
	reg := func(host, ip string) map[string]string {
		return map[string]string{"action": "register", "hostname": host, "ipv4Address": ip}
	}
	dereg := func(host, ip string) map[string]string {
		return map[string]string{"action": "deregister", "hostname": host, "ipv4Address": ip}
	}
	with := func(p map[string]string, kv ...string) map[string]string {
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	badKey := filepath.Join(b.dir, "bad-key.conf")
	b.write(t, "bad-key.conf", "key \"asgdns\" {\n\talgorithm hmac-sha256;\n\tsecret \""+leakedSecret+"\";\n};\n")
	b.write(t, "bad-dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s\n", b.Port(), badKey))
	down, err := bind.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b.write(t, "down-dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s\n", down, b.KeyFile()))

	a := func(name, ip string) string { return name + ". 300 IN A " + ip }
	txt := func(name, data string) string { return name + ". 300 IN TXT " + data }
	ptr := func(name, host string) string { return name + ". 300 IN PTR " + host + "." }

	for _, tc := range []struct {
		name     string
		account  string // accountA when empty
		params   map[string]string
		env      []string
		outcome  string
		exitCode int
		ptr      string // the result's ptr field, when the row checks it
		owner    string // the result's owner field, when the row checks it
		rcode    string // the result's rcode field, when the row checks it
		added    []string
		removed  []string
	}{
		// Other teams' data at the name: nothing changes, either way.
		{name: "SPF TXT at the name", params: reg("spf", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "MX at the name", params: reg("mx", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "AAAA at the name", params: reg("v6", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "CNAME at the name", params: reg("alias", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "NS delegation at the name", params: reg("sub", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "apex of a child zone", params: reg("child", "10.20.30.1"), outcome: "conflict", exitCode: 30},
		{name: "A record nobody owns", params: reg("manual", "10.20.99.99"), outcome: "conflict", exitCode: 30},
		{name: "deregister an A record nobody owns", params: dereg("manual", "10.20.99.99"), outcome: "conflict", exitCode: 30},
		{name: "deregister an SPF-only name", params: dereg("spf", ""), outcome: "conflict", exitCode: 30},
		{name: "own record with an SPF beside it: register", params: reg("owned-spf", "10.20.30.2"), outcome: "conflict", exitCode: 30},
		{name: "own record with an SPF beside it: deregister", params: dereg("owned-spf", ""), outcome: "conflict", exitCode: 30},
		{name: "own record with an MX beside it: register", params: reg("owned-mx", "10.20.30.3"), outcome: "conflict", exitCode: 30},
		{
			name: "own record with an MX beside it: deregister removes only its own", params: dereg("owned-mx", "10.20.92.1"),
			outcome: "deleted", removed: []string{a("owned-mx.corp.example.com", "10.20.92.1"), txt("owned-mx.corp.example.com", marker(accountA, me))},
		},
		{name: "two markers: register", params: reg("two", "10.20.91.1"), outcome: "conflict", exitCode: 30},
		{name: "two markers: deregister", params: dereg("two", "10.20.91.1"), outcome: "conflict", exitCode: 30},
		{name: "another instance's record: register", params: reg("taken", "10.20.30.4"), outcome: "conflict", exitCode: 30, owner: accountA + "/" + other},
		{name: "another instance's record: deregister", params: dereg("taken", "10.20.96.1"), outcome: "conflict", exitCode: 30, owner: accountA + "/" + other},
		{name: "a legacy marker without an account", params: dereg("legacy", ""), outcome: "conflict", exitCode: 30, owner: me},
		{name: "an unreadable marker", params: reg("unreadable", "10.20.30.5"), outcome: "conflict", exitCode: 30, owner: "unreadable"},

		// Tenancy: account B's document cannot touch account A's record,
		// nor A's B's, even for the same instance id.
		{name: "account B replaces A's record", account: accountB, params: reg("owned", "10.20.30.6"), outcome: "conflict", exitCode: 30, owner: accountA + "/" + me},
		{name: "account B removes A's record", account: accountB, params: dereg("owned", "10.20.95.1"), outcome: "conflict", exitCode: 30, owner: accountA + "/" + me},
		{name: "account A removes B's record", params: dereg("owned-b", "10.20.94.1"), outcome: "conflict", exitCode: 30, owner: accountB + "/" + me},

		// Zones.
		{name: "zone outside the allow-list", params: with(reg("web-z", "10.20.30.7"), "zone", "other.example.org"), outcome: "zone-not-allowed", exitCode: 10},
		{name: "zone another account may use", account: accountB, params: with(reg("web-z", "10.20.30.7"), "zone", "wild.example.com"), outcome: "zone-not-allowed", exitCode: 10},
		{name: "reverse zone as zone, even allow-listed", params: with(reg("web-z", "10.20.30.7"), "zone", "20.10.in-addr.arpa"), outcome: "zone-not-allowed", exitCode: 10},
		{name: "allowed zone this server does not serve", params: with(reg("web-z", "10.20.30.7"), "zone", "gone.example.com"), outcome: "dns-error", exitCode: 20, rcode: "REFUSED"},
		{name: "account B in its own zone", account: accountB, params: reg("web-z", "10.20.30.7"), outcome: "created",
			added: []string{a("web-z.corp.example.com", "10.20.30.7"), txt("web-z.corp.example.com", marker(accountB, me))}},

		// Wildcards are not records.
		{
			name: "a name a wildcard answers for is free", params: with(reg("web-w", "10.20.30.8"), "zone", "wild.example.com"), outcome: "created",
			added: []string{a("web-w.wild.example.com", "10.20.30.8"), txt("web-w.wild.example.com", marker(accountA, me))},
		},
		{name: "deregister a name only a wildcard answers for", params: with(dereg("web-x", "10.9.9.9"), "zone", "wild.example.com"), outcome: "absent"},

		// Failed reads are errors, never data.
		{name: "the record read fails: register", params: reg("owned", "10.20.30.9"), env: []string{shims(t, map[string]string{"dig": failingRead("ANY")})},
			outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "the record read fails: deregister", params: dereg("owned", "10.20.95.1"), env: []string{shims(t, map[string]string{"dig": failingRead("ANY")})},
			outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "the name's SOA read fails", params: dereg("owned", "10.20.95.1"), env: []string{shims(t, map[string]string{"dig": failingRead("SOA")})},
			outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "the DNS server is down", params: dereg("owned", "10.20.95.1"), env: []string{"ASGDNS_CONFIG=" + filepath.Join(b.dir, "down-dns.conf")},
			outcome: "dns-error", exitCode: 20, rcode: "TIMEOUT"},
		{name: "a malformed TSIG key file", params: reg("web-k", "10.20.30.10"), env: []string{"ASGDNS_CONFIG=" + filepath.Join(b.dir, "bad-dns.conf")},
			outcome: "dns-error", exitCode: 20, rcode: "REFUSED"},

		// PTR: only into a reverse zone that takes it, only over its own.
		{
			name: "a foreign PTR is left alone", params: with(reg("web-p", "10.20.30.99"), "ptr", "true"), outcome: "created", ptr: "foreign",
			added: []string{a("web-p.corp.example.com", "10.20.30.99"), txt("web-p.corp.example.com", marker(accountA, me))},
		},
		{
			name: "a reverse zone that refuses the PTR is a warning", params: with(reg("web-r", "10.30.1.2"), "ptr", "true"), outcome: "created", ptr: "refused",
			added: []string{a("web-r.corp.example.com", "10.30.1.2"), txt("web-r.corp.example.com", marker(accountA, me))},
		},
		{
			name: "no reverse zone for the address", params: with(reg("web-n", "192.168.7.9"), "ptr", "true"), outcome: "created", ptr: "no-zone",
			added: []string{a("web-n.corp.example.com", "192.168.7.9"), txt("web-n.corp.example.com", marker(accountA, me))},
		},
		{
			name: "PTR written beside the record", params: with(reg("web-q", "10.20.30.11"), "ptr", "true"), outcome: "created", ptr: "written",
			added: []string{a("web-q.corp.example.com", "10.20.30.11"), txt("web-q.corp.example.com", marker(accountA, me)), ptr("11.30.20.10.in-addr.arpa", "web-q.corp.example.com")},
		},
		{name: "deregister with no PTR to remove", params: with(dereg("owned", ""), "ptr", "true"), outcome: "deleted", ptr: "none",
			removed: []string{a("owned.corp.example.com", "10.20.95.1"), txt("owned.corp.example.com", marker(accountA, me))}},
		{name: "deregister leaves a foreign PTR", params: with(dereg("owned-p", "10.20.30.99"), "ptr", "true"), outcome: "deleted", ptr: "none",
			removed: []string{a("owned-p.corp.example.com", "10.20.30.99"), txt("owned-p.corp.example.com", marker(accountA, me))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			account := tc.account
			if account == "" {
				account = accountA
			}
			before := b.records(t)
			r := b.runLinux(t, account, tc.params, tc.env...)
			r.expect(t, tc.outcome, tc.exitCode)
			for field, want := range map[string][2]string{"ptr": {tc.ptr, r.out.PTR}, "owner": {tc.owner, r.out.Owner}, "rcode": {tc.rcode, r.out.Rcode}} {
				if want[0] != "" && want[0] != want[1] {
					t.Errorf("%s %q, want %q: %s", field, want[1], want[0], r.stdout)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "c2VjcmV0") {
				t.Errorf("the key's secret left the DC: %s %s", r.stdout, r.stderr)
			}
			after := b.records(t)
			added, removed := diff(before, after)
			slices.Sort(tc.added)
			slices.Sort(tc.removed)
			if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
				t.Fatalf("zone change:\nadded   %q\nremoved %q\nwant added   %q\nwant removed %q", added, removed, tc.added, tc.removed)
			}
		})
	}
}

// diff returns the lines only in after and the lines only in before.
func diff(before, after []string) (added, removed []string) {
	for _, l := range after {
		if !slices.Contains(before, l) {
			added = append(added, l)
		}
	}
	for _, l := range before {
		if !slices.Contains(after, l) {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// TestLinuxStepLifecycle runs the Linux step through an instance's life, in
// order: register, again, a new address (the PTR moves), deregister (the
// PTR goes), and again.
func TestLinuxStepLifecycle(t *testing.T) {
	b := sharedDC(t)
	run := func(action, ip string, ttl string) run {
		return b.runLinux(t, accountA, map[string]string{"action": action, "hostname": "web-1", "ipv4Address": ip, "ptr": "true", "ttl": ttl})
	}
	want := func(qtype, name, value string) {
		t.Helper()
		if got := b.dig(t, qtype, name); got != value {
			t.Fatalf("%s %s = %q, want %q", qtype, name, got, value)
		}
	}
	run("register", "10.20.30.40", "300").expect(t, "created", 0)
	want("A", "web-1.corp.example.com", "10.20.30.40")
	want("TXT", "web-1.corp.example.com", marker(accountA, me))
	want("PTR", "40.30.20.10.in-addr.arpa", "web-1.corp.example.com.")

	before := b.records(t)
	if r := run("register", "10.20.30.40", "300"); r.out.PTR != "unchanged" {
		t.Fatalf("PTR %q on a repeated register: %s", r.out.PTR, r.stdout)
	} else {
		r.expect(t, "unchanged", 0)
	}
	if after := b.records(t); !slices.Equal(before, after) {
		t.Fatalf("a repeated register changed the zone:\n%q\n%q", before, after)
	}

	run("register", "10.20.30.40", "600").expect(t, "replaced", 0) // a new TTL is applied
	run("register", "10.20.30.41", "300").expect(t, "replaced", 0)
	want("A", "web-1.corp.example.com", "10.20.30.41")
	want("PTR", "40.30.20.10.in-addr.arpa", "")
	want("PTR", "41.30.20.10.in-addr.arpa", "web-1.corp.example.com.")

	// A terminate replayed after the instance is gone: no address given,
	// the PTR the A record named goes too.
	if r := run("deregister", "", "300"); r.out.PTR != "removed" {
		t.Fatalf("PTR %q on deregister: %s", r.out.PTR, r.stdout)
	} else {
		r.expect(t, "deleted", 0)
	}
	for _, q := range [][2]string{{"A", "web-1.corp.example.com"}, {"TXT", "web-1.corp.example.com"}, {"PTR", "41.30.20.10.in-addr.arpa"}} {
		want(q[0], q[1], "")
	}
	run("deregister", "10.20.30.41", "300").expect(t, "absent", 0)
}

// TestLinuxStepRacingWriters: two instances register one name at once, each
// nsupdate slowed down so both have read the name before either writes. The
// update prerequisites let exactly one win; the other is a conflict naming
// the winner, and the zone holds the winner's record alone.
func TestLinuxStepRacingWriters(t *testing.T) {
	b := sharedDC(t)
	slow := shims(t, map[string]string{"nsupdate": `sleep 1; exec "$real" "$@"`})
	owners := []string{me, other}
	results := make([]run, len(owners))
	var wg sync.WaitGroup
	for i, owner := range owners {
		wg.Go(func() {
			results[i] = b.runLinux(t, accountA, map[string]string{"hostname": "race", "ipv4Address": fmt.Sprintf("10.20.31.%d", i+1), "ownerInstanceId": owner}, slow)
		})
	}
	wg.Wait()
	var winner, loser int
	switch {
	case results[0].out.Outcome == "created" && results[1].out.Outcome == "conflict":
		winner, loser = 0, 1
	case results[1].out.Outcome == "created" && results[0].out.Outcome == "conflict":
		winner, loser = 1, 0
	default:
		t.Fatalf("want one created and one conflict:\n%s%s", results[0].stdout, results[1].stdout)
	}
	results[loser].expect(t, "conflict", 30)
	if got, want := results[loser].out.Owner, accountA+"/"+owners[winner]; got != want {
		t.Errorf("the conflict names %q, want the winner %q", got, want)
	}
	var race []string
	for _, l := range b.records(t) {
		if strings.HasPrefix(l, "race.") {
			race = append(race, l)
		}
	}
	want := []string{
		fmt.Sprintf("race.corp.example.com. 300 IN A 10.20.31.%d", winner+1),
		"race.corp.example.com. 300 IN TXT " + marker(accountA, owners[winner]),
	}
	if !slices.Equal(race, want) {
		t.Fatalf("race.corp.example.com holds %q, want %q", race, want)
	}
}

// TestLinuxStepRejectsInjection: parameters that try to become shell code or
// extra nsupdate commands are rejected before any DNS traffic.
func TestLinuxStepRejectsInjection(t *testing.T) {
	b := sharedDC(t)
	before := b.records(t)
	pwned := filepath.Join(b.dir, "pwned")
	for _, params := range []map[string]string{
		{"hostname": "web;touch " + pwned, "ipv4Address": "10.20.30.60"},
		{"hostname": "$(touch " + pwned + ")", "ipv4Address": "10.20.30.60"},
		{"hostname": "`touch " + pwned + "`", "ipv4Address": "10.20.30.60"},
		{"hostname": "web-4\nupdate delete corp.example.com A", "ipv4Address": "10.20.30.60"},
		{"hostname": "wеb-4", "ipv4Address": "10.20.30.60"}, // Cyrillic е
		{"hostname": "web-4", "zone": "corp.example.com\nupdate delete manual.corp.example.com A", "ipv4Address": "10.20.30.60"},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60 ; rm -rf /"},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ownerInstanceId": me + `" "x`},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ttl": "300\nsend"},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ttl": "29"},    // below workflow.MinTTL
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ttl": "86401"}, // above workflow.MaxTTL
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "action": "register;reboot"},
		{"hostname": "web-4", "ipv4Address": ""}, // register needs an address
		// The defaults ("", for list) never name a record to change.
		{"hostname": "", "ipv4Address": "10.20.30.60"},
		{"hostname": "", "action": "deregister"},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ownerInstanceId": ""},
		{"hostname": "owned", "action": "deregister", "ownerInstanceId": ""},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "page": "10000"},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "page": ""},
		{"hostname": "web-4", "ipv4Address": "10.20.30.60", "action": "list\nregister"},
		{"hostname": strings.Repeat("a", 63), "zone": strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61) + ".com", "ipv4Address": "10.20.30.60"},
	} {
		r := b.runLinux(t, accountA, params)
		r.expect(t, "invalid", 10)
		if strings.Contains(r.stdout, "touch") || strings.Contains(r.stdout, "rm -rf") {
			t.Errorf("result repeats the attack: %s", r.stdout)
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("an injected command ran")
	}
	if after := b.records(t); !slices.Equal(before, after) {
		t.Fatalf("zones changed:\n%q\n---\n%q", before, after)
	}
}
