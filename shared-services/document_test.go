package sharedservices

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

func loadDocument(t *testing.T) Document {
	t.Helper()
	doc, err := LoadDocument("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDocumentMatchesContract: the document declares exactly the parameters
// SendCommand passes, each a String with the contract's allowedPattern and
// ENV_VAR interpolation, and one step per DC platform chosen by precondition.
func TestDocumentMatchesContract(t *testing.T) {
	doc := loadDocument(t)
	if doc.SchemaVersion != "2.2" {
		t.Errorf("schemaVersion %q, want 2.2", doc.SchemaVersion)
	}
	var names []string
	for name, p := range doc.Parameters {
		names = append(names, name)
		if p.Type != "String" || p.InterpolationType != "ENV_VAR" {
			t.Errorf("parameter %s: type %q interpolationType %q, want String and ENV_VAR", name, p.Type, p.InterpolationType)
		}
		if want := workflow.ParamPatterns[name]; p.AllowedPattern != want {
			t.Errorf("parameter %s: allowedPattern %q, the contract (workflow.ParamPatterns) has %q", name, p.AllowedPattern, want)
		}
		if p.Default != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(p.Default) {
			t.Errorf("parameter %s: default %q fails its own allowedPattern", name, p.Default)
		}
	}
	slices.Sort(names)
	want := slices.Clone(workflow.ParamNames)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("document parameters %v, SendCommand passes %v", names, want)
	}
	for step, platform := range map[string]string{workflow.StepWindows: "Windows", workflow.StepLinux: "Linux"} {
		s, err := doc.Step(step)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Precondition["StringEquals"]; !slices.Equal(got, []string{"platformType", platform}) {
			t.Errorf("step %s precondition %v, want platformType %s", step, got, platform)
		}
	}
}

// TestScriptsReadParametersOnlyFromEnvironment: no {{ }} interpolation
// anywhere in a script (a parameter value never becomes script text), and
// every parameter is read from its SSM_<name> environment variable.
func TestScriptsReadParametersOnlyFromEnvironment(t *testing.T) {
	doc := loadDocument(t)
	for _, tc := range []struct {
		step string
		ref  func(name string) string
	}{
		{workflow.StepLinux, func(n string) string { return "${SSM_" + n }},
		{workflow.StepWindows, func(n string) string { return "$env:SSM_" + n }},
	} {
		s, err := doc.Step(tc.step)
		if err != nil {
			t.Fatal(err)
		}
		script := s.Script()
		if strings.Contains(script, "{{") {
			t.Errorf("step %s interpolates {{ }} into its script", tc.step)
		}
		for _, name := range workflow.ParamNames {
			if !strings.Contains(script, tc.ref(name)) {
				t.Errorf("step %s never reads %s", tc.step, tc.ref(name))
			}
		}
		if strings.Contains(script, "eval ") || strings.Contains(script, "Invoke-Expression") {
			t.Errorf("step %s evaluates strings as code", tc.step)
		}
	}
}

// run executes the document's Linux step as the SSM agent would: bash, with
// the parameters as SSM_<name> environment variables (and nothing else from
// this process's environment).
type run struct {
	out      map[string]any
	exitCode int
	raw      string
}

func (b *bind) runLinux(t *testing.T, params map[string]string) run {
	t.Helper()
	s, err := loadDocument(t).Step(workflow.StepLinux)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(b.dir, "_script.sh")
	if err := os.WriteFile(script, []byte(s.Script()), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH") + ":/usr/sbin", "ASGDNS_CONFIG=" + filepath.Join(b.dir, "dns.conf")}
	full := map[string]string{"action": "register", "zone": "corp.example.com", "ownerInstanceId": "i-0a1b2c3d4e5f60718", "ttl": "300", "ptr": "false", "ipv4Address": ""}
	for k, v := range params {
		full[k] = v
	}
	for k, v := range full {
		env = append(env, "SSM_"+k+"="+v)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = env
	cmd.Dir = b.dir
	out, err := cmd.Output()
	r := run{raw: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(r.raw), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r.out); err != nil {
		t.Fatalf("last line is not the JSON result: %q", r.raw)
	}
	if o := workflow.ParseOutcome(r.raw); o == nil || o.Outcome != r.out["outcome"] {
		t.Fatalf("WaitForCommand would not read this result: %q", r.raw)
	}
	return r
}

func (r run) expect(t *testing.T, outcome string, exitCode int) {
	t.Helper()
	if r.out["outcome"] != outcome || r.exitCode != exitCode {
		t.Fatalf("outcome %v exit %d, want %s exit %d: %s", r.out["outcome"], r.exitCode, outcome, exitCode, r.raw)
	}
}

const (
	me    = "i-0a1b2c3d4e5f60718"
	other = "i-0fedcba9876543210"
)

// TestLinuxStepAgainstBIND runs the document's real Linux step against a real
// named, in order, as a lifecycle would.
func TestLinuxStepAgainstBIND(t *testing.T) {
	b := startBind(t)
	reg := func(host, ip, owner string, ptr bool) run {
		return b.runLinux(t, map[string]string{"action": "register", "hostname": host, "ipv4Address": ip, "ownerInstanceId": owner, "ptr": boolString(ptr)})
	}
	dereg := func(host, ip, owner string, ptr bool) run {
		return b.runLinux(t, map[string]string{"action": "deregister", "hostname": host, "ipv4Address": ip, "ownerInstanceId": owner, "ptr": boolString(ptr)})
	}

	t.Run("register creates A, ownership marker and PTR", func(t *testing.T) {
		reg("web-1", "10.20.30.40", me, true).expect(t, "created", 0)
		if a := b.dig(t, "A", "web-1.corp.example.com"); a != "10.20.30.40" {
			t.Fatalf("A = %q", a)
		}
		if txt := b.dig(t, "TXT", "web-1.corp.example.com"); txt != `"asgdns-owner=`+me+`"` {
			t.Fatalf("TXT = %q", txt)
		}
		if ptr := b.dig(t, "PTR", "40.30.20.10.in-addr.arpa"); ptr != "web-1.corp.example.com." {
			t.Fatalf("PTR = %q", ptr)
		}
	})
	t.Run("register twice is a no-op", func(t *testing.T) {
		before := b.zone(t, "corp.example.com")
		reg("web-1", "10.20.30.40", me, true).expect(t, "unchanged", 0)
		if after := b.zone(t, "corp.example.com"); after != before {
			t.Fatalf("zone changed:\n%s\n---\n%s", before, after)
		}
	})
	t.Run("register a new IP replaces the record and its PTR", func(t *testing.T) {
		reg("web-1", "10.20.30.41", me, true).expect(t, "replaced", 0)
		if a := b.dig(t, "A", "web-1.corp.example.com"); a != "10.20.30.41" {
			t.Fatalf("A = %q", a)
		}
		if old := b.dig(t, "PTR", "40.30.20.10.in-addr.arpa"); old != "" {
			t.Fatalf("old PTR left behind: %q", old)
		}
		if ptr := b.dig(t, "PTR", "41.30.20.10.in-addr.arpa"); ptr != "web-1.corp.example.com." {
			t.Fatalf("PTR = %q", ptr)
		}
	})
	t.Run("another instance cannot take or remove the record", func(t *testing.T) {
		before := b.zone(t, "corp.example.com")
		reg("web-1", "10.20.30.42", other, false).expect(t, "conflict", 30)
		dereg("web-1", "10.20.30.42", other, false).expect(t, "not-owned", 0)
		if after := b.zone(t, "corp.example.com"); after != before {
			t.Fatalf("zone changed:\n%s\n---\n%s", before, after)
		}
	})
	t.Run("a record asgdns did not create is left alone", func(t *testing.T) {
		reg("manual", "10.20.30.43", me, false).expect(t, "conflict", 30)
		dereg("manual", "10.20.30.43", me, false).expect(t, "not-owned", 0)
		if a := b.dig(t, "A", "manual.corp.example.com"); a != "10.20.99.99" {
			t.Fatalf("manual record changed: %q", a)
		}
	})
	t.Run("deregister removes what it owns, PTR included", func(t *testing.T) {
		dereg("web-1", "10.20.30.41", me, true).expect(t, "deleted", 0)
		for _, q := range [][2]string{{"A", "web-1.corp.example.com"}, {"TXT", "web-1.corp.example.com"}, {"PTR", "41.30.20.10.in-addr.arpa"}} {
			if got := b.dig(t, q[0], q[1]); got != "" {
				t.Fatalf("%s %s still there: %q", q[0], q[1], got)
			}
		}
	})
	t.Run("deregister without an address removes the PTR the A record named", func(t *testing.T) {
		reg("web-5", "10.20.30.45", me, true).expect(t, "created", 0)
		// A terminate replayed after the instance is gone: EC2 no longer
		// reports its address.
		dereg("web-5", "", me, true).expect(t, "deleted", 0)
		if ptr := b.dig(t, "PTR", "45.30.20.10.in-addr.arpa"); ptr != "" {
			t.Fatalf("PTR outlived its A record: %q", ptr)
		}
	})
	t.Run("deregister a missing record succeeds", func(t *testing.T) {
		dereg("web-1", "10.20.30.41", me, true).expect(t, "absent", 0)
		dereg("never-there", "", me, false).expect(t, "absent", 0)
	})
	t.Run("PTR only when the reverse zone exists", func(t *testing.T) {
		r := reg("web-2", "192.168.7.9", me, true)
		r.expect(t, "created", 0)
		if !strings.Contains(r.out["message"].(string), "no reverse zone") {
			t.Errorf("message %q does not say the PTR was skipped", r.out["message"])
		}
		if b.dig(t, "A", "web-2.corp.example.com") != "192.168.7.9" || b.dig(t, "PTR", "9.7.168.192.in-addr.arpa") != "" {
			t.Fatal("A missing or a PTR written outside any reverse zone")
		}
	})
	t.Run("a zone the server does not serve is a DNS error", func(t *testing.T) {
		r := b.runLinux(t, map[string]string{"hostname": "web-3", "zone": "other.example.org", "ipv4Address": "10.20.30.50", "ptr": "false"})
		r.expect(t, "dns-error", 20)
	})
	t.Run("injection attempts are rejected before any DNS change", func(t *testing.T) {
		before := b.zone(t, "corp.example.com")
		marker := filepath.Join(b.dir, "pwned")
		for _, params := range []map[string]string{
			{"hostname": "web;touch " + marker, "ipv4Address": "10.20.30.60"},
			{"hostname": "$(touch " + marker + ")", "ipv4Address": "10.20.30.60"},
			{"hostname": "`touch " + marker + "`", "ipv4Address": "10.20.30.60"},
			{"hostname": "web-4\nupdate delete corp.example.com A", "ipv4Address": "10.20.30.60"},
			{"hostname": "wеb-4", "ipv4Address": "10.20.30.60"}, // Cyrillic е
			{"hostname": "web-4", "zone": "corp.example.com\nupdate delete manual.corp.example.com A", "ipv4Address": "10.20.30.60"},
			{"hostname": "web-4", "ipv4Address": "10.20.30.60 ; rm -rf /"},
			{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ownerInstanceId": `i-0a1b2c3d4e5f60718" "x`},
			{"hostname": "web-4", "ipv4Address": "10.20.30.60", "ttl": "300\nsend"},
			{"hostname": "web-4", "ipv4Address": "10.20.30.60", "action": "register;reboot"},
			{"hostname": "web-4", "ipv4Address": ""}, // register needs an address
		} {
			r := b.runLinux(t, params)
			r.expect(t, "invalid", 10)
			if strings.Contains(r.raw, "touch") || strings.Contains(r.raw, "rm -rf") {
				t.Errorf("result repeats the attack: %s", r.raw)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("an injected command ran")
		}
		if after := b.zone(t, "corp.example.com"); after != before {
			t.Fatalf("zone changed:\n%s\n---\n%s", before, after)
		}
	})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
