// Package prober is the prober's gRPC service: it admits a job (rate and
// concurrency limits), validates it, refuses targets outside its allow-list,
// runs the probe engine, writes spans and metrics, and returns the result.
// It never decides what to probe. cmd/prober only parses flags and calls
// Main.
package prober
