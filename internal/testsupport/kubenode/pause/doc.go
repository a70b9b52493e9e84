// Command pause is the sandbox ("pause") image of the cluster tier's real
// node: the process that holds a Pod's namespaces while its containers come
// and go. No registry is reachable from the tier, so the node cannot pull
// registry.k8s.io/pause; this static program, built when the node starts,
// does the same: it waits for SIGTERM or SIGINT and exits 0.
//
// It is test support: only tests and other test support may import it.
// It must import nothing outside the standard library.
package main
