package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"golang.org/x/term"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

const probeSynopsis = `[--dns-server ADDR]... [--family ipv4|ipv6|both] [--check tcp|http|https|grpc]
              [--profile NAME]... [--timeout DUR] [--attempt-timeout DUR] [-o table|json]
              [--coordinator ADDR [--namespace NS]... [--prober NAME]...] [--otlp-endpoint ADDR] TARGET`

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

--profile chooses the prober's own race (default rfc8305); further --profile
flags add client predictions with overrides (e.g. node,attempt-delay=500ms).

--otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) traces the probe: the CLI's
span, each DNS query and connection attempt and, with --coordinator, the
coordinator's job and each prober; the trace ID is printed (in JSON on stderr,
or as the job's traceId).

Exit code 0 when every requested family passes, 1 when one fails, 2 for bad
input (including a --dns-server that never answers), 3 for an internal error.

Examples:
  dsprobe probe svc.example:80
  dsprobe probe --dns-server [2001:db8::53]:53 --family ipv6 https://svc.example/healthz
  dsprobe probe -o json [2001:db8::1]:443`

// resolvConfPath and hostsPath are the system resolver configuration and
// hosts file; tests point them elsewhere.
var (
	resolvConfPath = resolve.SystemResolvConf
	hostsPath      = resolve.SystemHosts
)

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("probe", probeSynopsis, probeHelp, e.stdout)
	out := addOutputFlag(fs)
	var dnsServers, profiles stringList
	fs.Var(&dnsServers, "dns-server", "DNS server `ADDR` (IPv4 or [IPv6], optional :port; repeatable); default: /etc/resolv.conf")
	familyFlag := fs.String("family", "both", "families to probe: ipv4, ipv6 or both")
	checkFlag := fs.String("check", "", "application check: tcp, http, https or grpc (default: from the URL scheme, else tcp)")
	fs.Var(&profiles, "profile", "profile `NAME[,KEY=VALUE...]` of the prober's own race (first) or an extra prediction (repeatable)")
	timeout := fs.Duration("timeout", 30*time.Second, "budget of the whole probe: a query or connect still unanswered when it ends is judged as a timeout")
	attemptTimeout := fs.Duration("attempt-timeout", probe.DefaultAttemptTimeout, "budget of each connect and check (a silent drop costs this long)")
	maxConnect := fs.Duration("max-connect-time", probe.DefaultMaxConnectTime, "a predicted client slower than this fails with LAYER_CLIENT")
	insecure := fs.Bool("insecure-skip-verify", false, "https: do not verify the server certificate")
	caFile := fs.String("ca", "", "https: verify the server certificate with the CA certificates in this PEM `file`")
	maxStatus := fs.Int("max-status", 399, "http(s): the highest HTTP status that passes")
	grpcService := fs.String("grpc-service", "", "grpc: the service name for grpc.health.v1 Check (default: the whole server)")
	var remote coordinatorFlags
	remote.register(fs)
	var otlp otlpFlags
	otlp.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("want exactly one TARGET (usage: dsprobe probe %s)", probeSynopsis)
	}
	// The flags become the same API request a coordinator would send, and
	// go through the same validation.
	apiReq := &dsprobev1.ProbeRequest{
		Target:             positional[0],
		Profiles:           profiles,
		DnsServers:         dnsServers,
		TimeoutMs:          durationMs(*timeout),
		AttemptTimeoutMs:   durationMs(*attemptTimeout),
		MaxConnectTimeMs:   durationMs(*maxConnect),
		MaxHttpStatus:      uint32(max(*maxStatus, 0)),
		InsecureSkipVerify: *insecure,
		GrpcService:        *grpcService,
	}
	var errs []error
	switch *familyFlag {
	case "both":
	case "ipv4", "4":
		apiReq.Families = []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4}
	case "ipv6", "6":
		apiReq.Families = []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV6}
	default:
		errs = append(errs, fmt.Errorf("--family %q: want ipv4, ipv6 or both", *familyFlag))
	}
	if *checkFlag != "" {
		kind, err := appcheck.ParseKind(*checkFlag)
		if err != nil {
			errs = append(errs, fmt.Errorf("--check: %w", err))
		}
		apiReq.Check = apiconv.CheckOf(kind)
	}
	if *timeout <= 0 || *attemptTimeout <= 0 || *maxConnect <= 0 {
		errs = append(errs, errors.New("--timeout, --attempt-timeout and --max-connect-time must be positive"))
	}
	var rootCAs *x509.CertPool
	if *caFile != "" {
		rootCAs, err = authn.LoadCAPool(*caFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--ca: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	var req probe.Request
	if remote.address != "" {
		if *caFile != "" {
			return usagef("--ca verifies certificates in a local probe; with --coordinator the probers verify with their own trust")
		}
		// Validate here too, so bad input is exit 2 before any network.
		if _, err := apiconv.ProbeRequest(apiReq, apiconv.Elsewhere); err != nil {
			return usageError{err}
		}
	} else if req, err = apiconv.ProbeRequest(apiReq, apiconv.Defaults{ResolvConf: resolvConfPath, Hosts: hostsPath}); err != nil {
		return usageError{err}
	}

	_, shutdown, err := otlp.setup(ctx, e.stderr)
	if err != nil {
		return err
	}
	defer shutdown()
	ctx, span := startSpan(ctx, "dsprobe probe "+apiReq.GetTarget())
	defer span.End()
	if remote.address != "" {
		return remote.run(ctx, e, apiReq, *out)
	}
	req.Check.RootCAs = rootCAs
	if isTerminal(e.stderr) && *out == "table" {
		req.Progress = func(stage string) { fmt.Fprintf(e.stderr, "\r\033[K%s ...", stage) }
		defer fmt.Fprint(e.stderr, "\r\033[K")
	}

	ctx, cancel := context.WithTimeout(ctx, apiconv.Timeout(apiReq, *timeout))
	defer cancel()
	res, err := probe.Run(ctx, req)
	if err != nil {
		return err
	}
	if len(dnsServers) > 0 && noDNSAnswer(&res) {
		return usagef("DNS server %s did not answer any query (%s): check --dns-server", strings.Join(dnsServers, ", "), dnsFailure(&res))
	}
	telemetry.RecordProbe(ctx, otel.Tracer(tracerName), &res)
	if *out == "json" {
		if err := writeProto(e.stdout, apiconv.ProbeResult(&res)); err != nil {
			return err
		}
		otlp.endSpanAndWriteTraceID(ctx, e.stderr, span)
	} else {
		writeProbeTable(e.stdout, &res)
		otlp.endSpanAndWriteTraceID(ctx, e.stdout, span)
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

// durationMs is a flag's duration in the API's whole milliseconds (at least
// 1 for a positive duration, so a sub-millisecond budget is not "unset").
func durationMs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(max(d.Milliseconds(), 1))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
