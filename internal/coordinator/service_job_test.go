package coordinator

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeServices reads the Services of a fake API server with the CLI's
// one-shot Lists: the evidence logic is kube's, tested there.
type fakeServices struct{ objects *fake.Clientset }

func (f fakeServices) ReadService(ctx context.Context, q kube.ServiceQuery) (*kube.ServiceObjects, error) {
	return kube.ReadServiceObjects(ctx, f.objects, q)
}

// shopWeb is the Service shop/web, SingleStack IPv4 with one ready
// endpoint of each family in its slices (as a dual-stack cluster has them).
func shopWeb() *fake.Clientset {
	single := corev1.IPFamilyPolicySingleStack
	ready, port := true, int32(8080)
	slice := func(name string, family discoveryv1.AddressType, addr string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: family, Ports: []discoveryv1.EndpointPort{{Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		}
	}
	return fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{
			IPFamilyPolicy: &single, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		}},
		slice("web-v4", discoveryv1.AddressTypeIPv4, "10.244.0.11"),
		slice("web-v6", discoveryv1.AddressTypeIPv6, "fd00:10:244::11"),
	)
}

// connectingProber connects every address it is asked about (a name
// resolves to the Service's one ClusterIP) and records the targets.
type connectingProber struct {
	dsprobev1.UnimplementedProberServer
	mu    sync.Mutex
	asked []string
}

func (p *connectingProber) Probe(_ context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	p.mu.Lock()
	p.asked = append(p.asked, req.GetTarget())
	p.mu.Unlock()
	addr := req.GetTarget()
	res := &dsprobev1.ProbeResult{Target: addr, Dns: &dsprobev1.DnsAnswers{}}
	if strings.HasPrefix(addr, "web.") {
		res.Dns.A = &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Addresses: []string{"10.96.0.20"}}
		res.Dns.Aaaa = &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_NODATA}
		addr = "10.96.0.20:80"
	}
	ap := netip.MustParseAddrPort(addr)
	family := dsprobev1.Family_FAMILY_IPV4
	if ap.Addr().Is6() {
		family = dsprobev1.Family_FAMILY_IPV6
	}
	res.Attempts = []*dsprobev1.Attempt{{Address: addr, Family: family, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED, DurationMs: 0.2, AppOk: new(true)}}
	res.Families = []*dsprobev1.FamilyVerdict{{Family: family, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE}}
	return &dsprobev1.ProbeResponse{Result: res}, nil
}

// A Service job: each prober probes the name, the ClusterIP and each ready
// endpoint; the coordinator judges with the Service's objects, so a
// SingleStack IPv4 Service fails IPv6 at LAYER_SERVICE on every prober and
// in the summary, while IPv4 passes. The job is authorised in the
// Service's namespace as well as the probers'.
func TestServiceJob(t *testing.T) {
	p := &connectingProber{}
	addr := startProber(t, p)
	az := &refuseNamespace{refused: "nobody"}
	metrics := NewMetrics(prometheus.NewRegistry())
	c := startCoordinator(t, &Service{Authorizer: az, Services: fakeServices{shopWeb()}, Jobs: NewJobStore(0), Metrics: metrics, Discovery: Static{
		{Name: "p1", Namespace: "team-a", Address: addr, PodIps: []string{"10.244.0.50", "fd00:10:244::50"}},
		{Name: "p2", Namespace: "team-b", Address: addr},
	}})
	run, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Namespace: "shop", Name: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(p.asked)
	if want := []string{"10.244.0.11:8080", "10.244.0.11:8080", "10.96.0.20:80", "10.96.0.20:80", "[fd00:10:244::11]:8080", "[fd00:10:244::11]:8080",
		"web.shop.svc.cluster.local:80", "web.shop.svc.cluster.local:80"}; !slices.Equal(p.asked, want) {
		t.Errorf("the probers were asked %v, want %v", p.asked, want)
	}
	if len(run.Results) != 2 {
		t.Fatalf("got %d results, want 2", len(run.Results))
	}
	for _, r := range run.Results {
		svc := r.GetService()
		if svc.GetService() != "shop/web" || svc.GetPort() != "80/TCP" || len(svc.GetFamilies()) != 2 || len(svc.GetPaths()) != 3 || len(svc.GetEvidence()) != 9 {
			t.Fatalf("%s: got %v, want the Service's two verdicts, three paths and nine rows", r.GetProber(), svc)
		}
		if v := svc.GetFamilies()[1]; v.GetFailingLayer() != dsprobev1.Layer_LAYER_SERVICE || !strings.Contains(v.GetDetail(), "SingleStack") {
			t.Errorf("%s IPv6: got %v, want LAYER_SERVICE naming SingleStack", r.GetProber(), v)
		}
		if v := svc.GetFamilies()[0]; !v.GetOk() {
			t.Errorf("%s IPv4: got %v, want ok", r.GetProber(), v)
		}
		if got := r.GetResult().GetTarget(); got != "web.shop.svc.cluster.local:80" {
			t.Errorf("%s: result is the probe of %q, want the name's", r.GetProber(), got)
		}
	}
	fams := run.Summary.GetFamilies()
	if run.Summary.GetPassed() || len(fams) != 2 || !fams[0].GetOk() || fams[1].GetFailingLayer() != dsprobev1.Layer_LAYER_SERVICE {
		t.Errorf("summary: got %v, want IPv4 ok and IPv6 LAYER_SERVICE", run.Summary)
	}
	// The metrics count the Service's verdicts, not the name's.
	if got := testutil.ToFloat64(familyResults(t, metrics, "team-a", "ipv6", "fail", "service")); got != 1 {
		t.Errorf("team-a's IPv6 LAYER_SERVICE verdicts counted: got %v, want 1", got)
	}
	if got := az.asked[len(az.asked)-1]; !slices.Equal(got, []string{"shop", "team-a", "team-b"}) {
		t.Errorf("authorised in %v, want the probers' namespaces and the Service's", got)
	}
	// The kept job shows shop's objects: only to a caller allowed there.
	az.refuse("shop")
	if _, err := c.GetJob(t.Context(), &dsprobev1.GetJobRequest{JobId: run.ID}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetJob by a caller refused in shop: got %v, want PermissionDenied", err)
	}
	az.refuse("nobody")

	// --family ipv4 judges IPv4 alone, and passes.
	run, err = RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{
		Service: &dsprobev1.ServiceRef{Namespace: "shop", Name: "web", Port: "80"},
		Probe:   &dsprobev1.ProbeRequest{Families: []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4}},
	})
	if err != nil || !run.Summary.GetPassed() || len(run.Summary.GetFamilies()) != 1 {
		t.Errorf("IPv4 only: got %v, %v; want a pass on IPv4 alone", run, err)
	}
}

// refusingProber refuses every IPv6 target, as a prober whose allow-list
// lacks the IPv6 Pod CIDR does.
type refusingProber struct{ connectingProber }

func (p *refusingProber) Probe(ctx context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	if strings.HasPrefix(req.GetTarget(), "[") {
		return nil, status.Errorf(codes.PermissionDenied, "%s is outside the allowed CIDRs", req.GetTarget())
	}
	return p.connectingProber.Probe(ctx, req)
}

// A prober that cannot make one of its probes answers with that error, not
// with a verdict judged on a path it did not measure.
func TestServiceJobProberRefusing(t *testing.T) {
	c := startCoordinator(t, &Service{Services: fakeServices{shopWeb()}, Discovery: Static{
		{Name: "refusing", Namespace: "team-a", Address: startProber(t, &refusingProber{})},
		{Name: "ok", Namespace: "team-a", Address: startProber(t, &connectingProber{})},
	}})
	run, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Namespace: "shop", Name: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run.Results {
		switch r.GetProber() {
		case "refusing":
			if e := r.GetError(); e.GetCode() != "PERMISSION_DENIED" || !strings.Contains(e.GetMessage(), "[fd00:10:244::11]:8080 is outside the allowed CIDRs") || r.GetService() != nil {
				t.Errorf("the refusing prober: got %v, want PERMISSION_DENIED naming the endpoint and no Service result", r)
			}
		case "ok":
			if r.GetService() == nil {
				t.Errorf("the other prober: got %v, want its Service result", r)
			}
		}
	}
	if run.Summary.GetFailed() != 1 || run.Summary.GetAnswered() != 1 || run.Summary.GetPassed() {
		t.Errorf("summary: got %v, want one answer, one failure, not passed", run.Summary)
	}
}

// What a Service job refuses, before any prober is asked: a coordinator
// without the Kubernetes API, a malformed reference or options a Service's
// probe does not take, a Service or port that does not exist, a caller
// not allowed in the Service's namespace.
func TestServiceJobRefusals(t *testing.T) {
	hang := startProber(t, &stubProber{hang: true})
	probers := Static{{Name: "p", Namespace: "team-a", Address: hang}}
	withAPI := startCoordinator(t, &Service{Services: fakeServices{shopWeb()}, Discovery: probers, Authorizer: &refuseNamespace{refused: "secret"}})
	withoutAPI := startCoordinator(t, &Service{Discovery: probers})
	web := &dsprobev1.ServiceRef{Namespace: "shop", Name: "web"}
	for _, tt := range []struct {
		name string
		c    dsprobev1.CoordinatorClient
		req  *dsprobev1.RunProbeRequest
		code codes.Code
		want string
	}{
		{"no Kubernetes API", withoutAPI, &dsprobev1.RunProbeRequest{Service: web}, codes.FailedPrecondition, "discovery.kubernetes is off"},
		{"a bad name", withAPI, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Name: "Web_1"}}, codes.InvalidArgument, `"Web_1" is not a Service name`},
		{"a target too", withAPI, &dsprobev1.RunProbeRequest{Service: web, Probe: &dsprobev1.ProbeRequest{Target: "web:80"}}, codes.InvalidArgument, "probe.target must be empty"},
		{"a DNS server", withAPI, &dsprobev1.RunProbeRequest{Service: web, Probe: &dsprobev1.ProbeRequest{DnsServers: []string{"192.0.2.53"}}}, codes.InvalidArgument, "not supported in a Service job"},
		{"no such Service", withAPI, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Namespace: "shop", Name: "gone"}}, codes.NotFound, "Service shop/gone not found"},
		{"no such port", withAPI, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Namespace: "shop", Name: "web", Port: "grpc"}}, codes.InvalidArgument, `has no port "grpc"`},
		{"a refused namespace", withAPI, &dsprobev1.RunProbeRequest{Service: &dsprobev1.ServiceRef{Namespace: "secret", Name: "gone"}}, codes.PermissionDenied, "secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunJob(t.Context(), tt.c, tt.req)
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Errorf("got %v, want %v with %q", err, tt.code, tt.want)
			}
		})
	}
}
