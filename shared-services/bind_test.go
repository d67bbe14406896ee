package sharedservices

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bind is a real BIND named serving corp.example.com and 20.10.in-addr.arpa
// on a loopback port, accepting RFC 2136 updates signed with a TSIG key, the
// way a Linux DC would (there, with its local key).
type bind struct {
	dir, port string
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

func startBind(t *testing.T) *bind {
	t.Helper()
	requireTools(t, "named", "nsupdate", "dig", "tsig-keygen")
	b := &bind{dir: t.TempDir(), port: freePort(t)}
	keygen := exec.Command(tsigKeygen(), "-a", "hmac-sha256", "asgdns")
	key, err := keygen.Output()
	if err != nil {
		t.Fatalf("tsig-keygen: %v", err)
	}
	b.write(t, "key.conf", string(key))
	b.write(t, "corp.db", zoneHeader+"ns IN A 127.0.0.1\nmanual IN A 10.20.99.99\n")
	b.write(t, "rev.db", zoneHeader)
	b.write(t, "named.conf", fmt.Sprintf(`include "%[1]s/key.conf";
options {
	directory "%[1]s";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	recursion no;
};
controls { };
zone "corp.example.com" { type primary; file "%[1]s/corp.db"; allow-update { key "asgdns"; }; };
zone "20.10.in-addr.arpa" { type primary; file "%[1]s/rev.db"; allow-update { key "asgdns"; }; };
`, b.dir, b.port))
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
		// Ready when both zones answer with their SOA (a timed-out query
		// prints ";; connection timed out" under +short, which is not one).
		if strings.HasPrefix(b.dig(t, "SOA", "corp.example.com"), "ns.corp.example.com.") &&
			strings.HasPrefix(b.dig(t, "SOA", "20.10.in-addr.arpa"), "ns.corp.example.com.") {
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

// zone returns every record of the zone (via AXFR, which the default
// configuration allows), for "nothing changed" checks.
func (b *bind) zone(t *testing.T, zone string) string {
	t.Helper()
	out, err := exec.Command("dig", "+noall", "+answer", "+onesoa", "-p", b.port, "@127.0.0.1", zone, "AXFR").Output()
	if err != nil {
		t.Fatalf("AXFR %s: %v", zone, err)
	}
	return string(out)
}
