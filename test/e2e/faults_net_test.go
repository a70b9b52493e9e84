package e2e

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The fault matrix of issue 10: one dual-stack fault per layer, each made in
// a real cluster the way it happens in one, each judged by dsprobe evidence
// and dsprobe probe svc/NAME run from a Pod. Every case asserts the verdict
// of each family through both commands, and the evidence row that proves
// it.
//
//	case                            IPv4          IPv6               proving row
//	healthy RequireDualStack        LAYER_NONE    LAYER_NONE         every row proof
//	PreferDualStack                 LAYER_NONE    LAYER_NONE         Service IPs
//	SingleStack IPv6                LAYER_SERVICE LAYER_NONE         Service IPs
//	Pods given IPv4 only            LAYER_NONE    LAYER_POD_ADDRESS  Pod IPs
//	app bound to 0.0.0.0            LAYER_NONE    LAYER_LISTENER     listener
//	IPv6 ClusterIP dropped at node  LAYER_NONE    LAYER_DATAPATH     kube-proxy
//	IPv4-only policy, enforced      LAYER_NONE    LAYER_POLICY       NetworkPolicy
//	AAAA withheld by CoreDNS        LAYER_NONE    LAYER_DNS          DNS
//
// TestEvidenceInCluster holds the other faults of the matrix: SingleStack
// IPv4 (SERVICE), a selector matching nothing and Pods not ready
// (ENDPOINTS), a policy read but not enforced, and RBAC without nodes.
func TestServiceFaultsInCluster(t *testing.T) {
	c := kubelab.Start(t)
	publishProxyMode(t, c)
	client := c.AddPod(t, "dsprobe", "cli", nil)
	cli := podCLI{host: client, kubeconfig: evidenceKubeconfig(t, c, "evidence-reader", evidenceRules), namespace: "shop"}

	// Every Service but one selects a dual-stack Pod of its own, listening
	// on both families; each fault then breaks one thing.
	pods := map[string]*testhost.Host{}
	for _, app := range []string{"web", "local", "dropped", "guarded", "quiet"} {
		pods[app] = c.AddPod(t, "shop", app+"-1", map[string]string{"app": app})
	}
	pods["v4pods"] = c.AddSingleStackPod(t, dualstack.FamilyIPv4, "shop", "v4pods-1", map[string]string{"app": "v4pods"})
	for app, pod := range pods {
		if app == "local" {
			webServer(t, pod, "tcp4", "0.0.0.0:8080") // the app binds IPv4 only
			continue
		}
		webServer(t, pod, "tcp", "[::]:8080")
	}
	clusterIPs := map[string][]netip.Addr{}
	dual := []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	for _, s := range []struct {
		name, app string
		policy    corev1.IPFamilyPolicy
		families  []corev1.IPFamily
	}{
		{"web", "web", corev1.IPFamilyPolicyRequireDualStack, dual},
		{"web-prefer", "web", corev1.IPFamilyPolicyPreferDualStack, dual},
		{"web-v6", "web", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv6Protocol}},
		{"v4pods", "v4pods", corev1.IPFamilyPolicyRequireDualStack, dual},
		{"local", "local", corev1.IPFamilyPolicyRequireDualStack, dual},
		{"dropped", "dropped", corev1.IPFamilyPolicyRequireDualStack, dual},
		{"guarded", "guarded", corev1.IPFamilyPolicyRequireDualStack, dual},
		{"quiet", "quiet", corev1.IPFamilyPolicyRequireDualStack, dual},
	} {
		clusterIPs[s.name] = createService(t, c, "shop", s.name, s.app, s.policy, s.families...)
	}
	for name, ips := range clusterIPs {
		for _, ip := range ips {
			if name == "v4pods" && ip.Is6() {
				continue // no IPv6 endpoint to route to
			}
			c.WaitProxied(t, ip, 80, 1)
		}
	}
	// The IPv4-only Pod was published with both addresses for a moment.
	waitSlices(t, c, "shop", "v4pods", func(s []discoveryv1.EndpointSlice) bool {
		n := map[discoveryv1.AddressType]int{}
		for _, slice := range s {
			n[slice.AddressType] += len(slice.Endpoints)
		}
		return len(s) == 2 && n[discoveryv1.AddressTypeIPv4] == 1 && n[discoveryv1.AddressTypeIPv6] == 0
	})

	for _, tt := range []struct {
		name    string
		service string
		fault   func(t *testing.T)
		// want are each family's verdict: its layer and words of its
		// sentence ("" for a pass).
		want4, want6 verdictWant
		// proof are the cells that prove the verdicts.
		proof []cellWant
		// connected are, when set, the addresses probe svc/NAME connects
		// to on a path ("clusterIP", "endpoint").
		connected map[string][]string
	}{{
		name:    "healthy RequireDualStack: both pass",
		service: "web",
		want4:   verdictWant{"LAYER_NONE", ""}, want6: verdictWant{"LAYER_NONE", ""},
		proof: []cellWant{
			{"Pod IPs", "ipv6", "proof", "shop/web-1 " + pods["web"].Addr6().String()},
			{"Service IPs", "ipv6", "proof", "RequireDualStack [IPv4, IPv6], ClusterIP " + clusterIPs["web"][1].String()},
			{"listener", "ipv6", "proof", "accepts IPv6: 1 of 1 endpoint connect(s) reach the application"},
			{"verdict", "ipv4", "proof", "LAYER_NONE"},
			{"verdict", "ipv6", "proof", "LAYER_NONE"},
		},
	}, {
		name:    "PreferDualStack in a dual-stack cluster: two ClusterIPs, both pass",
		service: "web-prefer",
		want4:   verdictWant{"LAYER_NONE", ""}, want6: verdictWant{"LAYER_NONE", ""},
		proof: []cellWant{
			{"Service IPs", "ipv4", "proof", "PreferDualStack [IPv4, IPv6], ClusterIP " + clusterIPs["web-prefer"][0].String()},
			{"Service IPs", "ipv6", "proof", "PreferDualStack [IPv4, IPv6], ClusterIP " + clusterIPs["web-prefer"][1].String()},
		},
	}, {
		name:    "SingleStack IPv6: IPv4 fails at SERVICE",
		service: "web-v6",
		want4:   verdictWant{"LAYER_SERVICE", "Service shop/web-v6 is SingleStack [IPv6]: no IPv4 ClusterIP"},
		want6:   verdictWant{"LAYER_NONE", ""},
		proof: []cellWant{
			{"Service IPs", "ipv4", "missing", "missing: SingleStack [IPv6]: no IPv4 clusterIPs entry"},
			{"Service IPs", "ipv6", "proof", "SingleStack [IPv6], ClusterIP " + clusterIPs["web-v6"][0].String()},
		},
	}, {
		name:    "Pods given IPv4 only: IPv6 fails at POD_ADDRESS",
		service: "v4pods",
		want4:   verdictWant{"LAYER_NONE", ""},
		want6:   verdictWant{"LAYER_POD_ADDRESS", "Pod shop/v4pods-1 (1 of 1 selected by Service shop/v4pods) has IPv4 status.podIPs only, no IPv6"},
		proof: []cellWant{
			{"Pod IPs", "ipv4", "proof", "shop/v4pods-1 " + pods["v4pods"].Addr4().String()},
			{"Pod IPs", "ipv6", "missing", "missing: shop/v4pods-1 has IPv4 only"},
			{"EndpointSlices", "ipv6", "failing", ": 0 ready, 0 serving, 0 terminating of 0"},
			{"kube-proxy", "ipv6", "failing", "; the Service has no ready IPv6 endpoint to carry them to"},
		},
	}, {
		name:    "app bound to 0.0.0.0: IPv6 fails at LISTENER",
		service: "local",
		want4:   verdictWant{"LAYER_NONE", ""},
		want6:   verdictWant{"LAYER_LISTENER", "connects to " + netip.AddrPortFrom(pods["local"].Addr6(), 8080).String() + " are refused while IPv4 connects succeed: the application listens on IPv4 only"},
		proof: []cellWant{
			{"listener", "ipv4", "proof", "accepts IPv4: 1 of 1 endpoint connect(s) reach the application (listener: ipv4-only)"},
			{"listener", "ipv6", "failing", "refuses IPv6: connects to " + netip.AddrPortFrom(pods["local"].Addr6(), 8080).String() + " are refused (listener: ipv4-only)"},
		},
	}, {
		name:    "IPv6 ClusterIP dropped at the node: DATAPATH, the endpoints answer",
		service: "dropped",
		fault:   func(t *testing.T) { c.DropServiceIP(t, clusterIPs["dropped"][1], 80) },
		want4:   verdictWant{"LAYER_NONE", ""},
		want6:   verdictWant{"LAYER_DATAPATH", "while 1 of 1 IPv6 endpoint(s) answer directly: kube-proxy (nftables mode)"},
		proof: []cellWant{
			{"kube-proxy", "ipv4", "proof", "nftables mode: ClusterIP " + netip.AddrPortFrom(clusterIPs["dropped"][0], 80).String() + " answers"},
			{"kube-proxy", "ipv6", "failing", "nftables mode: connects to ClusterIP " + netip.AddrPortFrom(clusterIPs["dropped"][1], 80).String() + " time out while the endpoints answer directly"},
			{"listener", "ipv6", "proof", "accepts IPv6: 1 of 1 endpoint connect(s) reach the application"},
		},
		connected: map[string][]string{
			"clusterIP": {netip.AddrPortFrom(clusterIPs["dropped"][0], 80).String()},
			"endpoint":  {netip.AddrPortFrom(pods["dropped"].Addr4(), 8080).String(), netip.AddrPortFrom(pods["dropped"].Addr6(), 8080).String()},
		},
	}, {
		name:    "an IPv4-only NetworkPolicy enforced: IPv6 fails at POLICY naming it",
		service: "guarded",
		fault: func(t *testing.T) {
			createPolicyFor(t, c, "shop", "v4-only", "guarded", networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(client.Addr4(), 32).String()}})
			// The CNI's enforcement: the policy admits no IPv6, so
			// every IPv6 packet to the Pod's port is dropped at the Pod.
			enforcePolicy(t, pods["guarded"], netip.AddrPortFrom(pods["guarded"].Addr6(), 8080))
		},
		want4: verdictWant{"LAYER_NONE", ""},
		want6: verdictWant{"LAYER_POLICY", "NetworkPolicy shop/v4-only selects the Pods of Service shop/guarded and no ingress rule admits IPv6 from the prober (the ipBlocks are IPv4 only: " + client.Addr4().String() + "/32)"},
		proof: []cellWant{
			{"NetworkPolicy", "ipv4", "proof", "shop/v4-only (IPv4 ipBlocks " + client.Addr4().String() + "/32) admits IPv4 from the prober"},
			{"NetworkPolicy", "ipv6", "failing", "denied: shop/v4-only (no IPv6 ipBlock) does not admit IPv6 from the prober"},
		},
	}, {
		name:    "AAAA withheld by CoreDNS: IPv6 fails at DNS",
		service: "quiet",
		fault:   func(t *testing.T) { c.WithholdAAAA(t, "shop", "quiet") },
		want4:   verdictWant{"LAYER_NONE", ""},
		want6:   verdictWant{"LAYER_DNS", "Service shop/quiet has an IPv6 ClusterIP (" + clusterIPs["quiet"][1].String() + ") but the AAAA query for quiet.shop.svc.cluster.local answered NOERROR with no records (NODATA)"},
		proof: []cellWant{
			{"DNS", "ipv4", "proof", "A " + clusterIPs["quiet"][0].String()},
			{"DNS", "ipv6", "missing", "missing: no AAAA record (AAAA NODATA from " + netip.AddrPortFrom(kubelab.ClusterDNS4, 53).String() + ")"},
			{"Service IPs", "ipv6", "proof", clusterIPs["quiet"][1].String()},
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				tt.fault(t)
			}
			wantCode := 0
			if tt.want4.layer != "LAYER_NONE" || tt.want6.layer != "LAYER_NONE" {
				wantCode = 1
			}
			ev := cli.evidenceOf(t, wantCode, "svc/"+tt.service)
			res := cli.probeService(t, wantCode, "svc/"+tt.service)
			for _, w := range []struct {
				family string
				verdictWant
			}{{"FAMILY_IPV4", tt.want4}, {"FAMILY_IPV6", tt.want6}} {
				assertVerdict(t, ev, w.family, w.layer, w.detail)
				assertProbeVerdict(t, res, w.family, w.layer, w.detail)
			}
			for path, want := range tt.connected {
				got := res.connected(t, path)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("probe path %s: connected to %v, want %v", path, got, want)
				}
			}
			for _, w := range tt.proof {
				if status, text := ev.cell(t, w.row, w.family); status != w.status || !strings.Contains(text, w.text) {
					t.Errorf("%s %s: got %s %q, want %s holding %q", w.row, w.family, status, text, w.status, w.text)
				}
			}
			// -v shows each fault's table as printed, for docs and reviews.
			if t.Failed() || testing.Verbose() {
				stdout, _, _ := cli.evidence(t, "svc/"+tt.service)
				t.Logf("dsprobe evidence -n shop svc/%s:\n%s", tt.service, stdout)
			}
		})
	}
}

// verdictWant is a family's verdict: its failing layer, and words of its
// sentence.
type verdictWant struct{ layer, detail string }

// cellWant is an evidence cell: its status and words of its text.
type cellWant struct{ row, family, status, text string }

// enforcePolicy drops, in the Pod, the packets to dst, as a CNI enforcing a
// NetworkPolicy that admits none of them does, until the test ends.
func enforcePolicy(t *testing.T, pod *testhost.Host, dst netip.AddrPort) {
	t.Helper()
	if err := pod.DropInbound(dst); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pod.ClearFaults(); err != nil {
			t.Error(err)
		}
	})
}

// assertProbeVerdict checks the family's verdict of dsprobe probe svc/NAME.
func assertProbeVerdict(t *testing.T, res *serviceProbeJSON, family, layer, detail string) {
	t.Helper()
	for _, v := range res.Verdicts {
		if v.Family == family {
			if v.FailingLayer != layer || v.OK != (layer == "LAYER_NONE") || !strings.Contains(v.Detail, detail) {
				t.Errorf("probe %s: got %s ok=%v %q, want %s saying %q", family, v.FailingLayer, v.OK, v.Detail, layer, detail)
			}
			return
		}
	}
	t.Errorf("probe: no %s verdict in %+v, want %s", family, res.Verdicts, layer)
}
