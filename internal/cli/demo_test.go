package cli

import (
	"strings"
	"testing"
)

// The demo's exit code says whether it ran, not what its targets showed:
// they fail on purpose, and it exits 0 (TestDemo); bad flags exit 2; a demo
// that cannot run exits 3 (TestDemoWithoutIPv6Loopback). Its help says so.
func TestDemoExitCodes(t *testing.T) {
	stdout, _, code := run(t, "demo", "--help")
	if code != ExitOK || !strings.Contains(stdout, "Exit code 0 when the demo ran") || !strings.Contains(stdout, "3 when the demo could not run") {
		t.Errorf("demo --help: got exit %d and\n%s\nwant 0 and the exit codes explained", code, stdout)
	}
	if _, stderr, code := run(t, "demo", "extra"); code != ExitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("demo extra: got exit %d and %q, want 2", code, stderr)
	}
}
