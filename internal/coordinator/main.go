package coordinator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/smallfile"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

type config struct {
	server                daemon.Server
	proberAuth            authn.ClientFlags
	probers               Static
	concurrency, keepJobs int
	proberTimeout         time.Duration
	otlp                  daemon.OTLP
	limits                admission.Limits
}

const usage = `Usage: coordinator [flags]

Serves dsprobe.v1.Coordinator over gRPC: fans probe jobs out to the probers
it knows (--prober, --probers-file), streams one result per prober and a
summary, and keeps finished jobs for GetJob. Callers authenticate with a
client certificate signed by --tls-ca or the bearer token of --token-file;
the coordinator authenticates to probers with --prober-tls-* or
--prober-token-file.

Flags:`

// parseProber reads NAME/NAMESPACE=ADDRESS.
func parseProber(s string) (*dsprobev1.ProberInfo, error) {
	id, addr, ok := strings.Cut(s, "=")
	name, ns, okNS := strings.Cut(id, "/")
	if !ok || !okNS || name == "" || ns == "" {
		return nil, fmt.Errorf("prober %q: want NAME/NAMESPACE=HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("prober %q: address: %w", s, err)
	}
	return &dsprobev1.ProberInfo{Name: name, Namespace: ns, Address: addr, Ready: true}, nil
}

// readProbersFile reads one NAME/NAMESPACE=ADDRESS per line; # comments.
func readProbersFile(path string) ([]*dsprobev1.ProberInfo, error) {
	b, err := smallfile.Read(path, smallfile.Limit)
	if err != nil {
		return nil, err
	}
	var out []*dsprobev1.ProberInfo
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parseProber(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, n, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(append(errs, sc.Err())...)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var probers daemon.ListFlag
	var probersFile string
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage); fs.PrintDefaults() }
	c.server.Register(fs, "127.0.0.1:9444", "POST /v1/jobs, GET /v1/probers, GET /v1/jobs/{id}")
	fs.Var(&probers, "prober", "a prober as `NAME/NAMESPACE=HOST:PORT` (repeatable)")
	fs.StringVar(&probersFile, "probers-file", "", "`file` with one NAME/NAMESPACE=HOST:PORT per line")
	c.proberAuth.Register(fs, "prober-", "probers", "each prober's host")
	fs.IntVar(&c.concurrency, "concurrency", DefaultConcurrency, "probers asked at once per job")
	fs.DurationVar(&c.proberTimeout, "prober-timeout", DefaultProberTimeout, "each prober's budget when a job sets none (raised to the probe's own timeout plus 15s when that is longer)")
	fs.IntVar(&c.keepJobs, "keep-jobs", DefaultKeepJobs, "finished jobs kept for GetJob")
	c.otlp.Register(fs)
	// Each job holds up to --concurrency prober calls; these bound the jobs.
	c.limits = admission.Limits{MaxConcurrent: 8, MaxWaiting: 16, Rate: 10, Burst: 20}
	daemon.AdmissionFlags(fs, &c.limits)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	for _, s := range probers {
		p, err := parseProber(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.probers = append(c.probers, p)
	}
	if probersFile != "" {
		ps, err := readProbersFile(probersFile)
		if err != nil {
			errs = append(errs, err)
		}
		c.probers = append(c.probers, ps...)
	}
	seen := map[string]bool{}
	for _, p := range c.probers {
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("prober %q is listed twice", p.Name))
		}
		seen[p.Name] = true
	}
	if len(c.probers) == 0 {
		errs = append(errs, errors.New("no prober: give --prober NAME/NAMESPACE=HOST:PORT or --probers-file"))
	}
	errs = append(errs, c.server.Check()...)
	if !c.proberAuth.TLS.Enabled() && !c.proberAuth.Insecure {
		for _, p := range c.probers {
			if err := authn.CheckPlaintext(p.Address, false); err != nil {
				errs = append(errs, fmt.Errorf("prober %s: %w (or use --prober-tls-* / --prober-insecure)", p.Name, err))
			}
		}
	}
	if c.concurrency <= 0 || c.proberTimeout <= 0 || c.keepJobs <= 0 {
		errs = append(errs, errors.New("--concurrency, --prober-timeout and --keep-jobs must be positive"))
	}
	errs = append(errs, daemon.CheckAdmission(c.limits), c.otlp.Check())
	return c, errors.Join(errs...)
}

// Main runs the coordinator until ctx ends and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return daemon.Main(ctx, "coordinator", args, stderr, parseFlags, serve)
}

func proberOptions(cfg config) ([]grpc.DialOption, error) {
	opts, err := cfg.proberAuth.DialOptions(cfg.proberAuth.TLS.Enabled())
	if err != nil {
		return nil, fmt.Errorf("prober credentials: %w", err)
	}
	return append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(telemetry.Propagator())))), nil
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	stopTracing, err := cfg.otlp.Setup(ctx, "dsprobe-coordinator", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	dialOpts, err := proberOptions(cfg)
	if err != nil {
		return err
	}
	connector := &GRPCConnector{Options: dialOpts}
	defer connector.Close()

	reg := prometheus.NewRegistry()
	svc := &Service{
		Discovery: cfg.probers, Connector: connector,
		Concurrency: cfg.concurrency, ProberTimeout: cfg.proberTimeout, Jobs: NewJobStore(cfg.keepJobs),
		Limiter: admission.New(cfg.limits),
		Metrics: NewMetrics(reg), Tracer: otel.Tracer("github.com/dsprobe/dsprobe/internal/coordinator"),
	}
	return cfg.server.Serve(ctx, daemon.Service{
		Register: func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) },
		Gateway:  dsprobev1.RegisterCoordinatorHandler,
		Metrics:  reg,
	}, log, "coordinator", "probers", len(cfg.probers))
}
