// Package bind runs a real BIND named for the local stack and its tests:
// a primary zone and any further zones (reverse zones, zones with their own
// records, zones that refuse updates) on a loopback port, accepting RFC 2136
// updates and zone transfers (AXFR, the document's list action) signed with
// a TSIG key, and refusing unsigned transfers — what a Linux domain
// controller's DNS server does, with the key the document's Linux step finds
// through its dns.conf (ConfigPath, the step's ASGDNS_CONFIG). It is the one launcher:
// the local stack, the endpoint's tests and the document's tests (package
// document) all start named through it.
package bind

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asgdns/asgdns/local/syncio"
)

// InstallHint is the command that installs what this package runs.
const InstallHint = "apt-get install -y bind9 bind9-dnsutils (as root)"

// Require checks that named, nsupdate, dig and tsig-keygen are installed,
// and names the install command when one is missing.
func Require() error {
	for _, tool := range []string{"named", "nsupdate", "dig", "tsig-keygen"} {
		if lookPath(tool) == "" {
			return fmt.Errorf("%s is not installed: %s", tool, InstallHint)
		}
	}
	return nil
}

// lookPath finds a tool on PATH or in /usr/sbin (not on every user's PATH).
func lookPath(tool string) string {
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	if p := "/usr/sbin/" + tool; fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Options configure a Server.
type Options struct {
	// Zone is the primary forward zone: every zone's SOA and NS name its
	// ns.<Zone>, which Start adds as an A record for 127.0.0.1.
	Zone string
	// Records are extra zone-file lines for Zone (e.g. "manual IN A 10.20.99.99").
	Records []string
	// ReverseZones are further zones it serves, empty and accepting
	// updates (e.g. 20.10.in-addr.arpa for PTR records of 10.20.0.0/16).
	ReverseZones []string
	// Zones are further zones, each with its own records and update
	// policy: what a domain controller holds besides the zone asgdns uses
	// (a child zone, a zone with a wildcard, a reverse zone that refuses
	// updates).
	Zones []Zone
	// Dir holds the configuration, zone files and journals; a new
	// temporary directory when empty (removed by Close).
	Dir string
}

// Zone is one further zone a Server serves.
type Zone struct {
	// Name is the zone's name (e.g. wild.example.com).
	Name string
	// Records are its zone-file lines after the SOA and NS (e.g.
	// "* IN A 10.9.9.9"; names relative to the zone).
	Records []string
	// ReadOnly zones refuse every update, signed or not; the others accept
	// updates signed with the server's TSIG key.
	ReadOnly bool
	// NoTransfer zones refuse every zone transfer, signed or not (a DC whose
	// administrators did not allow asgdns's key to read the zone); the
	// others allow AXFR signed with the server's TSIG key, and only signed.
	NoTransfer bool
}

// Server is a running (or stopped) named.
type Server struct {
	zone   string
	zones  []string
	dir    string
	ownDir bool
	port   int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

const zoneHeader = `$TTL 300
@ IN SOA ns.%[1]s. admin.%[1]s. 1 3600 600 86400 300
@ IN NS ns.%[1]s.
`

// Start writes the configuration (a fresh TSIG key, the zones, dns.conf)
// and starts named on a free loopback port, waiting until every zone it
// serves answers for its SOA.
func Start(opts Options) (_ *Server, err error) {
	if err := Require(); err != nil {
		return nil, err
	}
	if opts.Zone == "" {
		return nil, errors.New("bind: Options.Zone is required")
	}
	s := &Server{zone: strings.TrimSuffix(opts.Zone, "."), dir: opts.Dir}
	zones := []Zone{{Name: s.zone, Records: append([]string{"ns IN A 127.0.0.1"}, opts.Records...)}}
	for _, rz := range opts.ReverseZones {
		zones = append(zones, Zone{Name: rz})
	}
	zones = append(zones, opts.Zones...)
	for _, z := range zones {
		name := strings.TrimSuffix(z.Name, ".")
		if name == "" || slices.Contains(s.zones, name) {
			return nil, fmt.Errorf("bind: zone %q is empty or served twice", z.Name)
		}
		s.zones = append(s.zones, name)
	}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "asgdns-named-")
		if err != nil {
			return nil, err
		}
		s.dir, s.ownDir = dir, true
		defer func() {
			if err != nil {
				_ = os.RemoveAll(dir)
			}
		}()
	}
	key, err := exec.Command(lookPath("tsig-keygen"), "-a", "hmac-sha256", "asgdns").Output()
	if err != nil {
		return nil, fmt.Errorf("bind: tsig-keygen: %w", err)
	}
	files := map[string]string{"key.conf": string(key)}
	var conf strings.Builder
	for i, z := range zones {
		file := fmt.Sprintf("zone%d.db", i)
		files[file] = fmt.Sprintf(zoneHeader, s.zone) + strings.Join(z.Records, "\n") + "\n"
		update, transfer := `key "asgdns";`, ""
		if z.ReadOnly {
			update = "none;"
		}
		if z.NoTransfer {
			transfer = " allow-transfer { none; };"
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file \"%s/%s\"; allow-update { %s };%s };\n", s.zones[i], s.dir, file, update, transfer)
	}
	// named needs the port free for UDP and TCP; one that was free a
	// moment ago can be taken by the time named binds, so try again.
	for attempt := 0; ; attempt++ {
		if s.port, err = FreePort(); err != nil {
			return nil, err
		}
		files["named.conf"] = fmt.Sprintf(`include "%[1]s/key.conf";
options {
	directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	recursion no;
	notify no;
	// Zone transfers (the document's list action reads a zone by AXFR)
	// only signed with asgdns's key: as a DC allows them, never unsigned.
	allow-transfer { key "asgdns"; };
};
controls { };
%[3]s`, s.dir, s.port, conf.String())
		files["dns.conf"] = fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s/key.conf\n", s.port, s.dir)
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o600); err != nil {
				return nil, err
			}
		}
		if err = s.Restart(); err == nil {
			return s, nil
		}
		if attempt == 2 || strings.Contains(err.Error(), notLoaded) {
			return nil, err
		}
	}
}

// FreePort finds a loopback port free for both TCP and UDP: where named
// can listen, or where nothing answers (a DNS server that is down).
func FreePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = u.Close()
			return port, nil
		}
	}
	return 0, errors.New("bind: no free loopback port")
}

// Port is the loopback port named listens on.
func (s *Server) Port() int { return s.port }

// Zone is the primary forward zone (Options.Zone).
func (s *Server) Zone() string { return s.zone }

// Zones are every zone the server serves: Zone, the reverse zones, then
// the further zones, in the order of Options.
func (s *Server) Zones() []string { return slices.Clone(s.zones) }

// ConfigPath is the dns.conf the document's Linux step reads (server,
// port, keyfile): pass it as the DCs' ASGDNS_CONFIG.
func (s *Server) ConfigPath() string { return filepath.Join(s.dir, "dns.conf") }

// KeyFile is the TSIG key named accepts updates and zone transfers signed
// with.
func (s *Server) KeyFile() string { return filepath.Join(s.dir, "key.conf") }

// Running reports whether named is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Restart starts named again on the same port after Stop (a demo makes DNS
// fail and come back); the zones keep the updates made before, from their
// journals. It waits until named answers for every zone's SOA: a zone
// named could not load answers nothing, and Restart fails naming it.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	log := &syncio.Buffer{}
	cmd := exec.Command(lookPath("named"), "-g", "-c", filepath.Join(s.dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bind: start named: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	var waiting string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("bind: named exited:\n%s", log.String())
		default:
		}
		if strings.Contains(log.String(), notLoaded) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("bind: a zone did not load:\n%s", log.String())
		}
		if waiting = s.unanswered(); waiting == "" {
			s.cmd, s.exited = cmd, exited
			return nil
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("bind: named did not answer for %s within 20s:\n%s", waiting, log.String())
}

// notLoaded is what named logs for a zone file it rejects; it keeps
// running without the zone, which would never answer.
const notLoaded = "not loaded due to errors"

// unanswered returns the first zone whose SOA named does not answer
// (theirs, from ns.<Zone>), or "" when every zone answers.
func (s *Server) unanswered() string {
	for _, z := range s.zones {
		if out, _ := s.Lookup("SOA", z); !strings.HasPrefix(out, "ns."+s.zone+". ") {
			return z
		}
	}
	return ""
}

// Stop stops named (SIGTERM, then SIGKILL after 10 s): DNS queries and
// updates fail until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
}

// Close stops named and removes the directory Start created.
func (s *Server) Close() error {
	s.Stop()
	if s.ownDir {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// Lookup asks named (no recursion) and returns the answer as dig +short
// prints it, trimmed: "" when there is none, and an error when named did
// not answer.
func (s *Server) Lookup(qtype, name string) (string, error) {
	out, err := exec.Command(lookPath("dig"), "+short", "+norecurse", "+time=1", "+tries=1",
		"-p", fmt.Sprint(s.port), "@127.0.0.1", name, qtype).Output()
	text := strings.TrimSpace(string(out))
	if err != nil || strings.HasPrefix(text, ";;") {
		return "", fmt.Errorf("bind: dig %s %s: %v: %s", qtype, name, err, text)
	}
	return text, nil
}

// Transfer reads a whole zone by AXFR signed with the server's key, as the
// document's list action does, and returns its records as dig prints them
// (+noall +answer: the SOA first and last). A refused or broken transfer is
// an error.
func (s *Server) Transfer(zone string) (string, error) {
	out, err := exec.Command(lookPath("dig"), "+noall", "+answer", "+time=2", "+tries=1", "-k", s.KeyFile(),
		"-p", fmt.Sprint(s.port), "@127.0.0.1", zone, "AXFR").Output()
	text := string(out)
	if err != nil || strings.Contains(text, "Transfer failed") || strings.Contains(text, ";;") || !strings.Contains(text, "SOA") {
		return "", fmt.Errorf("bind: AXFR %s: %v: %s", zone, err, strings.TrimSpace(text))
	}
	return text, nil
}
