package bind

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestZoneTransfersNeedTheKey: AXFR signed with the server's key reads the
// zone (the document's list action); unsigned, with another key, or from a
// NoTransfer zone even signed, it is refused.
func TestZoneTransfersNeedTheKey(t *testing.T) {
	if err := Require(); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Zone: "corp.example.com", Records: []string{"manual IN A 10.20.99.99"},
		Zones: []Zone{{Name: "closed.example.com", Records: []string{"x IN A 10.1.1.1"}, NoTransfer: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	out, err := s.Transfer("corp.example.com")
	if err != nil || !strings.Contains(strings.Join(strings.Fields(out), " "), "manual.corp.example.com. 300 IN A 10.20.99.99") {
		t.Fatalf("signed AXFR: %v\n%s", err, out)
	}
	if out, err := s.Transfer("closed.example.com"); err == nil {
		t.Errorf("a NoTransfer zone was transferred:\n%s", out)
	}
	other, err := exec.Command(lookPath("tsig-keygen"), "-a", "hmac-sha256", "asgdns").Output() // same name, another secret
	if err != nil {
		t.Fatal(err)
	}
	otherKey := t.TempDir() + "/other.conf"
	if err := os.WriteFile(otherKey, other, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string][]string{"unsigned": nil, "another secret": {"-k", otherKey}} {
		args := append(append([]string{"+noall", "+answer", "+comments", "+time=2", "+tries=1"}, key...),
			"-p", strconv.Itoa(s.Port()), "@127.0.0.1", "corp.example.com", "AXFR")
		out, _ := exec.Command(lookPath("dig"), args...).Output()
		if strings.Contains(string(out), "manual.corp.example.com") || !strings.Contains(string(out), "Transfer failed") {
			t.Errorf("%s AXFR was not refused:\n%s", name, out)
		}
	}
}

func TestStartNeedsAZone(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Error("Start without a zone succeeded")
	}
}

// startZones starts a server for corp.example.com, a reverse zone and
// further zones with records of their own, one refusing updates.
func startZones(t *testing.T) *Server {
	t.Helper()
	if err := Require(); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{
		Zone:         "corp.example.com",
		ReverseZones: []string{"20.10.in-addr.arpa"},
		Zones: []Zone{
			{Name: "wild.example.com", Records: []string{"* IN A 10.9.9.9"}},
			{Name: "child.corp.example.com."},
			{Name: "30.10.in-addr.arpa", Records: []string{"99.30 IN PTR someone-else.corp.example.com."}, ReadOnly: true},
		},
	})
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

// TestReadyMeansEveryZoneAnswers: the moment Start (and Restart) returns,
// every zone answers its SOA on the first query, reverse zones and further
// zones included — not only the primary zone.
func TestReadyMeansEveryZoneAnswers(t *testing.T) {
	s := startZones(t)
	want := []string{"corp.example.com", "20.10.in-addr.arpa", "wild.example.com", "child.corp.example.com", "30.10.in-addr.arpa"}
	if got := s.Zones(); !slices.Equal(got, want) {
		t.Fatalf("Zones() = %q, want %q", got, want)
	}
	check := func(when string) {
		t.Helper()
		for _, z := range want {
			got, err := s.Lookup("SOA", z)
			if err != nil || !strings.HasPrefix(got, "ns.corp.example.com. ") {
				t.Errorf("%s: SOA %s = %q, %v", when, z, got, err)
			}
		}
	}
	check("after Start")
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	check("after Restart")
}

// TestFurtherZones: each further zone serves its own records and takes
// signed updates, except a read-only one, which refuses even those.
func TestFurtherZones(t *testing.T) {
	s := startZones(t)
	if got, _ := s.Lookup("A", "anything.wild.example.com"); got != "10.9.9.9" {
		t.Errorf("wildcard answer = %q", got)
	}
	if got, _ := s.Lookup("PTR", "99.30.30.10.in-addr.arpa"); got != "someone-else.corp.example.com." {
		t.Errorf("PTR in the read-only zone = %q", got)
	}
	if err := update(t, s, "zone child.corp.example.com\nupdate add web-1.child.corp.example.com 300 A 10.20.1.10\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup("A", "web-1.child.corp.example.com"); got != "10.20.1.10" {
		t.Errorf("after an update to a further zone: %q", got)
	}
	if err := update(t, s, "zone 30.10.in-addr.arpa\nupdate add 1.1.30.10.in-addr.arpa 300 PTR web-1.corp.example.com.\n"); err == nil {
		t.Error("a read-only zone accepted a signed update")
	}
	if got, _ := s.Lookup("PTR", "1.1.30.10.in-addr.arpa"); got != "" {
		t.Errorf("PTR written into the read-only zone: %q", got)
	}
}

// TestStartRejectsBadZones: a zone served twice or without a name is an
// error before anything starts, and a zone file named rejects fails Start
// at once (named keeps running without the zone) instead of after the
// readiness wait.
func TestStartRejectsBadZones(t *testing.T) {
	if err := Require(); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{
		{Zone: "corp.example.com", Zones: []Zone{{Name: "corp.example.com."}}},
		{Zone: "corp.example.com", ReverseZones: []string{"20.10.in-addr.arpa"}, Zones: []Zone{{Name: "20.10.in-addr.arpa"}}},
		{Zone: "corp.example.com", Zones: []Zone{{}}},
	} {
		if s, err := Start(opts); err == nil {
			_ = s.Close()
			t.Errorf("Start(%+v) succeeded", opts)
		}
	}
	dir := t.TempDir()
	begin := time.Now()
	s, err := Start(Options{Zone: "corp.example.com", Dir: dir, Zones: []Zone{{Name: "bad.example.com", Records: []string{"x IN A not-an-address"}}}})
	if err == nil {
		_ = s.Close()
		t.Fatal("Start with a zone named cannot load succeeded")
	}
	if !strings.Contains(err.Error(), "bad.example.com") {
		t.Errorf("the error does not name the zone: %v", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("Start took %s to fail", d)
	}
}
