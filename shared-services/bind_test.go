package sharedservices

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// bind is a real BIND named serving corp.example.com and 20.10.in-addr.arpa
// on a loopback port, accepting RFC 2136 updates signed with a TSIG key, the
// way a Linux DC would (there, with its local key).
type bind struct {
	dir, port string
	zones     []zone
}

// requireTools fails (not skips) with the install command when a tool the
// test needs is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err == nil {
				continue
			}
			t.Fatalf("%s is not installed: apt-get install -y bind9 bind9-dnsutils (as root), then run the tests again", tool)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	// named needs the port free for both UDP and TCP.
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			u.Close()
			return fmt.Sprint(port)
		}
	}
	t.Fatal("no free port")
	return ""
}

const zoneHeader = `$TTL 300
@ IN SOA ns.corp.example.com. admin.corp.example.com. 1 3600 600 86400 300
@ IN NS ns.corp.example.com.
`

// zone is one zone the test server serves: its records (zone-file lines
// after the SOA and NS) and whether it accepts updates signed with the key.
type zone struct {
	name      string
	records   string
	updatable bool
}

// startBind runs named with the given zones, updates signed with a fresh
// TSIG key (dns.conf points the Linux step at it, as on a Linux DC).
func startBind(t *testing.T, zones ...zone) *bind {
	t.Helper()
	requireTools(t, "named", "nsupdate", "dig", "tsig-keygen")
	b := &bind{dir: t.TempDir(), port: freePort(t)}
	keygen := exec.Command(tsigKeygen(), "-a", "hmac-sha256", "asgdns")
	key, err := keygen.Output()
	if err != nil {
		t.Fatalf("tsig-keygen: %v", err)
	}
	b.write(t, "key.conf", string(key))
	conf := fmt.Sprintf(`include "%[1]s/key.conf";
options {
	directory "%[1]s";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	recursion no;
};
controls { };
`, b.dir, b.port)
	for i, z := range zones {
		file := fmt.Sprintf("zone%d.db", i)
		b.write(t, file, zoneHeader+z.records)
		update := "none;"
		if z.updatable {
			update = `key "asgdns";`
		}
		conf += fmt.Sprintf("zone %q { type primary; file \"%s/%s\"; allow-update { %s }; };\n", z.name, b.dir, file, update)
	}
	b.zones = zones
	b.write(t, "named.conf", conf)
	b.write(t, "dns.conf", fmt.Sprintf("server=127.0.0.1\nport=%s\nkeyfile=%s/key.conf\n", b.port, b.dir))

	named := exec.Command(named(), "-g", "-c", filepath.Join(b.dir, "named.conf"))
	var log bytes.Buffer
	named.Stdout, named.Stderr = &log, &log
	if err := named.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	t.Cleanup(func() {
		_ = named.Process.Kill()
		_ = named.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// Ready when every zone answers with its SOA (a timed-out query
		// prints ";; connection timed out" under +short, which is not one).
		ready := true
		for _, z := range zones {
			ready = ready && strings.HasPrefix(b.dig(t, "SOA", z.name), "ns.corp.example.com.")
		}
		if ready {
			return b
		}
	}
	t.Fatalf("named did not come up:\n%s", log.String())
	return nil
}

func named() string {
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	return "/usr/sbin/named"
}

func tsigKeygen() string {
	if p, err := exec.LookPath("tsig-keygen"); err == nil {
		return p
	}
	return "/usr/sbin/tsig-keygen"
}

func (b *bind) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dig answers a query as +short text ("" when there is no answer).
func (b *bind) dig(t *testing.T, qtype, name string) string {
	t.Helper()
	out, _ := exec.Command("dig", "+short", "+norecurse", "+time=2", "+tries=3", "-p", b.port, "@127.0.0.1", name, qtype).Output()
	return strings.TrimSpace(string(out))
}

// records returns every record of every zone the server serves (AXFR, which
// the default configuration allows), one per line in presentation form with
// single spaces, sorted, without the SOA (its serial moves with each update).
func (b *bind) records(t *testing.T) []string {
	t.Helper()
	var all []string
	for _, z := range b.zones {
		out, err := exec.Command("dig", "+noall", "+answer", "+onesoa", "-p", b.port, "@127.0.0.1", z.name, "AXFR").Output()
		if err != nil || !strings.Contains(string(out), "SOA") {
			t.Fatalf("AXFR %s: %v %s", z.name, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
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
