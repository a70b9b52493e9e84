// Package apicontract holds only tests: they pin the API of proto/dsprobe/v1
// to the contract of shared/DESIGN.md ("Contracts users script against")
// and to the internal constants the results are converted from, so a
// renamed enum value, a renumbered constant or a duration that protojson
// would render as a string fails here rather than in a user's script.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package apicontract
