package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

const versionHelp = `Prints the module version of this dsprobe, the VCS revision it was built
from (and whether the work tree had uncommitted changes), and the Go version
that built it, as the Go toolchain stamped them into the binary. A build
from a work tree has version (devel); a build without VCS information
(-buildvcs=false, or outside a repository) has revision unknown.

JSON: {"version", "revision", "modified", "goVersion"}.`

// buildInfo is what a binary knows of its own build.
type buildInfo struct {
	// Version is the main module's version: a tag such as v1.2.3 for
	// go install MODULE@VERSION, "(devel)" for a build from a work tree.
	Version string `json:"version"`
	// Revision is the VCS revision built, "unknown" when not stamped.
	Revision string `json:"revision"`
	// Modified reports uncommitted changes in the work tree built.
	Modified bool `json:"modified"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// readBuildInfo reads the build information read (debug.ReadBuildInfo)
// returns, filling what it lacks with "(devel)" and "unknown".
func readBuildInfo(read func() (*debug.BuildInfo, bool)) buildInfo {
	info := buildInfo{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := read()
	if !ok {
		return info
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("version", "[-o table|json]", versionHelp, e.stdout)
	out := addOutputFlag(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return argsErrorf(fs, "[-o table|json]", "unexpected argument %q", positional[0])
	}
	info := readBuildInfo(e.buildInfo)
	if *out == "json" {
		return writeJSON(e.stdout, info)
	}
	modified := ""
	if info.Modified {
		modified = " (modified)"
	}
	fmt.Fprintf(e.stdout, "dsprobe %s\nrevision  %s%s\ngo        %s\n", info.Version, info.Revision, modified, info.GoVersion)
	return nil
}
