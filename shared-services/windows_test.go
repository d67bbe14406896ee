package sharedservices

// Static checks of the document's Windows step (PowerShell, DnsServer
// module). PowerShell does not run here, so these read the script: each
// check names a rule the step must keep and fails when the script breaks it.
// What no reading can show (how the DnsServer cmdlets really behave, the race
// the module cannot close) is listed in the README.

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

// winTenancy is the one application account the checks deploy the document for.
var winTenancy = Tenancy{AccountID: "111111111111", TenantZones: []string{"111111111111:corp.example.com"}}

// winSteps returns the document's Windows and Linux steps as deployed for
// winTenancy.
func winSteps(t *testing.T) (windows, linux Step) {
	t.Helper()
	doc, err := LoadDocument("template.yaml", winTenancy)
	if err != nil {
		t.Fatal(err)
	}
	if windows, err = doc.Step(workflow.StepWindows); err != nil {
		t.Fatal(err)
	}
	if linux, err = doc.Step(workflow.StepLinux); err != nil {
		t.Fatal(err)
	}
	return windows, linux
}

// winCode returns the Windows step's script without its comment lines: what
// PowerShell runs. (Comments may name what the code must not do.)
func winCode(t *testing.T) string {
	t.Helper()
	w, _ := winSteps(t)
	var code []string
	for _, line := range strings.Split(w.Script(), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code = append(code, line)
		}
	}
	return strings.Join(code, "\n")
}

// winCmdlets are the DnsServer cmdlets the step may call; each has its rules
// in TestWindowsStepCmdletCalls.
var winCmdlets = []string{"Get-DnsServerZone", "Get-DnsServerResourceRecord", "Add-DnsServerResourceRecord",
	"Add-DnsServerResourceRecordA", "Add-DnsServerResourceRecordPtr", "Remove-DnsServerResourceRecord"}

// TestWindowsStepAccountConstants: the account and its zones come from the
// stack (the first runCommand entry, resolved per account); nothing in the
// script sets them again, and it reads no environment variable but the
// document's parameters.
func TestWindowsStepAccountConstants(t *testing.T) {
	w, _ := winSteps(t)
	rc := w.RunCommand()
	if len(rc) != 2 {
		t.Fatalf("runCommand has %d entries, want 2: the stack's constants, then the static script", len(rc))
	}
	if want := "$OwnerAccount = '111111111111'\n$AllowedZones = ' 111111111111:corp.example.com '\n"; rc[0] != want {
		t.Errorf("first runCommand entry %q, want %q", rc[0], want)
	}
	// PowerShell variable names ignore case.
	if m := regexp.MustCompile(`(?im)^\s*\$(OwnerAccount|AllowedZones)\s*=`).FindString(rc[1]); m != "" {
		t.Errorf("the static script assigns %q: only the stack sets the account and its zones", strings.TrimSpace(m))
	}
	for _, m := range regexp.MustCompile(`(?i)\$env:(\w+)`).FindAllStringSubmatch(winCode(t), -1) {
		if name, ok := strings.CutPrefix(m[1], "SSM_"); !ok || !slices.Contains(workflow.ParamNames, name) {
			t.Errorf("the script reads $env:%s: only the document's parameters (SSM_<name>) come from the environment", m[1])
		}
	}
}

// TestWindowsStepCmdletCalls checks every DnsServer cmdlet call, a line at a
// time (no line continues with a backtick, so a line holds a whole call).
func TestWindowsStepCmdletCalls(t *testing.T) {
	code := winCode(t)
	if regexp.MustCompile("(?m)`\\s*$").MatchString(code) {
		t.Fatal("a line ends with a backtick: the per-line checks below would see half a call")
	}
	const discarded = `^\s*(function [\w-]+(\([^)]*\))? \{ )?\$null = ` // the call's output is thrown away
	rules := []struct {
		cmdlet string // one cmdlet, or "" for all of them
		must   string
		why    string
	}{
		{"", `\s@dnsServer\s`, "every call goes to the DNS server dns.conf names (-ComputerName, splatted) or to this one"},
		{"", `\s-ErrorAction Stop\b`, "a failure stops the step and is mapped to a code, never passes as no data"},
		{"Get-DnsServerResourceRecord", `\s-Node\b|^\s*foreach \(\$r in @\(Get-DnsServerResourceRecord @dnsServer -ZoneName \$zone -ErrorAction Stop\)\) \{$`,
			"without -Node the records of the names below come too (only the listing reads the whole zone: TestWindowsStepListing)"},
		{"Remove-DnsServerResourceRecord", `\s-Force\b`, "without -Force the cmdlet prompts, and the prompt blocks the command"},
		{"Remove-DnsServerResourceRecord", `\s(-Name \$\w+ -RRType A -RecordData \$\w+|-InputObject \$[\w.\[\]]+)\s`,
			"without -RecordData it removes every record of the type at the name: remove one A by its exact address, or the exact record read"},
		{"Add-DnsServerResourceRecord", discarded, "a cmdlet's output would reach stdout before the JSON line"},
		{"Add-DnsServerResourceRecordA", discarded, "a cmdlet's output would reach stdout before the JSON line"},
		{"Add-DnsServerResourceRecordPtr", discarded, "a cmdlet's output would reach stdout before the JSON line"},
		{"Remove-DnsServerResourceRecord", discarded, "a cmdlet's output would reach stdout before the JSON line"},
		{"Add-DnsServerResourceRecord", `\s-Txt -DescriptiveText \$mine\s`, "the only TXT the step writes is this owner's marker"},
		{"Add-DnsServerResourceRecordPtr", `\s-PtrDomainName "\$fqdn\."\s`, "the only PTR the step writes names this host"},
	}
	seen := map[string]int{}
	for _, line := range strings.Split(code, "\n") {
		for _, m := range regexp.MustCompile(`\b(Get|Add|Remove|Set)-DnsServer[A-Za-z]*\b`).FindAllString(line, -1) {
			seen[m]++
			for _, r := range rules {
				if (r.cmdlet == "" || r.cmdlet == m) && !regexp.MustCompile(r.must).MatchString(line) {
					t.Errorf("%s without %s (%s):\n\t%s", m, r.must, r.why, strings.TrimSpace(line))
				}
			}
		}
		if regexp.MustCompile(`\|\s*(Add|Remove|Set)-DnsServer`).MatchString(line) {
			t.Errorf("records piped into a change (whatever the pipe carries is changed; pass the exact record):\n\t%s", strings.TrimSpace(line))
		}
	}
	for _, c := range winCmdlets {
		if seen[c] == 0 {
			t.Errorf("the script never calls %s: the rules above checked none of its calls", c)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(seen)) {
		if !slices.Contains(winCmdlets, c) {
			t.Errorf("the script calls %s, which no rule here covers: add its rules", c)
		}
	}
}

// TestWindowsStepForbidden: what the script's code (comments aside) never
// contains.
func TestWindowsStepForbidden(t *testing.T) {
	code := winCode(t)
	for _, f := range []struct{ re, why string }{
		{`(?i)-AllowUpdateAny\b`, "any authenticated user could then update the name"},
		{`(?i)-CreatePtr\b`, "writes a PTR over whatever is there: PTRs are written only by the checked PTR code"},
		{`(?i)-AgeRecord\b`, "makes the record scavengeable: asgdns's records are static, asgdns removes them"},
		{`(?i)-ComputerName\b`, "the DNS server is given only through @dnsServer, from the validated dns.conf value"},
		{`(?i)-(ErrorAction|EA)\s+(SilentlyContinue|Ignore|Continue)\b`, "a failed read or change would pass as no data"},
		{`(?i)-(ErrorVariable|EV)\b`, "errors are caught and mapped to a code, not collected"},
		{`(?i)Invoke-Expression|\biex\b|ScriptBlock\]::Create|Invoke-Command|Start-Process|dnscmd`, "strings are never run as commands"},
		{`(?i)\.Exception\b|\.ErrorDetails\b|\.Message\b|\$Error\b`, "error text (it can name servers, accounts, paths) never reaches the result"},
		{`(?i)Out-String|Write-Error|Write-Host|Write-Output|Write-Information|Out-Host|\becho\b`, "only Result writes, one JSON line"},
		{`\$_\s*\|`, "an error record piped on carries its text"},
		{`"[^"\n]*\$_(?:[^.\w]|$)`, "an error record interpolated into a string is its text"},
		{`(?i)\[string\]\$_(?:[^.\w]|$)|\$\(\$_\)`, "an error record as a string is its text"},
		{`\{\\?"asgdns`, "JSON concatenated by hand is invalid for some values: ConvertTo-Json builds the result"},
		{`(?i)\s-i?(match|notmatch|replace|split)\s|\[regex\]|Select-String`, "regular expressions match case-sensitively (-cmatch, -cnotmatch)"},
		{`(?i)\s-i?(eq|ne)\s+['"]`, "strings compare case-sensitively (-ceq, -cne)"},
	} {
		if m := regexp.MustCompile(f.re).FindString(code); m != "" {
			t.Errorf("script contains %q: %s", m, f.why)
		}
	}
	// In a string, "$name:" is a drive-qualified variable to PowerShell (a
	// parse error, or another variable): only $env: and $script: are meant.
	for _, m := range regexp.MustCompile(`\$([A-Za-z_]\w*):`).FindAllStringSubmatch(code, -1) {
		if !slices.Contains([]string{"env", "script"}, strings.ToLower(m[1])) {
			t.Errorf("script contains %q: PowerShell reads $%s: as a drive-qualified variable; write ${%s}:", m[0], m[1], m[1])
		}
	}
}

// TestWindowsStepRegexes: every regular expression is single-quoted (no
// PowerShell expansion of $), matched case-sensitively, and anchored with \A
// and \z: in .NET, $ also matches before a final newline, and ^ after any.
func TestWindowsStepRegexes(t *testing.T) {
	code := winCode(t)
	if m := regexp.MustCompile(`(?i)\s-c?(not)?match\s+"`).FindString(code); m != "" {
		t.Errorf("a pattern in double quotes (%q): PowerShell expands $ and ` in it", m)
	}
	operand := regexp.MustCompile(`\s-c(?:not)?match '([^']*)'`)
	patterns := operand.FindAllStringSubmatch(code, -1)
	if len(patterns) < 10 {
		t.Fatalf("only %d -cmatch/-cnotmatch patterns found: the validation is gone or written another way", len(patterns))
	}
	for _, m := range patterns {
		p := m[1]
		if !strings.HasPrefix(p, `\A`) || !strings.HasSuffix(p, `\z`) {
			t.Errorf("pattern %q is not anchored with \\A ... \\z", p)
		}
		if strings.Contains(p, "$") || strings.Contains(strings.ReplaceAll(p, "[^", ""), "^") {
			t.Errorf("pattern %q uses ^ or $: in .NET they match at line breaks", p)
		}
		if _, err := regexp.Compile(p); err != nil {
			t.Errorf("pattern %q: %v", p, err)
		}
	}
}

// TestWindowsStepValidatesLikeTheContract: every parameter is validated again
// with the contract's pattern (workflow.ParamPatterns) anchored with \A and \z
// instead of ^ and $, and with the contract's limits.
func TestWindowsStepValidatesLikeTheContract(t *testing.T) {
	code := winCode(t)
	anchors := strings.NewReplacer("^", `\A`, "$", `\z`)
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^if \(\[string\]\$env:SSM_(\w+) -cnotmatch '([^']*)'\) \{ Invalid '(\w+)' \}$`).FindAllStringSubmatch(code, -1) {
		if _, dup := got[m[1]]; dup {
			t.Errorf("SSM_%s is validated twice", m[1])
		}
		got[m[1]] = m[2]
		if m[3] != m[1] {
			t.Errorf("SSM_%s failing its pattern is reported as parameter %s", m[1], m[3])
		}
	}
	good := map[string][]string{
		workflow.ParamAction: {"register", "deregister", "list"}, workflow.ParamHostname: {"web-1", ""}, workflow.ParamZone: {"corp.example.com"},
		workflow.ParamIPv4: {"10.0.0.1", ""}, workflow.ParamOwner: {"i-0a1b2c3d4e5f60718", ""}, workflow.ParamTTL: {"300"}, workflow.ParamPTR: {"true", "false"},
		workflow.ParamPage: {"0", "9999"},
	}
	for _, name := range workflow.ParamNames {
		contract := workflow.ParamPatterns[name]
		if strings.Contains(contract, "[^") || strings.Contains(contract, `\$`) {
			t.Fatalf("contract pattern %s uses ^ or $ other than as anchors: teach this test to convert it", contract)
		}
		want := anchors.Replace(contract)
		if got[name] != want {
			t.Errorf("SSM_%s validated with %q, want the contract's %s as %s", name, got[name], contract, want)
			continue
		}
		// The same pattern in Go, whose \A and \z mean what .NET's do: a good
		// value passes, and with a newline appended it does not.
		re := regexp.MustCompile(want)
		for _, v := range good[name] {
			if !re.MatchString(v) || re.MatchString(v+"\n") {
				t.Errorf("SSM_%s pattern %s: %q must pass and %q must not", name, want, v, v+"\n")
			}
		}
	}
	for _, c := range []struct {
		re   string
		want []int
		what string
	}{
		{`\$ttlSeconds -lt (\d+) -or \$ttlSeconds -gt (\d+)\) \{ Invalid 'ttl' \}`, []int{workflow.MinTTL, workflow.MaxTTL}, "TTL range (workflow.MinTTL, MaxTTL)"},
		{`\$name\.Length -gt (\d+)\) \{ Invalid 'hostname' \}`, []int{workflow.MaxFQDN}, "hostname.zone length (workflow.MaxFQDN)"},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(code)
		if m == nil {
			t.Errorf("no check of the %s: %s", c.what, c.re)
			continue
		}
		for i, w := range c.want {
			if m[i+1] != strconv.Itoa(w) {
				t.Errorf("%s: the script has %s, want %d", c.what, m[i+1], w)
			}
		}
	}
	if !strings.Contains(code, `if ([string]$OwnerAccount -cnotmatch '\A[0-9]{12}\z') { Result 'invalid' 10 `) {
		t.Error(`$OwnerAccount is not checked to be 12 digits (\A[0-9]{12}\z)`)
	}
}

// TestWindowsStepRules: the step's rules, each as the code that keeps it.
func TestWindowsStepRules(t *testing.T) {
	code := winCode(t)
	w, _ := winSteps(t)
	for _, r := range []struct{ re, why string }{
		{`(?m)^\$ErrorActionPreference = 'Stop'$`, "every failure is terminating, so it is caught and mapped"},
		{`(?m)^\$WarningPreference = 'SilentlyContinue'`, "cmdlet warnings would reach stdout with their text"},
		{`\$mine = "asgdns-owner=\$OwnerAccount/\$instance"`, "the marker names the stack's account and the instance"},
		{`\$instance = \[string\]\$env:SSM_ownerInstanceId`, "the marker's instance is the validated parameter"},
		{`\.StartsWith\('asgdns-owner=', \[StringComparison\]::Ordinal\)`, "every TXT starting asgdns-owner= is a marker (so two of them are a conflict)"},
		{`Markers\.Count -gt 1\) \{ Conflict `, "more than one marker is a conflict"},
		{`(?s)'in-addr\.arpa'.*'\.in-addr\.arpa'.*'ip6\.arpa'.*'\.ip6\.arpa'[^\n]*\n\s*Result 'zone-not-allowed' 10 `, "a reverse zone is never a zone for host names"},
		{`\(\[string\]\$AllowedZones\)\.Contains\(" \$\{OwnerAccount\}:\$zone "\)\) \{\n\s*Result 'zone-not-allowed' 10 `, "the zone is allowed by exact token, not by pattern"},
		{`@\('9714', '9701'\) -ccontains \(Get-ErrorCode \$_\)\) \{ return \$null \}`, "only the DNS server's name-does-not-exist errors mean no record"},
		{`\[string\]\$err\.FullyQualifiedErrorId -cmatch '\\AWIN32 \(\[0-9\]\{1,10\}\),\.\*\\z'\) \{ return \$Matches\[1\] \}`, "the Win32 code is read from the error id, not from the (localized) message"},
		{`\$rc -cnotmatch '\\A\[A-Za-z0-9\]\{1,32\}\\z'\) \{ \$rc = 'ERROR' \}`, "the rcode is a short code, whatever it was made from"},
		{`-Txt -DescriptiveText \$mine[^\n]*\n\s*Add-A\n`, "create writes the marker before the A record: a step stopped halfway leaves an owned name"},
		{`foreach \(\$a in \$removed\) \{ Remove-A \$a \}\n\s*\$null = Remove-DnsServerResourceRecord [^\n]*-InputObject \$state\.Markers\[0\]\.Record `, "deregister removes the marker after the A records"},
		{`(?s)Assert-Unchanged \$state 'updated'.*Assert-Unchanged \$state 'updated'.*Assert-Unchanged \$state 'removed'`, "create, replace and deregister each read the name again right before the first change"},
		{`Raced 'updated'`, "register reads the name after the change"},
		{`Raced 'removed'`, "deregister reads the name after the change"},
		{`\(@\(\$state\.Foreign \| Where-Object \{ \$_ -ceq 'TXT' \}\)\.Count -gt 0\) \{ Conflict `, "deregister: a TXT asgdns does not own is a conflict, other data may stay"},
		{`if \(\$state\.Foreign\.Count -gt 0\) \{ Conflict `, "register: any data asgdns does not own is a conflict"},
		{`Conflict "\$fqdn is the apex of another zone"`, "the name of a child zone's apex is not a host name"},
		{`\$dnsServer = @\{ ComputerName = \$value \}`, "the DNS server comes from dns.conf"},
	} {
		if !regexp.MustCompile(r.re).MatchString(code) {
			t.Errorf("%s: the script has no %s", r.why, r.re)
		}
	}
	// The config value is validated before it is used.
	if i, j := strings.Index(code, `if ($value -cnotmatch `), strings.Index(code, `$dnsServer = @{ ComputerName = $value }`); i < 0 || j < i {
		t.Error("the dns.conf server= value is used before (or without) its validation")
	}
	// Said plainly for the README: the module has no compare-and-set.
	if s := w.Script(); !strings.Contains(s, "no RFC 2136") || !strings.Contains(s, "cannot close") {
		t.Error("the script's comments no longer say that the DnsServer module offers no RFC 2136 prerequisites and that the race cannot be closed")
	}
}

// TestWindowsStepResult: one JSON line, built by ConvertTo-Json from an
// ordered hashtable with the contract's keys in order, written only by Result,
// which then exits.
func TestWindowsStepResult(t *testing.T) {
	code := winCode(t)
	body := regexp.MustCompile(`(?s)\nfunction Result\(\[string\]\$outcome, \[int\]\$code, \[string\]\$message\) \{\n(.*?)\n\}\n`).FindStringSubmatch(code)
	if body == nil {
		t.Fatal("no function Result([string]$outcome, [int]$code, [string]$message)")
	}
	table := regexp.MustCompile(`\$(\w+) = \[ordered\]@\{ ([^}]*) \}`).FindStringSubmatch(body[1])
	if table == nil {
		t.Fatal("Result builds no [ordered]@{ ... } table")
	}
	var keys []string
	for _, kv := range strings.Split(table[2], "; ") {
		keys = append(keys, strings.TrimSpace(strings.SplitN(kv, "=", 2)[0]))
	}
	if want := []string{"asgdns", "outcome", "fqdn", "ip", "ptr", "rcode", "owner", "message"}; !slices.Equal(keys, want) {
		t.Errorf("result keys %v, want %v", keys, want)
	}
	if !strings.Contains(table[2], "asgdns = 1;") {
		t.Error(`the result does not start {"asgdns":1: WaitForCommand looks for that prefix`)
	}
	if !strings.Contains(body[1], "Write-Json $"+table[1]+"\n  exit $code") {
		t.Error("Result does not write its table with Write-Json and exit")
	}
	// Write-Json is the one writer of stdout: ConvertTo-Json -Compress
	// (one line), deep enough for the listing's ips list, straight to
	// stdout; Result and the listing are its only callers.
	const writer = "function Write-Json($value) { [Console]::Out.WriteLine((ConvertTo-Json -InputObject $value -Compress -Depth 3)) }"
	if !strings.Contains(code, "\n"+writer+"\n") {
		t.Errorf("no %s", writer)
	}
	if n := strings.Count(code, "[Console]::Out"); n != 1 {
		t.Errorf("%d writes to stdout, want Write-Json's only", n)
	}
	listing := winFunction(t, code, "Write-Listing")
	if n, inListing := strings.Count(code, "Write-Json "), strings.Count(listing, "Write-Json "); n != inListing+1 {
		t.Errorf("Write-Json is called %d times, %d of them in Write-Listing: want only Result's call besides", n, inListing)
	}
	// The top-level catch: anything unexpected is a dns-error with a fixed
	// message and the code.
	catch := regexp.MustCompile(`(?s)\n\} catch \{\n(.*)\n\}\s*$`).FindStringSubmatch(code)
	if catch == nil || !strings.Contains(catch[1], "$rcode = Get-ErrorCode $_") || strings.Count(catch[1], "Result 'dns-error' 20 \"") != 3 ||
		!strings.Contains(catch[1], "if ($action -ceq 'list') { Result 'dns-error' 20 \"reading zone $zone ") {
		t.Error("the script does not end with a catch that reports anything unexpected as dns-error with its code (a list's failed read too)")
	}
}

// TestWindowsStepOutcomesMatchLinux: both steps report the same outcomes with
// the same exit codes, and the same PTR states, all of them the contract's.
func TestWindowsStepOutcomesMatchLinux(t *testing.T) {
	w, l := winSteps(t)
	exits := map[string]string{"created": "0", "unchanged": "0", "replaced": "0", "deleted": "0", "absent": "0",
		"invalid": "10", "zone-not-allowed": "10", "dns-error": "20", "conflict": "30", workflow.OutcomeListed: "0"}
	ptrStates := []string{"error", "foreign", "no-zone", "none", "off", "refused", "removed", "unchanged", "written"}
	for _, s := range []struct {
		step               Step
		result, assignment string // exit code given; an outcome's assignment, its exit code in the result call
		ptr                []string
	}{
		// The listing's result line is written by the listing, which then exits.
		{w, `\bResult '([a-z-]+)' (\d+) |outcome = '(listed)'; [^\n]*\n\s*exit (0)\n`, `\$outcome = '([a-z-]+)'|Result (\$outcome) (\d+) `, []string{`Set-PtrState '([a-z-]+)'`, `\$ptrState = '([a-z-]+)'`}},
		{l, `\bresult ([a-z-]+) (\d+) |"outcome":"(listed)"[^\n]*\n(?:[^\n]*\n){2}\s*exit (0)\n`, `\boutcome=([a-z-]+)|result ("\$outcome") (\d+) `, []string{`\bptr_set ([a-z-]+)`, `\bptr_state=([a-z-]+)`}},
	} {
		script := s.step.Script()
		outcomes := map[string]bool{}
		for _, m := range regexp.MustCompile(s.result).FindAllStringSubmatch(script, -1) {
			if m[1] == "" { // the listing's
				m = []string{m[0], m[3], m[4]}
			}
			outcomes[m[1]] = true
			if exits[m[1]] != m[2] {
				t.Errorf("step %s: outcome %s exits %s, want %s", s.step.Name, m[1], m[2], exits[m[1]])
			}
		}
		for _, m := range regexp.MustCompile(s.assignment).FindAllStringSubmatch(script, -1) {
			if m[1] != "" {
				outcomes[m[1]] = true
				if exits[m[1]] != "0" {
					t.Errorf("step %s: outcome %s is reported with the success exit code", s.step.Name, m[1])
				}
			} else if m[3] != "0" {
				t.Errorf("step %s: its success outcomes exit %s", s.step.Name, m[3])
			}
		}
		if got := slices.Sorted(maps.Keys(outcomes)); !slices.Equal(got, slices.Sorted(maps.Keys(exits))) {
			t.Errorf("step %s outcomes %v, want %v", s.step.Name, got, slices.Sorted(maps.Keys(exits)))
		}
		ptr := map[string]bool{}
		for _, re := range s.ptr {
			for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(script, -1) {
				ptr[m[1]] = true
			}
		}
		if got := slices.Sorted(maps.Keys(ptr)); !slices.Equal(got, ptrStates) {
			t.Errorf("step %s PTR states %v, want %v", s.step.Name, got, ptrStates)
		}
	}
	// Who holds a name: the same marker forms on both steps.
	holder := regexp.MustCompile(`asgdns-owner=(\([^)]*\))`)
	wh, lh := holder.FindStringSubmatch(w.Script()), holder.FindStringSubmatch(l.Script())
	if wh == nil || lh == nil || wh[1] != lh[1] {
		t.Errorf("the steps read a marker's holder differently: Windows %v, Linux %v", wh, lh)
	}
}
