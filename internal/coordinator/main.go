package coordinator

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

const usage = `Usage: coordinator [--config FILE] [flags]

Serves dsprobe.v1.Coordinator over gRPC: fans probe jobs out to the probers
it knows (--prober, --probers-file, or the probers of --config; or, in a
cluster, the Pods --discover-label-selector selects), streams one result per
ready prober and a summary, and keeps finished jobs for GetJob. Callers
authenticate with a client certificate signed by --tls-ca or the bearer token
of --token-file; the coordinator authenticates to probers with
--prober-tls-* or --prober-token-file. --config reads a CoordinatorConfig file
(docs/configuration.md); a flag given overrides it.

Flags:`

var command = daemon.Command[config.Coordinator]{
	Name:  "coordinator",
	Usage: usage,
	Flags: func(fs *flag.FlagSet) func(*slog.Logger) (config.Coordinator, error) {
		cl := config.CoordinatorFlags(fs)
		return func(log *slog.Logger) (config.Coordinator, error) {
			cfg, warnings, err := cl.Load()
			for _, w := range warnings {
				log.Warn(w)
			}
			return cfg, err
		}
	},
	Serve: serve,
}

// Main runs the coordinator until ctx ends and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return daemon.Main(ctx, command, args, stdout, stderr)
}

// staticProbers are the probers the configuration lists, all taken as
// ready.
func staticProbers(cfg config.Coordinator) Static {
	probers := make(Static, len(cfg.Probers))
	for i, p := range cfg.Probers {
		probers[i] = &dsprobev1.ProberInfo{Name: p.Name, Namespace: p.Namespace, Address: p.Address, Ready: true}
	}
	return probers
}

func proberOptions(auth config.ClientAuth) ([]grpc.DialOption, error) {
	flags := auth.Flags()
	opts, err := flags.DialOptions(flags.TLS.Enabled())
	if err != nil {
		return nil, fmt.Errorf("prober credentials: %w", err)
	}
	return append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(telemetry.Propagator())))), nil
}

// kubeGate is how the coordinator checks callers' Kubernetes tokens and
// authorises their jobs; both nil when TokenReview is off.
type kubeGate struct {
	tokens authn.TokenReviewer
	jobs   JobAuthorizer
}

// tokenReview builds the TokenReview and SubjectAccessReview clients of
// tr, asking the API server discovery asks: its kubeconfig and context when
// set, else the in-cluster ServiceAccount or $KUBECONFIG.
func tokenReview(tr config.TokenReview, k config.KubernetesDiscovery) (kubeGate, error) {
	if !tr.Enabled {
		return kubeGate{}, nil
	}
	client, _, err := kube.Client(kube.Target{Kubeconfig: k.Kubeconfig, Context: k.Context})
	if err != nil {
		return kubeGate{}, fmt.Errorf("token review: %w", err)
	}
	return kubeGate{
		tokens: kube.NewTokenReviewer(client, tr.Audience),
		jobs:   authn.NamespaceAuthorizer{Authorizer: kube.NewAuthorizer(client)},
	}, nil
}

// clusterLadders is how the coordinator runs the DNSLadders of the
// cluster it discovers its probers in: their CRD, the Lease that elects
// the replica running them (named by the Pod, $POD_NAME or the host
// name), and, when callers' tokens are not reviewed, an Authorizer for the
// ladders' jobs alone: a scheduled job is always authorised as its
// ladder's ServiceAccount. The Authorizer lets through a caller who is no
// Kubernetes user, so callers are authorised as before.
func clusterLadders(cfg config.Coordinator, svc *Service, reg prometheus.Registerer, log *slog.Logger) (Ladders, error) {
	k := cfg.Discovery.Kubernetes
	restConfig, namespace, err := kube.Config(kube.Target{Kubeconfig: k.Kubeconfig, Context: k.Context})
	if err != nil {
		return Ladders{}, fmt.Errorf("DNS ladders: %w", err)
	}
	store, err := kube.NewDNSLadderStore(restConfig)
	if err != nil {
		return Ladders{}, fmt.Errorf("DNS ladders: %w", err)
	}
	if svc.Authorizer == nil {
		client, _, err := kube.Client(kube.Target{Kubeconfig: k.Kubeconfig, Context: k.Context})
		if err != nil {
			return Ladders{}, fmt.Errorf("DNS ladders: %w", err)
		}
		svc.Authorizer = authn.NamespaceAuthorizer{Authorizer: kube.NewAuthorizer(client)}
	}
	identity := os.Getenv("POD_NAME")
	if identity == "" {
		if identity, err = os.Hostname(); err != nil {
			return Ladders{}, fmt.Errorf("DNS ladders: naming this replica in the Lease: %w", err)
		}
	}
	lease := kube.Lease{Namespace: cmp.Or(cfg.Ladders.LeaseNamespace, namespace), Name: cfg.Ladders.LeaseName, Identity: identity}
	return Ladders{
		Store: store, Metrics: NewLadderMetrics(reg), Log: log,
		Lead: func(ctx context.Context, lead func(context.Context)) error {
			return kube.WhileLeading(ctx, restConfig, lease, lead)
		},
	}, nil
}

func serve(ctx context.Context, cfg config.Coordinator, log *slog.Logger) error {
	stopTracing, err := daemon.SetupTracing(ctx, cfg.OTLP, "dsprobe-coordinator", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	dialOpts, err := proberOptions(cfg.ProberAuth)
	if err != nil {
		return err
	}
	kube.LogTo(log)
	connector := &GRPCConnector{Options: dialOpts}
	defer connector.Close()
	found, err := discovery(ctx, cfg, connector)
	if err != nil {
		return err
	}
	defer found.stop()
	if found.servicesOff != "" {
		log.Warn("Service jobs are off", "reason", found.servicesOff)
	}

	gate, err := tokenReview(cfg.TokenReview, cfg.Discovery.Kubernetes)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	svc := &Service{
		Discovery: found.probers, Services: found.services, ServicesOff: found.servicesOff, Connector: connector,
		Concurrency: cfg.Concurrency, ProberTimeout: time.Duration(cfg.ProberTimeout), Jobs: NewJobStore(cfg.KeepJobs),
		Limiter: admission.New(cfg.Admission.Limits()), Authorizer: gate.jobs,
		Metrics: NewMetrics(reg), Tracer: otel.Tracer("github.com/dsprobe/dsprobe/internal/coordinator"),
	}
	if cfg.Ladders.Enabled {
		ladders, err := clusterLadders(cfg, svc, reg, log)
		if err != nil {
			return err
		}
		ctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := svc.RunLadders(ctx, ladders); err != nil && ctx.Err() == nil {
				log.Error("the DNS ladders stopped", "err", err)
			}
		}()
		defer func() { stop(); <-done }()
	}
	return daemon.Serve(ctx, cfg.Server, daemon.Service{
		Register: func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) },
		Gateway:  dsprobev1.RegisterCoordinatorHandler,
		Metrics:  reg,
		Tokens:   gate.tokens, AllowedUsers: cfg.TokenReview.AllowedUsers,
	}, log, "coordinator", found.logAttrs...)
}
