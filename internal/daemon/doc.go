// Package daemon is what the prober and coordinator binaries share: the
// Main wrapper (--help, --version, the configuration internal/config makes
// of the flags and the --config file, and the exit codes of
// docs/contracts.md), the authenticated gRPC server options (TLS/mTLS or
// bearer token, trace propagation), and serving until the context ends with
// a bounded graceful stop.
//
// Only the two servers use it; it may use any product package below them.
//
// Only internal/coordinator and internal/prober may import it.
// It may depend on any package but test support.
package daemon
