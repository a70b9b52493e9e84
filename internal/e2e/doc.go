// Package e2e holds no code: its tests run the real dsprobe, prober and
// coordinator binaries as separate processes, each in its own network
// namespace (internal/testhost), over mutual TLS, and check what a user sees.
package e2e
