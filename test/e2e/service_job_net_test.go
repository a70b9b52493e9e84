package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// coordinatorRules are what the coordinator reads of the API, and nothing
// more: the prober Pods (discovery) and, for Service jobs, the objects of
// every Service's evidence, watched; the proxy mode's two ConfigMaps, read
// by name.
var coordinatorRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "services", "nodes", "namespaces"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"kube-proxy", "cilium-config"}, Verbs: []string{"get"}},
}

// serviceJobJSON is the Job dsprobe probe svc/NAME --coordinator -o json
// writes (docs/contracts.md).
type serviceJobJSON struct {
	Probers []struct {
		Prober, Namespace string
		Service           *struct {
			Service  string
			Families []struct{ Family, FailingLayer, Detail string }
			Paths    []struct {
				Path     string
				Connects []struct{ Family, Address, Outcome string }
			}
			Evidence []struct {
				Row        string
				IPv4, IPv6 struct{ Status, Text string }
			}
		}
		Error *struct{ Code, Message string }
	}
	Summary struct {
		Passed   bool
		Families []struct{ Family, FailingLayer, Detail string }
	}
}

// Service probing through the coordinator, in a cluster: the probers are
// prober processes in Pods of team-a and team-b, found by the
// coordinator's discovery; the coordinator runs in a Pod as a
// ServiceAccount bound to coordinatorRules alone, watches the Services'
// objects and judges each prober's measurements with them. From each
// prober, a healthy RequireDualStack Service passes both families on its
// name, both ClusterIPs and its endpoint's both Pod IPs; a SingleStack
// IPv4 Service over the same Pod fails IPv6 at LAYER_SERVICE on every
// prober and in the summary; an absent Service is exit 2; a NetworkPolicy
// admitting one prober's namespace is judged per prober, from its Pod. A
// coordinator
// that may watch only the prober Pods serves no Service job, and says
// what to grant.
func TestProbeServiceThroughCoordinatorInCluster(t *testing.T) {
	c := kubelab.Start(t)
	if _, err := c.Client.CoreV1().ConfigMaps("kube-system").Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy"},
		Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := c.AddPod(t, "shop", "web-1", map[string]string{"app": "web"})
	webServer(t, web, "tcp", "[::]:8080")
	dual := c.AddService(t, "shop", "web", 80, 8080)
	single := createService(t, c, "shop", "web-v4", "web", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol)
	for _, ip := range append(slices.Clone(dual), single...) {
		c.WaitProxied(t, ip, 80, 1)
	}

	client := c.AddPod(t, "dsprobe", "cli", nil)
	const proberLabel = "app.kubernetes.io/name=dsprobe-prober"
	for _, p := range probers {
		host := c.AddPod(t, p.namespace, p.name, map[string]string{"app.kubernetes.io/name": "dsprobe-prober"},
			corev1.ContainerPort{Name: "grpc", ContainerPort: 9443})
		host.Start(t, bins["prober"], "--listen", "[::]:9443", "--insecure", "--name", p.name, "--namespace", p.namespace,
			"--allow-cidr", kubelab.ServiceCIDR4.String(), "--allow-cidr", kubelab.ServiceCIDR6.String(),
			"--allow-cidr", kubelab.ClusterCIDR4.String(), "--allow-cidr", kubelab.ClusterCIDR6.String(),
			"--allow-name", "*.svc."+kubelab.ClusterDomain,
			// The tests ask one job after another (and poll with jobs):
			// no rate limit, so none is refused as over it.
			"--rate", "0")
		client.WaitConnect(t, netip.AddrPortFrom(host.Addr4(), 9443))
	}
	startCoordinator := func(name string, rules []rbacv1.PolicyRule) netip.AddrPort {
		pod := c.AddPod(t, "dsprobe", name, nil)
		kubeconfig := evidenceKubeconfig(t, c, name, rules)
		pod.Start(t, bins["coordinator"], "--listen", "[::]:9444", "--insecure", "--prober-insecure",
			"--kubeconfig", kubeconfig, "--discover-label-selector", proberLabel)
		addr := netip.AddrPortFrom(pod.Addr4(), 9444)
		client.WaitConnect(t, addr)
		return addr
	}
	coord := startCoordinator("coordinator", coordinatorRules)
	probe := func(t *testing.T, coord netip.AddrPort, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		return testhost.RunExit(t, client.Command(ctx, bins["dsprobe"],
			append([]string{"probe", "--coordinator", coord.String(), "--insecure", "-n", "shop"}, args...)...))
	}
	jobOf := func(t *testing.T, wantCode int, args ...string) *serviceJobJSON {
		t.Helper()
		stdout, stderr, code := probe(t, coord, append([]string{"-o", "json"}, args...)...)
		var job serviceJobJSON
		if err := json.Unmarshal([]byte(stdout), &job); err != nil || code != wantCode {
			t.Fatalf("got exit %d (%s), %v, want exit %d and a Job: %.3000s", code, stderr, err, wantCode, stdout)
		}
		if len(job.Probers) != len(probers) {
			t.Fatalf("got %d probers' answers, want %d: %.3000s", len(job.Probers), len(probers), stdout)
		}
		for _, p := range job.Probers {
			if p.Service == nil || len(p.Service.Evidence) != len(evidenceRows) {
				t.Fatalf("prober %s/%s: got %+v (error %+v), want its Service result with every evidence row", p.Namespace, p.Prober, p.Service, p.Error)
			}
		}
		return &job
	}
	layers := func(families []struct{ Family, FailingLayer, Detail string }) map[string]string {
		out := map[string]string{}
		for _, f := range families {
			out[f.Family] = f.FailingLayer
		}
		return out
	}

	t.Run("RequireDualStack: both families pass from every prober", func(t *testing.T) {
		job := jobOf(t, 0, "svc/web")
		want := map[string][]string{
			"clusterIP": {netip.AddrPortFrom(dual[0], 80).String(), netip.AddrPortFrom(dual[1], 80).String()},
			"endpoint":  {netip.AddrPortFrom(web.Addr4(), 8080).String(), netip.AddrPortFrom(web.Addr6(), 8080).String()},
			"name":      {netip.AddrPortFrom(dual[0], 80).String(), netip.AddrPortFrom(dual[1], 80).String()},
		}
		for _, p := range job.Probers {
			if got := layers(p.Service.Families); got["FAMILY_IPV4"] != "LAYER_NONE" || got["FAMILY_IPV6"] != "LAYER_NONE" {
				t.Errorf("prober %s/%s: got %+v, want both families LAYER_NONE", p.Namespace, p.Prober, p.Service.Families)
			}
			for _, path := range p.Service.Paths {
				var connected []string
				for _, c := range path.Connects {
					if c.Outcome == "OUTCOME_CONNECTED" {
						connected = append(connected, c.Address)
					}
				}
				if !slices.Equal(connected, want[path.Path]) {
					t.Errorf("prober %s/%s path %s: connected to %v, want %v", p.Namespace, p.Prober, path.Path, connected, want[path.Path])
				}
			}
		}
		if !job.Summary.Passed {
			t.Errorf("summary: got %+v, want passed", job.Summary)
		}
	})

	t.Run("SingleStack IPv4: IPv6 fails at LAYER_SERVICE", func(t *testing.T) {
		job := jobOf(t, 1, "svc/web-v4")
		for _, p := range job.Probers {
			got := layers(p.Service.Families)
			if got["FAMILY_IPV4"] != "LAYER_NONE" || got["FAMILY_IPV6"] != "LAYER_SERVICE" {
				t.Errorf("prober %s/%s: got %+v, want IPv4 LAYER_NONE and IPv6 LAYER_SERVICE", p.Namespace, p.Prober, p.Service.Families)
			}
			for _, r := range p.Service.Evidence {
				if r.Row == "Service IPs" && r.IPv6.Text != "missing: SingleStack [IPv4]: no IPv6 clusterIPs entry" {
					t.Errorf("prober %s/%s: Service IPs IPv6 cell %+v", p.Namespace, p.Prober, r.IPv6)
				}
			}
		}
		if got := layers(job.Summary.Families); got["FAMILY_IPV6"] != "LAYER_SERVICE" || got["FAMILY_IPV4"] != "LAYER_NONE" || job.Summary.Passed {
			t.Errorf("summary: got %+v, want IPv6 LAYER_SERVICE, IPv4 LAYER_NONE", job.Summary)
		}
	})

	t.Run("the table: each prober's verdicts and paths, then the summary", func(t *testing.T) {
		stdout, stderr, code := probe(t, coord, "svc/web-v4:80")
		if code != 1 {
			t.Fatalf("got exit %d (%s), want 1", code, stderr)
		}
		for _, want := range []string{"from prober prober-a (team-a)", "from prober prober-b (team-b)",
			"  IPv6: LAYER_SERVICE: Service shop/web-v4 is SingleStack [IPv4]", "  name web-v4.shop.svc.cluster.local", "2 of 2 prober(s) answered"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
	})

	t.Run("an absent Service is bad input", func(t *testing.T) {
		if _, stderr, code := probe(t, coord, "svc/gone"); code != 2 || !strings.Contains(stderr, "Service shop/gone not found") {
			t.Errorf("got exit %d (%s), want 2 naming the Service", code, stderr)
		}
	})

	t.Run("locally, with the API, a Service's DNS name is probed as the Service", func(t *testing.T) {
		kubeconfig := evidenceKubeconfig(t, c, "name-reader", evidenceRules)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		stdout, stderr, code := testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], "probe", "--kubeconfig", kubeconfig, "-o", "json", "web-v4.shop.svc.cluster.local:80"))
		var res serviceProbeJSON
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 1 {
			t.Fatalf("got exit %d (%s), %v, want 1 and the Service's probe: %.2000s", code, stderr, err, stdout)
		}
		if res.Service != "shop/web-v4" || len(res.Verdicts) != 2 || res.Verdicts[1].FailingLayer != "LAYER_SERVICE" {
			t.Errorf("got %+v, want Service shop/web-v4 with IPv6 failing at LAYER_SERVICE", res)
		}
	})

	// The NetworkPolicies are judged from each prober's own Pod: one
	// admitting the namespace team-a admits prober-a and not prober-b.
	// (The lab enforces no policy, so both still connect: the row, not the
	// verdict, tells them apart.)
	t.Run("a NetworkPolicy is judged from each prober's Pod", func(t *testing.T) {
		createPolicy(t, c, "shop", "from-team-a", networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
		})
		cells := map[string]string{}
		poll(t, "the coordinator to watch the NetworkPolicy", func() bool {
			for _, p := range jobOf(t, 0, "svc/web").Probers {
				for _, r := range p.Service.Evidence {
					if r.Row == "NetworkPolicy" {
						cells[p.Namespace] = r.IPv6.Status + " " + r.IPv6.Text
					}
				}
			}
			return strings.Contains(cells["team-a"], "from-team-a")
		})
		if want := "proof shop/from-team-a (no IPv6 ipBlock) admits IPv6 from the prober"; cells["team-a"] != want {
			t.Errorf("prober-a: got %q, want %q", cells["team-a"], want)
		}
		if want := "failing denied: shop/from-team-a (no IPv6 ipBlock) does not admit IPv6 from the prober"; cells["team-b"] != want {
			t.Errorf("prober-b: got %q, want %q", cells["team-b"], want)
		}
	})

	t.Run("a coordinator that may watch only the probers refuses Service jobs", func(t *testing.T) {
		discoveryOnly := startCoordinator("discovery-only", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}})
		if _, stderr, code := probe(t, discoveryOnly, "svc/web"); code != 2 || !strings.Contains(stderr, "FAILED_PRECONDITION") || !strings.Contains(stderr, "grant its ServiceAccount list and watch") {
			t.Errorf("got exit %d (%s), want 2 saying what to grant", code, stderr)
		}
	})
}
