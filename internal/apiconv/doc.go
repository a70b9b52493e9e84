// Package apiconv converts between the API messages (gen/dsprobe/v1) and the
// engine's types: a ProbeRequest into a validated probe.Request, and a
// probe.Result into the ProbeResult every client reads. The CLI, the prober
// and the coordinator all go through it, so a request is validated in one
// place and a result has one shape.
//
// It sits below the servers that call it: it knows nothing of their
// transport, their telemetry or the command line.
//
// It must not depend on internal/cli, internal/coordinator, internal/daemon,
// internal/prober or internal/telemetry.
package apiconv
