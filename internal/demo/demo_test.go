package demo

import (
	"context"
	"strings"
	"testing"

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
	run, err := coordinator.RunJob(context.Background(), mesh.Coordinator, &dsprobev1.RunProbeRequest{
		Probe: &dsprobev1.ProbeRequest{Target: mesh.Targets[1].URL, DnsServers: []string{mesh.DNSServer}, AttemptTimeoutMs: 1000},
	})
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
