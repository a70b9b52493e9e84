package coordinator

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// podProber is a stub prober in a Pod: it counts the probes it is asked
// and says when it is asked, then answers as stubProber does.
type podProber struct {
	stubProber
	asked  atomic.Int32
	called chan struct{} // a wake-up per probe; one pending is enough
}

func (p *podProber) Probe(ctx context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	p.asked.Add(1)
	select {
	case p.called <- struct{}{}:
	default:
	}
	return p.stubProber.Probe(ctx, req)
}

// A coordinator in the cluster, discovering its probers through the API as
// a ServiceAccount that may only list and watch Pods and Namespaces, sends a
// job to the ready probers of the selected namespaces and to no other: not
// the NotReady one (ListProbers says why), not one in a namespace left
// out. A Pod that appears, and one that goes away, while a job runs
// neither joins nor stalls it; the next job has the newcomer and not the
// one gone.
func TestJobsGoToDiscoveredProbers(t *testing.T) {
	c := kubelab.Start(t)
	for _, ns := range []string{"probe-a", "probe-b", "probe-c"} {
		c.AddNamespace(t, ns, map[string]string{"dsprobe.io/probers": "on"})
	}
	probers := map[string]*podProber{}
	addProber := func(namespace, name string, hang bool) {
		host := c.AddPod(t, namespace, name, map[string]string{"app.kubernetes.io/name": "dsprobe-prober"},
			corev1.ContainerPort{Name: "grpc", ContainerPort: 8443})
		p := &podProber{stubProber: stubProber{ipv6OK: true, hang: hang}, called: make(chan struct{}, 1)}
		ln, err := host.Listen("tcp", "[::]:8443")
		if err != nil {
			t.Fatal(err)
		}
		serveProber(t, ln, p)
		probers[namespace+"/"+name] = p
	}
	for _, id := range [][2]string{{"probe-a", "prober"}, {"probe-b", "prober"}, {"probe-c", "prober"}, {"probe-c", "starting"}, {"elsewhere", "prober"}} {
		addProber(id[0], id[1], false)
	}
	c.SetPodNotReady(t, "probe-c", "starting")

	token := c.ServiceAccountToken(t, "dsprobe", "coordinator")
	c.Grant(t, "dsprobe", "coordinator", "", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"list", "watch"}})
	client := c.ClientFor(t, token)
	d, err := kube.NewDiscovery(client, kube.DiscoveryOptions{
		LabelSelector: "app.kubernetes.io/name=dsprobe-prober", NamespaceSelector: "dsprobe.io/probers=on",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The coordinator runs in a Pod of its own, reaching the probers at
	// their podIPs as it would in a cluster.
	coordinatorPod := c.AddPod(t, "dsprobe", "coordinator", nil)
	conn := &GRPCConnector{Options: []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return coordinatorPod.DialContext(ctx, "tcp", addr)
		}),
	}}
	defer conn.Close()
	changed := make(chan struct{}, 1)
	if err := d.OnChange(func() {
		retainDiscovered(t.Context(), d, conn) // as serve does
		select {
		case changed <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	coord := startCoordinator(t, &Service{Discovery: d, Connector: conn})
	job := &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "web.shop.svc:80"}, ProberTimeoutMs: 2000}

	run := runJob(t, coord, job)
	if got, want := answered(run), []string{"probe-a/prober", "probe-b/prober", "probe-c/prober"}; !slices.Equal(got, want) || !run.Summary.GetPassed() {
		t.Errorf("got answers from %v (summary %v), want passing answers from %v", got, run.Summary, want)
	}
	for _, id := range []string{"probe-c/starting", "elsewhere/prober"} {
		if n := probers[id].asked.Load(); n != 0 {
			t.Errorf("%s was asked %d probes, want none", id, n)
		}
	}
	list, err := coord.ListProbers(t.Context(), &dsprobev1.ListProbersRequest{Namespaces: []string{"probe-c"}})
	if err != nil {
		t.Fatal(err)
	}
	if ps := list.GetProbers(); len(ps) != 2 || ps[1].GetName() != "starting" || ps[1].GetReady() ||
		ps[1].GetNotReadyReason() != "condition Ready is False (ContainersNotReady)" {
		t.Errorf("got %v, want probe-c's prober, and starting NotReady with its reason", ps)
	}

	// A prober that holds its job; while it does, its Pod goes away and
	// another appears. The call to the Pod gone ends when the Pod does,
	// not at the job's budget, here far longer than the test waits.
	addProber("probe-b", "slow", true)
	waitForProber(t, d, changed, "probe-b/slow", true)
	done := make(chan *JobRun, 1)
	go func() {
		run, err := RunJob(t.Context(), coord, &dsprobev1.RunProbeRequest{Probe: job.GetProbe(), ProberTimeoutMs: uint32(MaxProberTimeout.Milliseconds())})
		if err != nil {
			t.Errorf("the job with a Pod going away: %v", err)
		}
		done <- run
	}()
	<-probers["probe-b/slow"].called
	if err := c.Client.CoreV1().Pods("probe-b").Delete(t.Context(), "slow", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	addProber("probe-a", "late", false)
	run = <-done
	if run == nil {
		t.FailNow()
	}
	if got, want := answered(run), []string{"probe-a/prober", "probe-b/prober", "probe-c/prober"}; !slices.Equal(got, want) || len(run.Results) != 4 {
		t.Errorf("got answers from %v of %d probers, want the four known when it started, all but probe-b/slow answering", got, len(run.Results))
	}
	for _, r := range run.Results {
		if r.GetProber() == "slow" && r.GetError().GetCode() != "CANCELLED" {
			t.Errorf("the prober whose Pod went away: got %v, want its call canceled when the Pod went", r)
		}
	}

	waitForProber(t, d, changed, "probe-a/late", true)
	waitForProber(t, d, changed, "probe-b/slow", false)
	run = runJob(t, coord, job)
	if got, want := answered(run), []string{"probe-a/late", "probe-a/prober", "probe-b/prober", "probe-c/prober"}; !slices.Equal(got, want) || len(run.Results) != 4 {
		t.Errorf("got answers from %v of %d probers, want %v", got, len(run.Results), want)
	}
}

func runJob(t *testing.T, coord dsprobev1.CoordinatorClient, req *dsprobev1.RunProbeRequest) *JobRun {
	t.Helper()
	run, err := RunJob(t.Context(), coord, req)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// answered are the probers that returned a result, as NAMESPACE/NAME,
// sorted.
func answered(run *JobRun) []string {
	var ids []string
	for _, r := range run.Results {
		if r.GetResult() != nil {
			ids = append(ids, r.GetNamespace()+"/"+r.GetProber())
		}
	}
	slices.Sort(ids)
	return ids
}

// waitForProber waits on the discovery's change notifications until the
// prober id is known and ready (present) or unknown (!present).
func waitForProber(t *testing.T, d *kube.Discovery, changed <-chan struct{}, id string, present bool) {
	t.Helper()
	for {
		probers, err := d.Probers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		known := slices.ContainsFunc(probers, func(p *dsprobev1.ProberInfo) bool {
			return p.GetNamespace()+"/"+p.GetName() == id && p.GetReady()
		})
		if known == present {
			return
		}
		select {
		case <-changed:
		case <-t.Context().Done():
			t.Fatalf("prober %s: the discovery never saw it ready=%v", id, present)
		}
	}
}
