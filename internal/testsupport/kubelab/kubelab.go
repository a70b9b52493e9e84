package kubelab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
	"github.com/dsprobe/dsprobe/internal/testsupport/testpki"
)

// The cluster's address plan: kind's dual-stack defaults, so addresses in
// test output look like those of a kind cluster.
var (
	ClusterCIDR4 = netip.MustParsePrefix("10.244.0.0/16")
	ClusterCIDR6 = netip.MustParsePrefix("fd00:10:244::/56")
	ServiceCIDR4 = netip.MustParsePrefix("10.96.0.0/16")
	ServiceCIDR6 = netip.MustParsePrefix("fd00:10:96::/112")

	// ClusterDNS4 and ClusterDNS6 are the kube-dns Service's ClusterIPs,
	// every Pod's nameservers (kind's and kubeadm's choice: the tenth
	// address of each Service range).
	ClusterDNS4 = netip.MustParseAddr("10.96.0.10")
	ClusterDNS6 = netip.MustParseAddr("fd00:10:96::a")
)

const (
	// NodeName is the name of the cluster's one Node.
	NodeName = "node"
	// ClusterDomain is the DNS domain of Services: NAME.NAMESPACE.svc.ClusterDomain.
	ClusterDomain = "cluster.local"

	apiPort = 6443
	// startBudget bounds each wait of Start: the API server's readiness
	// (about 10 s on 2 cores), the node's Pod CIDRs, kube-proxy's first sync.
	startBudget = 90 * time.Second
)

// Cluster is a running lab cluster. Its methods that take a testing.TB call
// t.Fatal on failure and must run on the test's goroutine.
type Cluster struct {
	lab  *testhost.Lab
	node *testhost.Host
	dir  string

	// Client is an administrator's client (group system:masters), dialing
	// the API server inside the node namespace.
	Client kubernetes.Interface
	// config is Client's configuration; saKey signs ServiceAccount tokens
	// (see tokens.go).
	config     *rest.Config
	saKey      string
	kubeconfig string // the administrator's

	// dns is cluster DNS, whose Corefile WithholdAAAA changes.
	dns clusterDNS

	mu       sync.Mutex
	podCIDR4 netip.Prefix
	podCIDR6 netip.Prefix
	nextPod  int
}

// Start starts a cluster in a new testhost lab and waits until it serves:
// the API server ready, the Node with its Pod CIDRs, kube-proxy synced,
// cluster DNS (CoreDNS behind the kube-dns Service) answering. Everything
// stops when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bins := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "coredns"} {
		bins[name] = testhost.Tool(t, name)
	}
	lab := testhost.New(t)
	c := &Cluster{lab: lab, node: lab.AddHost(NodeName), dir: t.TempDir()}
	nodeAddr := c.node.Addr4()
	server := "https://" + netip.AddrPortFrom(nodeAddr, apiPort).String()

	token := randomHex()
	writeFile(t, filepath.Join(c.dir, "tokens.csv"), token+",admin,admin,system:masters\n")
	// The API server's certificate, for its name in Pods and every address
	// it is reached at: the node's, and the first address of each Service
	// range (the kubernetes Service). The CA is known before it starts.
	pki := testpki.NewCA(t, "kubelab")
	ca := pki.File
	serving := pki.Issue(t, "kubernetes.default.svc", c.node.Addr4(), c.node.Addr6(),
		ServiceCIDR4.Addr().Next(), ServiceCIDR6.Addr().Next())
	saKey := pki.Issue(t, "service-accounts").KeyFile // signs and verifies ServiceAccount tokens

	// Every component runs in the node namespace; etcd listens on its
	// loopback, so fixed ports collide with nothing.
	c.node.Start(t, bins["etcd"],
		"--name", "node", "--data-dir", filepath.Join(c.dir, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "node=http://127.0.0.1:2380", "--logger", "zap", "--log-level", "warn")
	c.node.Start(t, bins["kube-apiserver"],
		"--etcd-servers", "http://127.0.0.1:2379",
		"--bind-address", "::", "--advertise-address", nodeAddr.String(), "--secure-port", fmt.Sprint(apiPort),
		"--tls-cert-file", serving.CertFile, "--tls-private-key-file", serving.KeyFile,
		"--service-cluster-ip-range", ServiceCIDR4.String()+","+ServiceCIDR6.String(),
		"--token-auth-file", filepath.Join(c.dir, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey)

	config := &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: ca},
		Dial:            c.node.DialContext,
		Timeout:         30 * time.Second,
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	c.Client, c.config, c.saKey = client, config, saKey
	waitFor(t, "the API server to be ready", func() (bool, error) {
		var code int
		client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(t.Context()).StatusCode(&code)
		return code == http.StatusOK, nil
	})

	kubeconfig := c.writeKubeconfig(t, server, ca, token)
	c.kubeconfig = kubeconfig
	c.node.Start(t, bins["kube-controller-manager"],
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--secure-port", "0", "--leader-elect=false",
		// No kubelet heartbeats the Node: the lifecycle controller would
		// taint it unreachable and evict every Pod.
		"--controllers", "*,-node-lifecycle-controller",
		"--allocate-node-cidrs", "--cluster-cidr", ClusterCIDR4.String()+","+ClusterCIDR6.String(),
		"--node-cidr-mask-size-ipv4", "24", "--node-cidr-mask-size-ipv6", "64",
		"--service-cluster-ip-range", ServiceCIDR4.String()+","+ServiceCIDR6.String(),
		"--service-account-private-key-file", saKey, "--root-ca-file", ca,
		"--use-service-account-credentials")

	c.registerNode(t)

	proxyConfig := filepath.Join(c.dir, "kube-proxy.yaml")
	writeFile(t, proxyConfig, fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: %s
clusterCIDR: %s,%s
clientConnection:
  kubeconfig: %s
conntrack:
  maxPerCore: 0
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
`, NodeName, ClusterCIDR4, ClusterCIDR6, kubeconfig))
	c.node.Start(t, bins["kube-proxy"], "--config", proxyConfig)
	fromNode := c.node.HTTPClient(2 * time.Second)
	defer fromNode.CloseIdleConnections()
	waitFor(t, "kube-proxy's first sync", proxyHealthy(fromNode))
	c.startDNS(t, bins["coredns"], kubeconfig)
	return c
}

// Kubeconfig returns the path of the administrator's kubeconfig (group
// system:masters): for programs the cluster runs beside the lab's own, such
// as a real node's kubelet, or kubectl. It names the API server by the
// node's address, so it works from the node namespace and from hosts
// routed through it, not from the test's own namespace.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// NodeHost returns the namespace the control plane runs in, where the
// node's routes to every Pod and kube-proxy's rules are.
func (c *Cluster) NodeHost() *testhost.Host { return c.node }

// startDNS runs CoreDNS with its kubernetes plugin in a kube-system Pod
// behind the kube-dns Service, as kubeadm and kind deploy it, and waits
// until it answers for the kubernetes Service and kube-proxy routes both
// kube-dns ClusterIPs (UDP and TCP) to it.
func (c *Cluster) startDNS(t testing.TB, coredns, kubeconfig string) {
	t.Helper()
	pod := c.addPod(t, "kube-system", "coredns", map[string]string{"k8s-app": "kube-dns"}, false, nil)
	c.dns = clusterDNS{pod: pod, corefile: filepath.Join(c.dir, "Corefile"), kubeconfig: kubeconfig}
	c.writeCorefile(t)
	cmd := pod.Command(context.Background(), coredns, "-conf", c.dns.corefile)
	pod.StartCommand(t, cmd)
	// ip netns exec execs CoreDNS in its own process: signals reach it.
	c.dns.process = cmd.Process

	policy := corev1.IPFamilyPolicyRequireDualStack
	_, err := c.Client.CoreV1().Services("kube-system").Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			Selector:       map[string]string{"k8s-app": "kube-dns"},
			ClusterIP:      ClusterDNS4.String(),
			ClusterIPs:     []string{ClusterDNS4.String(), ClusterDNS6.String()},
			IPFamilyPolicy: &policy,
			IPFamilies:     []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubelab: creating the kube-dns Service: %v", err)
	}
	name := "kubernetes.default.svc." + ClusterDomain + "."
	waitFor(t, "CoreDNS to answer for "+name, func() (bool, error) {
		return lookup(t.Context(), pod, netip.AddrPortFrom(pod.Addr4(), 53), name, dualstack.FamilyIPv4) == resolve.StatusPositive, nil
	})
	for _, ip := range []netip.Addr{ClusterDNS4, ClusterDNS6} {
		c.waitProxied(t, ip, "udp", 53, 1)
		c.waitProxied(t, ip, "tcp", 53, 1)
	}
}

// lookup asks server, from host with dsprobe's own resolver (one try, a
// second at most), name's query of the family, and returns what it came to.
func lookup(ctx context.Context, host *testhost.Host, server netip.AddrPort, name string, f dualstack.Family) resolve.Status {
	r := &resolve.Resolver{
		Config: resolve.Config{Servers: []netip.AddrPort{server}, Timeout: time.Second, Attempts: 1},
		Dialer: host,
	}
	return r.Lookup(ctx, name, f).Status
}

// AddPod creates a Pod named name in namespace (made if missing) with
// labels, as a network namespace behind the node holding the next IPv4 and
// IPv6 addresses of the node's Pod CIDRs, and marks it Running and Ready
// with both addresses, as the kubelet would once its containers started.
// Programs run in it (Host.Command, Start) resolve through cluster DNS: its
// resolv.conf is the one a kubelet writes for dnsPolicy ClusterFirst. Its
// one container declares ports (a named gRPC port, say).
func (c *Cluster) AddPod(t testing.TB, namespace, name string, labels map[string]string, ports ...corev1.ContainerPort) *testhost.Host {
	t.Helper()
	return c.addPod(t, namespace, name, labels, true, ports)
}

func (c *Cluster) addPod(t testing.TB, namespace, name string, labels map[string]string, clusterDNS bool, ports []corev1.ContainerPort) *testhost.Host {
	t.Helper()
	c.ensureNamespace(t, namespace)
	c.mu.Lock()
	c.nextPod++
	addr4, addr6 := nthAddr(c.podCIDR4, 10+c.nextPod), nthAddr(c.podCIDR6, 10+c.nextPod)
	c.mu.Unlock()
	host := c.lab.AddRoutedHost(namespace+"-"+name, c.node, addr4, addr6)
	if clusterDNS {
		resolvConf := fmt.Sprintf("search %[1]s.svc.%[2]s svc.%[2]s %[2]s\nnameserver %[3]s\nnameserver %[4]s\noptions ndots:5\n",
			namespace, ClusterDomain, ClusterDNS4, ClusterDNS6)
		if err := host.WriteEtc("resolv.conf", resolvConf); err != nil {
			t.Fatal(err)
		}
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:                     NodeName,
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "main", Image: "dsprobe.test/lab-pod", Ports: ports}},
		},
	}
	var created *corev1.Pod
	// A new namespace's default ServiceAccount comes from a controller a
	// moment later; until then admission refuses Pods.
	waitFor(t, "Pod "+namespace+"/"+name+" to be admitted", func() (bool, error) {
		var err error
		created, err = c.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
		if err != nil && strings.Contains(err.Error(), "serviceaccount") {
			return false, nil
		}
		return err == nil, err
	})
	now := metav1.Now()
	created.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    c.node.Addr4().String(),
		HostIPs:   []corev1.HostIP{{IP: c.node.Addr4().String()}, {IP: c.node.Addr6().String()}},
		PodIP:     addr4.String(),
		PodIPs:    []corev1.PodIP{{IP: addr4.String()}, {IP: addr6.String()}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "main", Image: "dsprobe.test/lab-pod", Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	if _, err := c.Client.CoreV1().Pods(namespace).UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubelab: marking Pod %s/%s ready: %v", namespace, name, err)
	}
	return host
}

// AddService creates a RequireDualStack ClusterIP Service named name in
// namespace, selecting the Pods labelled app=name, from port to targetPort
// over TCP, and returns its ClusterIPs, IPv4 first. WaitProxied tells when
// kube-proxy routes them.
func (c *Cluster) AddService(t testing.TB, namespace, name string, port, targetPort int32) []netip.Addr {
	t.Helper()
	policy := corev1.IPFamilyPolicyRequireDualStack
	svc, err := c.Client.CoreV1().Services(namespace).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector:       map[string]string{"app": name},
			IPFamilyPolicy: &policy,
			IPFamilies:     []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			Ports:          []corev1.ServicePort{{Port: port, TargetPort: intstr.FromInt32(targetPort)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubelab: creating Service %s/%s: %v", namespace, name, err)
	}
	var ips []netip.Addr
	for _, s := range svc.Spec.ClusterIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("kubelab: Service %s/%s has ClusterIP %q: %v", namespace, name, s, err)
		}
		ips = append(ips, ip)
	}
	return ips
}

// WaitProxied waits until kube-proxy has programmed the node for a Service's
// ClusterIP and port with at least endpoints endpoints. Until then a Pod's
// connection to it fails at the node, a moment after the EndpointSlices
// exist: kube-proxy syncs at most once a second.
func (c *Cluster) WaitProxied(t testing.TB, clusterIP netip.Addr, port, endpoints int) {
	t.Helper()
	c.waitProxied(t, clusterIP, "tcp", port, endpoints)
}

func (c *Cluster) waitProxied(t testing.TB, clusterIP netip.Addr, protocol string, port, endpoints int) {
	t.Helper()
	family := "ip"
	if clusterIP.Is6() {
		family = "ip6"
	}
	element := fmt.Sprintf("%s . %s . %d : goto ", clusterIP, protocol, port)
	waitFor(t, fmt.Sprintf("kube-proxy to route %v %s port %d to %d endpoint(s)", clusterIP, protocol, port, endpoints), func() (bool, error) {
		services, err := c.node.Run(t.Context(), "nft", "list", "map", family, "kube-proxy", "service-ips")
		if err != nil {
			return false, nil // not made yet
		}
		_, rest, ok := strings.Cut(services, element)
		if !ok {
			return false, nil
		}
		fields := strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
		if len(fields) == 0 {
			return false, nil
		}
		chain := fields[0]
		rules, err := c.node.Run(t.Context(), "nft", "list", "chain", family, "kube-proxy", chain)
		if err != nil {
			return false, nil // replaced by a sync since the map was read
		}
		return endpointsIn(rules) >= endpoints, nil
	})
}

// endpointsIn counts the endpoints a kube-proxy service chain, as nft lists
// it, sends connections to. One endpoint is a dnat in the chain; more are a
// random choice, "numgen random mod N", among N endpoint chains (a goto
// each) or, as kube-proxy v1.37 writes it, among the N entries of a dnat
// map.
func endpointsIn(rules string) int {
	if _, rest, ok := strings.Cut(rules, "numgen random mod "); ok {
		if fields := strings.Fields(rest); len(fields) > 0 {
			if n, err := strconv.Atoi(fields[0]); err == nil {
				return n
			}
		}
	}
	return strings.Count(rules, "goto endpoint-") + strings.Count(rules, "dnat to")
}

// registerNode creates the Node as a kubelet would register it, with both
// addresses (kube-proxy waits for them) and Ready, then waits for the
// controller-manager to give it its Pod CIDRs.
func (c *Cluster) registerNode(t testing.TB) {
	t.Helper()
	node, err := c.Client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubelab: registering the node: %v", err)
	}
	node.Status = corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: c.node.Addr4().String()},
			{Type: corev1.NodeInternalIP, Address: c.node.Addr6().String()},
			{Type: corev1.NodeHostName, Address: NodeName},
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubelab node", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	if _, err := c.Client.CoreV1().Nodes().UpdateStatus(t.Context(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubelab: setting the node's status: %v", err)
	}
	waitFor(t, "the node's Pod CIDRs", func() (bool, error) {
		node, err := c.Client.CoreV1().Nodes().Get(t.Context(), NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range node.Spec.PodCIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return false, fmt.Errorf("node Pod CIDR %q: %w", s, err)
			}
			if p.Addr().Is4() {
				c.podCIDR4 = p
			} else {
				c.podCIDR6 = p
			}
		}
		return c.podCIDR4.IsValid() && c.podCIDR6.IsValid(), nil
	})
}

func (c *Cluster) ensureNamespace(t testing.TB, name string) {
	t.Helper()
	_, err := c.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("kubelab: creating namespace %s: %v", name, err)
	}
}

// proxyHealthy asks kube-proxy's health endpoint, from the node, whether
// both families' rules are synced (200).
func proxyHealthy(node *http.Client) func() (bool, error) {
	return func() (bool, error) {
		resp, err := node.Get("http://127.0.0.1:10256/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
}

// writeKubeconfig writes the administrator's kubeconfig for the
// controller-manager and kube-proxy and returns its path.
func (c *Cluster) writeKubeconfig(t testing.TB, server, ca, token string) string {
	t.Helper()
	path := filepath.Join(c.dir, "kubeconfig")
	writeFile(t, path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubelab
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: kubelab
  context: {cluster: kubelab, user: admin}
current-context: kubelab
`, server, ca, token))
	return path
}

// waitFor waits for cond as WaitFor does, within the lab's start budget.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	WaitFor(t, what, startBudget, cond)
}

// WaitFor polls cond every 100 ms until it reports done, fails the test on
// its error, and gives up after budget naming what it waited for: how the
// lab, and test support built on it, wait for a cluster to converge.
func WaitFor(t testing.TB, what string, budget time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(budget)
	for {
		done, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, budget)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nthAddr returns the address n above p's network address.
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Addr()
	for range n {
		a = a.Next()
	}
	return a
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
