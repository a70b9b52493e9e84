// Command coordinator fans probe jobs out to probers: see
// internal/coordinator, which parses the flags and runs the service; main only
// wires the signals and the exit code. The binary carries the coordinator
// alone, not the command line, the demo or the prober's service.
//
// It must import nothing outside the standard library and
// internal/coordinator.
// It must not depend on internal/cli, internal/demo or internal/prober.
package main
