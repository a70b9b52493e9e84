package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/dsprobe/dsprobe/internal/dial"
)

// A probe this machine could not run (out of file descriptors) exits 3 with
// one line that says what ran out and what to do; it is not dsprobe's bug.
func TestExitCodeLocalFault(t *testing.T) {
	fault := dial.LocalFaultOf(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)})
	var stderr bytes.Buffer
	code := exitCode(&env{stdout: &bytes.Buffer{}, stderr: &stderr}, "dsprobe probe", fmt.Errorf("probing svc.example:80: %w", fault))
	msg := stderr.String()
	if code != ExitInternal || strings.Count(msg, "\n") != 1 {
		t.Fatalf("got exit %d and %q, want %d and one line", code, msg, ExitInternal)
	}
	for _, want := range []string{"could not run the check", "file descriptors", "ulimit -n", "too many open files"} {
		if !strings.Contains(msg, want) {
			t.Errorf("got %q, want it to mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "internal error") {
		t.Errorf("got %q, want no internal error: the machine ran out, dsprobe did not fail", msg)
	}
}
