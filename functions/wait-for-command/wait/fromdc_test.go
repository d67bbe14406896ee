package wait

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

// Key material as a DC's tools can print it.
const (
	// The secret of a malformed key, as nsupdate quotes it back.
	badKeySecret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	// An hmac-sha256 secret as dnssec-keygen / tsig-keygen write it.
	tsigSecret = "q3Jx9vZt1Lk0pQ2mN8bR4sW7yE6uH5gC+aD/fT0iVnM="
	// A 128-bit key in hex.
	hexKey = "8f14e45fceea167a5a36dedd4bea2543"
	// A secret too short and too plain for the generic rule: only its
	// hmac-ALG:NAME: prefix marks it.
	shortSecret = "hunter2hunter2"
)

var keyMaterial = []string{badKeySecret, tsigSecret, hexKey, shortSecret}

// TestRedact pins what survives redaction (what an operator needs to read)
// and what does not (anything that could be a key).
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Survives.
		{"instance " + dc1 + " and i-0a1b2c3d", "instance " + dc1 + " and i-0a1b2c3d"},
		{"command " + commandID + " of execution " + execution, "command " + commandID + " of execution " + execution},
		{fqdn + " has 10.20.30.40", fqdn + " has 10.20.30.40"},
		{"40.30.20.10.in-addr.arpa answered REFUSED", "40.30.20.10.in-addr.arpa answered REFUSED"},
		{"is owned by " + owner, "is owned by " + owner},
		{`TXT "asgdns-owner=111111111111/i-0a1b2c3d4e5f60718"`, `TXT "asgdns-owner=111111111111/i-0a1b2c3d4e5f60718"`},
		{"arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111", "arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111"},
		{"/var/lib/amazon/ssm/" + dc1 + "/document/orchestration/" + commandID + "/manageLinuxDns/_script.sh: line 12: dig: command not found",
			"/var/lib/amazon/ssm/" + dc1 + "/document/orchestration/" + commandID + "/manageLinuxDns/_script.sh: line 12: dig: command not found"},
		{"Remove-DnsServerResourceRecord: Failed to get ResourceRecordA", "Remove-DnsServerResourceRecord: Failed to get ResourceRecordA"},
		{"AWS_LAMBDA_FUNCTION_NAME SSM_ownerInstanceId", "AWS_LAMBDA_FUNCTION_NAME SSM_ownerInstanceId"},
		{"webserverproduction01-canary.example.com", "webserverproduction01-canary.example.com"},
		{"hmac-sha256 is the algorithm", "hmac-sha256 is the algorithm"},
		{"", ""},
		// Redacted.
		{"could not create key from hmac-sha256:asgdns:" + badKeySecret + "!!!: bad base64 encoding",
			"could not create key from hmac-sha256:asgdns:[redacted] bad base64 encoding"},
		{"-y hmac-md5:asgdns:" + shortSecret, "-y hmac-md5:asgdns:[redacted]"},
		{"-y HMAC-SHA512:k:" + tsigSecret, "-y HMAC-SHA512:k:[redacted]"},
		{"-y asgdns:" + tsigSecret, "-y asgdns:[redacted]"},
		{"key \"asgdns\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + tsigSecret + "\";\n};",
			"key \"asgdns\" {\n\talgorithm hmac-sha256;\n\tsecret \"[redacted]\";\n};"},
		{"secret \"abc def\";", "secret \"[redacted]\";"},
		{"bare " + badKeySecret, "bare [redacted]"},
		{"padded Zm9vYmFyYmF6cXV4cXV1eA==.", "padded [redacted]."},
		{"hex " + hexKey + " key", "hex [redacted] key"},
		{"hex " + strings.ToUpper(hexKey), "hex [redacted]"},
		{"base64url " + "q3Jx9vZt1Lk0pQ2mN8bR4sW7yE6uH5gC-aD_fT0iVnM", "base64url [redacted]"},
		{"aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws [redacted]"},
		{"base32 JBSWY3DPEHPK3PXP", "base32 [redacted]"},
		{"mixed case QWxhZGRpbjpvcGVuIHNlc2FtZQ", "mixed case [redacted]"},
	} {
		got := redact(tc.in)
		if got != tc.want {
			t.Errorf("redact(%q)\n  = %q\nwant %q", tc.in, got, tc.want)
		}
		if again := redact(got); again != got {
			t.Errorf("redact is not idempotent on %q: %q", got, again)
		}
	}
}

// TestOutcomeOf: the result line reaches the state only as the document
// writes it: a known outcome, each field in its shape, the message redacted
// and short.
func TestOutcomeOf(t *testing.T) {
	full := workflow.CommandOutcome{Outcome: "conflict", FQDN: fqdn, IP: "10.20.30.40", PTR: "foreign", Rcode: "YXDOMAIN", Owner: owner,
		Message: fqdn + " is owned by " + owner + ": nothing was changed"}
	for _, tc := range []struct {
		name   string
		stdout string
		want   *workflow.CommandOutcome
	}{
		{"every field as written", docLine(full) + "\n", &full},
		{"the last result line counts", resultLine("created", "A record created") + "\n" + docLine(full), &full},
		{"no result line", "done\n", nil},
		{"removed outcome adopted", resultLine("adopted", ""), nil},
		{"removed outcome not-owned", resultLine("not-owned", ""), nil},
		{"unknown outcome", resultLine("Created", ""), nil},
		{"fields out of shape are dropped", docLine(workflow.CommandOutcome{Outcome: "dns-error", FQDN: "web;reboot.corp.example.com",
			IP: "10.0.0.256", PTR: "maybe", Rcode: "refused " + hexKey, Owner: "someone " + hexKey, Message: "the update failed"}),
			&workflow.CommandOutcome{Outcome: "dns-error", Message: "the update failed"}},
		{"a Windows DNS server error code", docLine(workflow.CommandOutcome{Outcome: "dns-error", Rcode: "9005"}),
			&workflow.CommandOutcome{Outcome: "dns-error", Rcode: "9005"}},
		{"an older owner marker", docLine(workflow.CommandOutcome{Outcome: "conflict", Owner: "i-0ffffffffffffffff"}),
			&workflow.CommandOutcome{Outcome: "conflict", Owner: "i-0ffffffffffffffff"}},
		{"an unreadable owner marker", docLine(workflow.CommandOutcome{Outcome: "conflict", Owner: "unreadable"}),
			&workflow.CommandOutcome{Outcome: "conflict", Owner: "unreadable"}},
		{"the message is redacted", docLine(workflow.CommandOutcome{Outcome: "dns-error", Message: "hmac-sha256:asgdns:" + badKeySecret + "!!!: bad"}),
			&workflow.CommandOutcome{Outcome: "dns-error", Message: "hmac-sha256:asgdns:[redacted] bad"}},
		{"the message is cut short", docLine(workflow.CommandOutcome{Outcome: "invalid", Message: strings.Repeat("é", 400)}),
			&workflow.CommandOutcome{Outcome: "invalid", Message: strings.Repeat("é", 248) + "…"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := outcomeOf(tc.stdout)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("outcomeOf(%q)\n  = %+v\nwant %+v", tc.stdout, got, tc.want)
			}
		})
	}
}

// withKeyAt is stderr whose last n bytes (tail's cut) start exactly at
// shortSecret, right after the hmac-ALG:NAME: prefix that marks it: cut
// before redacting and the secret would pass as plain text.
func withKeyAt(n int) string {
	rest := ": bad base64 encoding"
	return strings.Repeat("progress\n", 100) + "nsupdate: could not create key from hmac-md5:asgdns:" +
		shortSecret + rest + strings.Repeat(".", n-len("…")-len(shortSecret)-len(rest))
}

// TestKeyMaterialNeverLeaves: whatever the DC prints, no key material
// reaches $.invocation, the returned error's message, or any log line, while
// the cause still says what went wrong.
func TestKeyMaterialNeverLeaves(t *testing.T) {
	badKey := "could not create key from hmac-sha256:asgdns:" + badKeySecret + "!!!: bad base64 encoding\n"
	keyFile := "/etc/asgdns/asgdns.key: line 1: key: command not found\n" +
		"key \"asgdns\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + tsigSecret + "\";\n};\n" + hexKey + "\n"
	for _, tc := range []struct {
		name    string
		answer  answer
		wantErr bool
		cut     int      // a tail that would cut into withKeyAt
		want    []string // in the cause or the output: what is left to read
	}{
		{name: "succeeded, with a bad key on stderr", answer: answer{status: "Success", details: "Success",
			stdout: "checking " + badKeySecret + "\n" + resultLine("created", "A record created") + "\n", stderr: badKey},
			want: []string{"bad base64 encoding", "hmac-sha256:asgdns:[redacted]", "checking [redacted]"}},
		{name: "succeeded, a key cut by the output's tail", answer: answer{status: "Success", details: "Success",
			stdout: resultLine("created", "A record created"), stderr: withKeyAt(maxStderr)}, cut: maxStderr,
			want: []string{"[redacted] bad base64 encoding"}},
		{name: "DNS error whose message quotes the key", answer: answer{status: "Failed", details: "Failed", code: 20,
			stdout: docLine(workflow.CommandOutcome{Outcome: "dns-error", FQDN: fqdn, Rcode: "BADKEY",
				Message: "nsupdate said hmac-sha256:asgdns:" + badKeySecret + "!!!: bad base64 encoding"}), stderr: badKey},
			wantErr: true, want: []string{"rcode BADKEY", `"nsupdate said hmac-sha256:asgdns:[redacted] bad base64 encoding"`}},
		{name: "script crashed reading a key file", answer: answer{status: "Failed", details: "Failed", code: 1, stderr: keyFile},
			wantErr: true, want: []string{"no valid asgdns result line", "key: command not found", `secret \"[redacted]\"`}},
		{name: "failed, a key cut by the cause's tail", answer: answer{status: "Failed", details: "Failed", code: 1, stderr: withKeyAt(maxErrStderr)},
			cut: maxErrStderr, wantErr: true, want: []string{`stderr ends "`, `[redacted] bad base64 encoding`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cut > 0 && !strings.HasPrefix(tail(tc.answer.stderr, tc.cut), "…"+shortSecret) {
				t.Fatalf("the stderr's %d-byte tail does not start at the secret: the case proves nothing", tc.cut)
			}
			var logs bytes.Buffer
			got, err := newHandler(&fakeSSM{answers: []answer{tc.answer}}, after(3*time.Second), &lambdatest.Sessions{}, &logs).
				Handle(context.Background(), lambdatest.Input(t, "launch"))
			if (err != nil) != tc.wantErr {
				t.Fatalf("got %+v, %v; want an error: %v", got, err, tc.wantErr)
			}
			state, _ := json.Marshal(got)
			read := string(state)
			if err != nil {
				read = err.Error()
			}
			for what, text := range map[string]string{"$.invocation": string(state), "logs": logs.String(), "error": errText(err)} {
				lambdatest.AssertNoSecrets(t, what, text, keyMaterial)
			}
			for _, w := range tc.want {
				if !strings.Contains(read, w) {
					t.Errorf("lacks %q, which an operator needs:\n%s", w, read)
				}
			}
			if logs.Len() == 0 {
				t.Error("nothing logged: the check of the logs proves nothing")
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPTRWarningIsLogged: a PTR the document could not write does not fail
// the command, but the log says so.
func TestPTRWarningIsLogged(t *testing.T) {
	var logs bytes.Buffer
	a := answer{status: "Success", details: "Success", stdout: docLine(workflow.CommandOutcome{Outcome: "created", FQDN: fqdn, IP: "10.20.30.40",
		PTR: "foreign", Message: "A record created; 40.30.20.10.in-addr.arpa names another host: PTR left alone"})}
	got, err := newHandler(&fakeSSM{answers: []answer{a}}, after(time.Second), &lambdatest.Sessions{}, &logs).Handle(context.Background(), lambdatest.Input(t, "launch"))
	if err != nil || !got.Done || got.Result == nil || got.Result.PTR != "foreign" {
		t.Fatalf("got %+v, %v; want done with ptr foreign", got, err)
	}
	lambdatest.LogsContain(t, logs.String(), `"level":"WARN","msg":"PTR record not written"`, `"ptr":"foreign"`, "names another host")
}
