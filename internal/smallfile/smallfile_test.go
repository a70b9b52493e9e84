package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("nameserver 10.96.0.10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(small, 64); err != nil || string(b) != "nameserver 10.96.0.10\n" {
		t.Errorf("small file: got %q, %v", b, err)
	}
	if b, err := Read(exact, 64); err != nil || len(b) != 64 {
		t.Errorf("a file of exactly the limit: got %d bytes, %v", len(b), err)
	}
	if _, err := Read(exact, 63); err == nil || !strings.Contains(err.Error(), exact+" is larger than 63 bytes") {
		t.Errorf("a file over the limit: got %v, want an error naming it and the limit", err)
	}
	if _, err := Read(filepath.Join(dir, "missing"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: got %v, want fs.ErrNotExist", err)
	}
}

// An endless file ends in an error after the limit, not in a hang.
func TestReadEndless(t *testing.T) {
	_, err := Read("/dev/zero", Limit)
	if err == nil || !strings.Contains(err.Error(), "/dev/zero is larger than 1 MiB") {
		t.Errorf("got %v, want the limit's error", err)
	}
}
