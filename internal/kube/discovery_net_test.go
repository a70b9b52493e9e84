package kube_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

var (
	proberLabels = map[string]string{"app.kubernetes.io/name": "dsprobe-prober"}
	grpcPort     = corev1.ContainerPort{Name: "grpc", ContainerPort: 8443, Protocol: corev1.ProtocolTCP}
)

// Probers in three selected namespaces are found with their node, both
// podIPs and the named gRPC port; a NotReady one with its reason; nothing
// in a namespace the selector leaves out, nor a Pod without the prober's
// label. A Pod added, and one deleted (terminating first, as no kubelet
// confirms it, then gone), are seen by waiting on the informer, never by
// asking the API server again. The discovery runs as a ServiceAccount that
// may only list and watch Pods and Namespaces.
func TestDiscoveryInCluster(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	c := kubelab.Start(t)
	selected := []string{"probe-a", "probe-b", "probe-c"}
	for _, ns := range append(selected, "elsewhere") {
		labels := map[string]string{"dsprobe.io/probers": "on"}
		if ns == "elsewhere" {
			labels = nil
		}
		c.AddNamespace(t, ns, labels)
	}
	pods := map[string]*testhost.Host{}
	for _, ns := range append(selected, "elsewhere") {
		pods[ns+"/prober"] = c.AddPod(t, ns, "prober", proberLabels, grpcPort)
	}
	c.AddPod(t, "probe-a", "web", map[string]string{"app": "web"}, grpcPort)
	pods["probe-c/starting"] = c.AddPod(t, "probe-c", "starting", proberLabels, grpcPort)
	c.SetPodNotReady(t, "probe-c", "starting")

	// What the discovery with a namespace selector reads, and nothing
	// else.
	token := c.ServiceAccountToken(t, "dsprobe", "coordinator")
	c.Grant(t, "dsprobe", "coordinator", "", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"list", "watch"}})
	client := c.ClientFor(t, token)
	if _, err := client.CoreV1().Services("probe-a").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the coordinator's token listing Services: got %v, want forbidden (it is not least-privilege)", err)
	}

	d, err := kube.NewDiscovery(client, kube.DiscoveryOptions{
		LabelSelector:     "app.kubernetes.io/name=dsprobe-prober",
		NamespaceSelector: "dsprobe.io/probers=on",
	})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 1) // a wake-up; one pending is enough
	if err := d.OnChange(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	probers := proberMap(t, d)
	want := []string{"probe-a/prober", "probe-b/prober", "probe-c/prober", "probe-c/starting"}
	if got := slices.Sorted(maps.Keys(probers)); !slices.Equal(got, want) {
		t.Fatalf("got probers %v, want %v", got, want)
	}
	for id, p := range probers {
		checkAddresses(t, p, pods[id])
		ready, reason := id != "probe-c/starting", ""
		if !ready {
			reason = "condition Ready is False (ContainersNotReady)"
		}
		if p.GetReady() != ready || p.GetNotReadyReason() != reason || p.GetNode() != kubelab.NodeName {
			t.Errorf("%s: got ready %v (%q) on node %q, want ready %v (%q) on %s", id, p.GetReady(), p.GetNotReadyReason(), p.GetNode(), ready, reason, kubelab.NodeName)
		}
	}

	added := c.AddPod(t, "probe-b", "late", proberLabels, grpcPort)
	p := waitProber(t, ctx, d, changed, "probe-b/late", func(p *dsprobev1.ProberInfo) bool { return p != nil && p.GetReady() })
	checkAddresses(t, p, added)

	// With no kubelet to confirm it, a deleted Pod stays terminating until
	// it is removed without grace.
	if err := c.Client.CoreV1().Pods("probe-a").Delete(t.Context(), "prober", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProber(t, ctx, d, changed, "probe-a/prober", func(p *dsprobev1.ProberInfo) bool {
		return p != nil && !p.GetReady() && p.GetNotReadyReason() == "terminating"
	})
	if err := c.Client.CoreV1().Pods("probe-a").Delete(t.Context(), "prober", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitProber(t, ctx, d, changed, "probe-a/prober", func(p *dsprobev1.ProberInfo) bool { return p == nil })

	// Namespaces listed need no cluster-wide rights: a RoleBinding in each
	// is enough, as each is watched on its own. The same ServiceAccount
	// told to search every namespace is refused, and Start says so at once.
	teamToken := c.ServiceAccountToken(t, "dsprobe", "team-coordinator")
	for _, ns := range []string{"probe-b", "probe-c"} {
		c.Grant(t, "dsprobe", "team-coordinator", ns, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}})
	}
	team := c.ClientFor(t, teamToken)
	listed, err := kube.NewDiscovery(team, kube.DiscoveryOptions{LabelSelector: "app.kubernetes.io/name=dsprobe-prober", Namespaces: []string{"probe-b", "probe-c"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := listed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer listed.Stop()
	want = []string{"probe-b/late", "probe-b/prober", "probe-c/prober", "probe-c/starting"}
	if got := slices.Sorted(maps.Keys(proberMap(t, listed))); !slices.Equal(got, want) {
		t.Errorf("namespaces listed: got probers %v, want %v", got, want)
	}
	everywhere, err := kube.NewDiscovery(team, kube.DiscoveryOptions{LabelSelector: "app.kubernetes.io/name=dsprobe-prober"})
	if err != nil {
		t.Fatal(err)
	}
	err = everywhere.Start(ctx)
	everywhere.Stop()
	if !apierrors.IsForbidden(err) || ctx.Err() != nil {
		t.Errorf("every namespace with rights in two: got %v, want the API server's refusal before the test's deadline", err)
	}
}

func proberMap(t *testing.T, d *kube.Discovery) map[string]*dsprobev1.ProberInfo {
	t.Helper()
	probers, err := d.Probers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dsprobev1.ProberInfo{}
	for _, p := range probers {
		out[p.GetNamespace()+"/"+p.GetName()] = p
	}
	return out
}

// waitProber waits on the informer's change notifications until the prober
// id (nil when absent) satisfies done, and returns it.
func waitProber(t *testing.T, ctx context.Context, d *kube.Discovery, changed <-chan struct{}, id string, done func(*dsprobev1.ProberInfo) bool) *dsprobev1.ProberInfo {
	t.Helper()
	for {
		if p := proberMap(t, d)[id]; done(p) {
			return p
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("prober %s: the informer saw no change that satisfies the test: %v", id, proberMap(t, d)[id])
		}
	}
}

// checkAddresses checks that a prober is reached at its Pod's IPv4 address
// (the primary podIP) on the grpc port, and lists both podIPs.
func checkAddresses(t *testing.T, p *dsprobev1.ProberInfo, pod *testhost.Host) {
	t.Helper()
	want := netip.AddrPortFrom(pod.Addr4(), uint16(grpcPort.ContainerPort)).String()
	wantIPs := fmt.Sprint([]string{pod.Addr4().String(), pod.Addr6().String()})
	if p.GetAddress() != want || fmt.Sprint(p.GetPodIps()) != wantIPs ||
		!slices.Equal(p.GetFamilies(), []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4, dsprobev1.Family_FAMILY_IPV6}) {
		t.Errorf("%s/%s: got address %s, podIPs %v, families %v; want %s, %s, both families",
			p.GetNamespace(), p.GetName(), p.GetAddress(), p.GetPodIps(), p.GetFamilies(), want, wantIPs)
	}
}
