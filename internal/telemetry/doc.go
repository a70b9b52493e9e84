// Package telemetry writes what a probe found as OpenTelemetry spans and
// Prometheus metrics. A probe returns its result as data; this package turns
// a finished result into one span per DNS query and per connection attempt
// (with the timestamps they really had), under the caller's span, so a job's
// trace shows the coordinator, each prober, each query and each attempt.
//
// Attribute names follow shared/DESIGN.md (semantic conventions where they
// exist). Metric labels never carry an address or error text.
package telemetry
