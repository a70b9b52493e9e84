// Package kubenode adds a real Kubernetes node to a kubelab cluster: a
// kubelet and containerd (with runc and the CNI bridge and host-local
// plugins) that run real containers, beside kubelab's kubelet-less node.
// Both share the node namespace, where the control plane, kube-proxy and
// every route to a Pod are; the real node's Pods sit on a bridge there,
// addressed from the node's dual Pod CIDRs (allocated by the
// controller-manager), so they reach and are reached by kubelab's Pods and
// Services. A kube-scheduler places Pods that name no node on the real node
// (kubelab's node is tainted against scheduling).
//
// Nothing is pulled: images are imported from OCI image-layout archives
// (WriteImage writes small ones of static binaries; ImportImage takes any),
// the sandbox image being the static program of kubenode/pause. containerd
// keeps its root, state, sockets, network namespaces and CNI state in one
// private directory; at the test's end every process, container, mount and
// cgroup of the node goes, and a later Start removes what a killed test
// process left behind.
//
// The binaries come from scripts/install-deps.sh (kubelet and kube-scheduler
// from scripts/kube at the control plane's version; containerd, runc and
// the CNI plugins pinned there). Like kubelab, the package needs root;
// without it or the binaries Start skips the test, or fails it when CI is
// true.
//
// It is test support: only tests and other test support may import it.
// It must not depend on internal/cli, internal/coordinator, internal/probe or
// internal/prober.
package kubenode
