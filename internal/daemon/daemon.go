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

	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/buildinfo"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// Command is one daemon's command line.
type Command[C any] struct {
	// Name is the daemon's name, in its messages and --version.
	Name string
	// Usage is what --help prints above the flags.
	Usage string
	// Flags registers the daemon's flags on fs and returns what makes its
	// configuration once fs has parsed the command line (every problem
	// at once), logging to log what it accepts but warns about.
	Flags func(fs *flag.FlagSet) (load func(log *slog.Logger) (C, error))
	// Serve serves cfg until ctx ends.
	Serve func(ctx context.Context, cfg C, log *slog.Logger) error
}

// Main parses the command line and serves: exit 0 after a clean stop (or
// --help, or --version, which prints one line to stdout), 2 for bad flags
// or configuration (every problem on one line), 3 when serving failed.
func Main[C any](ctx context.Context, cmd Command[C], args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, cmd.Usage); fs.PrintDefaults() }
	version := fs.Bool("version", false, "print the version (module, VCS revision, Go) and exit")
	load := cmd.Flags(fs)
	badUsage := func(err error) int {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return badUsage(err)
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Read().Line(cmd.Name))
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := load(log)
	if fs.NArg() > 0 {
		err = errors.Join(fmt.Errorf("unexpected argument %q", fs.Arg(0)), err)
	}
	if err != nil {
		return badUsage(err)
	}
	// Spans that cannot be exported (a collector down) are reported in the
	// daemon's log format, not the standard logger's.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry", "err", err) }))
	if err := cmd.Serve(ctx, cfg, log); err != nil {
		log.Error(cmd.Name+" stopped", "err", err)
		return 3
	}
	return 0
}

// serverOptions returns the options of an authenticated gRPC server and
// auth behind them (for the REST gateway): TLS (mTLS with a CA), the bearer
// token of tokenFile, and the tokens auth.Tokens reviews. Without any,
// callers are let in unauthenticated, which the configuration's validation
// allowed only on loopback or when insecure, and a warning says so.
func serverOptions(tlsFiles authn.TLSFiles, tokenFile string, auth *authn.Authenticator, log *slog.Logger) ([]grpc.ServerOption, *authn.Authenticator, error) {
	if tokenFile != "" {
		token, err := authn.ReadToken(tokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the token file: %w", err)
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
	} else if auth.Token == "" && auth.Tokens == nil {
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

// SetupTracing installs the trace exporter o (or the OTEL_* variables)
// configures, spans carrying service and attrs. stop flushes it, logging
// spans it could not deliver.
func SetupTracing(ctx context.Context, o config.OTLP, service string, log *slog.Logger, attrs ...attribute.KeyValue) (stop func(), err error) {
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
