package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
)

// blackholedIPv6 is a finished probe of a Service whose IPv6 path drops
// packets: IPv4 passes, IPv6 fails at ROUTE, the race fell back after 250 ms.
func blackholedIPv6(t *testing.T) *probe.Result {
	tgt, err := target.Parse("http://svc.example:80/")
	if err != nil {
		t.Fatal(err)
	}
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	start := time.Unix(1_800_000_000, 0)
	res := &probe.Result{
		Target: tgt, Started: start, Check: appcheck.HTTP, RaceStart: 2 * time.Second,
		Families: []diagnose.Verdict{
			{Family: dualstack.FamilyIPv4, OK: true, Layer: layer.None},
			{Family: dualstack.FamilyIPv6, Layer: layer.Route, Detail: "dropped"},
		},
		Attempts: []probe.Attempt{
			{Address: netip.AddrPortFrom(v4, 80), Family: dualstack.FamilyIPv4, Outcome: dualstack.OutcomeConnected, Start: 3 * time.Millisecond, Duration: time.Millisecond, App: &appcheck.Result{OK: true}},
			{Address: netip.AddrPortFrom(v6, 80), Family: dualstack.FamilyIPv6, Outcome: dualstack.OutcomeTimeout, Start: 3 * time.Millisecond, Duration: 2 * time.Second, Err: errors.New("timeout")},
		},
		HappyEyeballs: probe.Prediction{
			Profile: "rfc8305", Family: dualstack.FamilyIPv4, Address: v4, Outcome: dualstack.OutcomeConnected,
			TimeToConnect: 251 * time.Millisecond, FallbackDelay: 250 * time.Millisecond, FailingLayer: layer.None,
			Attempts: []he.Attempt{
				{Address: v6, Family: dualstack.FamilyIPv6, Start: 0, End: 251 * time.Millisecond, Outcome: dualstack.OutcomeCanceled},
				{Address: v4, Family: dualstack.FamilyIPv4, Start: 250 * time.Millisecond, End: 251 * time.Millisecond, Outcome: dualstack.OutcomeConnected},
			},
		},
	}
	res.DNS[dualstack.FamilyIPv4] = &resolve.Answer{Status: resolve.StatusPositive, Server: netip.MustParseAddrPort("192.0.2.53:53"), Tries: []resolve.Try{{RTT: time.Millisecond}}}
	res.DNS[dualstack.FamilyIPv6] = &resolve.Answer{Status: resolve.StatusPositive, Tries: []resolve.Try{{RTT: 2 * time.Millisecond}}}
	return res
}

func TestRecordProbe(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	res := blackholedIPv6(t)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "prober ns-a")
	RecordProbe(ctx, tp.Tracer("dsprobe"), res)
	parent.End()

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
		if s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %q is in another trace", s.Name)
		}
	}
	for _, name := range []string{"probe svc.example:80", "dns A", "dns AAAA", "connect 192.0.2.1:80", "connect [2001:db8::1]:80",
		"happy eyeballs rfc8305", "attempt 2001:db8::1", "attempt 192.0.2.1"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("span %q missing (have %d spans)", name, len(spans))
		}
	}
	probeSpan := byName["probe svc.example:80"]
	if probeSpan.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Error("the probe span is not a child of the caller's span")
	}
	wantAttrs(t, probeSpan.Attributes, map[attribute.Key]any{
		"dsprobe.chosen_family":      "ipv4",
		"dsprobe.fallback_delay_ms":  250.0,
		"dsprobe.failing_layer":      "route",
		"dsprobe.ipv4.failing_layer": "none",
		"dsprobe.ipv6.failing_layer": "route",
		"server.address":             "svc.example",
	})
	wantAttrs(t, byName["connect [2001:db8::1]:80"].Attributes, map[attribute.Key]any{
		"network.type":         "ipv6",
		"network.peer.address": "2001:db8::1",
		"network.peer.port":    int64(80),
		"error.type":           "timeout",
	})
	wantAttrs(t, byName["dns A"].Attributes, map[attribute.Key]any{"dns.question.name": "svc.example"})
	// Spans carry the times the work had.
	if got := byName["connect [2001:db8::1]:80"].EndTime.Sub(byName["connect [2001:db8::1]:80"].StartTime); got != 2*time.Second {
		t.Errorf("got IPv6 connect span of %v, want 2s", got)
	}
	if got := probeSpan.StartTime; !got.Equal(res.Started) {
		t.Errorf("got probe span start %v, want %v", got, res.Started)
	}
}

// With tracing off (the global no-op provider, which a prober without an
// endpoint has) or a trace not sampled, no span would be kept: RecordProbe
// builds none of their names and attributes, so what it allocates does not
// grow with the probe's attempts. (Allocation counts are deterministic.)
func TestRecordProbeBuildsNothingForSpansNotRecorded(t *testing.T) {
	small := blackholedIPv6(t)
	large := *small
	for range 4 {
		large.Attempts = append(large.Attempts, small.Attempts...)
		large.HappyEyeballs.Attempts = append(large.HappyEyeballs.Attempts, small.HappyEyeballs.Attempts...)
	}
	dropAll := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer dropAll.Shutdown(context.Background())
	for name, tracer := range map[string]trace.Tracer{
		"no-op provider": noop.NewTracerProvider().Tracer("dsprobe"),
		"never sampled":  dropAll.Tracer("dsprobe"),
	} {
		forSmall := testing.AllocsPerRun(100, func() { RecordProbe(context.Background(), tracer, small) })
		forLarge := testing.AllocsPerRun(100, func() { RecordProbe(context.Background(), tracer, &large) })
		if forLarge != forSmall {
			t.Errorf("%s: got %v allocations for %d attempts, %v for %d, want as many", name,
				forSmall, len(small.Attempts)+len(small.HappyEyeballs.Attempts), forLarge, len(large.Attempts)+len(large.HappyEyeballs.Attempts))
		}
	}
}

func wantAttrs(t *testing.T, got []attribute.KeyValue, want map[attribute.Key]any) {
	t.Helper()
	have := map[attribute.Key]any{}
	for _, kv := range got {
		have[kv.Key] = kv.Value.AsInterface()
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("attribute %s: got %v (%T), want %v (%T)", k, have[k], have[k], v, v)
		}
	}
}

func TestMetricsHaveNoAddressOrErrorLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Observe(apiconv.ProbeResult(blackholedIPv6(t)), "")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series int
	for _, mf := range families {
		for _, metric := range mf.GetMetric() {
			series++
			for _, lp := range metric.GetLabel() {
				v := lp.GetValue()
				if _, err := netip.ParseAddr(v); err == nil || strings.ContainsAny(v, " :") {
					t.Errorf("%s has label %s=%q: no addresses or error text in labels", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
	if series < 4 {
		t.Errorf("got %d series, want at least the two family results, two connects and one fallback", series)
	}
}

func TestSetupIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := Setup(context.Background(), Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
	if _, err := Setup(context.Background(), Options{Service: "test"}); err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Errorf("got %v, want an unsupported-protocol error", err)
	}
}

func TestSetupRefusesBadEndpoints(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	for _, endpoint := range []string{"http://[bad", "localhost", "localhost:0", ":4317", "ftp://collector:21", "http://:4318", "2001:db8::1:4317", "collector:otlp"} {
		if _, err := Setup(context.Background(), Options{Service: "test", Endpoint: endpoint}); err == nil || !strings.Contains(err.Error(), endpoint) {
			t.Errorf("endpoint %q: got %v, want an error naming it", endpoint, err)
		}
	}
	for _, endpoint := range []string{"localhost:4317", "[2001:db8::1]:4317", "http://collector:4318", "https://collector.example/v1/traces"} {
		shutdown, err := Setup(context.Background(), Options{Service: "test", Endpoint: endpoint, Insecure: true})
		if err != nil {
			t.Errorf("endpoint %q: %v", endpoint, err)
			continue
		}
		// Nothing was recorded, so nothing is sent on shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		shutdown(ctx)
		cancel()
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[bad")
	if _, err := Setup(context.Background(), Options{Service: "test"}); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT") {
		t.Errorf("a bad OTEL_EXPORTER_OTLP_ENDPOINT: got %v, want an error naming the variable", err)
	}
}

// Insecure is for the flag's endpoint; an endpoint from the variables keeps
// its own security: https:// there means TLS even when the caller's default
// for a flag is plaintext (the CLI's).
func TestInsecureAppliesToTheFlagOnly(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      string // OTEL_EXPORTER_OTLP_ENDPOINT, with %s for the listener
		endpoint string // Options.Endpoint
		tls      bool
	}{
		{"variable https", "https://%s", "", true},
		{"variable http", "http://%s", "", false},
		{"flag, insecure", "", "%s", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			first := make(chan byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					first <- b[0]
				}
			}()
			addr := ln.Addr().String()
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
			opts := Options{Service: "test", Insecure: true}
			if tt.env != "" {
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", fmt.Sprintf(tt.env, addr))
			} else {
				opts.Endpoint = fmt.Sprintf(tt.endpoint, addr)
			}
			exp, err := NewExporter(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			tp := NewProvider(exp, "test")
			_, span := tp.Tracer("test").Start(context.Background(), "span")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			go tp.Shutdown(ctx)
			select {
			case b := <-first:
				// A TLS connection opens with a handshake record (0x16);
				// plaintext gRPC with the HTTP/2 preface ("PRI ...").
				if gotTLS := b == 0x16; gotTLS != tt.tls {
					t.Errorf("first byte %#x: TLS %v, want %v", b, gotTLS, tt.tls)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the exporter never connected")
			}
		})
	}
}

// ExportTimeout bounds an export, retries included, to a collector that
// takes the connection and never answers; OTEL_EXPORTER_OTLP_TIMEOUT still
// wins over it. Unbounded, the export would take 10 s over gRPC and a minute
// over HTTP: the bounds tell those apart from the 200 ms asked for, or the
// variable's 3 s from ExportTimeout's 100 ms, on a loaded machine too.
func TestExportTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Hold every connection open, silent, until the test ends.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				<-done
				c.Close()
			}()
		}
	}()
	addr := ln.Addr().String()
	for _, tt := range []struct {
		name     string
		endpoint string
		timeout  time.Duration
		env      string // OTEL_EXPORTER_OTLP_TIMEOUT, milliseconds
		min, max time.Duration
	}{
		{"gRPC", addr, 200 * time.Millisecond, "", 0, 5 * time.Second},
		{"HTTP", "http://" + addr, 200 * time.Millisecond, "", 0, 5 * time.Second},
		{"the variable wins", addr, 100 * time.Millisecond, "3000", time.Second, 9 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", tt.env)
			exp, err := NewExporter(context.Background(), Options{Service: "test", Endpoint: tt.endpoint, Insecure: true, ExportTimeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			start := time.Now()
			err = exp.ExportSpans(context.Background(), tracetest.SpanStubs{{Name: "span"}}.Snapshots())
			if took := time.Since(start); err == nil || took < tt.min || took > tt.max {
				t.Errorf("got %v after %v, want an error after %v to %v", err, took, tt.min, tt.max)
			}
		})
	}
}

// Client predictions are counted by profile, result and failing layer, so a
// dashboard shows which clients would fail. A parameterised profile
// ("node,attempt-delay=500ms") is a caller's string: it is counted as its
// built-in base and "custom", keeping the label a bounded set.
func TestClientPredictionsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewJobMetrics(reg)
	res := &dsprobev1.ProbeResult{
		HappyEyeballs: &dsprobev1.ClientPrediction{Profile: "rfc8305,attempt-delay=50ms", Family: dsprobev1.Family_FAMILY_IPV4, FailingLayer: dsprobev1.Layer_LAYER_NONE},
		Clients: []*dsprobev1.ClientPrediction{
			{Profile: "go", Family: dsprobev1.Family_FAMILY_IPV4, FailingLayer: dsprobev1.Layer_LAYER_NONE},
			{Profile: "java", FailingLayer: dsprobev1.Layer_LAYER_CLIENT},
			{Profile: "node,attempt-delay=500ms", FailingLayer: dsprobev1.Layer_LAYER_CLIENT},
			{Profile: "node,attempt-delay=900ms", FailingLayer: dsprobev1.Layer_LAYER_CLIENT},
		},
	}
	m.Observe(res, "team-a")
	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"team-a", "go", "pass", "none"}, 1},
		{[]string{"team-a", "java", "fail", "client"}, 1},
		{[]string{"team-a", "node,custom", "fail", "client"}, 2},
	} {
		c, err := m.clients.GetMetricWithLabelValues(tt.labels...)
		if err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(c); got != tt.want {
			t.Errorf("client predictions %v: got %v, want %v", tt.labels, got, tt.want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var profiles []string
	for _, mf := range families {
		if mf.GetName() != "dsprobe_coordinator_fallback_delay_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				if lp.GetName() == "profile" {
					profiles = append(profiles, lp.GetValue())
				}
			}
		}
	}
	if !slices.Equal(profiles, []string{"rfc8305,custom"}) {
		t.Errorf("got fallback profiles %q, want the race's parameterised profile as rfc8305,custom", profiles)
	}
}
