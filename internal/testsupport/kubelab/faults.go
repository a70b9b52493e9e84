package kubelab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The faults of a dual-stack cluster that the Kubernetes objects alone do
// not make: a Pod the CNI gave one family, a Service proxy that does not
// carry one family, a DNS server that withholds AAAA records. Each is made
// the way the real fault is, so that a product reading the cluster sees what
// it would see in one that has the fault. (A NetworkPolicy enforced as a CNI
// would is a fault of the Pod's own namespace: testhost's DropInbound.)

// AddSingleStackPod is AddPod for a Pod that the CNI gave an address of one
// family only, as when its IPAM has one family's pool: the Pod's network
// namespace holds the family's address alone, and its status.podIPs list it
// alone. The Node keeps both Pod CIDRs. The Pod is briefly published with
// both addresses first, so wait for its EndpointSlices before probing.
func (c *Cluster) AddSingleStackPod(t testing.TB, family dualstack.Family, namespace, name string, labels map[string]string, ports ...corev1.ContainerPort) *testhost.Host {
	t.Helper()
	host := c.AddPod(t, namespace, name, labels, ports...)
	var keep, drop netip.Addr
	switch family {
	case dualstack.FamilyIPv4:
		keep, drop = host.Addr4(), host.Addr6()
	case dualstack.FamilyIPv6:
		keep, drop = host.Addr6(), host.Addr4()
	default:
		t.Fatalf("kubelab: AddSingleStackPod %s/%s: want FamilyIPv4 or FamilyIPv6, got %v", namespace, name, family)
	}
	// The veth keeps its link-local addresses, and with them the
	// default routes; only the other family's Pod IP goes.
	if out, err := host.Run(t.Context(), "ip", "address", "delete", netip.PrefixFrom(drop, drop.BitLen()).String(), "dev", podInterface(t, host, drop)); err != nil {
		t.Fatalf("kubelab: removing %v from Pod %s/%s: %v (%s)", drop, namespace, name, err, out)
	}
	pod, err := c.Client.CoreV1().Pods(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kubelab: %v", err)
	}
	pod.Status.PodIP, pod.Status.PodIPs = keep.String(), []corev1.PodIP{{IP: keep.String()}}
	if _, err := c.Client.CoreV1().Pods(namespace).UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubelab: giving Pod %s/%s only %v: %v", namespace, name, keep, err)
	}
	return host
}

// podInterface returns the name of the interface that holds addr in host.
func podInterface(t testing.TB, host *testhost.Host, addr netip.Addr) string {
	t.Helper()
	// "ip -o address show to ADDR" prints "N: IFNAME    inet6 ADDR/128 ...".
	out, err := host.Run(t.Context(), "ip", "-o", "address", "show", "to", addr.String())
	fields := strings.Fields(out)
	if err != nil || len(fields) < 2 {
		t.Fatalf("kubelab: finding the interface of %v in %s: %v (%q)", addr, host.Name(), err, out)
	}
	return fields[1]
}

// faultTables numbers the nftables tables in node namespaces that hold the
// faults DropServiceIP injects, one table per fault, so each goes alone.
var faultTables atomic.Int64

// DropServiceIP makes the node silently drop TCP packets from Pods to a
// Service's ClusterIP and port before kube-proxy's DNAT sees them, as a
// Service proxy that lost or never had the family's rules does: connects to
// the ClusterIP time out while the endpoints still answer directly. The
// fault goes when the test ends.
func (c *Cluster) DropServiceIP(t testing.TB, clusterIP netip.Addr, port uint16) {
	t.Helper()
	family := "ip"
	if clusterIP.Is6() {
		family = "ip6"
	}
	table := fmt.Sprintf("kubelab_fault_%d", faultTables.Add(1))
	// Priority raw (-300) runs before kube-proxy's dstnat (-100).
	c.nft(t, fmt.Sprintf(`add table inet %[1]s
add chain inet %[1]s prerouting { type filter hook prerouting priority raw; policy accept; }
add rule inet %[1]s prerouting %[2]s daddr %[3]s tcp dport %[4]d drop
`, table, family, clusterIP, port))
	t.Cleanup(func() { c.nft(t, fmt.Sprintf("delete table inet %s\n", table)) })
}

// nft runs an nft script in the node namespace.
func (c *Cluster) nft(t testing.TB, script string) {
	t.Helper()
	cmd := c.node.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubelab: nft in the node: %v (%s) for:\n%s", err, out, script)
	}
}

// WithholdAAAA makes cluster DNS answer AAAA queries for the Service's name
// NOERROR with no record, as a CoreDNS whose acl plugin filters AAAA for it
// does (a fix for slow IPv6 clients sometimes seen in the wild), while the
// A record and the Service's IPv6 ClusterIP stay. CoreDNS reloads its
// Corefile, and WithholdAAAA waits until it withholds the record; when the
// test ends the record comes back.
func (c *Cluster) WithholdAAAA(t testing.TB, namespace, service string) {
	t.Helper()
	name := service + "." + namespace + ".svc." + ClusterDomain + "."
	c.mu.Lock()
	c.dns.withheld = append(c.dns.withheld, name)
	c.mu.Unlock()
	c.reloadDNS(t)
	waitFor(t, "CoreDNS to withhold AAAA for "+name, func() (bool, error) {
		return c.dnsAnswer(t.Context(), name, dualstack.FamilyIPv6) == resolve.StatusNoData, nil
	})
	t.Cleanup(func() {
		// t.Context() is done once cleanup runs.
		ctx := context.Background()
		c.mu.Lock()
		if i := slices.Index(c.dns.withheld, name); i >= 0 {
			c.dns.withheld = slices.Delete(c.dns.withheld, i, i+1)
		}
		// Another test may still withhold it.
		still := slices.Contains(c.dns.withheld, name)
		c.mu.Unlock()
		c.reloadDNS(t)
		if still {
			return
		}
		waitFor(t, "CoreDNS to answer AAAA for "+name+" again", func() (bool, error) {
			return c.dnsAnswer(ctx, name, dualstack.FamilyIPv6) != resolve.StatusNoData, nil
		})
	})
}

// clusterDNS is the CoreDNS process behind the kube-dns Service, and what
// its Corefile is made of.
type clusterDNS struct {
	pod        *testhost.Host
	process    *os.Process
	corefile   string // path
	kubeconfig string
	// withheld are the names whose AAAA records CoreDNS's acl filters.
	withheld []string
}

// writeCorefile writes CoreDNS's configuration: the kubernetes plugin for
// the cluster domain and the reverse zones, and an acl filtering AAAA for
// each withheld name.
func (c *Cluster) writeCorefile(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	var acl string
	for _, name := range c.dns.withheld {
		acl += fmt.Sprintf("    acl %s {\n        filter type AAAA\n    }\n", name)
	}
	c.mu.Unlock()
	writeFile(t, c.dns.corefile, fmt.Sprintf(`.:53 {
    errors
%s    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s kubelab
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
}
`, acl, ClusterDomain, c.dns.kubeconfig))
}

// reloadDNS rewrites the Corefile and tells CoreDNS to reload it (SIGUSR1).
func (c *Cluster) reloadDNS(t testing.TB) {
	t.Helper()
	c.writeCorefile(t)
	if err := c.dns.process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatalf("kubelab: reloading CoreDNS: %v", err)
	}
}

// dnsAnswer asks CoreDNS directly, from its Pod, name's query of the family.
func (c *Cluster) dnsAnswer(ctx context.Context, name string, f dualstack.Family) resolve.Status {
	return lookup(ctx, c.dns.pod, netip.AddrPortFrom(c.dns.pod.Addr4(), 53), name, f)
}
