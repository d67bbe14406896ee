package bind

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func start(t *testing.T) *Server {
	t.Helper()
	if err := Require(); err != nil {
		t.Fatal(err) // fail, not skip: the install command is in the error
	}
	s, err := Start(Options{Zone: "corp.example.com", ReverseZones: []string{"20.10.in-addr.arpa"}, Records: []string{"manual IN A 10.20.99.99"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// update sends an RFC 2136 update signed with the server's key, as the
// document's Linux step does.
func update(t *testing.T, s *Server, script string) error {
	t.Helper()
	cmd := exec.Command(lookPath("nsupdate"), "-p", strconv.Itoa(s.Port()), "-t", "5", "-k", s.KeyFile())
	cmd.Stdin = strings.NewReader("server 127.0.0.1\n" + script + "send\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("nsupdate: %s", out)
	}
	return err
}

func TestServeUpdateStopRestart(t *testing.T) {
	s := start(t)
	if got, _ := s.Lookup("A", "manual.corp.example.com"); got != "10.20.99.99" {
		t.Fatalf("manual record = %q", got)
	}
	if !s.Running() {
		t.Error("not running")
	}
	conf, err := os.ReadFile(s.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if want := "server=127.0.0.1\nport=" + strconv.Itoa(s.Port()) + "\nkeyfile=" + s.KeyFile() + "\n"; string(conf) != want {
		t.Errorf("dns.conf = %q, want %q", conf, want)
	}
	if err := update(t, s, "zone corp.example.com\nupdate add web-1.corp.example.com 300 A 10.20.1.10\n"); err != nil {
		t.Fatal(err)
	}
	if err := update(t, s, "zone 20.10.in-addr.arpa\nupdate add 10.1.20.10.in-addr.arpa 300 PTR web-1.corp.example.com.\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup("A", "web-1.corp.example.com"); got != "10.20.1.10" {
		t.Errorf("after update: %q", got)
	}

	// Stopped: no answers, updates fail.
	s.Stop()
	if s.Running() {
		t.Error("running after Stop")
	}
	if got, _ := s.Lookup("SOA", "corp.example.com"); got != "" {
		t.Errorf("stopped server answered %q", got)
	}
	if err := update(t, s, "zone corp.example.com\nupdate add web-2.corp.example.com 300 A 10.20.1.11\n"); err == nil {
		t.Error("update to a stopped server succeeded")
	}

	// Restarted on the same port, with what was there before.
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup("A", "web-1.corp.example.com"); got != "10.20.1.10" {
		t.Errorf("after restart: %q", got)
	}
	if got, _ := s.Lookup("PTR", "10.1.20.10.in-addr.arpa"); got != "web-1.corp.example.com." {
		t.Errorf("PTR after restart: %q", got)
	}
}

func TestUnsignedUpdatesAreRefused(t *testing.T) {
	s := start(t)
	cmd := exec.Command(lookPath("nsupdate"), "-p", strconv.Itoa(s.Port()), "-t", "5")
	cmd.Stdin = strings.NewReader("server 127.0.0.1\nzone corp.example.com\nupdate add evil.corp.example.com 300 A 10.0.0.1\nsend\n")
	if err := cmd.Run(); err == nil {
		t.Error("an unsigned update was accepted")
	}
	if got, _ := s.Lookup("A", "evil.corp.example.com"); got != "" {
		t.Errorf("evil record = %q", got)
	}
}

func TestStartNeedsAZone(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Error("Start without a zone succeeded")
	}
}
