// Package telemetry writes what a probe found as OpenTelemetry spans and
// Prometheus metrics. A probe returns its result as data; this package turns
// a finished result into one span per DNS query and per connection attempt
// (with the timestamps they really had), under the caller's span, so a job's
// trace shows the coordinator, each prober, each query and each attempt.
//
// Span names, attribute names (semantic conventions where they exist) and
// metric names are a contract, listed in docs/contracts.md. Metric labels
// never carry an address or error text.
//
// It reads finished results, the engine's and the API's, and writes them with
// the OpenTelemetry and Prometheus libraries; it imports nothing else.
//
// It must import nothing outside the standard library,
// go.opentelemetry.io/..., github.com/prometheus/..., gen/dsprobe/v1,
// internal/dualstack, internal/layer, internal/probe and internal/target.
package telemetry
