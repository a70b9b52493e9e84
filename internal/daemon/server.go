package daemon

import (
	"context"
	"errors"
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
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/restgw"
)

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
	// Tokens, if set, reviews callers' bearer tokens with the Kubernetes
	// API; AllowedUsers, if any, are the only users it lets in (see
	// authn.Authenticator).
	Tokens       authn.TokenReviewer
	AllowedUsers []string
}

// Serve serves svc as s says until ctx ends, then stops gracefully: its
// gRPC service (with grpc.health.v1) on s.Listen, the REST mapping on
// s.HTTPListen, Prometheus /metrics on s.MetricsListen, callers
// authenticated by TLS client certificates or the bearer token of
// s.TokenFile. It logs "NAME listening" with the address, whether TLS is
// on, and attrs.
func Serve(ctx context.Context, s config.Server, svc Service, log *slog.Logger, name string, attrs ...any) error {
	tlsFiles := s.TLS.Files()
	opts, auth, err := serverOptions(tlsFiles, s.TokenFile, &authn.Authenticator{Tokens: svc.Tokens, AllowedUsers: svc.AllowedUsers}, log)
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
		addr, stopHTTP, err := restgw.Serve(s.HTTPListen, handler, tlsFiles)
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
	log.Info(name+" listening", append([]any{"addr", ln.Addr().String(), "tls", tlsFiles.Enabled()}, attrs...)...)
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
