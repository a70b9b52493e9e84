package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/prober"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// Target is one demo target and the fault it shows.
type Target struct {
	URL   string
	Story string
}

// Mesh is the running demo.
type Mesh struct {
	Coordinator dsprobev1.CoordinatorClient
	// CoordinatorAddress is where the coordinator listens (loopback,
	// plaintext).
	CoordinatorAddress string
	// DNSServer is the demo's DNS server, for the jobs' requests.
	DNSServer string
	Targets   []Target
	closers   []func()
	exporter  sdktrace.SpanExporter
	providers []*sdktrace.TracerProvider // the components', with an exporter
}

// Flush sends the spans the mesh's components have ended to
// Options.Exporter now, rather than in their next batch, and returns the
// failures.
func (m *Mesh) Flush(ctx context.Context) error {
	var errs []error
	for _, tp := range m.providers {
		errs = append(errs, tp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Job is the coordinator request that probes target from every prober, with
// the demo's budgets: a silently dropped connect is judged after
// AttemptTimeout, so the whole demo takes seconds.
func (m *Mesh) Job(target Target) *dsprobev1.RunProbeRequest {
	return &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{
		Target:           target.URL,
		DnsServers:       []string{m.DNSServer},
		AttemptTimeoutMs: uint32(AttemptTimeout.Milliseconds()),
		MaxConnectTimeMs: uint32(MaxConnectTime.Milliseconds()),
	}}
}

// The budgets of the demo's jobs.
const (
	// AttemptTimeout is how long a connect may go unanswered before it is
	// judged silently dropped.
	AttemptTimeout = time.Second
	// MaxConnectTime is the slowest a predicted client may be before it
	// fails with LAYER_CLIENT.
	MaxConnectTime = time.Second
)

// Close stops everything the mesh started, in reverse order.
func (m *Mesh) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
}

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// Options adjust the demo mesh.
type Options struct {
	// Exporter, if set, receives the spans of the coordinator and of each
	// prober under their own service names and resources (dsprobe-coordinator;
	// dsprobe-prober with the prober's name and namespace), as the deployed
	// mesh's processes would send them. Close flushes them to it; its owner
	// shuts it down. Without it, spans go to the global tracer provider.
	Exporter sdktrace.SpanExporter
}

// Start builds the mesh. It fails clearly when the machine has no IPv6
// loopback, which the demo's faults need.
func Start(ctx context.Context, opts Options) (_ *Mesh, err error) {
	// Not the named result: every failure returns a nil *Mesh, and this
	// one must still be closed.
	m := &Mesh{exporter: opts.Exporter}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "backend unavailable over IPv6", http.StatusInternalServerError)
	})
	dual, err := m.web(ok, ok)
	if err != nil {
		return nil, err
	}
	v4only, err := m.web(ok, nil)
	if err != nil {
		return nil, err
	}
	v6error, err := m.web(ok, broken)
	if err != nil {
		return nil, err
	}
	v6drop, err := m.droppingIPv6(ctx, ok)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}

	dnsServer, err := faultdns.Listen("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the demo DNS server: %w", err)
	}
	m.closers = append(m.closers, func() { dnsServer.Close() })
	m.DNSServer = dnsServer.Addr().String()
	both := func(name string) {
		dnsServer.Set(name, dns.TypeA, faultdns.Response{Addrs: []netip.Addr{lo4}})
		dnsServer.Set(name, dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{lo6}})
	}
	both("healthy.demo.dsprobe.test")
	both("v4only.demo.dsprobe.test")
	both("v6error.demo.dsprobe.test")
	both("v6drop.demo.dsprobe.test")
	dnsServer.Set("noaaaa.demo.dsprobe.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{lo4}})
	dnsServer.Set("noaaaa.demo.dsprobe.test", dns.TypeAAAA, faultdns.Response{})
	url := func(name string, port int) string { return "http://" + name + ":" + strconv.Itoa(port) + "/" }
	m.Targets = []Target{
		{url("healthy.demo.dsprobe.test", dual), "healthy dual-stack Service"},
		{url("v4only.demo.dsprobe.test", v4only), "the app listens on 0.0.0.0 only, although DNS publishes AAAA"},
		{url("noaaaa.demo.dsprobe.test", dual), "no AAAA record published"},
		{url("v6error.demo.dsprobe.test", v6error), "the app answers HTTP 500 over IPv6 only"},
	}
	if v6drop != 0 {
		m.Targets = append(m.Targets, Target{url("v6drop.demo.dsprobe.test", v6drop),
			fmt.Sprintf("IPv6 is silently dropped (SYNs to [::1] get no answer): each client waits out its own fallback delay before IPv4; those slower than %v fail with LAYER_CLIENT", MaxConnectTime)})
	}

	policy, err := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*.dsprobe.test"}, nil)
	if err != nil {
		return nil, err
	}
	// The mesh is configured as the deployed binaries are by default, so
	// the demo shows their behaviour, admission limits included.
	proberDefaults, coordDefaults := config.DefaultProber(), config.DefaultCoordinator()
	var probers coordinator.Static
	for _, ns := range []string{"team-a", "team-b", "team-c"} {
		name := "prober-" + ns[len("team-"):]
		tp := m.tracerProvider("dsprobe-prober", telemetry.ProberResource(name, ns)...)
		svc := &prober.Service{Allow: &policy, Limiter: admission.New(proberDefaults.Admission.Limits()),
			JobTimeout: time.Duration(proberDefaults.JobTimeout), Tracer: tp.Tracer("github.com/dsprobe/dsprobe/internal/prober")}
		addr, err := m.serve(tp, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) })
		if err != nil {
			return nil, err
		}
		probers = append(probers, &dsprobev1.ProberInfo{Name: name, Namespace: ns, Address: addr, Ready: true,
			Families: []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4, dsprobev1.Family_FAMILY_IPV6}})
	}
	tp := m.tracerProvider("dsprobe-coordinator")
	connector := &coordinator.GRPCConnector{Options: clientOptions(tp)}
	m.closers = append(m.closers, func() { connector.Close() })
	coord := &coordinator.Service{Discovery: probers, Connector: connector,
		Concurrency: coordDefaults.Concurrency, ProberTimeout: time.Duration(coordDefaults.ProberTimeout),
		Jobs: coordinator.NewJobStore(coordDefaults.KeepJobs), Limiter: admission.New(coordDefaults.Admission.Limits()),
		Tracer: tp.Tracer("github.com/dsprobe/dsprobe/internal/coordinator")}
	addr, err := m.serve(tp, func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, coord) })
	if err != nil {
		return nil, err
	}
	m.CoordinatorAddress = addr
	// The caller's side of the mesh traces with the global provider (the
	// CLI's).
	conn, err := grpc.NewClient(addr, clientOptions(otel.GetTracerProvider())...)
	if err != nil {
		return nil, err
	}
	m.closers = append(m.closers, func() { conn.Close() })
	m.Coordinator = dsprobev1.NewCoordinatorClient(conn)
	return m, nil
}

// tracerProvider is the tracer provider of one of the mesh's components:
// its own, sending to the mesh's exporter, or the global one without it.
// Close flushes it.
func (m *Mesh) tracerProvider(service string, attrs ...attribute.KeyValue) trace.TracerProvider {
	if m.exporter == nil {
		return otel.GetTracerProvider()
	}
	tp := telemetry.NewProvider(telemetry.Shared(m.exporter), service, attrs...)
	m.providers = append(m.providers, tp)
	m.closers = append(m.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tp.Shutdown(ctx)
	})
	return tp
}

// clientOptions are plaintext (everything is on loopback) with W3C trace
// context propagation, so one trace holds the CLI, the coordinator and every
// prober; the client spans go to tp.
func clientOptions(tp trace.TracerProvider) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
	}
}

// serve starts a gRPC server on a loopback port, its spans going to tp.
func (m *Mesh) serve(tp trace.TracerProvider, register func(*grpc.Server)) (string, error) {
	srv := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))))
	register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go srv.Serve(ln)
	m.closers = append(m.closers, srv.Stop)
	return ln.Addr().String(), nil
}

// web serves h4 on 127.0.0.1 and h6 (if not nil) on [::1], on one port.
func (m *Mesh) web(h4, h6 http.Handler) (int, error) {
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln4.Addr().(*net.TCPAddr).Port
	m.httpServe(ln4, h4)
	if h6 != nil {
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		if err != nil {
			return 0, noIPv6Loopback(err)
		}
		m.httpServe(ln6, h6)
	}
	return port, nil
}

// droppingIPv6 serves h on 127.0.0.1 and, on the same port, listens on
// [::1] without ever answering: connects to it are silently dropped, the
// headline failure of dual-stack (see fillAcceptQueue). It fails with
// errors.ErrUnsupported where the platform cannot drop them so.
func (m *Mesh) droppingIPv6(ctx context.Context, h http.Handler) (int, error) {
	port, err := m.web(h, nil)
	if err != nil {
		return 0, err
	}
	ln, err := net.ListenTCP("tcp6", &net.TCPAddr{IP: net.IPv6loopback, Port: port})
	if err != nil {
		return 0, noIPv6Loopback(err)
	}
	m.closers = append(m.closers, func() { ln.Close() })
	conns, err := fillAcceptQueue(ctx, ln)
	if err != nil {
		return 0, err
	}
	m.closers = append(m.closers, func() { closeAll(conns) })
	return port, nil
}

// noIPv6Loopback explains a failed listen on [::1].
func noIPv6Loopback(err error) error {
	return fmt.Errorf("the demo needs IPv6 on loopback (::1), which this machine does not offer: %w", err)
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

func (m *Mesh) httpServe(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	m.closers = append(m.closers, func() { srv.Close() })
}
