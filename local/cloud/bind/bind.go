// Package bind runs a real BIND named for the local stack and its tests:
// one primary zone (and optionally reverse zones) on a loopback port,
// accepting RFC 2136 updates signed with a TSIG key — what a Linux domain
// controller's DNS server does, with the key the document's Linux step
// finds through its dns.conf (ConfigPath, the step's ASGDNS_CONFIG).
package bind

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
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
	// Zone is the forward zone the server is primary for.
	Zone string
	// ReverseZones are further zones it serves (e.g. 20.10.in-addr.arpa
	// for PTR records of 10.20.0.0/16).
	ReverseZones []string
	// Dir holds the configuration, zone files and journals; a new
	// temporary directory when empty (removed by Close).
	Dir string
	// Records are extra zone-file lines for Zone (e.g. "manual IN A 10.20.99.99").
	Records []string
}

// Server is a running (or stopped) named.
type Server struct {
	zone   string
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
// and starts named on a free loopback port, waiting until it answers.
func Start(opts Options) (*Server, error) {
	if err := Require(); err != nil {
		return nil, err
	}
	if opts.Zone == "" {
		return nil, errors.New("bind: Options.Zone is required")
	}
	s := &Server{zone: strings.TrimSuffix(opts.Zone, "."), dir: opts.Dir}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "asgdns-named-")
		if err != nil {
			return nil, err
		}
		s.dir, s.ownDir = dir, true
	}
	key, err := exec.Command(lookPath("tsig-keygen"), "-a", "hmac-sha256", "asgdns").Output()
	if err != nil {
		return nil, fmt.Errorf("bind: tsig-keygen: %w", err)
	}
	files := map[string]string{
		"key.conf": string(key),
		"zone.db":  fmt.Sprintf(zoneHeader, s.zone) + "ns IN A 127.0.0.1\n" + strings.Join(opts.Records, "\n") + "\n",
	}
	zones := fmt.Sprintf("zone %q { type primary; file \"%s/zone.db\"; allow-update { key \"asgdns\"; }; };\n", s.zone, s.dir)
	for i, rz := range opts.ReverseZones {
		name := fmt.Sprintf("reverse%d.db", i)
		files[name] = fmt.Sprintf(zoneHeader, s.zone)
		zones += fmt.Sprintf("zone %q { type primary; file \"%s/%s\"; allow-update { key \"asgdns\"; }; };\n", strings.TrimSuffix(rz, "."), s.dir, name)
	}
	// named needs the port free for UDP and TCP; one that was free a
	// moment ago can be taken by the time named binds, so try again.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
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
};
controls { };
%[3]s`, s.dir, s.port, zones)
		files["dns.conf"] = fmt.Sprintf("server=127.0.0.1\nport=%d\nkeyfile=%s/key.conf\n", s.port, s.dir)
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o600); err != nil {
				return nil, err
			}
		}
		if err = s.Restart(); err == nil || attempt == 2 {
			return s, err
		}
	}
}

// freePort finds a loopback port free for both TCP and UDP.
func freePort() (int, error) {
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

// Zone is the forward zone.
func (s *Server) Zone() string { return s.zone }

// ConfigPath is the dns.conf the document's Linux step reads (server,
// port, keyfile): pass it as the DCs' ASGDNS_CONFIG.
func (s *Server) ConfigPath() string { return filepath.Join(s.dir, "dns.conf") }

// KeyFile is the TSIG key named accepts updates signed with.
func (s *Server) KeyFile() string { return filepath.Join(s.dir, "key.conf") }

// Running reports whether named is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Restart starts named again on the same port after Stop (a demo makes DNS
// fail and come back); the zones keep the updates made before, from their
// journals. It waits until named answers for the zone.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	log := &syncBuffer{}
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
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("bind: named exited:\n%s", log.String())
		default:
		}
		if out, _ := s.Lookup("SOA", s.zone); out != "" {
			s.cmd, s.exited = cmd, exited
			return nil
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("bind: named did not answer for %s within 20s:\n%s", s.zone, log.String())
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

// syncBuffer is named's log, written by exec's copying goroutine and read
// on failure.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
