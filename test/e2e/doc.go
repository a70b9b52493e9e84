// Package e2e holds no code: its tests run the real dsprobe, prober and
// coordinator binaries as separate processes, each in its own network
// namespace (internal/testsupport/testhost), over mutual TLS, and check what a user sees.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package e2e
