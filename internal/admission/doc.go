// Package admission limits the work a prober or coordinator accepts: a
// token-bucket rate of new jobs, at most MaxConcurrent jobs running, and at
// most MaxWaiting waiting for a slot. Past those limits a job is refused at
// once with ResourceExhausted: a flood is turned away, never queued without
// bound. It depends on gRPC's status codes only.
//
// It must depend on nothing outside the standard library,
// google.golang.org/grpc/codes and google.golang.org/grpc/status.
package admission
