package kube

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Whether a NetworkPolicy admits the prober's connects, per family, as the
// API documents NetworkPolicy (networking/v1 NetworkPolicySpec and
// NetworkPolicyPeer): rules add up, an empty list of peers or ports admits
// all, an ipBlock holds one family's CIDR minus its except entries,
// selector peers match Pods only.
func TestPolicyAdmits(t *testing.T) {
	laptop := Prober{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}}
	v4Only := Prober{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}}
	proberPod := Prober{
		Addrs: []netip.Addr{netip.MustParseAddr("10.244.0.9"), netip.MustParseAddr("fd00:10:244::9")},
		Pod:   &PodIdentity{Namespace: "probes", Labels: map[string]string{"app": "dsprobe"}, NamespaceLabels: map[string]string{"team": "sre"}},
	}
	sameNamespacePod := proberPod
	sameNamespacePod.Pod = &PodIdentity{Namespace: "shop", Labels: map[string]string{"app": "dsprobe"}}

	ipBlock := func(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
	}
	podSel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "dsprobe"}}
	nsSel := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "sre"}}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p intstr.IntOrString, proto *corev1.Protocol, end *int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: &p, Protocol: proto, EndPort: end}
	}
	end := int32(8100)
	rule := func(ports []networkingv1.NetworkPolicyPort, from ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
		return networkingv1.NetworkPolicyIngressRule{Ports: ports, From: from}
	}

	tests := []struct {
		name             string
		ingress          []networkingv1.NetworkPolicyIngressRule
		prober           Prober
		wantIPv4, wantV6 bool
	}{
		{"no ingress rule: default deny", nil, laptop, false, false},
		{"an empty rule admits everything", []networkingv1.NetworkPolicyIngressRule{{}}, laptop, true, true},
		// The seed's fault: a policy written for IPv4 admits no IPv6.
		{"IPv4 ipBlock only", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("192.0.2.0/24"))}, laptop, true, false},
		{"IPv6 ipBlock only", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("2001:db8::/32"))}, laptop, false, true},
		{"an ipBlock per family", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("192.0.2.0/24")), rule(nil, ipBlock("2001:db8::/32"))}, laptop, true, true},
		{"ipBlock not holding the prober", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("198.51.100.0/24"), ipBlock("2001:db8:1::/48"))}, laptop, false, false},
		{"the prober in except", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("192.0.2.0/24", "192.0.2.0/29"), ipBlock("::/0", "2001:db8::/64"))}, laptop, false, false},
		{"an all-addresses block per family", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("0.0.0.0/0"), ipBlock("::/0"))}, laptop, true, true},
		{"no IPv6 source: an ipBlock cannot admit IPv6", []networkingv1.NetworkPolicyIngressRule{rule(nil, ipBlock("::/0"))}, v4Only, false, false},
		{"the port listed", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{port(intstr.FromInt32(8080), nil, nil)})}, laptop, true, true},
		{"another port listed", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{port(intstr.FromInt32(9090), &tcp, nil)})}, laptop, false, false},
		{"the port in a range", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{port(intstr.FromInt32(8000), nil, &end)})}, laptop, true, true},
		{"the port's name", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), nil, nil)})}, laptop, true, true},
		{"another name", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{port(intstr.FromString("metrics"), nil, nil)})}, laptop, false, false},
		{"UDP only", []networkingv1.NetworkPolicyIngressRule{rule([]networkingv1.NetworkPolicyPort{{Protocol: &udp}})}, laptop, false, false},
		{"podSelector: not a Pod", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{PodSelector: podSel})}, laptop, false, false},
		{"podSelector: a Pod of another namespace", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{PodSelector: podSel})}, proberPod, false, false},
		{"podSelector: a Pod of the namespace, both families", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{PodSelector: podSel})}, sameNamespacePod, true, true},
		{"namespaceSelector", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel})}, proberPod, true, true},
		{"namespaceSelector and a podSelector it does not match", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}})}, proberPod, false, false},
		{"an empty namespaceSelector: every namespace", []networkingv1.NetworkPolicyIngressRule{rule(nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})}, proberPod, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "shop"},
				Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: tt.ingress},
			}
			for _, c := range []struct {
				f    dualstack.Family
				want bool
			}{{dualstack.FamilyIPv4, tt.wantIPv4}, {dualstack.FamilyIPv6, tt.wantV6}} {
				if got := policyAdmits(p, tt.prober, c.f, 8080, []string{"http"}); got != c.want {
					t.Errorf("%s: got admits %v, want %v", c.f.Label(), got, c.want)
				}
			}
		})
	}
}

// Which policies govern the Service's Pods' ingress: their podSelector
// selects one of the Pods, and policyTypes lists Ingress or is empty.
func TestSelectingPolicies(t *testing.T) {
	pods := []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}}}}
	policy := func(name string, sel map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types},
		}
	}
	got := selectingPolicies([]*networkingv1.NetworkPolicy{
		policy("all-pods", nil),
		policy("web-ingress", map[string]string{"app": "web"}, networkingv1.PolicyTypeIngress),
		policy("web-egress-only", map[string]string{"app": "web"}, networkingv1.PolicyTypeEgress),
		policy("db", map[string]string{"app": "db"}),
	}, pods)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if want := []string{"all-pods", "web-ingress"}; len(names) != len(want) || names[0] != want[0] || names[1] != want[1] {
		t.Errorf("got %v, want %v", names, want)
	}
}

// kube-proxy's mode from its KubeProxyConfiguration: the top-level field
// only, an empty mode being iptables (Linux's default).
func TestKubeProxyMode(t *testing.T) {
	tests := []struct {
		config string
		want   string
		ok     bool
	}{
		{"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n", "nftables", true},
		{"mode: \"ipvs\"\n", "ipvs", true},
		{"mode: \"\"\n", "iptables", true},
		{"kind: KubeProxyConfiguration\nwinkernel:\n  mode: overlay\n", "iptables", true},
		{"mode: kernelspace\n", "unknown", false},
		{"", "unknown", false},
	}
	for _, tt := range tests {
		got, ok := kubeProxyMode(tt.config)
		if got.String() != tt.want || ok != tt.ok {
			t.Errorf("kubeProxyMode(%q): got %v, %v, want %v, %v", tt.config, got, ok, tt.want, tt.ok)
		}
	}
}
