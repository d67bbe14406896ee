package lambdahost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// buildFlags are the Makefile's Lambda build flags; only GOOS and GOARCH
// differ (this machine's, not linux/arm64).
var buildFlags = []string{"-tags", "lambda.norpc,nethttpomithttp2", "-trimpath", "-ldflags=-s -w"}

// sharedDirs are the folders, besides the function's own, whose sources go
// into every bootstrap: the shared module.
var sharedDirs = []string{"workflow"}

// Build builds every function's bootstrap for this machine into CacheDir,
// or reuses the one already there when nothing it is built from changed.
//
// Reuse is decided by a content hash, not by modification times: the key
// covers the Go version, the target, the flags, go.work and go.work.sum,
// and the path and content of every .go (tests excepted), go.mod and go.sum
// file in the function's folder and in workflow/. A checkout or a touch
// that changes no content rebuilds nothing, and a copy that keeps old
// modification times cannot hide a change. Hashing the few hundred KiB of
// sources takes milliseconds. (Files a build could embed with go:embed are
// not covered: the functions embed none.)
func (h *Host) Build(ctx context.Context) error {
	var goVersion string
	for _, fn := range h.order {
		if fn.Binary != "" {
			bin, err := filepath.Abs(fn.Binary)
			if err != nil {
				return fmt.Errorf("lambdahost: %s: %w", fn.Name, err)
			}
			fn.setBinary(bin)
			continue
		}
		if goVersion == "" {
			out, err := h.goCommand(ctx, h.opts.RepoRoot, "env", "GOVERSION").Output()
			if err != nil {
				return fmt.Errorf("lambdahost: go env GOVERSION: %w", err)
			}
			goVersion = strings.TrimSpace(string(out))
		}
		bin, err := h.build(ctx, fn, goVersion)
		if err != nil {
			return err
		}
		fn.setBinary(bin)
	}
	return nil
}

// build builds fn's bootstrap unless the cached one has the same key.
func (h *Host) build(ctx context.Context, fn *function, goVersion string) (string, error) {
	start := time.Now()
	src := filepath.Join(h.opts.RepoRoot, "functions", fn.Dir)
	key, err := sourceKey(h.opts.RepoRoot, append([]string{filepath.Join("functions", fn.Dir)}, sharedDirs...), goVersion)
	if err != nil {
		return "", fmt.Errorf("lambdahost: %s: %w", fn.Name, err)
	}
	dir := filepath.Join(h.opts.CacheDir, fn.Dir)
	bin := filepath.Join(dir, "bootstrap")
	if old, err := os.ReadFile(bin + ".key"); err == nil && string(old) == key {
		if _, err := os.Stat(bin); err == nil {
			h.buildLog("%s: reused %s\n", fn.Dir, bin)
			return bin, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambdahost: %s: %w", fn.Name, err)
	}
	// Build beside the target and rename, so a concurrent reader (another
	// host sharing the cache) never runs half a binary.
	tmp := filepath.Join(dir, ".bootstrap-"+randomHex(4))
	defer func() { _ = os.Remove(tmp) }() // fails (harmlessly) once renamed
	args := append(append([]string{"build"}, buildFlags...), "-o", tmp, ".")
	cmd := h.goCommand(ctx, src, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambdahost: build %s (in %s): %w\n%s", fn.Name, src, err, out.Bytes())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("lambdahost: %s: %w", fn.Name, err)
	}
	// The key goes last: a binary without its key is rebuilt next time.
	if err := writeFileAtomic(bin+".key", []byte(key)); err != nil {
		return "", fmt.Errorf("lambdahost: %s: %w", fn.Name, err)
	}
	h.buildLog("%s: built %s in %s\n", fn.Dir, bin, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// goCommand is a go command run in dir for this machine, with the
// repository's workspace whatever the caller's environment says.
func (h *Host) goCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if work := filepath.Join(h.opts.RepoRoot, "go.work"); fileExists(work) {
		cmd.Env = append(cmd.Env, "GOWORK="+work)
	}
	return cmd
}

func (h *Host) buildLog(format string, args ...any) {
	if h.opts.BuildLog != nil {
		fmt.Fprintf(h.opts.BuildLog, "lambdahost: "+format, args...)
	}
}

// sourceKey hashes what a bootstrap is built from: the toolchain, target and
// flags, the workspace and functions module files, and the sources under dirs (relative to root).
func sourceKey(root string, dirs []string, goVersion string) (string, error) {
	sum := sha256.New()
	fmt.Fprintf(sum, "lambdahost build 1\n%s %s/%s CGO_ENABLED=0 %q\n", goVersion, runtime.GOOS, runtime.GOARCH, buildFlags)
	files := []string{}
	// The functions share one module: its go.mod and go.sum sit above the
	// function's folder.
	for _, f := range []string{"go.work", "go.work.sum", "functions/go.mod", "functions/go.sum"} {
		if fileExists(filepath.Join(root, f)) {
			files = append(files, f)
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				// The go command ignores these folders too.
				if path != filepath.Join(root, dir) && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				return nil
			}
			if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	for _, rel := range files {
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			return "", err
		}
		content := sha256.New()
		_, err = io.Copy(content, f)
		_ = f.Close() // read only
		if err != nil {
			return "", err
		}
		fmt.Fprintf(sum, "%s %x\n", filepath.ToSlash(rel), content.Sum(nil))
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + "." + randomHex(4)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
