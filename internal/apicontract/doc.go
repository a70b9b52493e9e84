// Package apicontract holds only tests: they pin the API of proto/dsprobe/v1
// to the contract of shared/DESIGN.md ("Contracts users script against")
// and to the internal constants the results are converted from, so a
// renamed enum value, a renumbered constant or a duration that protojson
// would render as a string fails here rather than in a user's script.
package apicontract
