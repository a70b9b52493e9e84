package apicontract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// countingRegistry is a fresh registry that counts the metrics registered
// with it, so a metric the fixture never observes (a vector without series
// is not gathered) fails instead of escaping the comparison.
type countingRegistry struct {
	*prometheus.Registry
	descs []*prometheus.Desc
}

func newCountingRegistry() *countingRegistry {
	return &countingRegistry{Registry: prometheus.NewRegistry()}
}

func (r *countingRegistry) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return r.Registry.Register(c)
}

func (r *countingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// metric is a gathered metric's type ("counter", "histogram") and its label
// names, sorted.
type metric struct {
	typ    string
	labels []string
}

// gather returns what reg exposes, by metric name, and fails if a
// registered metric has no series.
func (r *countingRegistry) gather(t *testing.T) map[string]metric {
	t.Helper()
	families, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metric{}
	for _, mf := range families {
		m := metric{typ: strings.ToLower(mf.GetType().String())}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			m.labels = append(m.labels, l.GetName())
		}
		slices.Sort(m.labels)
		out[mf.GetName()] = m
	}
	// A Desc tells its name only in its String().
	for _, d := range r.descs {
		gathered := false
		for name := range out {
			gathered = gathered || strings.Contains(d.String(), `fqName: "`+name+`"`)
		}
		if !gathered {
			t.Errorf("%v is registered but the fixture gave it no series: observe it, so the comparison sees it", d)
		}
	}
	return out
}

// compareMetrics compares the metrics a registry exposes with the block
// "metrics NAME" of the reference, both ways: names, types and labels.
func compareMetrics(t *testing.T, block string, got map[string]metric) {
	t.Helper()
	tb := table(t, contractTables(t), block)
	names, types, labels := tb.column(t, "metric"), tb.column(t, "type"), tb.column(t, "labels")
	documented := map[string]metric{}
	for i, name := range names {
		m := metric{typ: types[i]}
		for l := range strings.SplitSeq(labels[i], ",") {
			if l = strings.TrimSpace(l); l != "" {
				m.labels = append(m.labels, l)
			}
		}
		slices.Sort(m.labels)
		documented[name] = m
	}
	for name, want := range documented {
		m, ok := got[name]
		if !ok {
			t.Errorf("metric %s is documented in %s but the code does not expose it", name, contractsPath)
			continue
		}
		if m.typ != want.typ || !slices.Equal(m.labels, want.labels) {
			t.Errorf("metric %s: got %s with labels %v in the code, want %s with labels %v as documented", name, m.typ, m.labels, want.typ, want.labels)
		}
	}
	for name, m := range got {
		if _, ok := documented[name]; !ok {
			t.Errorf("metric %s (%s, labels %v) is exposed but not documented in %s", name, m.typ, m.labels, contractsPath)
		}
	}
}

// A prober's metrics, registered as cmd/prober does and observed for one
// finished probe, as the prober's Probe observes each.
func TestProberMetricsAreDocumented(t *testing.T) {
	reg := newCountingRegistry()
	telemetry.NewMetrics(reg).Observe(populatedResult(), "")
	compareMetrics(t, "metrics prober", reg.gather(t))
}

// proberConn hands the coordinator one connection for every prober.
type proberConn struct{ conn *grpc.ClientConn }

func (c proberConn) Prober(*dsprobev1.ProberInfo) (dsprobev1.ProberClient, error) {
	return dsprobev1.NewProberClient(c.conn), nil
}

// A coordinator's metrics, registered as cmd/coordinator does, after one
// real job on a prober that answers with the populated result.
func TestCoordinatorMetricsAreDocumented(t *testing.T) {
	reg := newCountingRegistry()
	svc := &coordinator.Service{
		Discovery: coordinator.Static{{Name: "p1", Namespace: "team-a", Address: "in-memory"}},
		Metrics:   coordinator.NewMetrics(reg),
	}
	conn := serveGRPC(t, func(srv *grpc.Server) {
		dsprobev1.RegisterProberServer(srv, &fakeProber{})
		dsprobev1.RegisterCoordinatorServer(srv, svc)
	})
	svc.Connector = proberConn{conn}
	run, err := coordinator.RunJob(t.Context(), dsprobev1.NewCoordinatorClient(conn),
		&dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Summary.GetAnswered(); got != 1 {
		t.Fatalf("got %d prober answer(s), want 1: %v", got, run.Results)
	}
	compareMetrics(t, "metrics coordinator", reg.gather(t))
}

// A coordinator's ladder metrics, after one climb of a two-rung ladder
// whose lower rung passes and whose upper one fails.
func TestLadderMetricsAreDocumented(t *testing.T) {
	reg := newCountingRegistry()
	l := &ladder.DNSLadder{Metadata: ladder.Metadata{Name: "web", Namespace: "shop"}, Spec: ladder.Spec{Rungs: []ladder.Rung{
		{Name: "internal", AAAAExpected: true}, {Name: "broad", AAAAExpected: true},
	}}}
	l.Status = &ladder.Status{}
	l.Status.Record(&l.Spec, []ladder.RungRun{{State: ladder.Passing}, {State: ladder.Failing}}, time.Now())
	coordinator.NewLadderMetrics(reg).ObserveClimb(l)
	compareMetrics(t, "metrics ladders", reg.gather(t))
}

// The built-in client profiles are the documented ones.
func TestProfilesAreDocumented(t *testing.T) {
	documented := table(t, contractTables(t), "profiles").column(t, "profile")
	compareSets(t, "profile", documented, he.ProfileNames())
}
