// Command dsprobe is the dsprobe command line: it probes dual-stack paths,
// orders addresses as RFC 6724 does, and predicts what real clients do on a
// path. See internal/cli for the commands; main only wires the signals and the
// exit code.
//
// It must import nothing outside the standard library and internal/cli.
package main
