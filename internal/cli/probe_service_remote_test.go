package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/prober"
)

// loopbackServices reads Services from a fake API server whose objects
// place a Service on loopback: its ClusterIPs and endpoints are 127.0.0.1
// and ::1, where a real application listens.
type loopbackServices struct{ objects *fake.Clientset }

func (l loopbackServices) ReadService(ctx context.Context, q kube.ServiceQuery) (*kube.ServiceObjects, error) {
	return kube.ReadServiceObjects(ctx, l.objects, q)
}

// listenBoth listens on 127.0.0.1 and ::1 on the same port and accepts
// until the test ends; it returns the port.
func listenBoth(t *testing.T) int32 {
	t.Helper()
	for range 10 {
		ln4, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port))
		if err != nil {
			ln4.Close()
			continue // the port is taken on ::1: another
		}
		for _, ln := range []net.Listener{ln4, ln6} {
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		return int32(port)
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1")
	return 0
}

// A Service probed through the coordinator: the prober measures the name
// (its hosts file), each ClusterIP and each endpoint on loopback, the
// coordinator judges them with the Service's objects. A dual-stack Service
// passes both families (exit 0); a SingleStack one fails IPv6 at
// LAYER_SERVICE (exit 1); an absent one is bad input (exit 2).
func TestProbeServiceThroughCoordinator(t *testing.T) {
	port := listenBoth(t)
	dir := t.TempDir()
	hosts, resolvConf := filepath.Join(dir, "hosts"), filepath.Join(dir, "resolv.conf")
	for path, content := range map[string]string{
		hosts:      "127.0.0.1 web.shop.svc.cluster.local web-v4.shop.svc.cluster.local\n::1 web.shop.svc.cluster.local\n",
		resolvConf: "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*.svc.cluster.local"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	proberSvc := &prober.Service{Allow: &policy, Defaults: apiconv.Defaults{ResolvConf: resolvConf, Hosts: hosts}}
	proberAddr := serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, proberSvc) })

	dual, single := corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack
	ready := true
	service := func(name string, policy *corev1.IPFamilyPolicy, ips ...string) *corev1.Service {
		var families []corev1.IPFamily
		for _, ip := range ips {
			families = append(families, map[bool]corev1.IPFamily{true: corev1.IPv6Protocol, false: corev1.IPv4Protocol}[strings.Contains(ip, ":")])
		}
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, IPFamilyPolicy: policy, IPFamilies: families, ClusterIP: ips[0], ClusterIPs: ips,
			Ports: []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}},
		}}
	}
	slice := func(service string, family discoveryv1.AddressType, addr string) *discoveryv1.EndpointSlice {
		http := "http"
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "shop", Name: service + "-" + strings.ToLower(string(family)), Labels: map[string]string{discoveryv1.LabelServiceName: service}},
			AddressType: family, Ports: []discoveryv1.EndpointPort{{Name: &http, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		}
	}
	objects := fake.NewClientset(
		service("web", &dual, "127.0.0.1", "::1"), service("web-v4", &single, "127.0.0.1"),
		slice("web", discoveryv1.AddressTypeIPv4, "127.0.0.1"), slice("web", discoveryv1.AddressTypeIPv6, "::1"),
		slice("web-v4", discoveryv1.AddressTypeIPv4, "127.0.0.1"), slice("web-v4", discoveryv1.AddressTypeIPv6, "::1"),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: map[string]string{"app": "web"}},
			Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}, {IP: "::1"}}, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"127.0.0.0/8", "::1/128"}}},
	)
	connector := &coordinator.GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	t.Cleanup(func() { connector.Close() })
	coord := &coordinator.Service{
		Discovery: coordinator.Static{{Name: "p1", Namespace: "team-a", Address: proberAddr}},
		Services:  loopbackServices{objects}, Connector: connector, Jobs: coordinator.NewJobStore(0),
	}
	addr := serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, coord) })

	stdout, stderr, code := run(t, "probe", "--coordinator", addr, "-n", "shop", "svc/web:http")
	if code != ExitOK {
		t.Fatalf("the dual-stack Service: got exit %d (%s), want 0; table:\n%s", code, stderr, stdout)
	}
	for _, want := range []string{
		fmt.Sprintf("Service shop/web  (port %d/TCP)  from prober p1 (team-a)", port),
		"  IPv4: LAYER_NONE: ", "  IPv6: LAYER_NONE: ",
		"  name web.shop.svc.cluster.local", "  ClusterIP", "  endpoints",
		fmt.Sprintf("[::1]:%d connected", port),
		"1 of 1 prober(s) answered",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}

	stdout, stderr, code = run(t, "probe", "--coordinator", addr, "-n", "shop", "-o", "json", "svc/web-v4")
	var job struct {
		Request struct {
			Service struct{ Namespace, Name string }
		}
		Probers []struct {
			Service struct {
				Families []struct{ Family, FailingLayer, Detail string }
				Evidence []struct{ Row string }
			}
		}
		Summary struct {
			Passed   bool
			Families []struct{ Family, FailingLayer string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &job); err != nil || code != ExitFailed {
		t.Fatalf("the SingleStack Service: got exit %d (%s), %v; want exit 1 and a Job: %s", code, stderr, err, stdout)
	}
	if s := job.Request.Service; s.Namespace != "shop" || s.Name != "web-v4" {
		t.Errorf("request: got %+v, want shop/web-v4", s)
	}
	if len(job.Probers) != 1 || len(job.Probers[0].Service.Families) != 2 || len(job.Probers[0].Service.Evidence) != 9 {
		t.Fatalf("got %+v, want one prober's two verdicts and nine evidence rows", job.Probers)
	}
	if v := job.Probers[0].Service.Families[1]; v.FailingLayer != "LAYER_SERVICE" || !strings.Contains(v.Detail, "SingleStack") {
		t.Errorf("IPv6: got %+v, want LAYER_SERVICE naming SingleStack", v)
	}
	if fams := job.Summary.Families; job.Summary.Passed || len(fams) != 2 || fams[0].FailingLayer != "LAYER_NONE" || fams[1].FailingLayer != "LAYER_SERVICE" {
		t.Errorf("summary: got %+v, want IPv4 passing and IPv6 LAYER_SERVICE", job.Summary)
	}

	if _, stderr, code := run(t, "probe", "--coordinator", addr, "-n", "shop", "svc/gone"); code != ExitUsage || !strings.Contains(stderr, "Service shop/gone not found") {
		t.Errorf("an absent Service: got exit %d (%s), want 2 naming it", code, stderr)
	}
}
