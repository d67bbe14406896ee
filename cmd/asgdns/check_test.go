package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCheckIsWired: `asgdns check` is dispatched, listed and documented,
// and a usage error is found before any AWS configuration is loaded.
func TestCheckIsWired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "listed", args: []string{"help"}, code: 0, stdout: "  check       find, before the first launch"},
		{name: "help check", args: []string{"help", "check"}, code: 0, stderr: "Usage: asgdns check (--stack-name NAME | --parameter-overrides Key=Value ...)"},
		{name: "no stack", args: []string{"check"}, code: 2, stderr: "asgdns check: --stack-name or --parameter-overrides is required"},
		{name: "bad output", args: []string{"check", "--stack-name", "asgdns", "--output", "xml"}, code: 2, stderr: `asgdns check: --output "xml": want text or json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent") // a usage error must not need it
			var stdout, stderr bytes.Buffer
			code := commands.Run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
		})
	}
}
