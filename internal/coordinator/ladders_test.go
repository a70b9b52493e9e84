package coordinator

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

// rbac is a SubjectAccessReview answered from a table: the namespaces
// each user may create probes.dsprobe.io in. It records who was asked
// about.
type rbac struct {
	mu    sync.Mutex
	grant map[string][]string
	asked []string
}

func (r *rbac) MayProbeFrom(_ context.Context, u authn.User, ns string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, u.Name+" in "+ns)
	return slices.Contains(r.grant[u.Name], ns), nil
}

// A scheduled rung is a job authorised as the ladder's ServiceAccount in
// every vantage namespace: where RBAC grants it, the job runs and its run
// carries the job's ID and every prober's answer; where it does not, the
// rung's error names the namespace, and no prober is asked.
func TestRunLadderRungIsAuthorisedAsTheLaddersServiceAccount(t *testing.T) {
	healthy := startProber(t, &stubProber{ipv6OK: true})
	// The coordinator itself may use every prober: its power must not
	// lend itself to the ladder.
	hang := startProber(t, &stubProber{hang: true})
	conn := &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	t.Cleanup(func() { conn.Close() })
	const sa = "system:serviceaccount:shop:web-ladder"
	az := &rbac{grant: map[string][]string{sa: {"team-a"}}}
	svc := &Service{Connector: conn, Jobs: NewJobStore(0), Authorizer: authn.NamespaceAuthorizer{Authorizer: az}, Discovery: Static{
		{Name: "a", Namespace: "team-a", Address: healthy},
		{Name: "b", Namespace: "team-b", Address: hang},
	}}
	l := &ladder.DNSLadder{Metadata: ladder.Metadata{Name: "web", Namespace: "shop"}, Spec: ladder.Spec{
		Target:             ladder.Target{Address: "192.0.2.1:80"},
		ServiceAccountName: "web-ladder",
	}}
	internal := ladder.Rung{Name: "internal", AAAAExpected: true, Vantage: ladder.Vantage{Namespaces: []string{"team-a"}}}
	run, err := svc.RunLadderRung(t.Context(), l, internal)
	if err != nil {
		t.Fatalf("team-a: got %v, want the job run", err)
	}
	if run.JobID == "" || len(run.Vantages) != 1 || run.Vantages[0].Prober != "a" {
		t.Errorf("team-a: got %+v, want prober a's answer under a job ID", run)
	}
	if job := svc.Jobs.get(run.JobID); job == nil {
		t.Errorf("job %s is not kept for GetJob: a scheduled job is an ordinary job", run.JobID)
	}

	broad := ladder.Rung{Name: "broad", AAAAExpected: true, Vantage: ladder.Vantage{Namespaces: []string{"team-a", "team-b"}}}
	_, err = svc.RunLadderRung(t.Context(), l, broad)
	if err == nil || !strings.Contains(err.Error(), sa+" may not create probes.dsprobe.io in namespace team-b") {
		t.Errorf("team-b: got %v, want a refusal naming %s and team-b", err, sa)
	}
	want := []string{sa + " in team-a", sa + " in team-a", sa + " in team-b"}
	if !slices.Equal(az.asked, want) {
		t.Errorf("asked about %q, want %q", az.asked, want)
	}
}

// A ladder that names no ServiceAccount runs as dsprobe-ladder of its
// namespace, and a coordinator with no Authorizer runs no ladder job.
func TestRunLadderRungNeedsAnAuthorizer(t *testing.T) {
	l := &ladder.DNSLadder{Metadata: ladder.Metadata{Name: "web", Namespace: "shop"}}
	if got, want := ServiceAccountUser(l.Metadata.Namespace, l.Spec.ServiceAccount()).Name, "system:serviceaccount:shop:dsprobe-ladder"; got != want {
		t.Errorf("got user %s, want %s", got, want)
	}
	hang := startProber(t, &stubProber{hang: true})
	svc := &Service{Discovery: Static{{Name: "a", Namespace: "team-a", Address: hang}}}
	rung := ladder.Rung{Name: "internal", Vantage: ladder.Vantage{Namespaces: []string{"team-a"}}}
	if _, err := svc.RunLadderRung(t.Context(), l, rung); err == nil {
		t.Error("got a job run without an Authorizer, want none")
	}
}
