// Package diagnose turns the evidence gathered for one address family into a
// verdict: whether the family passed and, if not, the most fundamental
// failing layer with one sentence a responder can act on. It does no I/O.
//
// With network evidence alone (no Kubernetes objects) it can name DNS,
// ROUTE, POLICY, LISTENER and APPLICATION; the Kubernetes layers come from
// the coordinator's evidence.
package diagnose
