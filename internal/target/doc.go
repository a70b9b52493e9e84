// Package target parses what a user asks dsprobe to probe: host:port,
// [v6]:port, or a URL whose scheme implies the application check. It does no
// I/O and depends on nothing else in the project.
//
// It must depend on the standard library alone.
package target
