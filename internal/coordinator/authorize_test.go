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

// refuse changes the refused namespace between calls.
func (r *refuseNamespace) refuse(ns string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = ns
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

// Reading is authorised as running is: a caller sees the probers, and the
// kept jobs, only of namespaces it may probe from. Without this, any token
// the coordinator accepts could list every vantage point and read every
// job's results.
func TestReadsAreAuthorizedByNamespace(t *testing.T) {
	healthy := startProber(t, &stubProber{ipv6OK: true})
	az := &refuseNamespace{}
	svc := &Service{Authorizer: az, Jobs: NewJobStore(0), Discovery: Static{
		{Name: "a", Namespace: "team-a", Address: healthy},
		{Name: "b", Namespace: "team-b", Address: healthy},
	}}
	c := startCoordinator(t, svc)
	run, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "192.0.2.1:80"}})
	if err != nil {
		t.Fatal(err)
	}

	az.refuse("team-b") // from now on this caller may not probe from team-b
	list, err := c.ListProbers(t.Context(), &dsprobev1.ListProbersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetProbers()) != 1 || list.GetProbers()[0].GetNamespace() != "team-a" {
		t.Errorf("got probers %v, want team-a's only", list.GetProbers())
	}
	if _, err := c.ListProbers(t.Context(), &dsprobev1.ListProbersRequest{Namespaces: []string{"team-b"}}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("listing team-b: got %v, want PermissionDenied", err)
	}
	if _, err := c.GetJob(t.Context(), &dsprobev1.GetJobRequest{JobId: run.ID}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("reading a job that used team-b's prober: got %v, want PermissionDenied", err)
	}
	az.refuse("")
	if job, err := c.GetJob(t.Context(), &dsprobev1.GetJobRequest{JobId: run.ID}); err != nil || len(job.GetJob().GetProbers()) != 2 {
		t.Errorf("allowed: got %v, %v; want the job with both answers", job, err)
	}
}

// Discovered prober Pods share names across namespaces: NAMESPACE/NAME picks
// one, NAME alone every prober of that name.
func TestProberNamedWithItsNamespace(t *testing.T) {
	healthy := startProber(t, &stubProber{ipv6OK: true})
	c := startCoordinator(t, &Service{Discovery: Static{
		{Name: "prober", Namespace: "team-a", Address: healthy, Ready: true},
		{Name: "prober", Namespace: "team-b", Address: healthy, Ready: true},
	}})
	probe := &dsprobev1.ProbeRequest{Target: "192.0.2.1:80"}
	for _, tt := range []struct {
		names []string
		want  []string
	}{
		{[]string{"team-b/prober"}, []string{"team-b"}},
		{[]string{"prober"}, []string{"team-a", "team-b"}},
		{[]string{"team-a/prober", "team-b/prober"}, []string{"team-a", "team-b"}},
	} {
		run, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Probe: probe, Probers: tt.names})
		if err != nil {
			t.Fatalf("%v: %v", tt.names, err)
		}
		var got []string
		for _, r := range run.Results {
			got = append(got, r.GetNamespace())
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("probers %v: got answers from %v, want %v", tt.names, got, tt.want)
		}
	}
	if _, err := RunJob(t.Context(), c, &dsprobev1.RunProbeRequest{Probe: probe, Probers: []string{"team-c/prober"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("team-c/prober: got %v, want InvalidArgument", err)
	}
}
