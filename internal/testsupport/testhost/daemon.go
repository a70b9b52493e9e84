package testhost

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Start runs a long-lived program (a server under test, a third-party
// daemon) inside the host until the test ends; cleanup kills it, waits for
// it, and logs its output when the test failed.
func (h *Host) Start(t testing.TB, name string, args ...string) {
	t.Helper()
	h.StartCommand(t, h.Command(context.Background(), name, args...))
}

// StartCommand is Start for a command made with Command and adjusted (its
// environment, its directory).
func (h *Host) StartCommand(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s:\n%s", strings.Join(cmd.Args, " "), out.String())
		}
	})
}

// WaitConnect polls from the host until ap accepts a TCP connection, for a
// server that announces no readiness of its own. It gives up, failing the
// test, after 15 s.
func (h *Host) WaitConnect(t testing.TB, ap netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := h.DialContext(ctx, "tcp", ap.String())
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never accepted a connection from %s: %v", ap, h.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RunExit runs cmd (made with Command) to its end and returns its output
// and exit code; a command that could not run at all fails the test.
func RunExit(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}
