// Package apicontract holds only tests: they pin the API of proto/dsprobe/v1,
// the Prometheus metrics and the client profile names to the contract
// reference users script against, docs/contracts.md (read from its
// delimited tables, compared both ways), and the API's enums to the internal
// constants the results are converted from, so a renamed enum value or
// metric, a value added without documentation, a renumbered constant or a
// duration that protojson would render as a string fails here rather than
// in a user's script.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package apicontract
