// Package servicecheck measures a Kubernetes Service as a client reaches it,
// from one vantage point: its name (A and AAAA), each ClusterIP and each
// ready endpoint directly, on the Service port (the endpoints on the
// EndpointSlices' port for it). It infers the application's listener from
// the endpoints' connects and adds what it measured to each family's
// diagnose.ServiceEvidence, for diagnose.JudgeService and the evidence
// table.
//
// It runs no probe itself: the caller passes how to run one — the engine
// in this process (the CLI's svc/NAME and dsprobe evidence), or a prober's
// Probe RPC (the coordinator) — so the measuring is written once whatever
// probes. The Kubernetes objects come from the caller too (internal/kube
// reads them).
//
// It must depend on nothing outside the standard library, internal/diagnose,
// internal/dualstack, internal/layer, internal/listener and internal/target.
package servicecheck
