package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/restgw"
)

// Server is how a daemon serves, as its flags say: its gRPC service (with
// grpc.health.v1) on Listen, the REST mapping on HTTPListen, Prometheus
// /metrics on MetricsListen, callers authenticated by TLS client
// certificates or the bearer token of TokenFile.
type Server struct {
	Listen, HTTPListen, MetricsListen string
	TLS                               authn.TLSFiles
	TokenFile                         string
	Insecure                          bool
}

// Register registers the server's flags, listen being the default gRPC
// address and routes the REST routes --http-listen serves (for its help).
func (s *Server) Register(fs *flag.FlagSet, listen, routes string) {
	fs.StringVar(&s.Listen, "listen", listen, "gRPC listen `address`")
	fs.StringVar(&s.HTTPListen, "http-listen", "", "serve the REST mapping ("+routes+") on this `address`, with the same TLS and authentication (off when empty)")
	fs.StringVar(&s.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on this `address` (off when empty)")
	fs.StringVar(&s.TLS.Cert, "tls-cert", "", "server certificate `file` (PEM)")
	fs.StringVar(&s.TLS.Key, "tls-key", "", "server private key `file` (PEM)")
	fs.StringVar(&s.TLS.CA, "tls-ca", "", "CA `file` that signs client certificates; makes them mandatory (mTLS)")
	fs.StringVar(&s.TokenFile, "token-file", "", "`file` holding a bearer token callers may present instead of a certificate")
	fs.BoolVar(&s.Insecure, "insecure", false, "allow plaintext off loopback and unauthenticated callers (logs a warning)")
}

// Check reports flags the server cannot serve with: a TLS flag without
// both certificate and key, plaintext off loopback without --insecure.
func (s Server) Check() []error {
	var errs []error
	if s.TLS.Enabled() && (s.TLS.Cert == "" || s.TLS.Key == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	return append(errs, checkPlaintext(s.TLS, s.Insecure, s.Listen, s.HTTPListen)...)
}

// Service is what a daemon serves.
type Service struct {
	// Register registers the gRPC service on a server: the daemon's, and
	// the REST gateway's in-memory one.
	Register func(*grpc.Server)
	// Gateway registers the service's REST routes (the generated
	// Register...Handler).
	Gateway func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	// Metrics is served on MetricsListen.
	Metrics *prometheus.Registry
}

// Serve serves svc until ctx ends, then stops gracefully. It logs
// "NAME listening" with the address, whether TLS is on, and attrs.
func (s Server) Serve(ctx context.Context, svc Service, log *slog.Logger, name string, attrs ...any) error {
	opts, auth, err := serverOptions(s.TLS, s.TokenFile, log)
	if err != nil {
		return err
	}
	if s.Insecure {
		log.Warn("--insecure: plaintext callers are accepted")
	}
	srv := grpc.NewServer(opts...)
	svc.Register(srv)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(srv, healthSrv)

	if s.HTTPListen != "" {
		handler, stopGateway, err := restgw.Handler(ctx, svc.Register, svc.Gateway, auth)
		if err != nil {
			return err
		}
		defer stopGateway()
		addr, stopHTTP, err := restgw.Serve(s.HTTPListen, handler, s.TLS)
		if err != nil {
			return listenError("--http-listen", s.HTTPListen, err)
		}
		defer stopHTTP()
		log.Info("REST listening", "addr", addr.String())
	}
	if s.MetricsListen != "" {
		addr, stopMetrics, err := serveMetrics(s.MetricsListen, svc.Metrics)
		if err != nil {
			return err
		}
		defer stopMetrics()
		log.Info("metrics listening", "addr", addr.String())
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return listenError("--listen", s.Listen, err)
	}
	log.Info(name+" listening", append([]any{"addr", ln.Addr().String(), "tls", s.TLS.Enabled()}, attrs...)...)
	return serveGRPC(ctx, srv, ln, healthSrv, 10*time.Second)
}

// listenError names the flag whose address could not be listened on: a
// daemon has up to three listeners, and bind's "address already in use"
// does not say which of them to move.
func listenError(flagName, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		_, port, _ := net.SplitHostPort(addr)
		return fmt.Errorf("%s %s: port %s is in use by another process; stop it or choose another %s", flagName, addr, port, flagName)
	}
	return fmt.Errorf("%s %s: %w", flagName, addr, err)
}
