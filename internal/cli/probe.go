package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/term"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

const probeSynopsis = `[--dns-server ADDR]... [--family ipv4|ipv6|both] [--check tcp|http|https|grpc]
              [--profile NAME]... [--timeout DUR] [--attempt-timeout DUR] [-o table|json]
              [--coordinator ADDR [--namespace NS]... [--prober NAME]...] [--otlp-endpoint ADDR] TARGET
       [-n NS] [--context CTX] [--kubeconfig FILE] [--family ipv4|ipv6|both] [-o table|json]
              [--coordinator ADDR [--namespace NS]... [--prober NAME]...] svc/NAME[:PORT]`

const probeHelp = `Probes TARGET family by family: resolves A and AAAA separately, connects to
every address of each requested family directly, runs the application check
on each connection, runs its own Happy Eyeballs race, and predicts what each
client profile does on the measured path. Each family gets a verdict naming
the most fundamental failing layer (LAYER_DNS, LAYER_ROUTE, LAYER_POLICY,
LAYER_LISTENER, LAYER_APPLICATION) and one sentence to act on.

Names resolve as the system's clients resolve them: /etc/hosts first (a name
listed there never reaches DNS), then the servers of /etc/resolv.conf with its
search list. --dns-server asks that server only.

TARGET is host:port, [v6]:port, or a URL: http://, https:// (the check follows
the scheme) or grpc://host:port (grpc.health.v1).

svc/NAME[:PORT] probes a Kubernetes Service (read as dsprobe evidence reads
it; PORT by name or number, default its first) from this machine: its name
(with this machine's resolver: the cluster DNS inside a Pod), every
ClusterIP and every ready endpoint directly. Each family's verdict judges
the Service's objects and those paths (LAYER_SERVICE, LAYER_ENDPOINTS, ...);
the client predictions are the name's. With --coordinator every selected
prober probes those paths and the coordinator, which reads the Service's
objects, judges each prober's view: this machine needs no Kubernetes API
(-n defaults to the kubeconfig context's namespace if there is one, else
default). Not with --dns-server, --check or --profile; exit 2 also when the
Service does not exist, 3 when the Kubernetes API server cannot be reached.
Locally, a TARGET NAME.NS.svc.DOMAIN[:PORT] (DOMAIN: --cluster-domain) is
probed as svc/NAME[:PORT] -n NS when a Kubernetes API is configured and
answers; otherwise as a host name (saying why on stderr when the API did
not answer).

--profile chooses the prober's own race (default rfc8305); further --profile
flags add client predictions with overrides (e.g. node,attempt-delay=500ms).

--otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) traces the probe: the CLI's
span, each DNS query and connection attempt and, with --coordinator, the
coordinator's job and each prober; the trace ID is printed (in JSON on stderr,
or as the job's traceId).

Exit code 0 when every requested family passes, 1 when one fails, 2 for bad
input (including a --dns-server that never answers, or a --coordinator that
is not one), 3 when dsprobe could not run the check: the coordinator
unreachable, busy or failing the job, this machine out of local ports, file
descriptors or memory, or the probe interrupted (the message says which, and
what to do).

Examples:
  dsprobe probe svc.example:80
  dsprobe probe --dns-server [2001:db8::53]:53 --family ipv6 https://svc.example/healthz
  dsprobe probe -o json [2001:db8::1]:443
  dsprobe probe -n shop svc/web:http`

// probeFlags are the flags of dsprobe probe.
type probeFlags struct {
	out                                 *outputFormat
	dnsServers, profiles                stringList
	family, check                       string
	timeout, attemptTimeout, maxConnect time.Duration
	maxStatus                           int
	insecureSkipVerify                  bool
	caFile                              string
	grpcService                         string
	remote                              coordinatorFlags
	otlp                                otlpFlags
	kube                                serviceTargetFlags
}

// serviceTargetFlags say where a svc/NAME target is read from, as
// dsprobe evidence's flags do.
type serviceTargetFlags struct {
	namespace, context, kubeconfig, clusterDomain string
}

func (p *probeFlags) register(fs *flag.FlagSet) {
	p.out = addOutputFlag(fs)
	fs.Var(&p.dnsServers, "dns-server", "DNS server `ADDR` (IPv4 or [IPv6], optional :port; repeatable); default: /etc/resolv.conf")
	fs.StringVar(&p.family, "family", "both", "families to probe: ipv4, ipv6 or both")
	fs.StringVar(&p.check, "check", "", "application check: tcp, http, https or grpc (default: from the URL scheme, else tcp)")
	fs.Var(&p.profiles, "profile", "profile `NAME[,KEY=VALUE...]` of the prober's own race (first) or an extra prediction (repeatable)")
	fs.DurationVar(&p.timeout, "timeout", 30*time.Second, "budget of the whole probe: a query or connect still unanswered when it ends is judged as a timeout")
	fs.DurationVar(&p.attemptTimeout, "attempt-timeout", probe.DefaultAttemptTimeout, "budget of each connect and check (a silent drop costs this long)")
	fs.DurationVar(&p.maxConnect, "max-connect-time", probe.DefaultMaxConnectTime, "a predicted client slower than this fails with LAYER_CLIENT")
	fs.BoolVar(&p.insecureSkipVerify, "insecure-skip-verify", false, "https: do not verify the server certificate")
	fs.StringVar(&p.caFile, "ca", "", "https: verify the server certificate with the CA certificates in this PEM `file`")
	fs.IntVar(&p.maxStatus, "max-status", 399, "http(s): the highest HTTP status that passes")
	fs.StringVar(&p.grpcService, "grpc-service", "", "grpc: the service name for grpc.health.v1 Check (default: the whole server)")
	p.remote.register(fs)
	p.otlp.register(fs)
	fs.StringVar(&p.kube.namespace, "n", "", "svc/NAME: the Service's namespace (default: the context's, else default)")
	fs.StringVar(&p.kube.context, "context", "", "svc/NAME: the kubeconfig context to use (default: the current context)")
	fs.StringVar(&p.kube.kubeconfig, "kubeconfig", "", "svc/NAME: the kubeconfig `file` (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
	fs.StringVar(&p.kube.clusterDomain, "cluster-domain", kube.DefaultClusterDomain, "svc/NAME: the cluster's DNS domain: the Service's name is NAME.NS.svc.DOMAIN")
}

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("probe", probeSynopsis, probeHelp, e.stdout)
	var flags probeFlags
	flags.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return argsErrorf(fs, "[flags] TARGET", "want exactly one TARGET, got %d", len(positional))
	}
	if isServiceTarget(positional[0]) {
		return flags.runService(ctx, e, positional[0])
	}
	if svcArg, ok, err := flags.serviceByName(positional[0]); err != nil {
		return err
	} else if ok {
		err := flags.runService(ctx, e, svcArg)
		var api *kube.APIError
		switch {
		case errors.Is(err, kube.ErrNoCluster):
			// No API to read the Service from: the name is a host name.
		case errors.As(err, &api):
			fmt.Fprintf(e.stderr, "dsprobe probe: %s is probed as a host name, not as %s: %v\n", positional[0], svcArg, err)
		default:
			return err
		}
	}
	apiReq, req, err := flags.request(e, positional[0])
	if err != nil {
		return err
	}

	_, shutdown, err := flags.otlp.setup(ctx, e.stderr)
	if err != nil {
		return err
	}
	defer shutdown()
	ctx, span := startSpan(ctx, "dsprobe probe "+apiReq.GetTarget())
	defer span.End()
	if flags.remote.address != "" {
		return flags.remote.run(ctx, e, apiReq, *flags.out)
	}
	return flags.runLocal(ctx, e, apiReq, req, span)
}

// request turns the flags into the API request a coordinator would send,
// validated as a coordinator validates it, and, for a local probe, into the
// engine's request. Every problem, of the flags and of the request, is
// reported at once as bad input.
func (p *probeFlags) request(e *env, target string) (*dsprobev1.ProbeRequest, probe.Request, error) {
	var problems []error
	millis := func(name string, d time.Duration) uint32 {
		ms, err := apiMillis(name, d)
		if err != nil {
			problems = append(problems, err)
		}
		return ms
	}
	apiReq := &dsprobev1.ProbeRequest{
		Target:             target,
		Profiles:           p.profiles,
		DnsServers:         p.dnsServers,
		InsecureSkipVerify: p.insecureSkipVerify,
		GrpcService:        p.grpcService,
	}
	if p.family != "both" {
		f, err := dualstack.ParseFamily(p.family)
		if err != nil {
			problems = append(problems, fmt.Errorf("--family %q: want ipv4, ipv6 or both", p.family))
		} else {
			// The API's enum numbers are the engine's; test/apicontract
			// pins that.
			apiReq.Families = []dsprobev1.Family{dsprobev1.Family(f)}
		}
	}
	if p.check != "" {
		kind, err := appcheck.ParseKind(p.check)
		if err != nil {
			problems = append(problems, fmt.Errorf("--check: %w", err))
		}
		apiReq.Check = apiconv.CheckOf(kind)
	}
	apiReq.TimeoutMs = millis("timeout", p.timeout)
	apiReq.AttemptTimeoutMs = millis("attempt-timeout", p.attemptTimeout)
	apiReq.MaxConnectTimeMs = millis("max-connect-time", p.maxConnect)
	// 0 would mean "the default" to the API, and the check compares
	// statuses, so only a status can stand here.
	if p.maxStatus < 100 || p.maxStatus > 599 {
		problems = append(problems, fmt.Errorf("--max-status %d: want an HTTP status from 100 to 599", p.maxStatus))
	}
	apiReq.MaxHttpStatus = uint32(max(p.maxStatus, 0))
	var rootCAs *x509.CertPool
	switch {
	case p.caFile != "" && p.remote.address != "":
		problems = append(problems, errors.New("--ca verifies certificates in a local probe; with --coordinator the probers verify with their own trust"))
	case p.caFile != "":
		var err error
		if rootCAs, err = authn.LoadCAPool(p.caFile); err != nil {
			problems = append(problems, fmt.Errorf("--ca: %w", err))
		}
	}

	// A request sent to a coordinator is validated here too, so bad input
	// is exit 2 before any network; the probers resolve with their own
	// configuration, so this machine's must not matter.
	defaults := apiconv.Elsewhere
	if p.remote.address == "" {
		defaults = apiconv.Defaults{ResolvConf: e.resolvConf, Hosts: e.hosts}
	}
	req, err := apiconv.ProbeRequest(apiReq, defaults)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, probe.Request{}, usageError{errors.Join(problems...)}
	}
	req.Check.RootCAs = rootCAs
	return apiReq, req, nil
}

// apiMillis is a duration flag in the API's whole milliseconds. The API
// cannot carry a budget under 1 ms (0 means "the default") or over
// MaxUint32 ms, so either is bad input, named by its flag.
func apiMillis(name string, d time.Duration) (uint32, error) {
	const most = math.MaxUint32 * time.Millisecond
	switch {
	case d < time.Millisecond:
		return 0, fmt.Errorf("--%s %s: want at least 1ms (the API counts whole milliseconds)", name, d)
	case d > most:
		return 0, fmt.Errorf("--%s %s: want at most %s", name, d, most)
	}
	return uint32(d.Milliseconds()), nil
}

// runLocal runs the probe in this process and writes its result.
func (p *probeFlags) runLocal(ctx context.Context, e *env, apiReq *dsprobev1.ProbeRequest, req probe.Request, span trace.Span) error {
	if isTerminal(e.stderr) && *p.out == "table" {
		req.Progress = func(stage string) { fmt.Fprintf(e.stderr, "\r\033[K%s ...", stage) }
		defer fmt.Fprint(e.stderr, "\r\033[K")
	}
	// The budget the API carries (whole milliseconds), as a prober would
	// run it.
	ctx, cancel := context.WithTimeout(ctx, apiconv.Timeout(apiReq, p.timeout))
	defer cancel()
	res, err := probe.Run(ctx, req)
	if err != nil {
		return err
	}
	if len(p.dnsServers) > 0 && noDNSAnswer(&res) {
		return usagef("DNS server %s did not answer any query (%s): check --dns-server", strings.Join(p.dnsServers, ", "), dnsFailure(&res))
	}
	telemetry.RecordProbe(ctx, otel.Tracer(tracerName), &res)
	if *p.out == "json" {
		if err := writeProto(e.stdout, apiconv.ProbeResult(&res)); err != nil {
			return err
		}
		p.otlp.endSpanAndWriteTraceID(ctx, e.stderr, span)
	} else {
		writeProbeTable(e.stdout, &res)
		p.otlp.endSpanAndWriteTraceID(ctx, e.stdout, span)
	}
	if !res.Passed() {
		return errFailed
	}
	return nil
}

// noDNSAnswer reports whether every query the probe sent went unanswered
// within the server's own timeouts: with a server the user named, that is a
// wrong --dns-server, not a verdict. Queries the probe's budget (--timeout)
// ended are judged instead: the user chose that budget.
func noDNSAnswer(res *probe.Result) bool {
	asked := false
	for _, a := range res.DNS {
		if a == nil {
			continue
		}
		asked = true
		if a.Status != resolve.StatusTimeout && a.Status != resolve.StatusError || errors.Is(a.Err, context.DeadlineExceeded) {
			return false
		}
	}
	return asked
}

func dnsFailure(res *probe.Result) string {
	for _, a := range res.DNS {
		if a != nil && a.Err != nil {
			return a.Err.Error()
		}
	}
	return "no answer"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
