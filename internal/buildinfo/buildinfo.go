package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// What a field holds when the build recorded nothing for it: "go run" and
// "go test" binaries have no module version, and a build outside a VCS
// checkout (or with -buildvcs=false) has no revision.
const (
	DevelVersion    = "(devel)"
	UnknownRevision = "unknown"
)

// Info identifies a build.
type Info struct {
	// Version is the main module's version (v1.2.3, a pseudo-version), or
	// DevelVersion.
	Version string
	// Revision is the VCS revision the binary was built from, or
	// UnknownRevision.
	Revision string
	// Modified says the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the Go toolchain that built the binary (go1.26.8).
	GoVersion string
}

// Read returns the running binary's Info.
func Read() Info { return From(debug.ReadBuildInfo()) }

// From returns the Info of bi, as debug.ReadBuildInfo returns it (ok false:
// the binary carries none).
func From(bi *debug.BuildInfo, ok bool) Info {
	info := Info{Version: DevelVersion, Revision: UnknownRevision, GoVersion: runtime.Version()}
	if !ok || bi == nil {
		return info
	}
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Line is the one line a command prints for --version:
//
//	prober v0.3.0 revision 9a56cda1f2e3... go1.26.8
//
// with "(modified)" after the revision of a build from a checkout with
// uncommitted changes.
func (i Info) Line(command string) string {
	revision := i.Revision
	if i.Modified {
		revision += " (modified)"
	}
	return fmt.Sprintf("%s %s revision %s %s", command, i.Version, revision, i.GoVersion)
}
