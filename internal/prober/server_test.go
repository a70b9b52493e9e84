package prober

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/restgw"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

const token = "t0ken"

type fixture struct {
	client  dsprobev1.ProberClient
	noauth  dsprobev1.ProberClient
	dns     *faultdns.Server
	port    int
	spans   *tracetest.InMemoryExporter
	tp      *sdktrace.TracerProvider
	limiter *admission.Limiter
}

// newFixture serves the Prober on loopback behind a bearer token, with an
// allow-list of loopback and *.dsprobe.test, and a dual-stack HTTP target.
func newFixture(t *testing.T, limits admission.Limits) *fixture {
	t.Helper()
	f := &fixture{spans: tracetest.NewInMemoryExporter()}
	f.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(f.spans))
	t.Cleanup(func() { f.tp.Shutdown(context.Background()) })
	f.dns, f.port = serveTargets(t)
	policy := testPolicy(t)
	f.limiter = admission.New(limits)
	auth := &authn.Authenticator{Token: token}
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(f.tp), otelgrpc.WithPropagators(propagation.TraceContext{}))),
		grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()),
	)
	dsprobev1.RegisterProberServer(srv, &Service{Allow: &policy, Limiter: f.limiter, Tracer: f.tp.Tracer("prober")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	dial := func(opts ...grpc.DialOption) dsprobev1.ProberClient {
		conn, err := grpc.NewClient(ln.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(f.tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return dsprobev1.NewProberClient(conn)
	}
	f.client = dial(grpc.WithPerRPCCredentials(authn.BearerToken{Token: token, Insecure: true}))
	f.noauth = dial()
	return f
}

// serveTargets starts a dual-stack HTTP server on loopback and a DNS
// server that answers for it as svc.dsprobe.test (evil.dsprobe.test points
// outside the allow-list, slow.dsprobe.test answers after 500 ms).
func serveTargets(tb testing.TB) (*faultdns.Server, int) {
	tb.Helper()
	server := dnstest.Start(tb)
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln4.Addr().(*net.TCPAddr).Port
	web := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go web.Serve(ln4)
	if ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		go web.Serve(ln6)
	}
	tb.Cleanup(func() { web.Close() })
	server.Set("svc.dsprobe.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	server.Set("svc.dsprobe.test", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("::1")}})
	server.Set("evil.dsprobe.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("169.254.169.254")}})
	server.Set("slow.dsprobe.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Delay: 500 * time.Millisecond})
	return server, port
}

// testPolicy allows loopback and *.dsprobe.test.
func testPolicy(tb testing.TB) allowlist.Policy {
	tb.Helper()
	policy, err := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*.dsprobe.test"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return policy
}

// BenchmarkServiceProbe measures Probe calls as the gRPC server hands them
// to the Service (the handler, without the transport): check tcp on both
// families of a loopback target, the DNS server named in the request, and
// tracing off, as in a prober without an OTLP endpoint. The DNS and HTTP
// servers run in the benchmark's process, so their allocations count too.
func BenchmarkServiceProbe(b *testing.B) {
	server, port := serveTargets(b)
	policy := testPolicy(b)
	s := &Service{Allow: &policy, Tracer: otel.Tracer("prober")}
	req := &dsprobev1.ProbeRequest{Target: "svc.dsprobe.test:" + strconv.Itoa(port), Check: dsprobev1.Check_CHECK_TCP,
		DnsServers: []string{server.Addr().String()}, AttemptTimeoutMs: 1000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Probe(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func (f *fixture) request(target string) *dsprobev1.ProbeRequest {
	return &dsprobev1.ProbeRequest{Target: target, DnsServers: []string{f.dns.Addr().String()}, AttemptTimeoutMs: 1000}
}

func TestProbe(t *testing.T) {
	f := newFixture(t, admission.Limits{MaxConcurrent: 4})
	ctx, root := f.tp.Tracer("cli").Start(context.Background(), "dsprobe probe")
	resp, err := f.client.Probe(ctx, f.request("http://svc.dsprobe.test:"+strconv.Itoa(f.port)+"/"))
	root.End()
	if err != nil {
		t.Fatal(err)
	}
	res := resp.GetResult()
	if len(res.GetFamilies()) != 2 || !res.GetFamilies()[0].GetOk() {
		t.Errorf("got families %v, want both families, IPv4 passing", res.GetFamilies())
	}
	if len(res.GetClients()) == 0 || res.GetHappyEyeballs().GetProfile() != "rfc8305" {
		t.Errorf("got %d clients and race %v", len(res.GetClients()), res.GetHappyEyeballs())
	}

	// One trace: the caller's span, the RPC on both sides, the probe and
	// its DNS and connect spans (W3C trace context over gRPC).
	names := map[string]bool{}
	for _, s := range f.spans.GetSpans() {
		if s.SpanContext.TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %q is in trace %v, want the caller's %v", s.Name, s.SpanContext.TraceID(), root.SpanContext().TraceID())
		}
		names[s.Name] = true
	}
	for _, want := range []string{"dsprobe probe", "dsprobe.v1.Prober/Probe", "probe svc.dsprobe.test:" + strconv.Itoa(f.port), "dns A", "connect 127.0.0.1:" + strconv.Itoa(f.port)} {
		if !names[want] {
			t.Errorf("span %q missing from %v", want, names)
		}
	}
}

func TestProbeRefusals(t *testing.T) {
	f := newFixture(t, admission.Limits{MaxConcurrent: 4})
	port := strconv.Itoa(f.port)
	tests := []struct {
		name   string
		client dsprobev1.ProberClient
		target string
		want   codes.Code
		msg    string
	}{
		{"no credentials", f.noauth, "svc.dsprobe.test:" + port, codes.Unauthenticated, "authentication required"},
		{"address outside the allow-list", f.client, "169.254.169.254:80", codes.PermissionDenied, "outside the allowed CIDRs"},
		{"name outside the allow-list", f.client, "metadata.google.internal:80", codes.PermissionDenied, "matches no allowed name"},
		{"allowed name rebinding to a forbidden address", f.client, "evil.dsprobe.test:80", codes.PermissionDenied, "169.254.169.254"},
		{"unparsable target", f.client, "not a target", codes.InvalidArgument, "want host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Probe(context.Background(), f.request(tt.target))
			if status.Code(err) != tt.want || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
	t.Run("DNS server outside the allow-list", func(t *testing.T) {
		req := f.request("svc.dsprobe.test:" + port)
		req.DnsServers = []string{f.dns.Addr().String(), "169.254.169.254:53"}
		f.dns.ResetQueries()
		_, err := f.client.Probe(context.Background(), req)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "DNS server 169.254.169.254:53") {
			t.Errorf("got %v, want PermissionDenied naming the DNS server", err)
		}
		// Refused before anything was sent: not even the allowed server
		// was asked.
		if q := f.dns.Queries(); len(q) > 0 {
			t.Errorf("queries were sent before the refusal: %v", q)
		}
	})
}

// A flood is refused at once, not queued: with one slot and no waiting
// room, a second job while the first runs gets RESOURCE_EXHAUSTED.
func TestProbeFloodIsLimited(t *testing.T) {
	f := newFixture(t, admission.Limits{MaxConcurrent: 1, MaxWaiting: 0})
	first := make(chan error, 1)
	go func() {
		_, err := f.client.Probe(context.Background(), f.request("slow.dsprobe.test:"+strconv.Itoa(f.port)))
		first <- err
	}()
	// The first job holds the slot once its (slow) DNS query has arrived.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(faultdns.Names(f.dns.Queries()), " "), "slow.dsprobe.test") {
		if time.Now().After(deadline) {
			t.Fatal("the first job never queried DNS")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := f.client.Probe(context.Background(), f.request("svc.dsprobe.test:"+strconv.Itoa(f.port)))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("got %v for a job over the limit, want ResourceExhausted", err)
	}
	if err := <-first; err != nil {
		t.Errorf("got %v for the first job, want it to finish", err)
	}
}

func TestMainRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "no --allow-cidr"},
		{[]string{"--allow-cidr", "10.0.0.0/8", "--listen", "0.0.0.0:9443"}, "refusing plaintext"},
		{[]string{"--allow-cidr", "10.0.0.0/33"}, `"10.0.0.0/33"`},
		{[]string{"--allow-cidr", "10.0.0.0/8", "--tls-cert", "c.pem"}, "go together"},
		{[]string{"--allow-cidr", "10.0.0.0/8", "--max-concurrent", "0"}, "must be positive"},
		{[]string{"--allow-cidr", "10.0.0.0/8", "stray"}, "unexpected argument"},
		{[]string{"--allow-cidr", "10.0.0.0/8", "--otlp-endpoint", "collector"}, `--otlp-endpoint "collector": want host:port`},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := Main(context.Background(), tt.args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("prober %v: got exit %d and %q, want exit 2 mentioning %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// POST /v1/probe returns the bare ProbeResult, behind the same token.
func TestREST(t *testing.T) {
	f := newFixture(t, admission.Limits{MaxConcurrent: 4})
	policy, _ := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*.dsprobe.test"}, nil)
	svc := &Service{Allow: &policy}
	handler, stop, err := restgw.Handler(context.Background(), func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) },
		dsprobev1.RegisterProberHandler, &authn.Authenticator{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv := httptest.NewServer(handler)
	defer srv.Close()
	body := fmt.Sprintf(`{"target": "http://svc.dsprobe.test:%d/", "dnsServers": [%q]}`, f.port, f.dns.Addr().String())
	post := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/probe", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post(""); code != http.StatusUnauthorized {
		t.Errorf("without a token: got %d, want 401", code)
	}
	code, got := post(token)
	var res struct {
		Families []struct {
			Family string
			OK     bool
		}
		HappyEyeballs struct{ Profile string }
	}
	if err := json.Unmarshal([]byte(got), &res); code != http.StatusOK || err != nil || len(res.Families) != 2 || !res.Families[0].OK || res.HappyEyeballs.Profile != "rfc8305" {
		t.Errorf("got %d %s (%v), want the bare ProbeResult with both families", code, got, err)
	}
}

// A budget (timeout_ms) that ends before the A answer arrives is judged: the
// unanswered query is the evidence, not a DeadlineExceeded without a result.
func TestProbeBudgetEndedIsJudged(t *testing.T) {
	f := newFixture(t, admission.Limits{MaxConcurrent: 4})
	req := f.request("slow.dsprobe.test:" + strconv.Itoa(f.port))
	req.Families = []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4}
	req.TimeoutMs = 200 // the A answer comes after 500 ms
	resp, err := f.client.Probe(context.Background(), req)
	if err != nil {
		t.Fatalf("got %v, want a result judged within the budget", err)
	}
	fams := resp.GetResult().GetFamilies()
	if len(fams) != 1 || fams[0].GetOk() || fams[0].GetFailingLayer() != dsprobev1.Layer_LAYER_DNS || !strings.Contains(fams[0].GetDetail(), "budget") {
		t.Errorf("got %v, want IPv4 failing LAYER_DNS for the probe's budget", fams)
	}
}
