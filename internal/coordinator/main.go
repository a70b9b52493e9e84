package coordinator

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/daemon"
	"github.com/dsprobe/dsprobe/internal/restgw"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

type config struct {
	listen, httpListen       string
	metricsListen            string
	tls, proberTLS           authn.TLSFiles
	tokenFile, proberToken   string
	insecure, proberInsecure bool
	proberServerName         string
	probers                  Static
	concurrency, keepJobs    int
	proberTimeout            time.Duration
	otlp                     daemon.OTLP
	limits                   admission.Limits
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*dsprobev1.ProberInfo
	var errs []error
	sc := bufio.NewScanner(f)
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
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9444", "gRPC listen `address`")
	fs.StringVar(&c.httpListen, "http-listen", "", "serve the REST mapping (POST /v1/jobs, GET /v1/probers, GET /v1/jobs/{id}) on this `address`, with the same TLS and authentication (off when empty)")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this `address` (off when empty)")
	fs.StringVar(&c.tls.Cert, "tls-cert", "", "server certificate `file`")
	fs.StringVar(&c.tls.Key, "tls-key", "", "server private key `file`")
	fs.StringVar(&c.tls.CA, "tls-ca", "", "CA `file` that signs callers' certificates; makes them mandatory (mTLS)")
	fs.StringVar(&c.tokenFile, "token-file", "", "`file` holding a bearer token callers may present")
	fs.BoolVar(&c.insecure, "insecure", false, "allow plaintext off loopback and unauthenticated callers (logs a warning)")
	fs.Var(&probers, "prober", "a prober as `NAME/NAMESPACE=HOST:PORT` (repeatable)")
	fs.StringVar(&probersFile, "probers-file", "", "`file` with one NAME/NAMESPACE=HOST:PORT per line")
	fs.StringVar(&c.proberTLS.Cert, "prober-tls-cert", "", "client certificate `file` presented to probers")
	fs.StringVar(&c.proberTLS.Key, "prober-tls-key", "", "client private key `file` for probers")
	fs.StringVar(&c.proberTLS.CA, "prober-tls-ca", "", "CA `file` that signs probers' certificates")
	fs.StringVar(&c.proberServerName, "prober-tls-server-name", "", "name to verify in probers' certificates (default: each prober's host)")
	fs.StringVar(&c.proberToken, "prober-token-file", "", "`file` holding the bearer token probers accept")
	fs.BoolVar(&c.proberInsecure, "prober-insecure", false, "talk to probers in plaintext (only for probers on loopback or a trusted network)")
	fs.IntVar(&c.concurrency, "concurrency", DefaultConcurrency, "probers asked at once per job")
	fs.DurationVar(&c.proberTimeout, "prober-timeout", DefaultProberTimeout, "each prober's budget when a job sets none")
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
	errs = append(errs, daemon.CheckPlaintext(c.tls, c.insecure, c.listen, c.httpListen)...)
	if !c.proberTLS.Enabled() && !c.proberInsecure {
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
	opts, err := authn.DialOptions(cfg.proberTLS, cfg.proberTLS.Enabled(), cfg.proberServerName, cfg.proberToken)
	if err != nil {
		return nil, fmt.Errorf("prober credentials: %w", err)
	}
	return append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(telemetry.Propagator())))), nil
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	shutdownTracing, err := telemetry.Setup(ctx, telemetry.Options{Service: "dsprobe-coordinator", Endpoint: cfg.otlp.Endpoint, Insecure: cfg.otlp.Insecure})
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
	dialOpts, err := proberOptions(cfg)
	if err != nil {
		return err
	}
	connector := &GRPCConnector{Options: dialOpts}
	defer connector.Close()

	opts, auth, err := daemon.ServerOptions(cfg.tls, cfg.tokenFile, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	svc := &Service{
		Discovery: cfg.probers, Connector: connector,
		Concurrency: cfg.concurrency, ProberTimeout: cfg.proberTimeout, Jobs: NewJobStore(cfg.keepJobs),
		Limiter: admission.New(cfg.limits),
		Metrics: NewMetrics(reg), Tracer: otel.Tracer("github.com/dsprobe/dsprobe/internal/coordinator"),
	}
	if cfg.metricsListen != "" {
		addr, stopMetrics, err := daemon.ServeMetrics(cfg.metricsListen, reg)
		if err != nil {
			return err
		}
		defer stopMetrics()
		log.Info("metrics listening", "addr", addr.String())
	}
	srv := grpc.NewServer(opts...)
	dsprobev1.RegisterCoordinatorServer(srv, svc)
	if cfg.httpListen != "" {
		stopREST, err := serveREST(ctx, cfg, svc, auth, log)
		if err != nil {
			return err
		}
		defer stopREST()
	}
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(srv, healthSrv)
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	log.Info("coordinator listening", "addr", ln.Addr().String(), "probers", len(cfg.probers), "tls", cfg.tls.Enabled())
	return daemon.Serve(ctx, srv, ln, healthSrv, 10*time.Second)
}

// serveREST serves the REST mapping until stopped, over TLS with the gRPC
// server's configuration when it has one.
func serveREST(ctx context.Context, cfg config, svc *Service, auth *authn.Authenticator, log *slog.Logger) (stop func(), err error) {
	handler, stopGateway, err := RESTHandler(ctx, svc, auth)
	if err != nil {
		return nil, err
	}
	addr, stopHTTP, err := restgw.Serve(cfg.httpListen, handler, cfg.tls)
	if err != nil {
		stopGateway()
		return nil, err
	}
	log.Info("REST listening", "addr", addr.String())
	return func() {
		stopHTTP()
		stopGateway()
	}, nil
}
