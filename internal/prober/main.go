package prober

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/restgw"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// config is the prober's parsed command line.
type config struct {
	listen, metricsListen string
	httpListen            string
	tls                   authn.TLSFiles
	tokenFile             string
	insecure              bool
	allow                 allowlist.Policy
	limits                admission.Limits
	jobTimeout            time.Duration
	otlp                  daemon.OTLP
	name, namespace       string
}

const usage = `Usage: prober [flags]

Serves dsprobe.v1.Prober over gRPC (and grpc.health.v1): runs probe jobs sent
by a coordinator or the dsprobe CLI against targets its allow-list permits.
Every caller must present a client certificate signed by --tls-ca or the
bearer token of --token-file; plaintext is refused off loopback unless
--insecure is given.

Flags:`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var cidrs, names, ports daemon.ListFlag
	fs := flag.NewFlagSet("prober", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9443", "gRPC listen `address`")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this `address` (off when empty)")
	fs.StringVar(&c.httpListen, "http-listen", "", "serve the REST mapping (POST /v1/probe) on this `address`, with the same TLS and authentication (off when empty)")
	fs.StringVar(&c.tls.Cert, "tls-cert", "", "server certificate `file` (PEM)")
	fs.StringVar(&c.tls.Key, "tls-key", "", "server private key `file` (PEM)")
	fs.StringVar(&c.tls.CA, "tls-ca", "", "CA `file` that signs client certificates; makes them mandatory (mTLS)")
	fs.StringVar(&c.tokenFile, "token-file", "", "`file` holding a bearer token callers may present instead of a certificate")
	fs.BoolVar(&c.insecure, "insecure", false, "allow plaintext off loopback and unauthenticated callers (logs a warning)")
	fs.Var(&cidrs, "allow-cidr", "`CIDR` targets and their resolved addresses may be in (repeatable; the cluster's Pod and Service CIDRs)")
	fs.Var(&names, "allow-name", "host `name` a target may use: exact, *.suffix, or * for any (repeatable)")
	fs.Var(&ports, "allow-port", "`PORT` or FROM-TO a target may use (repeatable; default every port)")
	c.limits = admission.Limits{MaxConcurrent: 4, MaxWaiting: 8, Rate: 10, Burst: 20}
	daemon.AdmissionFlags(fs, &c.limits)
	fs.DurationVar(&c.jobTimeout, "job-timeout", DefaultJobTimeout, "budget of a job that sets none")
	c.otlp.Register(fs)
	fs.StringVar(&c.name, "name", os.Getenv("POD_NAME"), "this prober's name in results (default $POD_NAME)")
	fs.StringVar(&c.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "this prober's namespace label (default $POD_NAMESPACE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	policy, err := allowlist.Parse(cidrs, names, ports)
	if err != nil {
		errs = append(errs, err)
	}
	c.allow = policy
	if len(cidrs) == 0 {
		errs = append(errs, errors.New("no --allow-cidr: the prober would refuse every target (give the cluster's Pod and Service CIDRs)"))
	}
	if c.tls.Enabled() && (c.tls.Cert == "" || c.tls.Key == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	errs = append(errs, daemon.CheckPlaintext(c.tls, c.insecure, c.listen, c.httpListen)...)
	if c.jobTimeout <= 0 {
		errs = append(errs, errors.New("--job-timeout must be positive"))
	}
	errs = append(errs, daemon.CheckAdmission(c.limits), c.otlp.Check())
	return c, errors.Join(errs...)
}

// Main runs the prober until ctx ends and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return daemon.Main(ctx, "prober", args, stderr, parseFlags, serve)
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	shutdownTracing, err := telemetry.Setup(ctx, telemetry.Options{
		Service: "dsprobe-prober", Endpoint: cfg.otlp.Endpoint, Insecure: cfg.otlp.Insecure,
		Attributes: telemetry.ProberResource(cfg.name, cfg.namespace),
	})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(ctx); err != nil {
			log.Warn("traces not delivered at stop", "err", err)
		}
	}()

	opts, auth, err := daemon.ServerOptions(cfg.tls, cfg.tokenFile, log)
	if err != nil {
		return err
	}
	if cfg.insecure {
		log.Warn("--insecure: plaintext callers are accepted")
	}

	reg := prometheus.NewRegistry()
	svc := &Service{
		Allow:      &cfg.allow,
		Limiter:    admission.New(cfg.limits),
		Tracer:     otel.Tracer("github.com/dsprobe/dsprobe/internal/prober"),
		Metrics:    telemetry.NewMetrics(reg),
		JobTimeout: cfg.jobTimeout,
	}
	srv := grpc.NewServer(opts...)
	dsprobev1.RegisterProberServer(srv, svc)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(srv, healthSrv)

	if cfg.httpListen != "" {
		handler, stopGateway, err := restgw.Handler(ctx, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) },
			dsprobev1.RegisterProberHandler, auth)
		if err != nil {
			return err
		}
		defer stopGateway()
		addr, stopHTTP, err := restgw.Serve(cfg.httpListen, handler, cfg.tls)
		if err != nil {
			return err
		}
		defer stopHTTP()
		log.Info("REST listening", "addr", addr.String())
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	if cfg.metricsListen != "" {
		addr, stopMetrics, err := daemon.ServeMetrics(cfg.metricsListen, reg)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
		log.Info("metrics listening", "addr", addr.String())
	}
	log.Info("prober listening", "addr", ln.Addr().String(), "name", cfg.name, "namespace", cfg.namespace, "tls", cfg.tls.Enabled())

	return daemon.Serve(ctx, srv, ln, healthSrv, 10*time.Second)
}
