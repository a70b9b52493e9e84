package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A demo that cannot run exits 3 and says why, in one line: here on a host
// whose loopback has no ::1.
func TestDemoWithoutIPv6Loopback(t *testing.T) {
	host := testhost.New(t).AddHost("no-ipv6-lo")
	if out, err := host.Run(context.Background(), "ip", "-6", "addr", "del", "::1/128", "dev", "lo"); err != nil {
		t.Fatalf("removing ::1: %v: %s", err, out)
	}
	var stdout, stderr bytes.Buffer
	var code int
	// The demo's listeners are made by the goroutine that runs it, on the
	// host's thread: that is where it finds no ::1.
	if err := host.Do(func() error {
		code = Run(context.Background(), []string{"demo"}, &stdout, &stderr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code != ExitInternal || !strings.Contains(stderr.String(), "the demo needs IPv6 on loopback (::1)") || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
		t.Errorf("got exit %d, stderr %q and stdout %q; want 3 and one line saying the demo needs ::1", code, stderr.String(), stdout.String())
	}
}
