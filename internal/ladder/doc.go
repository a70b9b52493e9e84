// Package ladder is the DNS ladder: AAAA published step by step — internal
// Service DNS first, then synthetic clients, then a small real client group,
// then broad publication — each step gated by evidence. It holds the
// DNSLadder resource (the same shape in the CRD dnsladders.dsprobe.io and in
// a YAML file), its validation, the schedule, and the judgement of a run: per
// rung, from what its vantage points measured (the A and AAAA answers, the
// addresses attempted, each family's verdict, the client predictions), whether
// the rung holds its gates, fails (with the failing layer and a sentence),
// waits for a lower rung, or sees a publication that does not match it (AAAA
// visible too early, or missing where it should be). The status it keeps —
// states, consecutive passes, the last runs, the highest rung cleared,
// conditions with transition times — is plain data that serialises to JSON,
// so it survives a restart in the CRD's status. A Scheduler climbs every
// ladder of a Store on its schedule and writes each climb back.
//
// It is pure: running the jobs (the CLI, the coordinator) and reading or
// writing the resource (internal/kube) happen in the packages that call it,
// and time is passed in, so schedules and soaks are tested without sleeping.
// It speaks of layers with internal/layer, checks targets with
// internal/target and client profiles with internal/happyeyeballs.
//
// It must depend on nothing outside the standard library, internal/layer,
// internal/target, internal/happyeyeballs, internal/dualstack and
// internal/smallfile.
// It must not depend on k8s.io/client-go/..., google.golang.org/grpc/... or gen/....
package ladder
