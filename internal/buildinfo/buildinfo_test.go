package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	const rev = "9a56cda1f2e3a4b5c6d7e8f90123456789abcdef"
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want Info
	}{
		{"no build information", nil, false, Info{DevelVersion, UnknownRevision, false, runtime.Version()}},
		{"go run: no version, no VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: ""}}, true,
			Info{DevelVersion, UnknownRevision, false, "go1.26.8"}},
		{"go build in a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, true,
			Info{DevelVersion, rev, false, "go1.26.8"}},
		{"go install at a version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, true,
			Info{"v0.3.0", rev, true, "go1.26.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := From(tt.bi, tt.ok); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{DevelVersion, UnknownRevision, false, "go1.26.8"}, "prober (devel) revision unknown go1.26.8"},
		{Info{"v0.3.0", "abc123", true, "go1.26.8"}, "prober v0.3.0 revision abc123 (modified) go1.26.8"},
	}
	for _, tt := range tests {
		if got := tt.info.Line("prober"); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// The test binary itself carries build information: Read must return it
// whole, one line, never an empty field.
func TestReadIsOneLine(t *testing.T) {
	info := Read()
	if info.Version == "" || info.Revision == "" || info.GoVersion == "" {
		t.Errorf("got %+v, want every field set", info)
	}
	if line := info.Line("prober"); strings.Contains(line, "\n") {
		t.Errorf("got %q, want one line", line)
	}
}
