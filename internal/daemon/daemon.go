package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// ListFlag is a repeatable string flag.
type ListFlag []string

func (l *ListFlag) String() string     { return strings.Join(*l, ",") }
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }

// Main parses the flags and serves: exit 0 after a clean stop (or --help),
// 2 for bad flags (every problem on one line), 3 when serving failed.
func Main[C any](ctx context.Context, name string, args []string, stderr io.Writer,
	parse func([]string, io.Writer) (C, error), serve func(context.Context, C, *slog.Logger) error) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// Spans that cannot be exported (a collector down) are reported in the
	// daemon's log format, not the standard logger's.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry", "err", err) }))
	if err := serve(ctx, cfg, log); err != nil {
		log.Error(name+" stopped", "err", err)
		return 3
	}
	return 0
}

// checkPlaintext reports, for every non-empty address, that serving it
// without TLS needs loopback or insecure.
func checkPlaintext(tlsFiles authn.TLSFiles, insecure bool, addrs ...string) []error {
	if tlsFiles.Enabled() {
		return nil
	}
	var errs []error
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if err := authn.CheckPlaintext(a, insecure); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// serverOptions returns the options of an authenticated gRPC server and the
// Authenticator behind them (for the REST gateway): TLS (mTLS with a CA) and
// the bearer token of tokenFile. Without either, callers are let in
// unauthenticated, which checkPlaintext allowed only on loopback or with
// --insecure, and a warning says so.
func serverOptions(tlsFiles authn.TLSFiles, tokenFile string, log *slog.Logger) ([]grpc.ServerOption, *authn.Authenticator, error) {
	auth := &authn.Authenticator{}
	if tokenFile != "" {
		token, err := authn.ReadToken(tokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("reading --token-file: %w", err)
		}
		auth.Token = token
	}
	opts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(auth.StreamInterceptor()),
	}
	if tlsFiles.Enabled() {
		cfg, err := tlsFiles.ServerConfig()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	} else if auth.Token == "" {
		auth.AllowUnauthenticated = true
		log.Warn("serving without authentication: plaintext on loopback or --insecure; do not expose this server")
	}
	return opts, auth, nil
}

// serveGRPC serves srv on ln until ctx ends, then marks healthSrv not serving
// and stops gracefully, forcing the stop after grace.
func serveGRPC(ctx context.Context, srv *grpc.Server, ln net.Listener, healthSrv *health.Server, grace time.Duration) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	healthSrv.Shutdown()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(grace):
		srv.Stop()
		<-stopped
	}
	return nil
}

// serveMetrics serves reg's metrics at /metrics on addr until stop is
// called.
func serveMetrics(addr string, reg *prometheus.Registry) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, listenError("--metrics-listen", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr(), func() { srv.Close() }, nil
}

// AdmissionFlags registers the job-admission flags (--max-concurrent,
// --max-waiting, --rate, --burst) into l, with l's values as defaults.
func AdmissionFlags(fs *flag.FlagSet, l *admission.Limits) {
	fs.IntVar(&l.MaxConcurrent, "max-concurrent", l.MaxConcurrent, "jobs run at once")
	fs.IntVar(&l.MaxWaiting, "max-waiting", l.MaxWaiting, "jobs that may wait for a slot; more are refused with RESOURCE_EXHAUSTED")
	fs.Float64Var(&l.Rate, "rate", l.Rate, "new jobs per second admitted on average (0 = no rate limit)")
	fs.IntVar(&l.Burst, "burst", l.Burst, "jobs admitted at once above the rate")
}

// CheckAdmission reports admission flags out of range.
func CheckAdmission(l admission.Limits) error {
	if l.MaxConcurrent <= 0 || l.MaxWaiting < 0 || l.Rate < 0 || l.Burst < 0 {
		return errors.New("--max-concurrent must be positive, --max-waiting, --rate and --burst not negative")
	}
	return nil
}

// OTLP are the trace-export flags of a daemon.
type OTLP struct {
	Endpoint string
	Insecure bool
}

// Register registers --otlp-endpoint and --otlp-insecure.
func (o *OTLP) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Endpoint, "otlp-endpoint", "", "send traces here (host:port for OTLP/gRPC, http(s):// URL for OTLP/HTTP); default: OTEL_EXPORTER_OTLP_* variables")
	fs.BoolVar(&o.Insecure, "otlp-insecure", false, "send traces without TLS")
}

// Check reports a malformed --otlp-endpoint.
func (o OTLP) Check() error {
	if o.Endpoint == "" {
		return nil
	}
	if err := telemetry.CheckEndpoint(o.Endpoint); err != nil {
		return fmt.Errorf("--otlp-endpoint %q: %w", o.Endpoint, err)
	}
	return nil
}

// Setup installs the trace exporter the flags (or the OTEL_* variables)
// configure, spans carrying service and attrs. stop flushes it, logging
// spans it could not deliver.
func (o OTLP) Setup(ctx context.Context, service string, log *slog.Logger, attrs ...attribute.KeyValue) (stop func(), err error) {
	shutdown, err := telemetry.Setup(ctx, telemetry.Options{Service: service, Endpoint: o.Endpoint, Insecure: o.Insecure, Attributes: attrs})
	if err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("traces not delivered at stop", "err", err)
		}
	}, nil
}
