// Package modroot finds the module's root directory for tests that read the
// repository's own files (go.mod, deploy/, docs/).
//
// It is test support: only tests and other test support may import it.
// It must depend on nothing outside the standard library.
package modroot
