// Package awscli finds the real AWS CLI for the rig's tests, which use it as
// a client of the local endpoints. Its absence fails the test with the one
// way to install it (the way `make test` installs it); it never skips.
package awscli

import (
	"os/exec"
	"testing"
)

// InstallHint is the command that installs the AWS CLI, as `make test` does (make test-tools).
const InstallHint = "apt-get install -y awscli (as root)"

// Path returns the path of the aws executable on PATH, and fails t with
// InstallHint when there is none.
func Path(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI (aws) is not installed: %s, then run the tests again (%v)", InstallHint, err)
	}
	return path
}
