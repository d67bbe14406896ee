package wait

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/asgdns/asgdns/workflow"
)

// Everything WaitForCommand copies off the domain controller passes through
// this file before it reaches the state, an error cause or a log line. The
// document prints only fixed messages and values it validated, but the DC's
// tools can print a TSIG key's secret (nsupdate: "could not create key from
// hmac-sha256:asgdns:<secret>: bad base64 encoding"), and a script that
// crashes leaves whatever bash printed on stderr. So: the result line is
// parsed and each field checked against its shape, and any other text is
// redacted and cut short.

// Output limits: enough to read what happened in the console, small enough
// for the 256 KiB state and for error causes.
const (
	maxStdout    = 1000
	maxStderr    = 500
	maxErrStderr = 300
	maxMessage   = 500
)

// redacted replaces what redact removes.
const redacted = "[redacted]"

var (
	// tsigKey is a key written as nsupdate -y takes it, [hmac-ALG:]NAME:SECRET:
	// everything after the name goes, whatever its length or characters.
	tsigKey = regexp.MustCompile(`(?i)\b(hmac-[a-z0-9-]+:[^\s:]*:)\S+`)
	// keyFileSecret is the secret clause of a BIND key file (nsupdate -k).
	keyFileSecret = regexp.MustCompile(`(?i)\b(secret\s*)"[^"]*"`)
	// keyish is a run of the characters base64, base64url and hex keys are
	// written in, long enough to hold one.
	keyish = regexp.MustCompile(`[A-Za-z0-9+/=_-]{16,}`)
	// word is a natural-language or code word: lower case, UPPER CASE or
	// CamelCase (DnsServerResourceRecord), not a random mix of cases.
	word = regexp.MustCompile(`^(?:[A-Z]+|[A-Z]*[a-z]+(?:[A-Z][a-z]+)*[A-Z]?)$`)
	// lowerAlnum is a DNS label or identifier piece: web, dc01, sha256.
	lowerAlnum = regexp.MustCompile(`^[a-z0-9]+$`)
	hex        = regexp.MustCompile(`^[0-9a-f]+$`)
	digits     = regexp.MustCompile(`^[0-9]+$`)
)

// redact removes from text copied off a DC whatever could be key material:
// a TSIG key's secret (hmac-ALG:NAME:SECRET, a key file's secret "…"), and
// every run of 16 or more base64/hex characters that is not made of
// recognisable pieces. What survives is what an operator needs to read:
// instance ids (i-0123456789abcdef0), command ids (UUIDs), account ids,
// owners (111111111111/i-…), IP addresses, domain names, script paths, words.
func redact(s string) string {
	s = tsigKey.ReplaceAllString(s, "${1}"+redacted)
	s = keyFileSecret.ReplaceAllString(s, `${1}"`+redacted+`"`)
	return keyish.ReplaceAllStringFunc(s, func(run string) string {
		if plainRun(run) {
			return run
		}
		return redacted
	})
}

// plainRun reports whether a long run of key characters is made of
// identifier pieces: split on - _ / =, each piece is short, a word, a number,
// a lower-case label, or hex no longer than an instance id's 17 digits (a
// hex key is 32 or more). '+' and trailing '=' padding are base64 only.
func plainRun(run string) bool {
	if strings.Contains(run, "+") || strings.HasSuffix(run, "=") {
		return false
	}
	pieces := strings.FieldsFunc(run, func(r rune) bool { return r == '-' || r == '_' || r == '/' || r == '=' })
	for _, p := range pieces {
		switch {
		case len(p) <= 4, digits.MatchString(p), word.MatchString(p):
		case lowerAlnum.MatchString(p) && (!hex.MatchString(p) || len(p) <= 17):
		default:
			return false
		}
	}
	return true
}

// outcomeOf is the command's result line as workflow.ParseOutcome checks
// it, or nil; the message, fixed text and validated values by design, is
// redacted and cut short all the same.
func outcomeOf(stdout string) *workflow.CommandOutcome {
	o := workflow.ParseOutcome(stdout)
	if o != nil {
		o.Message = head(redact(o.Message), maxMessage)
	}
	return o
}

// output is what $.invocation keeps of the command's own output: the
// redacted end of stdout without the result line (Result holds it, checked),
// and of stderr.
func output(stdout, stderr string) string {
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), `{"asgdns":`) {
			lines = append(lines, l)
		}
	}
	out := tail(redact(strings.Join(lines, "\n")), maxStdout)
	if e := tail(redact(stderr), maxStderr); e != "" {
		if out != "" {
			out += "\n"
		}
		out += "stderr: " + e
	}
	return out
}

// describeOutcome is the result line in a failure's reason: the outcome,
// the response code and the name's owner when the message does not already
// say them, and the message.
func describeOutcome(o *workflow.CommandOutcome) string {
	if o == nil {
		return "no valid asgdns result line on stdout"
	}
	s := "outcome " + o.Outcome
	for _, f := range [][2]string{{"rcode", o.Rcode}, {"owner", o.Owner}} {
		if f[1] != "" && !strings.Contains(o.Message, f[1]) {
			s += " " + f[0] + " " + f[1]
		}
	}
	if o.Message != "" {
		s += " " + strconv.QuoteToASCII(o.Message)
	}
	return s
}

// describeStderr quotes the redacted end of stderr with every non-ASCII rune
// escaped, so control characters and look-alikes show for what they are.
// The document never passes tool output on, so stderr holds only what bash
// printed when the script itself broke: short, but worth reading.
func describeStderr(stderr string) string {
	t := tail(redact(stderr), maxErrStderr)
	switch {
	case t == "":
		return "no stderr"
	case strings.HasPrefix(t, "…"):
		return "stderr ends " + strconv.QuoteToASCII(strings.TrimPrefix(t, "…"))
	}
	return "stderr " + strconv.QuoteToASCII(t)
}

// tail returns at most n bytes from the end of s, trimmed, cut on a rune
// boundary and marked with "…" when cut. Redact before cutting: a cut can
// leave a secret's end without the prefix that marks it as one.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := len(s) - (n - len("…"))
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return "…" + s[cut:]
}

// head returns at most n bytes from the start of s, cut on a rune boundary
// and marked with "…" when cut.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
