package document

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	sharedservices "github.com/asgdns/asgdns/shared-services"
	"github.com/asgdns/asgdns/workflow"
)

// TestSentParametersMatchTheDocument: every parameter SendCommand sends (its
// golden SendCommandInput files) is declared by the document and matches
// its allowedPattern in Go's regexp and in Java's java.util.regex, because
// SSM checks with both, and so does every parameter of a list
// (workflow.ListParameters); and values an attacker would try fail in both.
// (statemachine's test of the same name checks the Go side without a JRE.)
func TestSentParametersMatchTheDocument(t *testing.T) {
	doc, err := sharedservices.LoadDocument(templatePath,
		sharedservices.Tenancy{AccountID: "111111111111", TenantZones: []string{"111111111111:corp.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../functions/send-command/send/testdata/*.sent.json")
	if len(files) == 0 {
		t.Fatal("no SendCommand golden inputs found")
	}
	var checks []patternCheck
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var in struct{ Parameters map[string][]string }
		if err := json.Unmarshal(data, &in); err != nil {
			t.Fatal(err)
		}
		for name := range doc.Parameters {
			// page is list's; register and deregister leave it at its default.
			if _, ok := in.Parameters[name]; !ok && name != workflow.ParamPage {
				t.Errorf("%s: document parameter %s is not sent", filepath.Base(f), name)
			}
		}
		for name, values := range in.Parameters {
			p, ok := doc.Parameters[name]
			if !ok || len(values) != 1 {
				t.Errorf("%s: sends %s=%v, which the document does not declare as one value", filepath.Base(f), name, values)
				continue
			}
			checks = append(checks, patternCheck{p.AllowedPattern, values[0], true})
		}
	}
	for _, page := range []int{0, 1, workflow.MaxListPage} {
		params, err := workflow.ListParameters("corp.example.com", page)
		if err != nil {
			t.Fatal(err)
		}
		for name, values := range params {
			p, ok := doc.Parameters[name]
			if !ok || len(values) != 1 {
				t.Errorf("list sends %s=%v, which the document does not declare as one value", name, values)
				continue
			}
			checks = append(checks, patternCheck{p.AllowedPattern, values[0], true})
		}
	}
	// "" is every String parameter's value when a default is "": hostname
	// and ownerInstanceId take it (list's), and the script refuses it for
	// register and deregister (TestLinuxChangesNeedHostnameAndOwner).
	for name, p := range doc.Parameters {
		if p.Default != "" || name == workflow.ParamHostname || name == workflow.ParamOwner || name == workflow.ParamIPv4 {
			checks = append(checks, patternCheck{p.AllowedPattern, p.Default, true})
		}
	}
	for name, bad := range map[string][]string{
		workflow.ParamHostname: {"web;reboot", "web\nx", "$(id)", "`id`", "wеb", "-web", "WEB", "\n"},
		workflow.ParamZone:     {"corp", "corp.example.com\nsend", "corp..com", "corp.example.com;"},
		workflow.ParamIPv4:     {"10.0.0.256", "10.0.0.1 ", "10.0.0.1\n", "::1", "010.0.0.1x"},
		workflow.ParamOwner:    {"i-123", "i-0A1B2C3D4E5F60718", "i-0a1b2c3d4e5f60718\n", "\n"},
		workflow.ParamAction:   {"register;x", "Register", "", "List", "list\n", "listing"},
		workflow.ParamPage:     {"", "-1", "10000", "1a", "0\n", " 0"},
		workflow.ParamTTL:      {"300s", "-1", "123456"},
		workflow.ParamPTR:      {"yes", "TRUE", ""},
	} {
		for _, v := range bad {
			checks = append(checks, patternCheck{doc.Parameters[name].AllowedPattern, v, false})
		}
	}
	for _, c := range checks {
		if got := regexp.MustCompile(c.pattern).MatchString(c.value); got != c.want {
			t.Errorf("Go regexp: %q against %s = %v, want %v", c.value, c.pattern, got, c.want)
		}
	}
	for i, got := range javaMatches(t, checks) {
		if c := checks[i]; got != c.want {
			t.Errorf("Java regex: %q against %s = %v, want %v", c.value, c.pattern, got, c.want)
		}
	}
}

type patternCheck struct {
	pattern, value string
	want           bool
}

// javaMatches runs every check through java.util.regex (Pattern.matcher(v)
// .matches(), the whole value) in one JVM.
func javaMatches(t *testing.T, checks []patternCheck) []bool {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatal("java is not installed: apt-get install -y default-jre-headless (SSM validates allowedPattern with Java's regex engine too)")
	}
	src := filepath.Join(t.TempDir(), "Check.java")
	if err := os.WriteFile(src, []byte(`import java.util.Base64; import java.util.regex.Pattern; import java.io.*;
public class Check { public static void main(String[] a) throws Exception {
  BufferedReader in = new BufferedReader(new InputStreamReader(System.in)); Base64.Decoder d = Base64.getDecoder(); String line;
  while ((line = in.readLine()) != null) { String[] f = line.split(" ", -1);
    System.out.println(Pattern.compile(new String(d.decode(f[0]), "UTF-8")).matcher(new String(d.decode(f[1]), "UTF-8")).matches()); } } }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var input strings.Builder
	for _, c := range checks {
		input.WriteString(base64.StdEncoding.EncodeToString([]byte(c.pattern)) + " " + base64.StdEncoding.EncodeToString([]byte(c.value)) + "\n")
	}
	cmd := exec.Command("java", src)
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(checks) {
		t.Fatalf("java answered %d of %d checks:\n%s", len(lines), len(checks), out)
	}
	results := make([]bool, len(lines))
	for i, l := range lines {
		results[i] = l == "true"
	}
	return results
}
