package demo

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
)

// With an exporter, the demo's coordinator and probers send their spans as
// the deployed mesh's processes would: one trace per job, each component
// under its own service name, the probers with their name and namespace.
func TestSpansPerComponent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	mesh, err := Start(context.Background(), Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	run, err := coordinator.RunJob(context.Background(), mesh.Coordinator, mesh.Job(mesh.Targets[1]))
	if err != nil {
		t.Fatal(err)
	}
	mesh.Close() // flushes every component's spans

	traces := map[string]bool{}
	probes := map[string]string{} // prober -> namespace, from the probe spans' resources
	var jobs int
	for _, s := range exp.GetSpans() {
		traces[s.SpanContext.TraceID().String()] = true
		attrs := map[string]string{}
		for _, kv := range s.Resource.Attributes() {
			attrs[string(kv.Key)] = kv.Value.AsString()
		}
		switch service := attrs["service.name"]; {
		case service == "dsprobe-coordinator" && strings.HasPrefix(s.Name, "job "):
			jobs++
		case service == "dsprobe-prober" && strings.HasPrefix(s.Name, "probe "):
			probes[attrs["service.instance.id"]] = attrs["k8s.namespace.name"]
		}
	}
	if len(traces) != 1 || run.TraceID == "" || !traces[run.TraceID] {
		t.Errorf("got traces %v and the job's trace ID %q, want one trace, the job's", traces, run.TraceID)
	}
	want := map[string]string{"prober-a": "team-a", "prober-b": "team-b", "prober-c": "team-c"}
	if jobs != 1 || len(probes) != 3 || probes["prober-a"] != want["prober-a"] || probes["prober-b"] != want["prober-b"] || probes["prober-c"] != want["prober-c"] {
		t.Errorf("got %d job spans and probe spans from %v, want 1 job span from dsprobe-coordinator and one probe span per prober %v", jobs, probes, want)
	}
}

// The failure dsprobe exists for: a path that silently drops IPv6, so every
// client that tries IPv6 first waits out its own fallback. The demo's
// v6drop target drops SYNs to [::1] (its accept queue is full) while
// 127.0.0.1 on the same port answers: IPv6 fails at LAYER_ROUTE, and the
// predictions show each client's fallback delay, exact on the simulator's
// virtual clock, with LAYER_CLIENT for those slower than --max-connect-time.
func TestSilentlyDroppedIPv6(t *testing.T) {
	mesh := startMesh(t)
	target := findTarget(t, mesh, "v6drop")
	if problems := silentDropProblems(t, mesh, target); len(problems) > 0 {
		t.Errorf("target %s (%q):\n%s", target.URL, target.Story, strings.Join(problems, "\n"))
	}
}

// The check above must catch the fault's absence: the same name pointed at a
// port whose IPv6 listener accepts (the healthy target's) fails it.
func TestSilentlyDroppedIPv6CheckCatchesAnAcceptingListener(t *testing.T) {
	mesh := startMesh(t)
	mutant := findTarget(t, mesh, "v6drop")
	healthy, err := url.Parse(findTarget(t, mesh, "healthy").URL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(mutant.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(u.Hostname(), healthy.Port())
	mutant.URL = u.String()
	problems := silentDropProblems(t, mesh, mutant)
	if len(problems) == 0 {
		t.Errorf("the check passed %s, whose IPv6 listener accepts", mutant.URL)
	}
	t.Logf("the check fails %s as it should:\n%s", mutant.URL, strings.Join(problems, "\n"))
}

// silentDropProblems runs target's job and lists every way it falls short of
// the silently dropped IPv6 path, on every prober.
func silentDropProblems(t *testing.T, mesh *Mesh, target Target) []string {
	t.Helper()
	run, err := coordinator.RunJob(context.Background(), mesh.Coordinator, mesh.Job(target))
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	wantMerged := map[dsprobev1.Family]dsprobev1.Layer{dsprobev1.Family_FAMILY_IPV4: dsprobev1.Layer_LAYER_NONE, dsprobev1.Family_FAMILY_IPV6: dsprobev1.Layer_LAYER_ROUTE}
	for _, v := range run.Summary.GetFamilies() {
		if want := wantMerged[v.GetFamily()]; v.GetFailingLayer() != want {
			problem("merged %v: got %v (%s), want %v", v.GetFamily(), v.GetFailingLayer(), v.GetDetail(), want)
		}
	}
	if len(run.Results) != 3 {
		problem("got %d prober results, want 3", len(run.Results))
	}
	for _, r := range run.Results {
		res := r.GetResult()
		if res == nil {
			problem("%s: no result: %v", r.GetProber(), r.GetError())
			continue
		}
		for _, v := range res.GetFamilies() {
			if v.GetFamily() == dsprobev1.Family_FAMILY_IPV6 && (v.GetFailingLayer() != dsprobev1.Layer_LAYER_ROUTE || !strings.Contains(v.GetDetail(), "silently dropped")) {
				problem("%s: IPv6 got %v (%s), want LAYER_ROUTE saying the packets are silently dropped", r.GetProber(), v.GetFailingLayer(), v.GetDetail())
			}
		}
		for _, a := range res.GetAttempts() {
			if a.GetFamily() == dsprobev1.Family_FAMILY_IPV6 && a.GetOutcome() != dsprobev1.Outcome_OUTCOME_TIMEOUT {
				problem("%s: the connect to %s got %v, want OUTCOME_TIMEOUT", r.GetProber(), a.GetAddress(), a.GetOutcome())
			}
		}
		// Go waits 300 ms (its FallbackDelay) before it races IPv4: in time,
		// unless the DNS answers came late. CPython tries the addresses in
		// turn, so IPv6 costs it the OS SYN timeout, far beyond
		// --max-connect-time.
		maxConnect := time.Duration(mesh.Job(target).GetProbe().GetMaxConnectTimeMs()) * time.Millisecond
		want := map[string]time.Duration{"go": 300 * time.Millisecond, "python": 127 * time.Second}
		for _, c := range res.GetClients() {
			delay, ok := want[c.GetProfile()]
			if !ok {
				continue
			}
			delete(want, c.GetProfile())
			took := time.Duration(c.GetTimeToConnectMs() * float64(time.Millisecond))
			wantLayer := dsprobev1.Layer_LAYER_NONE
			if delay > maxConnect || took > maxConnect {
				wantLayer = dsprobev1.Layer_LAYER_CLIENT
			}
			if c.GetFamily() != dsprobev1.Family_FAMILY_IPV4 || c.GetFallbackDelayMs() != float64(delay.Milliseconds()) || c.GetFailingLayer() != wantLayer {
				problem("%s: %s got %v after a fallback delay of %vms (%v in all), verdict %v; want IPv4 after %v, verdict %v",
					r.GetProber(), c.GetProfile(), c.GetFamily(), c.GetFallbackDelayMs(), took, c.GetFailingLayer(), delay, wantLayer)
			}
		}
		if len(want) > 0 {
			problem("%s: no prediction for %v", r.GetProber(), want)
		}
	}
	return problems
}

func startMesh(t *testing.T) *Mesh {
	t.Helper()
	mesh, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mesh.Close)
	return mesh
}

// findTarget is the target whose host name starts with label.
func findTarget(t *testing.T, mesh *Mesh, label string) Target {
	t.Helper()
	for _, target := range mesh.Targets {
		if strings.HasPrefix(target.URL, "http://"+label+".") {
			return target
		}
	}
	t.Fatalf("the demo has no target %s.*", label)
	return Target{}
}
