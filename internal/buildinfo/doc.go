// Package buildinfo says which build of dsprobe is running: the module's
// version, the VCS revision it was built from and the Go toolchain that built
// it, as the Go linker recorded them in the binary. Every command prints it
// the same way (prober --version, coordinator --version, and later dsprobe
// version), so a bug report names the build exactly.
//
// It reads the running binary's own build information and nothing else.
//
// It must depend on the standard library alone.
package buildinfo
