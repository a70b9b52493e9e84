// Package diagnose holds every verdict rule of dsprobe, as pure functions
// over evidence types of its own: the per-family path verdict (Judge: the
// most fundamental failing layer, with one sentence a responder can act
// on), the client verdict (JudgeClient: LAYER_CLIENT for a client that fails
// or is too slow on a path that works), the merge of many probers'
// verdicts (Merge), the Service-aware verdict (JudgeService) and a
// Service's evidence table (EvidenceTableOf). Callers fill the evidence;
// diagnose does no I/O.
//
// With network evidence alone (no Kubernetes objects) it can name DNS,
// ROUTE, POLICY, LISTENER and APPLICATION. A ServiceEvidence adds what the
// Kubernetes objects behind a Service say — Nodes, Pods, the Service,
// EndpointSlices, the proxy mode, NetworkPolicies, the cluster DNS — in
// types of diagnose's own, which the one package that reads the API fills;
// JudgeService then names POD_ADDRESS, SERVICE and ENDPOINTS from the
// objects before it reads the connects, blames a silent drop on a
// NetworkPolicy only when the policies explain it, and a Service IP that
// fails while its endpoints answer on the datapath.
//
// Being pure, it judges evidence of its own types, so the packages that
// gather evidence (resolve, dial, probe, the prober, the coordinator),
// telemetry, gRPC, client-go, a DNS library and TLS all stay out of it, and
// each rule is tested as data. It speaks of families and outcomes with
// internal/dualstack, of layers with internal/layer and of listeners with
// internal/listener.
//
// It must depend on nothing outside the standard library, internal/dualstack,
// internal/layer and internal/listener.
// It must not depend on github.com/miekg/dns or crypto/tls.
package diagnose
