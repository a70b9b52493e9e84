package prober

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

const usage = `Usage: prober [--config FILE] [flags]

Serves dsprobe.v1.Prober over gRPC (and grpc.health.v1): runs probe jobs sent
by a coordinator or the dsprobe CLI against targets its allow-list permits.
Every caller must present a client certificate signed by --tls-ca, the
bearer token of --token-file, or (--token-review) a Kubernetes token for
--token-audience of a --token-allow-user, checked with TokenReview; plaintext is refused off loopback unless
--insecure is given. --config reads a ProberConfig file (docs/configuration.md);
a flag given overrides it.

Flags:`

var command = daemon.Command[config.Prober]{
	Name:  "prober",
	Usage: usage,
	Flags: func(fs *flag.FlagSet) func(*slog.Logger) (config.Prober, error) {
		cl := config.ProberFlags(fs, nil)
		return func(*slog.Logger) (config.Prober, error) { return cl.Load() }
	},
	Serve: serve,
}

// Main runs the prober until ctx ends and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return daemon.Main(ctx, command, args, stdout, stderr)
}

func serve(ctx context.Context, cfg config.Prober, log *slog.Logger) error {
	policy, err := cfg.Allow.Policy()
	if err != nil {
		return err
	}
	stopTracing, err := daemon.SetupTracing(ctx, cfg.OTLP, "dsprobe-prober", log, telemetry.ProberResource(cfg.Name, cfg.Namespace)...)
	if err != nil {
		return err
	}
	defer stopTracing()

	var tokens authn.TokenReviewer
	if cfg.TokenReview.Enabled {
		api, err := authn.InClusterAPI()
		if err != nil {
			return fmt.Errorf("token review: %w", err)
		}
		tokens = authn.NewAPITokenReviewer(api, cfg.TokenReview.Audience)
	}
	reg := prometheus.NewRegistry()
	svc := &Service{
		Allow:      &policy,
		Limiter:    admission.New(cfg.Admission.Limits()),
		Tracer:     otel.Tracer("github.com/dsprobe/dsprobe/internal/prober"),
		Metrics:    telemetry.NewMetrics(reg),
		JobTimeout: time.Duration(cfg.JobTimeout),
	}
	return daemon.Serve(ctx, cfg.Server, daemon.Service{
		Register: func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) },
		Gateway:  dsprobev1.RegisterProberHandler,
		Metrics:  reg,
		Tokens:   tokens, AllowedUsers: cfg.TokenReview.AllowedUsers,
	}, log, "prober", "name", cfg.Name, "namespace", cfg.Namespace)
}
