// Package cli is the dsprobe command line: flag parsing, the commands, and
// their table and JSON output. cmd/dsprobe only calls Run.
//
// Exit codes are a contract (docs/contracts.md): 0 every requested family
// passed, 1 a family (or a predicted client) failed, 2 bad usage or input,
// 3 dsprobe could not run the check.
//
// It is the top of the graph: it may use every product package, and only the
// dsprobe command uses it.
//
// Only cmd/dsprobe may import it.
// It may depend on any package but test support.
package cli
