package prober

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// config is the prober's parsed command line.
type config struct {
	server          daemon.Server
	allow           allowlist.Policy
	limits          admission.Limits
	jobTimeout      time.Duration
	otlp            daemon.OTLP
	name, namespace string
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
	c.server.Register(fs, "127.0.0.1:9443", "POST /v1/probe")
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
	errs = append(errs, c.server.Check()...)
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
	stopTracing, err := cfg.otlp.Setup(ctx, "dsprobe-prober", log, telemetry.ProberResource(cfg.name, cfg.namespace)...)
	if err != nil {
		return err
	}
	defer stopTracing()

	reg := prometheus.NewRegistry()
	svc := &Service{
		Allow:      &cfg.allow,
		Limiter:    admission.New(cfg.limits),
		Tracer:     otel.Tracer("github.com/dsprobe/dsprobe/internal/prober"),
		Metrics:    telemetry.NewMetrics(reg),
		JobTimeout: cfg.jobTimeout,
	}
	return cfg.server.Serve(ctx, daemon.Service{
		Register: func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) },
		Gateway:  dsprobev1.RegisterProberHandler,
		Metrics:  reg,
	}, log, "prober", "name", cfg.name, "namespace", cfg.namespace)
}
