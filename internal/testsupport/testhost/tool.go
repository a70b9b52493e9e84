package testhost

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool finds a program that scripts/install-deps.sh installs (Jaeger, the
// Kubernetes control plane, etcd): on PATH, where scripts/test.sh puts the
// tools cache, or in that cache ($DSPROBE_CACHE, else the user cache
// directory's dsprobe). Without it the test skips, saying how to install
// it, or fails when CI is true.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	cache := os.Getenv("DSPROBE_CACHE")
	if cache == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(dir, "dsprobe")
		}
	}
	p := filepath.Join(cache, "tools", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := name + " is not installed: run scripts/install-deps.sh (it installs the pinned version)"
	if failInsteadOfSkip(os.Getenv) {
		t.Fatal(msg + " (CI is true, so this fails instead of skipping)")
	}
	t.Skip(msg)
	return ""
}
