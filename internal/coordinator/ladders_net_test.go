package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// publishedProber answers every probe as a healthy dual-stack target whose
// AAAA is published, counting the probes it was asked.
type publishedProber struct {
	dsprobev1.UnimplementedProberServer
	asked atomic.Int32
}

func (p *publishedProber) Probe(_ context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	p.asked.Add(1)
	positive := func(addr string) *dsprobev1.DnsAnswer {
		return &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Rcode: "NOERROR", Addresses: []string{addr}}
	}
	return &dsprobev1.ProbeResponse{Result: &dsprobev1.ProbeResult{
		Target: req.GetTarget(),
		Dns:    &dsprobev1.DnsAnswers{A: positive("192.0.2.1"), Aaaa: positive("2001:db8::1")},
		Families: []*dsprobev1.FamilyVerdict{
			{Family: dsprobev1.Family_FAMILY_IPV4, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE},
			{Family: dsprobev1.Family_FAMILY_IPV6, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE},
		},
	}}, nil
}

// frozenClock is the schedule's time, standing still: each ladder is due
// once, when the scheduler first looks, and never again, so the test
// waits for nothing but that climb.
type frozenClock struct{ now time.Time }

func (c frozenClock) Now() time.Time                       { return c.now }
func (c frozenClock) After(time.Duration) <-chan time.Time { return nil }

// The coordinator's ladders on a real API server, with the shipped RBAC
// and nothing more: the replica takes the Lease, climbs every DNSLadder
// once, each rung an ordinary job (kept for GetJob, its ID in the status),
// and writes the status through the status subresource. Each job is
// authorised as the ladder's ServiceAccount by a real SubjectAccessReview:
// RBAC lets shop's dsprobe-ladder probe from team-a and not team-b, so the
// ladder whose upper rung probes from team-b is refused there — Failing,
// the namespace named in its status — although the coordinator itself
// may use every prober, and team-b's prober is never asked.
func TestLaddersInCluster(t *testing.T) {
	c := kubelab.Start(t)
	admin := c.Client
	for _, ns := range []string{"dsprobe", "shop", "team-a", "team-b"} {
		c.AddNamespace(t, ns, nil)
	}
	for _, f := range []string{"dnsladder-crd.yaml", "coordinator-rbac.yaml", "user-role.yaml"} {
		manifest, err := os.ReadFile("../../deploy/base/" + f)
		if err != nil {
			t.Fatal(err)
		}
		c.Apply(t, manifest, kubelab.ApplyOptions{})
	}
	eventually(t, "dnsladders.dsprobe.io served", func() error {
		_, err := admin.Discovery().ServerResourcesForGroupVersion(ladder.APIVersion)
		return err
	})
	// The ladders' ServiceAccount may probe from team-a alone.
	serviceAccount(t, admin, "shop", ladder.DefaultServiceAccount)
	create(t, admin.RbacV1().RoleBindings("team-a").Create, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-ladder-probes"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dsprobe-user"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "shop", Name: ladder.DefaultServiceAccount}},
	})
	c.Apply(t, []byte(`apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: web, namespace: shop}
spec:
  target: {address: "web.shop.example:80"}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true}
---
apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: wide, namespace: shop}
spec:
  target: {address: "web.shop.example:80"}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true}
    - {name: broad, vantage: {namespaces: [team-a, team-b]}, aaaaExpected: true}
`), kubelab.ApplyOptions{})

	// The coordinator runs as its ServiceAccount, with the shipped role.
	sa, err := admin.CoreV1().ServiceAccounts("dsprobe").Get(t.Context(), "dsprobe-coordinator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restConfig := rest.AnonymousClientConfig(c.RESTConfig())
	restConfig.BearerToken = mint(t, admin, sa)
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	store, err := kube.NewDNSLadderStore(restConfig)
	if err != nil {
		t.Fatal(err)
	}

	teamA, teamB := &publishedProber{}, &publishedProber{}
	conn := &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	t.Cleanup(func() { conn.Close() })
	svc := &Service{
		Connector: conn, Jobs: NewJobStore(0),
		Authorizer: authn.NamespaceAuthorizer{Authorizer: kube.NewAuthorizer(client)},
		Discovery: Static{
			{Name: "a", Namespace: "team-a", Address: startProber(t, teamA)},
			{Name: "b", Namespace: "team-b", Address: startProber(t, teamB)},
		},
	}
	metrics := NewLadderMetrics(prometheus.NewRegistry())
	lease := kube.Lease{Namespace: "dsprobe", Name: "dsprobe-ladders", Identity: "coordinator-0"}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- svc.RunLadders(ctx, Ladders{
			Store: store, Clock: frozenClock{time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, Metrics: metrics, Log: slog.New(slog.DiscardHandler),
			Lead: func(ctx context.Context, lead func(context.Context)) error {
				return kube.WhileLeading(ctx, restConfig, lease, lead)
			},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunLadders ended with %v, want context.Canceled", err)
		}
	}()

	adminStore, err := kube.NewDNSLadderStore(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) (*ladder.DNSLadder, error) {
		ladders, err := adminStore.List(t.Context())
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(ladders, func(l ladder.DNSLadder) bool { return l.Metadata.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("no DNSLadder %s", name)
		}
		if l := &ladders[i]; l.Status != nil && l.Status.LastRunTime != nil {
			return l, nil
		}
		return nil, fmt.Errorf("DNSLadder shop/%s has not run", name)
	}
	var web, wide *ladder.DNSLadder
	eventually(t, "both ladders climbed", func() (err error) {
		if web, err = read("web"); err == nil {
			wide, err = read("wide")
		}
		return err
	})

	if st := web.Status; st.State != ladder.LadderPassing || st.HighestRungCleared != "internal" || st.RungsCleared != 1 {
		t.Errorf("web: got state %s, %d rung(s) cleared up to %q; want Passing, 1, internal", st.State, st.RungsCleared, st.HighestRungCleared)
	}
	run := web.Status.Rungs[0].LastRuns[0]
	if run.JobID == "" || svc.Jobs.get(run.JobID) == nil || len(run.Vantages) != 1 || run.Vantages[0].Namespace != "team-a" {
		t.Errorf("web's rung: got %+v, want team-a's answer under a job kept for GetJob", run)
	}

	internal, broad := wide.Status.Rungs[0], wide.Status.Rungs[1]
	if internal.State != ladder.Passing {
		t.Errorf("wide's internal rung: got %s (%s), want Passing", internal.State, internal.Reason)
	}
	refusal := "system:serviceaccount:shop:dsprobe-ladder may not create probes.dsprobe.io in namespace team-b"
	if broad.State != ladder.Failing || !strings.Contains(broad.Reason, refusal) {
		t.Errorf("wide's broad rung: got %s (%s), want Failing, saying %q", broad.State, broad.Reason, refusal)
	}
	if i := slices.IndexFunc(wide.Status.Conditions, func(c ladder.Condition) bool { return c.Type == ladder.ConditionCleared }); i < 0 ||
		wide.Status.Conditions[i].Status != "False" || !strings.Contains(wide.Status.Conditions[i].Message, "team-b") {
		t.Errorf("wide's conditions: got %+v, want Cleared False naming team-b", wide.Status.Conditions)
	}
	if n := teamB.asked.Load(); n != 0 {
		t.Errorf("team-b's prober was asked %d time(s), want never: the ladder may not probe from there", n)
	}

	got, err := admin.CoordinationV1().Leases("dsprobe").Get(t.Context(), "dsprobe-ladders", metav1.GetOptions{})
	if err != nil || got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "coordinator-0" {
		t.Errorf("Lease dsprobe/dsprobe-ladders: got %+v, %v; want it held by coordinator-0", got, err)
	}
	for _, m := range []struct {
		name string
		got  prometheus.Collector
		want float64
	}{
		{"web internal passing", metrics.passing.WithLabelValues("shop", "web", "internal"), 1},
		{"wide broad passing", metrics.passing.WithLabelValues("shop", "wide", "broad"), 0},
		{"wide broad failing runs", metrics.runs.WithLabelValues("shop", "wide", "broad", "Failing"), 1},
		{"web rungs cleared", metrics.cleared.WithLabelValues("shop", "web"), 1},
	} {
		if v := testutil.ToFloat64(m.got); v != m.want {
			t.Errorf("%s: got %v, want %v", m.name, v, m.want)
		}
	}
}
