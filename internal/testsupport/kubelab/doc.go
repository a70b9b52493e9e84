// Package kubelab runs a real single-node Kubernetes cluster for the cluster
// test tier, without Docker or a kubelet: etcd, kube-apiserver,
// kube-controller-manager and kube-proxy (nftables mode) run inside a node
// namespace of a testhost lab, and Pods are network namespaces behind that
// node (testhost.AddRoutedHost) whose Pod objects the lab creates and marks
// Running and Ready with their dual-stack addresses, as a kubelet would. The
// controllers do the rest: EndpointSlices for each family, ClusterIPs from
// both Service ranges, and kube-proxy's DNAT from a Pod to a Service. The
// dual-stack faults that no object alone makes are made as in a real
// cluster: a Pod the CNI gave one family (AddSingleStackPod), a ClusterIP
// the node drops before kube-proxy (DropServiceIP), AAAA records CoreDNS
// withholds (WithholdAAAA).
//
// The binaries come from scripts/install-deps.sh (the control plane built
// from the module proxy at the version of scripts/kube/go.mod, etcd from
// Debian). Like testhost, the package needs root; without it or the
// binaries Start skips the test, or fails it when CI is true.
//
// The lab is the ground the product is tested on, so it uses none of the
// packages whose tests run on it (it asks cluster DNS with internal/resolve
// only).
//
// It is test support: only tests and other test support may import it.
// It must not depend on internal/cli, internal/coordinator, internal/probe or
// internal/prober.
package kubelab
