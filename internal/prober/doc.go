// Package prober is the prober's gRPC service: it admits a job (rate and
// concurrency limits), validates it, refuses targets outside its allow-list,
// runs the probe engine, writes spans and metrics, and returns the result.
// It never decides what to probe. cmd/prober only parses flags and calls
// Main.
//
// It is the coordinator's peer, reached over gRPC, and reads nothing of the
// Kubernetes API: with --token-review it asks TokenReview alone, through
// internal/authn's plain HTTP client.
//
// Only cmd/prober and internal/demo may import it.
// It must not depend on k8s.io/client-go/... or internal/coordinator.
package prober
