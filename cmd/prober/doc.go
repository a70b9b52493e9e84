// Command prober serves probe jobs over gRPC from inside a cluster (or a test
// host): see internal/prober, which parses the flags and runs the service;
// main only wires the signals and the exit code. The binary carries the prober
// alone: not the command line, the demo or the coordinator, and no Kubernetes
// client, for a prober reads nothing of the cluster (it asks only
// TokenReview, over the API's plain HTTP, through internal/authn).
//
// It must import nothing outside the standard library and internal/prober.
// It must not depend on k8s.io/client-go/..., internal/cli,
// internal/coordinator or internal/demo.
package main
