package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/localaddr"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/servicecheck"
	"github.com/dsprobe/dsprobe/internal/target"
)

const evidenceSynopsis = "[-n NS] [--context CTX] [--kubeconfig FILE] [--family ipv4|ipv6] [--port PORT] [--no-probe] svc/NAME [-o table|json|markdown]"

const evidenceHelp = `Print a Service's family-by-family evidence table, the seed's rows in order
(node CIDRs, Pod IPs, Service IPs, EndpointSlices, DNS, kube-proxy, listener,
NetworkPolicy, verdict), an IPv4 and an IPv6 cell each; a cell with no proof
of its family says "missing: <why>", never blank. The objects are read from
the Kubernetes API (kubeconfig, --context and in-cluster config as kubectl);
the DNS, kube-proxy, listener and verdict rows need measurements, so dsprobe
also probes, from this machine, the Service's name (with this machine's
resolver: the cluster DNS inside a Pod), every ClusterIP and every ready
endpoint; --no-probe skips that and leaves those rows missing.

Exit codes: 0 every row has proof for both families (or for those given with
--family); 1 a cell is missing or failing (a blank IPv6 cell is a rollout
blocker, even for a SingleStack Service); 2 bad input (no such Service or
port, bad syntax, a bad kubeconfig or context); 3 the API server cannot be
reached (the message names it) or this machine could not probe.

Examples:
  dsprobe evidence -n shop svc/web
  dsprobe evidence --context prod -o markdown svc/web >> rollout.md
  dsprobe evidence --family ipv4 --no-probe svc/web`

// evidenceFlags are the flags of dsprobe evidence.
type evidenceFlags struct {
	out                      evidenceFormat
	namespace, kubeContext   string
	kubeconfig, family, port string
	clusterDomain            string
	noProbe                  bool
	timeout, attemptTimeout  time.Duration
}

func (p *evidenceFlags) register(fs *flag.FlagSet) {
	p.out = "table"
	fs.Var(&p.out, "o", "output format: table (for humans), json (for scripts) or markdown (a pipe table for a rollout record)")
	fs.StringVar(&p.namespace, "n", "", "the Service's namespace (default: the context's, else default)")
	fs.StringVar(&p.kubeContext, "context", "", "the kubeconfig context to use (default: the current context)")
	fs.StringVar(&p.kubeconfig, "kubeconfig", "", "the kubeconfig `file` (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
	fs.StringVar(&p.family, "family", "both", "the families that must have proof for exit 0: ipv4, ipv6 or both (the table shows both)")
	fs.StringVar(&p.port, "port", "", "the Service port, by name or number (default: its first)")
	fs.StringVar(&p.clusterDomain, "cluster-domain", kube.DefaultClusterDomain, "the cluster's DNS domain: the Service's name is NAME.NS.svc.DOMAIN")
	fs.BoolVar(&p.noProbe, "no-probe", false, "read the objects only; the DNS, kube-proxy, listener and verdict rows stay missing")
	fs.DurationVar(&p.timeout, "timeout", 30*time.Second, "budget of the whole command (reading the API and probing)")
	fs.DurationVar(&p.attemptTimeout, "attempt-timeout", probe.DefaultAttemptTimeout, "budget of each connect (a silent drop costs this long)")
}

// evidenceFormat is evidence's -o flag: table and json as every command,
// and markdown.
type evidenceFormat string

func (o *evidenceFormat) String() string { return string(*o) }
func (o *evidenceFormat) Set(s string) error {
	switch s {
	case "table", "json", "markdown":
		*o = evidenceFormat(s)
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table, json or markdown)", s)
}

// parseServiceArg reads svc/NAME (also service/NAME, services/NAME, as
// kubectl spells the resource), the name checked as the API checks it.
func parseServiceArg(arg string) (string, error) {
	name, err := serviceRef(arg)
	if err != nil {
		return "", err
	}
	if err := (kube.ServiceQuery{Name: name}).Validate(); err != nil {
		return "", fmt.Errorf("%q: %w", arg, err)
	}
	return name, nil
}

// serviceRef is the NAME of svc/NAME, unchecked.
func serviceRef(arg string) (string, error) {
	kind, name, found := strings.Cut(arg, "/")
	if !found || (kind != "svc" && kind != "service" && kind != "services") {
		return "", fmt.Errorf("%q is not svc/NAME", arg)
	}
	return name, nil
}

func runEvidence(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("evidence", evidenceSynopsis, evidenceHelp, e.stdout)
	var flags evidenceFlags
	flags.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return argsErrorf(fs, "[flags] svc/NAME", "want exactly one svc/NAME, got %d", len(positional))
	}
	name, err := parseServiceArg(positional[0])
	if err != nil {
		return argsErrorf(fs, "[flags] svc/NAME", "%v", err)
	}
	families, err := flags.families()
	if err != nil {
		return usageError{err}
	}
	if flags.timeout <= 0 || flags.attemptTimeout <= 0 {
		return usagef("--timeout and --attempt-timeout must be positive")
	}

	ctx, cancel := context.WithTimeout(ctx, flags.timeout)
	defer cancel()
	checked, err := checkService(ctx, e,
		kube.Target{Kubeconfig: flags.kubeconfig, Context: flags.kubeContext, Namespace: flags.namespace},
		kube.ServiceQuery{Name: name, Port: flags.port, ClusterDomain: flags.clusterDomain},
		!flags.noProbe, flags.attemptTimeout)
	if err != nil {
		return err
	}
	objs, evidence := checked.objs, checked.evidence
	table := diagnose.EvidenceTableOf(evidence...)
	proven := table.Proven(families...)
	switch flags.out {
	case "json":
		if err := writeJSON(e.stdout, evidenceJSONOf(table, families, proven)); err != nil {
			return err
		}
	case "markdown":
		writeEvidenceMarkdown(e.stdout, table)
	default:
		writeEvidenceTable(e.stdout, table, objs)
	}
	if !proven {
		return errFailed
	}
	return nil
}

func (p *evidenceFlags) families() ([]dualstack.Family, error) {
	if p.family == "both" {
		return []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6}, nil
	}
	f, err := dualstack.ParseFamily(p.family)
	if err != nil || f == dualstack.FamilyUnspecified {
		return nil, fmt.Errorf("--family %q: want ipv4, ipv6 or both", p.family)
	}
	return []dualstack.Family{f}, nil
}

// evidenceReadError sorts what kept the objects from being read: the
// user's input (no such Service or port, a kubeconfig or context that does
// not resolve) is exit 2; no cluster configured or the API server not
// answering is exit 3, naming the server.
func evidenceReadError(err error) error {
	var notFound *kube.ServiceNotFoundError
	var badPort *kube.ServicePortError
	var api *kube.APIError
	switch {
	case errors.As(err, &notFound), errors.As(err, &badPort):
		return usageError{err}
	case errors.As(err, &api), errors.Is(err, kube.ErrNoCluster), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return usageError{err}
	}
}

// checkedService is what dsprobe evidence and dsprobe probe svc/NAME both
// know of a Service: its objects, what was measured, and each family's
// evidence (IPv4, then IPv6).
type checkedService struct {
	objs     *kube.ServiceObjects
	measured servicecheck.Measurement[probe.Result]
	evidence []diagnose.ServiceEvidence
}

// checkService reads the Service's objects and, when measure is set,
// probes it from this machine (servicecheck.Measure with the engine). An
// error is sorted into exit codes as evidenceReadError says; a probe this
// machine could not run (no free port, out of descriptors) is exit 3.
func checkService(ctx context.Context, e *env, kt kube.Target, q kube.ServiceQuery, measure bool, attemptTimeout time.Duration) (checkedService, error) {
	objs, err := kube.ReadService(ctx, kt, q)
	if err != nil {
		return checkedService{}, evidenceReadError(err)
	}
	m := servicecheck.NotMeasured[probe.Result](fmt.Sprintf("not measured (run dsprobe probe svc/%s)", q.Name))
	if measure {
		resolver, err := resolve.LoadSystem(e.resolvConf, e.hosts)
		if err != nil {
			return checkedService{}, fmt.Errorf("reading the system resolver configuration: %w", err)
		}
		if m, err = servicecheck.Measure(ctx, objs.Probed(), servicecheck.Options{}, localProbe(resolver, attemptTimeout)); err != nil {
			return checkedService{}, err
		}
	}
	// The kernel's choice of source needs no connect, so the
	// NetworkPolicies are judged with --no-probe too.
	prober := objs.Prober(ctx, sourcesToward(objs))
	return checkedService{objs: objs, measured: m, evidence: m.Evidence(func(f dualstack.Family) diagnose.ServiceEvidence {
		return objs.For(f, prober)
	})}, nil
}

// localProbe runs each probe of a Service in this process, with this
// machine's resolver.
func localProbe(resolver *resolve.Resolver, attemptTimeout time.Duration) servicecheck.Run[probe.Result] {
	return func(ctx context.Context, t target.Target) (probe.Result, servicecheck.Observed, error) {
		req := probe.Request{Target: t, Resolver: resolver, AttemptTimeout: attemptTimeout}
		if !t.IsLiteral() {
			req.Families = servicecheck.Families
		}
		res, err := probe.Run(ctx, req)
		if err != nil {
			return res, servicecheck.Observed{}, err
		}
		var o servicecheck.Observed
		for _, f := range servicecheck.Families {
			fe := res.Evidence(f)
			o.DNS[f], o.Connects[f] = fe.DNS, fe.Addresses
		}
		for _, a := range res.Attempts {
			o.Listener = append(o.Listener, listener.Observation{Family: a.Family, Outcome: a.Outcome})
		}
		return res, o, nil
	}
}

// sourcesToward returns this machine's source address of each family
// toward the Service's Pods (a ready endpoint, else a ClusterIP): what a
// NetworkPolicy's ipBlock is matched against.
func sourcesToward(objs *kube.ServiceObjects) []netip.Addr {
	var dsts []netip.Addr
	for _, f := range []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6} {
		for _, a := range append(endpointAddrs(objs.ReadyEndpoints), objs.Evidence.Service.ClusterIPs...) {
			if dualstack.FamilyOf(a) == f {
				dsts = append(dsts, a)
				break
			}
		}
	}
	var out []netip.Addr
	for _, s := range localaddr.SourcesFor(dsts) {
		if s.Addr.IsValid() {
			out = append(out, s.Addr)
		}
	}
	return out
}

func endpointAddrs(aps []netip.AddrPort) []netip.Addr {
	out := make([]netip.Addr, len(aps))
	for i, ap := range aps {
		out[i] = ap.Addr()
	}
	return out
}

// cellText is a cell as the table and Markdown show it: a failing cell
// says so first (a missing one already does).
func cellText(c diagnose.Cell) string {
	if c.Status == diagnose.CellFailing {
		return "failing: " + c.Text
	}
	return c.Text
}

func writeEvidenceTable(w io.Writer, t diagnose.EvidenceTable, objs *kube.ServiceObjects) {
	fmt.Fprintf(w, "Service %s  (port %d/%s)\n\n", t.Service, objs.Port.Port, objs.Port.Protocol)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	row(tw, "", "IPv4", "IPv6")
	for _, r := range t.Rows {
		row(tw, r.Row.String(), cellText(r.IPv4), cellText(r.IPv6))
	}
	tw.Flush()
}

// writeEvidenceMarkdown writes the table as a GitHub-flavoured pipe table,
// to paste into a rollout record.
func writeEvidenceMarkdown(w io.Writer, t diagnose.EvidenceTable) {
	fmt.Fprintf(w, "Evidence for Service `%s`\n\n", t.Service)
	fmt.Fprintln(w, "| row | IPv4 | IPv6 |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.Row, markdownCell(cellText(r.IPv4)), markdownCell(cellText(r.IPv6)))
	}
}

// markdownCell keeps a cell on its row: a pipe would end it, a newline the
// row.
func markdownCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// evidenceJSON is dsprobe evidence -o json (docs/contracts.md).
type evidenceJSON struct {
	Service  string            `json:"service"`
	Families []string          `json:"families"`
	Proven   bool              `json:"proven"`
	Rows     []evidenceRowJSON `json:"rows"`
	Verdicts []verdictJSON     `json:"verdicts"`
}

type evidenceRowJSON struct {
	Row  string   `json:"row"`
	IPv4 cellJSON `json:"ipv4"`
	IPv6 cellJSON `json:"ipv6"`
}

type cellJSON struct {
	Status string `json:"status"`
	Text   string `json:"text"`
}

type verdictJSON struct {
	Family       string `json:"family"`
	OK           bool   `json:"ok"`
	FailingLayer string `json:"failingLayer"`
	Detail       string `json:"detail"`
}

func evidenceJSONOf(t diagnose.EvidenceTable, families []dualstack.Family, proven bool) evidenceJSON {
	out := evidenceJSON{Service: t.Service, Proven: proven, Rows: []evidenceRowJSON{}, Verdicts: []verdictJSON{}}
	for _, f := range families {
		out.Families = append(out.Families, dsprobev1.Family(f).String())
	}
	cell := func(c diagnose.Cell) cellJSON { return cellJSON{Status: c.Status.String(), Text: c.Text} }
	for _, r := range t.Rows {
		out.Rows = append(out.Rows, evidenceRowJSON{Row: r.Row.String(), IPv4: cell(r.IPv4), IPv6: cell(r.IPv6)})
	}
	for _, v := range t.Verdicts {
		out.Verdicts = append(out.Verdicts, verdictJSON{Family: dsprobev1.Family(v.Family).String(), OK: v.OK, FailingLayer: v.Layer.String(), Detail: v.Detail})
	}
	return out
}
