package coordinator

import (
	"context"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// refuseNamespace refuses a job that would use probers in one namespace,
// recording the namespaces of every job it was asked about.
type refuseNamespace struct {
	refused string
	mu      sync.Mutex
	asked   [][]string
}

func (r *refuseNamespace) AuthorizeJob(_ context.Context, namespaces []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, namespaces)
	if slices.Contains(namespaces, r.refused) {
		return status.Errorf(codes.PermissionDenied, "namespace %s refused", r.refused)
	}
	return nil
}

// A job is authorised in the namespaces of the probers it would use, each
// once, before any prober is asked.
func TestRunProbeAuthorizesNamespaces(t *testing.T) {
	// A prober that would hang the job: a refused job must not reach it.
	hang := startProber(t, &stubProber{hang: true})
	healthy := startProber(t, &stubProber{ipv6OK: true})
	az := &refuseNamespace{refused: "team-b"}
	c := startCoordinator(t, &Service{Authorizer: az, Discovery: Static{
		{Name: "a1", Namespace: "team-a", Address: healthy},
		{Name: "a2", Namespace: "team-a", Address: healthy},
		{Name: "b", Namespace: "team-b", Address: hang},
	}})
	probe := &dsprobev1.ProbeRequest{Target: "192.0.2.1:80"}
	if _, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Probe: probe}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("every prober: got %v, want PermissionDenied", err)
	}
	run, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Probe: probe, Namespaces: []string{"team-a"}})
	if err != nil || len(run.Results) != 2 {
		t.Fatalf("team-a: got %v, %v; want both team-a probers' answers", run, err)
	}
	want := [][]string{{"team-a", "team-b"}, {"team-a"}}
	if !slices.EqualFunc(az.asked, want, slices.Equal) {
		t.Errorf("asked about %q, want %q", az.asked, want)
	}
}
