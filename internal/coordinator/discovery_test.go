package coordinator

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/kube"
)

// discoveryFunc is a Discovery that reports readiness, as the Kubernetes
// discovery does; Static takes every prober as ready.
type discoveryFunc func() []*dsprobev1.ProberInfo

func (f discoveryFunc) Probers(context.Context) ([]*dsprobev1.ProberInfo, error) { return f(), nil }

// A NotReady or terminating prober is listed with its reason and sent no
// job: a job goes to the ready ones, and naming a prober that is not ready
// is refused with the reason.
func TestNotReadyProbersGetNoJobs(t *testing.T) {
	probers := discoveryFunc(func() []*dsprobev1.ProberInfo {
		return []*dsprobev1.ProberInfo{
			{Name: "ready", Namespace: "ns", Address: startProber(t, &stubProber{ipv6OK: true}), Ready: true},
			// Addresses nothing listens on would fail the job, not skip it.
			{Name: "starting", Namespace: "ns", Address: "127.0.0.1:1", NotReadyReason: "condition Ready is False (ContainersNotReady)"},
			{Name: "leaving", Namespace: "other", Address: "127.0.0.1:1", NotReadyReason: "terminating"},
		}
	})
	c := startCoordinator(t, &Service{Discovery: probers})
	probe := &dsprobev1.ProbeRequest{Target: "svc.example:80"}

	run, err := RunJob(context.Background(), c, &dsprobev1.RunProbeRequest{Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 || run.Results[0].GetProber() != "ready" || !run.Summary.GetPassed() {
		t.Errorf("got results %v, summary %v; want one passing result, from prober ready", run.Results, run.Summary)
	}

	for _, tt := range []struct {
		name string
		req  *dsprobev1.RunProbeRequest
		want string
	}{
		{"named", &dsprobev1.RunProbeRequest{Probe: probe, Probers: []string{"starting"}}, `prober ns/starting is not ready: condition Ready is False (ContainersNotReady)`},
		{"a namespace of none ready", &dsprobev1.RunProbeRequest{Probe: probe, Namespaces: []string{"other"}}, "other/leaving: terminating"},
	} {
		_, err := RunJob(context.Background(), c, tt.req)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), tt.want) {
			t.Errorf("%s: got %v, want FailedPrecondition saying %q", tt.name, err, tt.want)
		}
	}

	list, err := c.ListProbers(context.Background(), &dsprobev1.ListProbersRequest{})
	if err != nil || len(list.GetProbers()) != 3 || list.GetProbers()[1].GetNotReadyReason() == "" {
		t.Errorf("got %v %v, want all three probers, the NotReady ones with their reason", list, err)
	}
}

// Told to discover its probers with no cluster to ask, the coordinator
// stops at once and says why, rather than serving with no prober.
func TestDiscoveryWithoutACluster(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	var stderr bytes.Buffer
	code := Main(t.Context(), []string{"--discover-label-selector", "app=prober", "--listen", "127.0.0.1:0"}, &bytes.Buffer{}, &stderr)
	if code != 3 || !strings.Contains(stderr.String(), "no Kubernetes API configured") {
		t.Errorf("got exit %d and %q, want 3 (serving failed) saying no Kubernetes API is configured", code, stderr.String())
	}
}

// The gRPC port's name kube assumes is the configuration's default, so a
// coordinator built in code finds the same port as the binary.
func TestDiscoveryPortDefaultIsTheConfigurations(t *testing.T) {
	if got, want := kube.DefaultPortName, config.DefaultCoordinator().Discovery.Kubernetes.Port; got != want {
		t.Errorf("got kube.DefaultPortName %q, want the configuration's %q", got, want)
	}
}

// Retain closes and forgets the connections to addresses no prober has
// any more, and keeps the others for reuse.
func TestConnectorRetain(t *testing.T) {
	conn := &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	defer conn.Close()
	stay := &dsprobev1.ProberInfo{Name: "stay", Address: "127.0.0.1:1"}
	gone := &dsprobev1.ProberInfo{Name: "gone", Address: "[::1]:1"}
	for _, p := range []*dsprobev1.ProberInfo{stay, gone} {
		if _, err := conn.Prober(p); err != nil {
			t.Fatal(err)
		}
	}
	kept, closed := conn.conns[stay.Address], conn.conns[gone.Address]
	conn.Retain([]*dsprobev1.ProberInfo{stay})
	if len(conn.conns) != 1 || conn.conns[stay.Address] != kept {
		t.Errorf("got connections %v, want only the one to %s, reused", conn.conns, stay.Address)
	}
	if state := closed.GetState(); state != connectivity.Shutdown {
		t.Errorf("the connection to the address gone: got state %v, want Shutdown", state)
	}
}
