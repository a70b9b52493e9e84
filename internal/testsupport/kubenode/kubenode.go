package kubenode

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

const (
	// NodeName is the real node's name, beside kubelab.NodeName.
	NodeName = "real"
	// PauseImage is the sandbox image every Pod's namespaces are held by,
	// imported when the node starts.
	PauseImage = "dsprobe.test/pause:1"

	// startBudget bounds each wait of Start and of the helpers: the
	// kubelet's registration, the node's Pod CIDRs, its readiness.
	startBudget = 120 * time.Second
	// podLogsDir is where, under the node's directory, the kubelet keeps
	// its containers' logs.
	podLogsDir = "pod-logs"
	// commandBudget bounds each ctr or runc command.
	commandBudget = 2 * time.Minute
	// The plugins of the node's network: the bridge and its address
	// management (containerd brings the loopback up itself).
	bridgePlugin, ipamPlugin = "bridge", "host-local"
)

// Node is a running real node. Its methods that take a testing.TB call
// t.Fatal on failure and must run on the test's goroutine.
type Node struct {
	cluster *kubelab.Cluster
	dir     string // everything of the node's: see dirPrefix
	socket  string // containerd's gRPC socket
	ctr     string

	// PodCIDR4 and PodCIDR6 are the node's Pod CIDRs, which its Pods'
	// addresses come from.
	PodCIDR4, PodCIDR6 netip.Prefix
}

// Start adds a real node to c and waits until it is Ready with its CNI
// network configured and the sandbox image imported. It starts a
// kube-scheduler for the cluster and taints kubelab's kubelet-less node so
// that Pods without a nodeName land on the real one. A cluster has one real
// node: it is named NodeName and owns the node namespace's bridge.
// Everything stops and is removed when the test ends.
func Start(t testing.TB, c *kubelab.Cluster) *Node {
	t.Helper()
	bins := map[string]string{}
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "kubelet", "kube-scheduler", "cni-plugins"} {
		bins[name] = testhost.Tool(t, name)
	}
	for _, plugin := range []string{bridgePlugin, ipamPlugin} {
		if _, err := os.Stat(filepath.Join(bins["cni-plugins"], plugin)); err != nil {
			t.Fatalf("kubenode: the CNI plugin %s is missing (run scripts/install-deps.sh): %v", plugin, err)
		}
	}
	removeStale(t, bins["runc"])
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cluster: c, dir: dir, socket: filepath.Join(dir, "containerd.sock"), ctr: bins["ctr"]}
	// Registered before any process starts, so it runs after their
	// cleanups have killed them.
	t.Cleanup(func() {
		if err := teardown(dir, bins["runc"]); err != nil {
			t.Errorf("kubenode: removing the node: %v", err)
		}
	})
	// The API server cannot fetch container logs from this kubelet (it
	// holds no client certificate the kubelet would trust), so a failed
	// test shows them from the files the kubelet keeps.
	t.Cleanup(func() {
		if t.Failed() {
			n.logContainers(t)
		}
	})

	pause := buildPause(t, dir)
	pauseArchive := filepath.Join(dir, "pause.tar")
	if err := WriteImage(pauseArchive, Image{Ref: PauseImage, Files: map[string]string{"pause": pause}, Entrypoint: []string{"/pause"}, User: "65535"}); err != nil {
		t.Fatal(err)
	}
	n.startContainerd(t, bins)
	n.ImportImage(t, pauseArchive)

	n.startScheduler(t, bins["kube-scheduler"])
	n.startKubelet(t, bins["kubelet"])
	n.waitPodCIDRs(t)
	n.writeCNIConfig(t)
	n.waitReady(t)
	return n
}

// Kubeconfig returns the path of the cluster's administrator kubeconfig:
// the API server is reached at the node's address, from the node namespace
// or a Pod.
func (n *Node) Kubeconfig() string { return n.cluster.Kubeconfig() }

// ImportImage imports the OCI image-layout archive at path (WriteImage's,
// or an image build's) into the node's containerd, for Pods to run with
// imagePullPolicy Never or IfNotPresent. The image takes the name in its
// index entry's io.containerd.image.name annotation (ctr's rule), so an
// archive must carry it as WriteImage's do; every platform it holds is
// imported.
func (n *Node) ImportImage(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandBudget)
	defer cancel()
	// --no-unpack would leave the first Pod to unpack; unpacking now
	// keeps that out of the time a test waits for Pods.
	out, err := exec.CommandContext(ctx, n.ctr, "--address", n.socket, "-n", "k8s.io", "images", "import", "--all-platforms", path).CombinedOutput()
	if err != nil {
		t.Fatalf("kubenode: importing %s: %v\n%s", path, err, out)
	}
}

// logContainers logs the end of every container's log on the node, each
// named NAMESPACE_POD_UID/CONTAINER/RESTART.log.
func (n *Node) logContainers(t testing.TB) {
	t.Helper()
	root := filepath.Join(n.dir, podLogsDir)
	logs, _ := filepath.Glob(filepath.Join(root, "*", "*", "*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		const tail = 4096
		if len(b) > tail {
			b = b[len(b)-tail:]
		}
		name, _ := filepath.Rel(root, path)
		t.Logf("kubenode: container log %s:\n%s", name, b)
	}
}

// nsenter returns a command running name inside the node namespace with
// the test's mounts, unlike testhost's ip netns exec, which gives each
// command a mount namespace of its own: the kubelet's mounts (a projected
// token's tmpfs) must be visible to containerd and runc, and the mounts of
// both to the cleanup.
func (n *Node) nsenter(name string, args ...string) *exec.Cmd {
	netns := "--net=/run/netns/" + n.cluster.NodeHost().Netns()
	return exec.Command("nsenter", append([]string{netns, "--", name}, args...)...)
}

func (n *Node) startContainerd(t testing.TB, bins map[string]string) {
	t.Helper()
	config := filepath.Join(n.dir, "containerd.toml")
	writeFile(t, config, fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
# Plugins that would write outside the node's directory or are not used.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q

[plugins.'io.containerd.cri.v1.runtime']
  # The sandbox may not lower its OOM score below containerd's: without
  # this, runc init fails to write /proc/self/oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = %[5]q
        Root = %[6]q
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%[7]q]
    conf_dir = %[8]q
    use_internal_loopback = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[9]q
`, filepath.Join(n.dir, "root"), filepath.Join(n.dir, "state"), n.socket, n.socket+".ttrpc",
		bins["runc"], filepath.Join(n.dir, runcRootDir), bins["cni-plugins"], filepath.Join(n.dir, "net.d"), PauseImage))
	if err := os.MkdirAll(filepath.Join(n.dir, "net.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := n.nsenter(bins["containerd"], "--config", config)
	// containerd finds its shim on PATH.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bins["containerd-shim-runc-v2"])+":"+os.Getenv("PATH"))
	n.cluster.NodeHost().StartCommand(t, cmd)
	waitFor(t, "containerd to serve", func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, n.ctr, "--address", n.socket, "version").Run() == nil, nil
	})
}

func (n *Node) startScheduler(t testing.TB, scheduler string) {
	t.Helper()
	kubeconfig := n.cluster.Kubeconfig()
	n.cluster.NodeHost().StartCommand(t, n.nsenter(scheduler,
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--secure-port", "0", "--leader-elect=false"))
	// kubelab's node runs no containers: Pods placed there would never
	// start. Its own Pods name it and so ignore the taint.
	node, err := n.cluster.Client.CoreV1().Nodes().Get(t.Context(), kubelab.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kubenode: %v", err)
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: "kubelab.dsprobe.io/no-kubelet", Effect: corev1.TaintEffectNoSchedule})
	if _, err := n.cluster.Client.CoreV1().Nodes().Update(t.Context(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubenode: tainting %s: %v", kubelab.NodeName, err)
	}
}

func (n *Node) startKubelet(t testing.TB, kubelet string) {
	t.Helper()
	config := filepath.Join(n.dir, "kubelet.yaml")
	writeFile(t, config, fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
# cgroup v1 with cgroupfs; no QoS or node-allocatable hierarchy, which would
# be made at the machine's cgroup root and outlive the test.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
# The test machine's disk and memory are shared: never evict, never collect
# images (imported ones cannot be pulled back).
evictionHard: {}
imageGCHighThresholdPercent: 100
clusterDNS: [%s, %s]
clusterDomain: %s
podLogsDir: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
authorization:
  mode: Webhook
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
`, n.socket, kubelab.ClusterDNS4, kubelab.ClusterDNS6, kubelab.ClusterDomain, filepath.Join(n.dir, podLogsDir)))
	node := n.cluster.NodeHost()
	n.cluster.NodeHost().StartCommand(t, n.nsenter(kubelet,
		"--config", config, "--kubeconfig", n.cluster.Kubeconfig(),
		"--root-dir", filepath.Join(n.dir, "kubelet"), "--cert-dir", filepath.Join(n.dir, "kubelet-pki"),
		"--hostname-override", NodeName,
		// Dual-stack node addresses: the node namespace's, which it
		// shares with kubelab's node.
		"--node-ip", node.Addr4().String()+","+node.Addr6().String()))
}

// waitPodCIDRs waits for the kubelet to register the node and the
// controller-manager to give it a Pod CIDR of each family.
func (n *Node) waitPodCIDRs(t testing.TB) {
	t.Helper()
	waitFor(t, "node "+NodeName+" to register and get its Pod CIDRs", func() (bool, error) {
		node, err := n.cluster.Client.CoreV1().Nodes().Get(t.Context(), NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil // not registered yet
		}
		for _, s := range node.Spec.PodCIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return false, fmt.Errorf("node Pod CIDR %q: %w", s, err)
			}
			if p.Addr().Is4() {
				n.PodCIDR4 = p
			} else {
				n.PodCIDR6 = p
			}
		}
		return n.PodCIDR4.IsValid() && n.PodCIDR6.IsValid(), nil
	})
}

// writeCNIConfig writes the node's network: a bridge in the node namespace,
// the gateway of both Pod CIDRs, with host-local addresses from each and a
// default route of each family, so every Pod has two podIPs. containerd
// watches the directory; the node turns Ready once it has read it.
func (n *Node) writeCNIConfig(t testing.TB) {
	t.Helper()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       n.networkName(),
		"plugins": []any{map[string]any{
			"type":        bridgePlugin,
			"bridge":      "kubenode0",
			"isGateway":   true,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    ipamPlugin,
				"dataDir": filepath.Join(n.dir, "ipam"),
				"ranges":  [][]map[string]string{{{"subnet": n.PodCIDR4.String()}}, {{"subnet": n.PodCIDR6.String()}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}, {"dst": "::/0"}},
			},
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(n.dir, "net.d", "10-kubenode.conflist"), string(b))
}

// networkName names the node's CNI network after its directory: the CNI
// library caches results under /var/lib/cni by network name, which is how
// the cleanup finds the node's.
func (n *Node) networkName() string { return filepath.Base(n.dir) }

// waitReady waits for the node to turn Ready and then lifts the not-ready
// taint the kubelet registered it with, as the node lifecycle controller
// would; kubelab runs without that controller (it would evict the Pods of
// its heartbeat-less node), so without this the scheduler would never place
// a Pod here.
func (n *Node) waitReady(t testing.TB) {
	t.Helper()
	var node *corev1.Node
	waitFor(t, "node "+NodeName+" to be Ready", func() (bool, error) {
		var err error
		node, err = n.cluster.Client.CoreV1().Nodes().Get(t.Context(), NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(taint corev1.Taint) bool {
		return taint.Key == corev1.TaintNodeNotReady
	})
	if _, err := n.cluster.Client.CoreV1().Nodes().Update(t.Context(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubenode: lifting the not-ready taint of %s: %v", NodeName, err)
	}
}

// buildPause builds kubenode/pause, static, into dir.
func buildPause(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/dsprobe/dsprobe/internal/testsupport/kubenode/pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubenode: building the pause program: %v\n%s", err, b)
	}
	return out
}

// waitFor waits for cond as kubelab.WaitFor does, within the node's start
// budget.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	kubelab.WaitFor(t, what, startBudget, cond)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WaitPodsReady waits until namespace has want Pods matching selector
// (a label selector, "app=web"), each Ready, and returns them.
func (n *Node) WaitPodsReady(t testing.TB, namespace, selector string, want int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	waitFor(t, fmt.Sprintf("%d Ready Pod(s) %s in %s", want, selector, namespace), func() (bool, error) {
		pods, err := n.cluster.Client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		ready = ready[:0]
		for _, p := range pods.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready = append(ready, p)
				}
			}
		}
		return len(ready) == want && len(pods.Items) == want, nil
	})
	return ready
}

// BusyboxImage is Debian's busybox-static as an image, for a real
// third-party program in a Pod: `busybox httpd -f -p 8080` is a web server
// on [::]:8080 (both families), `-p 0.0.0.0:8080` the classic IPv4-only
// one. ImportBusybox imports it.
const BusyboxImage = "dsprobe.test/busybox:1"

// busyboxPath is where Debian's busybox-static installs the static binary.
const busyboxPath = "/bin/busybox"

// ImportBusybox writes BusyboxImage from the machine's busybox-static (its
// binary at bin/busybox, the entrypoint, running as 65532) and imports it.
func (n *Node) ImportBusybox(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "busybox-static").Output(); err != nil || !strings.Contains(string(out), "ok installed") {
		msg := "busybox-static is not installed: run scripts/install-deps.sh"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci { // as testhost decides
			t.Fatal(msg + " (CI is true, so this fails instead of skipping)")
		}
		t.Skip(msg)
	}
	archive := filepath.Join(n.dir, "busybox.tar")
	if err := WriteImage(archive, Image{Ref: BusyboxImage, Files: map[string]string{"bin/busybox": busyboxPath}, Entrypoint: []string{"/bin/busybox"}, User: "65532"}); err != nil {
		t.Fatal(err)
	}
	n.ImportImage(t, archive)
}
