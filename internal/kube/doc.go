// Package kube is dsprobe's only door to the Kubernetes API: it resolves the
// API server as kubectl does (kubeconfig, --context, in-cluster), and reads
// what dsprobe needs of a cluster — prober Pods for the coordinator's
// discovery, and the objects behind a Service's evidence (Nodes, Pods,
// Services, EndpointSlices, NetworkPolicies, the kube-proxy configuration),
// and DNSLadders with their status (which DNSLadderStore also writes) —
// checks callers' tokens (TokenReview, SubjectAccessReview), and elects one
// replica by a Lease (WhileLeading). It turns what it reads into the
// project's own types (internal/diagnose's evidence, the API's Prober,
// internal/ladder's DNSLadder), so nothing else imports client-go.
//
// The coordinator watches with shared informers (one List, then Watch):
// the prober Pods (Discovery), and the objects of any Service's evidence
// (EvidenceCache), each trimmed to what is read; the CLI makes one-shot
// Lists. Both read a Service's objects with the same code, through a
// reader each satisfies.
//
// It must not depend on internal/cli, internal/coordinator, internal/prober,
// internal/probe or internal/demo.
package kube
