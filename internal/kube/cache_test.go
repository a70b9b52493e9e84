package kube

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// serviceWorld is a dual-stack Service shop/web with a Pod behind it, its
// slices, a Node, a NetworkPolicy admitting an IPv4 ipBlock only, the
// kube-proxy ConfigMap and a prober Pod in a labelled namespace; with the
// fields the caches trim away set, so a trim too eager shows.
func serviceWorld() []runtime.Object {
	policy := corev1.IPFamilyPolicyRequireDualStack
	ready := true
	port, http := int32(8080), "http"
	meta := func(ns, name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: map[string]string{"big": "annotation"}}
	}
	slice := func(name string, family discoveryv1.AddressType, addr string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta: meta("shop", name, map[string]string{discoveryv1.LabelServiceName: "web"}), AddressType: family,
			Ports:     []discoveryv1.EndpointPort{{Name: &http, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		}
	}
	pod := func(ns, name string, labels map[string]string, ip4, ip6 string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: meta(ns, name, labels),
			Spec: corev1.PodSpec{NodeName: "node", Containers: []corev1.Container{{Name: "main", Image: "web",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}, Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip4, PodIPs: []corev1.PodIP{{IP: ip4}, {IP: ip6}},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
		}
	}
	return []runtime.Object{
		&corev1.Service{ObjectMeta: meta("shop", "web", nil), Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, IPFamilyPolicy: &policy,
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			ClusterIP:  "10.96.0.20", ClusterIPs: []string{"10.96.0.20", "fd00:10:96::20"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		}},
		slice("web-v4", discoveryv1.AddressTypeIPv4, "10.244.0.11"),
		slice("web-v6", discoveryv1.AddressTypeIPv6, "fd00:10:244::11"),
		pod("shop", "web-1", map[string]string{"app": "web"}, "10.244.0.11", "fd00:10:244::11"),
		pod("probes", "prober-1", map[string]string{"app": "dsprobe"}, "10.244.0.50", "fd00:10:244::50"),
		&corev1.Namespace{ObjectMeta: meta("", "probes", map[string]string{"team": "sre"})},
		&corev1.Node{ObjectMeta: meta("", "node", nil), Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24", "fd00:10:244::/64"}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}, {Type: corev1.NodeHostName, Address: "node"}}}},
		&networkingv1.NetworkPolicy{ObjectMeta: meta("shop", "v4-only", nil), Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/16"}},
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "sre"}}},
			}}},
		}},
		&corev1.ConfigMap{ObjectMeta: meta("kube-system", "kube-proxy", nil), Data: map[string]string{"config.conf": "mode: nftables\n"}},
	}
}

// The informers' caches, trimmed, give the same evidence as one-shot
// Lists of the API: one reading logic over two readers.
func TestEvidenceCacheReadsAsTheAPI(t *testing.T) {
	client := fake.NewClientset(serviceWorld()...)
	q := ServiceQuery{Namespace: "shop", Name: "web", Port: "http"}
	want, err := ReadServiceObjects(t.Context(), client, q)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewEvidenceCache(client)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	got, err := c.ReadService(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Evidence, want.Evidence) || !reflect.DeepEqual(got.ReadyEndpoints, want.ReadyEndpoints) || got.Port.Port != 80 {
		t.Errorf("from the caches:\n%+v %v\nfrom the API:\n%+v %v", got.Evidence, got.ReadyEndpoints, want.Evidence, want.ReadyEndpoints)
	}

	// The prober Pod, found by its IPs in the cache with its namespace's
	// labels: the namespaceSelector peer admits both families from it.
	prober := got.Prober(t.Context(), []netip.Addr{netip.MustParseAddr("10.244.0.50"), netip.MustParseAddr("fd00:10:244::50")})
	if prober.Pod == nil || prober.Pod.Namespace != "probes" || prober.Pod.NamespaceLabels["team"] != "sre" {
		t.Fatalf("got prober %+v, want the Pod probes/prober-1 with its namespace's labels", prober.Pod)
	}
	for _, f := range []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6} {
		if ps := got.For(f, prober).NetworkPolicies; len(ps) != 1 || !ps[0].Admits {
			t.Errorf("%v: got %+v, want v4-only admitting the prober's namespace", f, ps)
		}
	}
	// A laptop outside the cluster: the IPv4 ipBlock admits, nothing
	// admits IPv6.
	laptop := got.Prober(t.Context(), []netip.Addr{netip.MustParseAddr("10.244.9.9"), netip.MustParseAddr("2001:db8::9")})
	if ps := got.For(dualstack.FamilyIPv6, laptop).NetworkPolicies; laptop.Pod != nil || len(ps) != 1 || ps[0].Admits {
		t.Errorf("got %+v, %+v; want no Pod and IPv6 not admitted", laptop.Pod, ps)
	}

	var notFound *ServiceNotFoundError
	if _, err := c.ReadService(t.Context(), ServiceQuery{Namespace: "shop", Name: "gone"}); !errors.As(err, &notFound) {
		t.Errorf("an absent Service: got %v, want a ServiceNotFoundError", err)
	}
}

// trim keeps what the evidence reads and drops what it does not; trimming
// twice is trimming once, as an informer's transform must be.
func TestTrimEvidence(t *testing.T) {
	for _, obj := range serviceWorld() {
		if _, ok := obj.(*corev1.ConfigMap); ok {
			continue // not cached: a Get when asked
		}
		once, err := trim(obj)
		if err != nil {
			t.Fatal(err)
		}
		twice, _ := trim(once)
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("%T: trim is not idempotent", obj)
		}
		if m, ok := once.(metav1.Object); ok && len(m.GetAnnotations()) > 0 {
			t.Errorf("%T kept its annotations", obj)
		}
	}
}
