// Package deploy holds no code: its tests hold deploy/ to what it promises.
// They render every kustomization with the pinned kustomize
// (scripts/install-deps.sh), read the objects — RBAC exactly as
// least-privileged as deploy/base/coordinator-rbac.yaml says, the shipped
// configurations valid for internal/config and agreeing with the Pods they
// configure, the alert rules and dashboard naming only metrics and labels
// that docs/contracts.md documents, the Prometheus configuration and alert
// rules passing the pinned promtool's checks and alerts_test.yaml — and
// apply them with server-side apply to the cluster tier's real API server
// (internal/testsupport/kubelab), which must accept every object and admit
// every Pod under the restricted Pod Security Standard.
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package deploy
