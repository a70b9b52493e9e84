package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// jaegerConfig runs Jaeger v2 as an all-in-one: OTLP over gRPC (4317) and
// HTTP (4318) on every address of its host, traces kept in memory, the query
// API on 16686. Its own telemetry is off, so it binds nothing else.
const jaegerConfig = `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ":16686"
    grpc:
      endpoint: ":16685"
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 1000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ":4317"
      http:
        endpoint: ":4318"
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// One job's trace in a real Jaeger: the CLI's span, the coordinator's job
// span and one span per prober under it, and under each the prober's own
// probe, DNS and connect spans, with the attributes of docs/contracts.md. The
// three kinds of process export three ways: the CLI with OTEL_* variables
// over OTLP/gRPC, the coordinator with --otlp-endpoint over OTLP/gRPC, the
// probers with OTEL_* variables over OTLP/HTTP to Jaeger's IPv6 address.
func TestMeshTraceInJaeger(t *testing.T) {
	jaeger := testhost.Tool(t, "jaeger")
	lab := testhost.New(t)
	web, collector := lab.AddHost("web"), lab.AddHost("jaeger")

	// The target: web.e2e.test has A and AAAA, but the application
	// listens on IPv4 only.
	webServer(t, web, "tcp4", "0.0.0.0:8081")
	dnsAddr := serveName(t, web, "web.e2e.test")

	startJaeger(t, collector, jaeger)
	otlpGRPC := netip.AddrPortFrom(collector.Addr4(), 4317)
	otlpHTTP := netip.AddrPortFrom(collector.Addr6(), 4318)
	query := netip.AddrPortFrom(collector.Addr4(), 16686)
	for _, ap := range []netip.AddrPort{otlpGRPC, otlpHTTP, query} {
		collector.WaitConnect(t, ap)
	}

	// Spans leave each daemon within 100 ms instead of the SDK's 5 s.
	quickExport := "OTEL_BSP_SCHEDULE_DELAY=100"
	m := startMesh(t, lab, meshOptions{
		proberArgs: []string{"--allow-name", "*.e2e.test"},
		// The probers resolve as in a Pod, through their resolv.conf.
		// The coordinator's is broken: it must not matter, since the
		// coordinator only validates jobs the probers run.
		proberEtc: map[string]string{"resolv.conf": fmt.Sprintf("nameserver %s\noptions timeout:1 attempts:1\n", dnsAddr.Addr())},
		coordEtc:  map[string]string{"resolv.conf": "nameserver not-an-address\n"},
		proberEnv: []string{quickExport, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
			fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://%s", otlpHTTP)},
		coordArgs: []string{"--otlp-endpoint", otlpGRPC.String(), "--otlp-insecure"},
		coordEnv:  []string{quickExport},
	})
	target := "http://web.e2e.test:8081/"
	stdout, stderr, code := m.probe(t, []string{fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://%s", otlpGRPC)},
		append(m.withCert, "-o", "json", target)...)
	if code != 1 {
		t.Fatalf("got exit %d (%s), want 1: IPv6 reaches no listener", code, stderr)
	}
	var job struct{ JobID, TraceID string }
	if err := json.Unmarshal([]byte(stdout), &job); err != nil || len(job.TraceID) != 32 {
		t.Fatalf("got %q (%v), want the job's JSON with a 32-digit traceId", stdout, err)
	}
	t.Logf("job %s, trace %s", job.JobID, job.TraceID)

	// Jaeger's query API, asked from the client host.
	tr := newJaegerAPI(m.client, query).await(t, job.TraceID, func(tr *trace) bool { return tr.complete(len(probers)) })

	// The CLI's span is the root; the coordinator's job span is under it.
	root := tr.one(t, "dsprobe", "", "dsprobe probe "+target)
	if root.ParentSpanID != "" {
		t.Errorf("the CLI's span has parent %s, want none", root.ParentSpanID)
	}
	jobSpan := tr.one(t, "dsprobe-coordinator", "", "job web.e2e.test:8081")
	if !tr.under(jobSpan, root) {
		t.Errorf("the job span is not under the CLI's span")
	}
	wantAttrs(t, jobSpan, map[string]string{
		"dsprobe.job.id": job.JobID, "dsprobe.failing_layer": "listener",
		"dsprobe.ipv4.failing_layer": "none", "dsprobe.ipv6.failing_layer": "listener",
		"server.address": "web.e2e.test",
	})

	for _, p := range probers {
		proberSpan := tr.one(t, "dsprobe-coordinator", "", fmt.Sprintf("prober %s/%s", p.namespace, p.name))
		if proberSpan.ParentSpanID != jobSpan.SpanID {
			t.Errorf("%s: the coordinator's prober span is not a child of the job span", p.name)
		}
		wantAttrs(t, proberSpan, map[string]string{"k8s.namespace.name": p.namespace, "dsprobe.prober.name": p.name, "dsprobe.failing_layer": "listener"})

		// The prober's own spans, from its own process.
		probeSpan := tr.one(t, "dsprobe-prober", p.name, "probe web.e2e.test:8081")
		if !tr.under(probeSpan, proberSpan) {
			t.Errorf("%s: its probe span is not under the coordinator's span for it", p.name)
		}
		if ns := probeSpan.resource["k8s.namespace.name"]; ns != p.namespace {
			t.Errorf("%s: resource k8s.namespace.name %q, want %q", p.name, ns, p.namespace)
		}
		wantAttrs(t, probeSpan, map[string]string{
			"dsprobe.chosen_family": "ipv4", "dsprobe.failing_layer": "listener",
			"dsprobe.ipv4.failing_layer": "none", "dsprobe.ipv6.failing_layer": "listener",
		})
		if _, ok := probeSpan.Attributes["dsprobe.fallback_delay_ms"]; !ok {
			t.Errorf("%s: the probe span has no dsprobe.fallback_delay_ms", p.name)
		}
		for _, q := range []string{"dns A", "dns AAAA"} {
			s := tr.one(t, "dsprobe-prober", p.name, q)
			if s.ParentSpanID != probeSpan.SpanID {
				t.Errorf("%s: %q is not a child of the probe span", p.name, q)
			}
			wantAttrs(t, s, map[string]string{"dns.question.name": "web.e2e.test", "dsprobe.dns.status": "positive"})
		}
		for family, addr := range map[string]netip.Addr{"ipv4": web.Addr4(), "ipv6": web.Addr6()} {
			s := tr.one(t, "dsprobe-prober", p.name, "connect "+netip.AddrPortFrom(addr, 8081).String())
			outcome := map[string]string{"ipv4": "connected", "ipv6": "refused"}[family]
			wantAttrs(t, s, map[string]string{"network.type": family, "network.peer.address": addr.String(), "dsprobe.outcome": outcome})
		}
	}
}

// A local probe (no coordinator) traces too: its own span with the probe's
// spans under it, and the trace ID printed after the table.
func TestLocalProbeTraceInJaeger(t *testing.T) {
	jaeger := testhost.Tool(t, "jaeger")
	lab := testhost.New(t)
	web, collector, client := lab.AddHost("web"), lab.AddHost("jaeger"), lab.AddHost("client")
	webServer(t, web, "tcp", "[::]:8080")
	startJaeger(t, collector, jaeger)
	otlp, query := netip.AddrPortFrom(collector.Addr6(), 4317), netip.AddrPortFrom(collector.Addr4(), 16686)
	client.WaitConnect(t, otlp)
	client.WaitConnect(t, query)

	target := netip.AddrPortFrom(web.Addr6(), 8080).String()
	out, err := client.Run(context.Background(), bins["dsprobe"], "probe", "--otlp-endpoint", otlp.String(), target)
	if err != nil {
		t.Fatal(err)
	}
	var traceID string
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(line, "trace "); ok {
			traceID = id
		}
	}
	if len(traceID) != 32 {
		t.Fatalf("no trace ID line in %q", out)
	}
	tr := newJaegerAPI(client, query).await(t, traceID, func(tr *trace) bool { return len(tr.spans) > 0 })
	root := tr.one(t, "dsprobe", "", "dsprobe probe "+target)
	probeSpan := tr.one(t, "dsprobe", "", "probe "+target)
	if probeSpan.ParentSpanID != root.SpanID {
		t.Errorf("the probe span is not a child of the CLI's span")
	}
	wantAttrs(t, probeSpan, map[string]string{"dsprobe.chosen_family": "ipv6", "dsprobe.failing_layer": "none", "dsprobe.ipv6.failing_layer": "none"})
	connect := tr.one(t, "dsprobe", "", "connect "+target)
	wantAttrs(t, connect, map[string]string{"network.type": "ipv6", "dsprobe.outcome": "connected"})
}

// jaegerAPI is Jaeger's query API v3.
type jaegerAPI struct {
	base   string
	client *http.Client
}

// newJaegerAPI asks the query API at addr from host's namespace.
func newJaegerAPI(host *testhost.Host, addr netip.AddrPort) *jaegerAPI {
	return &jaegerAPI{base: fmt.Sprintf("http://%s/api/v3/traces/", addr), client: host.HTTPClient(5 * time.Second)}
}

// await polls for the trace until done says it is complete; the spans of a
// process arrive when its exporter sends them.
func (a *jaegerAPI) await(t *testing.T, traceID string, done func(*trace) bool) *trace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr, err := fetchTrace(a.client, a.base+traceID)
		if err == nil && done(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger has no complete trace %s after 30 s: %v; spans so far: %v", traceID, err, tr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startJaeger runs Jaeger with jaegerConfig in host until the test ends.
func startJaeger(t *testing.T, host *testhost.Host, jaeger string) {
	t.Helper()
	config := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(config, []byte(jaegerConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	host.Start(t, jaeger, "--config", config)
}

// span is a span of Jaeger's API v3 answer (OTLP JSON), with its
// resource's attributes flattened to strings.
type span struct {
	TraceID, SpanID, ParentSpanID, Name string
	Attributes                          map[string]string
	resource                            map[string]string
}

func (s span) String() string {
	return fmt.Sprintf("%s/%s %q", s.resource["service.name"], s.resource["service.instance.id"], s.Name)
}

// trace is one trace from Jaeger.
type trace struct {
	spans []span
	byID  map[string]span
}

func (tr *trace) String() string {
	if tr == nil {
		return "none"
	}
	return fmt.Sprint(tr.spans)
}

// otlpAttr is an OTLP JSON key-value; values of every type print as
// strings.
type otlpAttr struct {
	Key   string
	Value map[string]any
}

func flatten(attrs []otlpAttr) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		for _, v := range a.Value {
			m[a.Key] = fmt.Sprint(v)
		}
	}
	return m
}

func fetchTrace(c *http.Client, url string) (*trace, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	var answer struct {
		Result struct {
			ResourceSpans []struct {
				Resource   struct{ Attributes []otlpAttr }
				ScopeSpans []struct {
					Spans []struct {
						TraceID, SpanID, ParentSpanID, Name string
						Attributes                          []otlpAttr
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("decoding Jaeger's answer: %w", err)
	}
	tr := &trace{byID: map[string]span{}}
	for _, rs := range answer.Result.ResourceSpans {
		res := flatten(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := span{TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID, Name: s.Name, Attributes: flatten(s.Attributes), resource: res}
				tr.spans = append(tr.spans, sp)
				tr.byID[sp.SpanID] = sp
			}
		}
	}
	return tr, nil
}

// complete reports whether the spans of every process have arrived: the
// CLI's, the coordinator's job span, each prober's probe span, and every
// span's parent (the gRPC calls' spans in between end last).
func (tr *trace) complete(probers int) bool {
	var cli, job, probes int
	for _, s := range tr.spans {
		if _, ok := tr.byID[s.ParentSpanID]; s.ParentSpanID != "" && !ok {
			return false
		}
		switch service := s.resource["service.name"]; {
		case service == "dsprobe" && strings.HasPrefix(s.Name, "dsprobe probe "):
			cli++
		case service == "dsprobe-coordinator" && strings.HasPrefix(s.Name, "job "):
			job++
		case service == "dsprobe-prober" && strings.HasPrefix(s.Name, "probe "):
			probes++
		}
	}
	return cli == 1 && job == 1 && probes == probers
}

// one returns the single span of that service (and service.instance.id,
// unless empty) and name, failing the test if there is not exactly one.
func (tr *trace) one(t *testing.T, service, instance, name string) span {
	t.Helper()
	var found []span
	for _, s := range tr.spans {
		if s.resource["service.name"] == service && (instance == "" || s.resource["service.instance.id"] == instance) && s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d spans %q of %s %s, want 1; the trace: %v", len(found), name, service, instance, tr)
	}
	return found[0]
}

// under reports whether s descends from ancestor.
func (tr *trace) under(s, ancestor span) bool {
	for seen := 0; s.ParentSpanID != "" && seen < len(tr.spans); seen++ {
		if s.ParentSpanID == ancestor.SpanID {
			return true
		}
		parent, ok := tr.byID[s.ParentSpanID]
		if !ok {
			return false
		}
		s = parent
	}
	return false
}

func wantAttrs(t *testing.T, s span, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := s.Attributes[k]; !ok || got != v {
			t.Errorf("span %v: %s = %q, want %q", s, k, got, v)
		}
	}
}
