package cli

import (
	"context"
	"fmt"

	"github.com/dsprobe/dsprobe/internal/buildinfo"
)

const versionHelp = `Prints the module version of this dsprobe, the VCS revision it was built
from (and whether the work tree had uncommitted changes), and the Go version
that built it, as the Go toolchain stamped them into the binary. A build
from a work tree has version (devel); a build without VCS information
(-buildvcs=false, or outside a repository) has revision unknown.

JSON: {"version", "revision", "modified", "goVersion"}.`

// versionJSON is the version command's JSON shape (buildinfo.Info's fields
// under the documented keys).
type versionJSON struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"goVersion"`
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
	info := buildinfo.From(e.buildInfo())
	if *out == "json" {
		return writeJSON(e.stdout, versionJSON(info))
	}
	modified := ""
	if info.Modified {
		modified = " (modified)"
	}
	fmt.Fprintf(e.stdout, "dsprobe %s\nrevision  %s%s\ngo        %s\n", info.Version, info.Revision, modified, info.GoVersion)
	return nil
}
