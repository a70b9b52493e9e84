// Package appcheck runs the application check over a TCP connection the
// prober has already made to one specific address: nothing (TCP), an HTTP or
// HTTPS GET, or a gRPC health check (grpc.health.v1.Health/Check).
//
// The check never dials. The prober connects to every resolved address
// itself and must learn whether the application answers on that address, so
// the HTTP transport and the gRPC client are handed the given connection and
// refuse to open another; the target's name (Spec.Host) travels only in the
// Host header, the TLS server name and gRPC's :authority.
//
// A failure is data: Run returns a Result whose Detail says in one sentence
// which check failed and why ("HTTP status 500 Internal Server Error is above
// 399", "x509: certificate is valid for a.example, not b.example"). A server
// that sends garbage, closes at once or never answers fails the check; the
// check is bounded by its context and Spec.Timeout.
//
// The package depends on the standard library and google.golang.org/grpc
// only, nothing of the project's, so it can be tested on loopback alone.
//
// It must depend on nothing outside the standard library and
// google.golang.org/grpc/....
package appcheck
