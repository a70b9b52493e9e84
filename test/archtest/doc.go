// Package archtest holds every package of dsprobe to the dependency promise
// its doc.go makes. The pure packages stay pure (internal/dualstack a leaf,
// internal/happyeyeballs and internal/diagnose free of the network-facing
// packages), the commands only wire, and no product package imports test
// support. Its test lists the whole graph with one go list call, checks
// every promise, and reports every broken one at once, each with the chain
// of imports that brings the forbidden package in:
//
//	internal/diagnose: got internal/diagnose -> internal/resolve -> github.com/miekg/dns, want no dependency on github.com/miekg/dns, ...
//
// A package's doc.go says in prose what the package is for and what it must
// not depend on, and ends with its rule: a last paragraph made only of the
// sentences below. LIST is a list of import paths separated by commas, the
// last one joined by "and" or "or" ("a, b and c", "a or b", "a"). A path
// that starts with internal/, cmd/ or gen/ is relative to the module; any
// other is a full import path (github.com/miekg/dns, crypto/tls). A path
// ending in /... stands for that package and every package under it.
//
//   - "It must depend on LIST alone." or "It must depend on nothing outside
//     LIST." Every package it depends on, directly or not, is in LIST, which
//     may name "the standard library". The project's own packages in LIST
//     are followed, so their dependencies must be in LIST too; a third-party
//     package in LIST brings its own dependencies with it.
//   - "It must import nothing outside LIST." The same for its direct imports
//     alone: what a command's main package may wire.
//   - "It must not depend on LIST." No package it depends on, directly or
//     not, is in LIST.
//   - "It may depend on any package but test support." Nothing more than
//     every product package promises: for the packages at the top of the
//     graph, which use everything below them.
//   - "Only LIST may import it." None of the project's packages but those in
//     LIST imports it.
//   - "It is test support: only tests and other test support may import
//     it." No package without this sentence imports it.
//
// A rule has at least one of the first four sentences. Tests may import
// anything: the graph is the packages as built, without their tests, for
// the platform the test runs on. Generated packages (gen/) carry no rule.
// A violation the project knows of and means to fix is listed, with its
// reason, in the test's known exceptions; the test logs it, and fails once
// the violation is gone until the exception is deleted too.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package archtest
