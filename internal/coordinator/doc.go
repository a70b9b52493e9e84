// Package coordinator is the Coordinator service: it finds probers (behind
// the Discovery interface: a static list, or prober Pods watched through
// the Kubernetes API by internal/kube), fans a probe job out to the ready
// ones with bounded concurrency, streams one result per prober as each
// arrives and then a summary, and keeps finished jobs (bounded) for GetJob.
// One slow or dead prober never fails or stalls the job: it is reported in
// its own entry when its budget runs out. A job is authorised, when a
// JobAuthorizer is wired in, in every namespace of the probers it would
// use, before any is asked. Each job takes the probers
// discovery knows when it starts: a Pod that appears during a job joins
// the next one, and a call to a Pod that is gone ends when it goes.
//
// A Service job (RunProbeRequest.service) has every prober measure the
// Service through its Probe RPC (internal/servicecheck) and judges each
// family with the Service's objects, which the coordinator watches
// (kube.EvidenceCache) and the probers never read.
//
// It reaches probers over gRPC alone, so it never carries the prober's
// service.
//
// It must not depend on internal/prober.
package coordinator
