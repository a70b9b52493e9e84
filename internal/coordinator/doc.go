// Package coordinator is the Coordinator service: it finds probers (behind
// the Discovery interface: a static list, or prober Pods watched through
// the Kubernetes API by internal/kube), fans a probe job out to the ready
// ones with bounded concurrency, streams one result per prober as each
// arrives and then a summary, and keeps finished jobs (bounded) for GetJob.
// One slow or dead prober never fails or stalls the job: it is reported in
// its own entry when its budget runs out. Each job takes the probers
// discovery knows when it starts, so a Pod that appears or goes away
// during a job neither joins it nor holds it longer than its budget.
//
// It reaches probers over gRPC alone, so it never carries the prober's
// service.
//
// It must not depend on internal/prober.
package coordinator
