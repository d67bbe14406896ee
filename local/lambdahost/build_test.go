package lambdahost

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asgdns/asgdns/local/syncio"
)

// copyRepo copies what DescribeInstance is built from (its folder, the
// functions module's files and workflow/, sources only) into a new workspace, so a test can change it.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, f := range []string{"functions/go.mod", "functions/go.sum"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, "functions"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"functions/" + describeDir, "workflow"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			name := d.Name()
			if !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" {
				return nil // fixtures, and any binary left lying around
			}
			rel, _ := filepath.Rel(repoRoot, path)
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	work := "go 1.26\n\nuse (\n\t./functions\n\t./workflow\n)\n"
	if err := os.WriteFile(filepath.Join(dst, "go.work"), []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestBuildCache: a second Build reuses the binary; a touch that changes no
// content still reuses it; a changed source (in the function's module or in
// workflow/) rebuilds; a changed test does not.
func TestBuildCache(t *testing.T) {
	root := copyRepo(t)
	cache := t.TempDir()
	var log syncio.Buffer
	h, err := New(Options{RepoRoot: root, CacheDir: cache, BuildLog: &log,
		Functions: []Function{{Name: "asgdns-DescribeInstance", Dir: describeDir}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	bin := filepath.Join(cache, describeDir, "bootstrap")
	build := func(want string) os.FileInfo {
		t.Helper()
		before := strings.Count(log.String(), "\n")
		if err := h.Build(context.Background()); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
		if len(lines) != before+1 || !strings.HasPrefix(lines[len(lines)-1], "lambdahost: "+describeDir+": "+want+" ") {
			t.Fatalf("build log %q, want a last line saying %s", log.String(), want)
		}
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	same := func(a, b os.FileInfo) bool { return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) }

	if got := h.Binary("asgdns-DescribeInstance"); got != "" {
		t.Fatalf("Binary before Build: %q", got)
	}
	first := build("built")
	if got := h.Binary("asgdns-DescribeInstance"); got != bin {
		t.Fatalf("Binary %q, want the built %s", got, bin)
	}
	if got := h.Binary("no-such-function"); got != "" {
		t.Fatalf("Binary of an unknown function: %q", got)
	}
	if second := build("reused"); !same(first, second) {
		t.Fatal("the second Build replaced the binary")
	}

	// A source of the shared module every bootstrap is built from.
	workflowGo := filepath.Join(root, "workflow", "errors.go")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(workflowGo, future, future); err != nil {
		t.Fatal(err)
	}
	if touched := build("reused"); !same(first, touched) {
		t.Fatal("a touch with no change rebuilt the binary")
	}

	appendTo(t, filepath.Join(root, "workflow", "extra_test.go"), "package workflow\n")
	if tested := build("reused"); !same(first, tested) {
		t.Fatal("a new test file rebuilt the binary")
	}

	appendTo(t, workflowGo, "\n// A change.\n")
	changed := build("built")
	if same(first, changed) {
		t.Fatal("a changed workflow/ source did not rebuild the binary")
	}
	appendTo(t, filepath.Join(root, "functions", describeDir, "main.go"), "\n// A change.\n")
	if again := build("built"); same(changed, again) {
		t.Fatal("a changed function source did not rebuild the binary")
	}

	// The binary built from the copy runs.
	_, err = h.Invoke(context.Background(), "asgdns-DescribeInstance", []byte(`{}`))
	_ = functionError(t, err, "Runtime.ExitError") // no ASGDNS_ZONE: it ran and failed its init
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBuildFails: a function that does not compile fails Build with the
// compiler's output, and leaves no binary behind.
func TestBuildFails(t *testing.T) {
	root := copyRepo(t)
	appendTo(t, filepath.Join(root, "functions", describeDir, "main.go"), "\nfunc broken() { undefined() }\n")
	cache := t.TempDir()
	h, err := New(Options{RepoRoot: root, CacheDir: cache, Functions: []Function{{Name: "broken", Dir: describeDir}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	err = h.Build(context.Background())
	if err == nil || !strings.Contains(err.Error(), "build broken") || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("got %v, want the build failure with the compiler's message", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, describeDir))
	if len(entries) != 0 {
		t.Errorf("a failed build left %v", entries)
	}
}
