// Package allowlist decides which targets a prober may connect to. A prober
// is a connect-anywhere machine; left open it is an SSRF and port-scanning
// tool, so every job is checked twice: the target's name (or literal) and
// port before anything is sent, and every address DNS returns before any
// connect, so a name that is allowed cannot rebind to an address that is not.
//
// It does no I/O and depends on nothing else in the project.
//
// It must depend on the standard library alone.
package allowlist
