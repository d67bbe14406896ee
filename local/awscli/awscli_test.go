package awscli

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatal records the message and stops
// the goroutine, as testing's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs Path against r in its own goroutine (Fatalf ends it).
func call(r *fatalRecorder) (path string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = Path(r)
	}()
	<-done
	return path
}

func TestPathFindsTheCLI(t *testing.T) {
	r := &fatalRecorder{TB: t}
	path := call(r)
	if r.msg != "" {
		t.Fatal(r.msg) // the machine lacks the CLI: the message says how to install it
	}
	if !filepath.IsAbs(path) || filepath.Base(path) != "aws" {
		t.Errorf("Path = %q", path)
	}
	if out, err := exec.Command(path, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "aws-cli/") {
		t.Errorf("%s --version: %v %s", path, err, out)
	}
}

func TestPathFailsWithTheInstallHint(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	r := &fatalRecorder{TB: t}
	if path := call(r); path != "" || !strings.Contains(r.msg, InstallHint) {
		t.Errorf("without aws on PATH: Path = %q, failure %q", path, r.msg)
	}
}
