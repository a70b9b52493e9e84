package cli

import (
	"context"
	"io"
	"strings"
	"testing"
)

// dsprobe simulate and dsprobe order with any arguments end in a verdict
// (0 or 1) or a usage error (2) with a message; never "could not run the
// check" (3) or a panic. Both commands are pure: no network, so any input is safe.
func FuzzSimulateAndOrder(f *testing.F) {
	for _, s := range []string{
		"2001:db8::1=timeout", "192.0.2.1=connected:2ms", "fd00::1=refused:1h", "10.0.0.1=connected:-1s",
		"::ffff:10.0.0.1=reset", "fe80::1%eth0=unreachable", "x=y", "=", "10.0.0.1=timeout:1s", "10.0.0.1=canceled",
	} {
		f.Add("go", s, "10.0.0.1")
	}
	f.Add("python,attempt-timeout=1s", "2001:db8::1=prohibited:5ms", "glibc")
	f.Fuzz(func(t *testing.T, profile, attempt, extra string) {
		for _, args := range [][]string{
			{"simulate", "--profile", profile, "--attempt", attempt, "--attempt", "192.0.2.9=connected:1ms"},
			{"simulate", "--profile", profile, "--attempt", attempt, "--src", extra, "-o", "json"},
			{"order", "--policy", extra, strings.SplitN(attempt, "=", 2)[0], "192.0.2.1"},
		} {
			var stderr strings.Builder
			code := Run(context.Background(), args, io.Discard, &stderr)
			switch {
			case code == 2 && stderr.Len() == 0:
				t.Errorf("%q: exit 2 without a message", args)
			case code != 0 && code != 1 && code != 2:
				t.Errorf("%q: exit %d (%s), want 0, 1 or 2", args, code, stderr.String())
			}
		}
	})
}
