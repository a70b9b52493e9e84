package cli

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	stamped := func(e *env) {
		e.buildInfo = func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "false"}}}, true
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		stdout, stderr, code := runIn(t, stamped, args...)
		want := "dsprobe v1.2.3\nrevision  0123abc\ngo        go1.99.1\n"
		if code != ExitOK || stdout != want {
			t.Errorf("%v: got exit %d, %q (%s), want 0 and %q", args, code, stdout, stderr, want)
		}
	}
	for _, args := range [][]string{{"version", "-o", "json"}, {"--version", "-o", "json"}} {
		stdout, stderr, code := runIn(t, stamped, args...)
		var got map[string]any
		if err := json.Unmarshal([]byte(stdout), &got); code != ExitOK || err != nil {
			t.Fatalf("%v: got exit %d and %q (%s), want 0 and JSON", args, code, stdout, stderr)
		}
		want := map[string]any{"version": "v1.2.3", "revision": "0123abc", "modified": false, "goVersion": "go1.99.1"}
		if len(got) != len(want) {
			t.Errorf("%v: got keys %v, want %v", args, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%v: %s: got %v, want %v", args, k, got[k], v)
			}
		}
	}
	// The real build information of this test binary reads too.
	if stdout, _, code := run(t, "version"); code != ExitOK || !strings.HasPrefix(stdout, "dsprobe ") || !strings.Contains(stdout, "go        go") {
		t.Errorf("got exit %d and %q, want this binary's version", code, stdout)
	}
	if _, stderr, code := run(t, "version", "extra"); code != ExitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("got exit %d and %q, want 2 and the stray argument named", code, stderr)
	}
}
