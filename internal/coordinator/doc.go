// Package coordinator is the Coordinator service: it finds probers (behind
// the Discovery interface: a static list today, the Kubernetes API next),
// fans a probe job out to them with bounded concurrency, streams one result
// per prober as each arrives and then a summary, and keeps finished jobs
// (bounded) for GetJob. A job is authorised, when a JobAuthorizer is wired
// in, in every namespace of the probers it would use, before any is asked. One slow or dead prober never fails or stalls the
// job: it is reported in its own entry when its budget runs out.
//
// It reaches probers over gRPC alone, so it never carries the prober's
// service.
//
// It must not depend on internal/prober.
package coordinator
