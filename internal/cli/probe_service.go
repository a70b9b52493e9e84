package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/servicecheck"
)

// isServiceTarget reports whether arg names a Kubernetes Service (svc/...,
// as kubectl spells the resource) rather than a host or URL: a host name
// holds no '/' before its port, and a URL's scheme ends in ':'.
func isServiceTarget(arg string) bool {
	kind, _, found := strings.Cut(arg, "/")
	return found && (kind == "svc" || kind == "service" || kind == "services")
}

// parseServiceTarget reads svc/NAME[:PORT], PORT a number or a port name,
// both checked as the API checks them; port is empty when not given (the
// Service's first port).
func parseServiceTarget(arg string) (name, port string, err error) {
	ref, port, hasPort := strings.Cut(arg, ":")
	if hasPort && port == "" {
		return "", "", fmt.Errorf(`%q: "" is not a Service port (a number or a port name)`, arg)
	}
	if name, err = serviceRef(ref); err != nil {
		return "", "", err
	}
	if err := (kube.ServiceQuery{Name: name, Port: port}).Validate(); err != nil {
		return "", "", fmt.Errorf("%q: %w", arg, err)
	}
	return name, port, nil
}

// serviceByName reads a target NAME.NS.svc.DOMAIN[:PORT] (DOMAIN the
// --cluster-domain) as the Service svc/NAME[:PORT] of namespace NS, which
// it sets as -n: probed locally, with the Kubernetes API, the name is
// probed as the Service it names. ok is false for any other target, and
// with --coordinator, --dns-server, --check or --profile, which ask for a
// probe of a host. -n naming another namespace is bad input.
func (p *probeFlags) serviceByName(arg string) (svcArg string, ok bool, err error) {
	if p.remote.address != "" || len(p.dnsServers) > 0 || p.check != "" || len(p.profiles) > 0 {
		return "", false, nil
	}
	host, port, err := net.SplitHostPort(arg)
	if err != nil {
		host, port = arg, ""
	}
	rest, found := strings.CutSuffix(strings.TrimSuffix(host, "."), ".svc."+strings.TrimSuffix(p.kube.clusterDomain, "."))
	name, namespace, hasNamespace := strings.Cut(rest, ".")
	if !found || !hasNamespace || (kube.ServiceQuery{Name: name, Namespace: namespace}).Validate() != nil {
		return "", false, nil
	}
	if p.kube.namespace != "" && p.kube.namespace != namespace {
		return "", false, usagef("%s is a Service of namespace %s, but -n says %s", arg, namespace, p.kube.namespace)
	}
	p.kube.namespace, svcArg = namespace, "svc/"+name
	if port != "" {
		svcArg += ":" + port
	}
	return svcArg, true, nil
}

// runService probes the Service svc/NAME[:PORT] from this machine, as
// dsprobe evidence measures it, and prints the probe's view: each family's
// verdict, every path's connects and the client predictions of the name.
func (p *probeFlags) runService(ctx context.Context, e *env, arg string) error {
	if len(p.dnsServers) > 0 || p.check != "" || len(p.profiles) > 0 {
		return usagef("%s: --dns-server, --check and --profile are not supported with a Service yet (its name is resolved as this machine resolves it and checked over TCP)", arg)
	}
	name, port, err := parseServiceTarget(arg)
	if err != nil {
		return usageError{err}
	}
	families, err := (&evidenceFlags{family: p.family}).families()
	if err != nil {
		return usageError{err}
	}
	if p.timeout <= 0 || p.attemptTimeout <= 0 {
		return usagef("--timeout and --attempt-timeout must be positive")
	}
	if p.remote.address != "" {
		return p.runServiceRemote(ctx, e, name, port, families)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	checked, err := checkService(ctx, e,
		kube.Target{Kubeconfig: p.kube.kubeconfig, Context: p.kube.context, Namespace: p.kube.namespace},
		kube.ServiceQuery{Name: name, Port: port, ClusterDomain: p.kube.clusterDomain},
		true, p.attemptTimeout)
	if err != nil {
		return err
	}
	passed := true
	var verdicts []diagnose.Verdict
	for i, f := range []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6} {
		v := diagnose.JudgeService(checked.evidence[i])
		verdicts = append(verdicts, v)
		for _, want := range families {
			if want == f && !v.OK {
				passed = false
			}
		}
	}
	if *p.out == "json" {
		out, err := serviceProbeJSONOf(checked, families, verdicts, passed)
		if err != nil {
			return err
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		writeServiceProbeTable(e.stdout, checked, verdicts)
	}
	if !passed {
		return errFailed
	}
	return nil
}

// pathLabels are the table's names of the paths servicecheck measures.
var pathLabels = map[string]string{"clusterIP": "ClusterIP", "endpoint": "endpoints"}

// pathLabel is a path's name in the table: the name path names the name.
func pathLabel(kind, dnsName string) string {
	if l, ok := pathLabels[kind]; ok {
		return l
	}
	return kind + " " + dnsName
}

func writeServiceProbeTable(w io.Writer, c checkedService, verdicts []diagnose.Verdict) {
	fmt.Fprintf(w, "Service %s  (port %d/%s)\n\n", c.objs.Evidence.Service, c.objs.Port.Port, c.objs.Port.Protocol)
	for _, v := range verdicts {
		fmt.Fprintf(w, "%s: %s: %s\n", v.Family.Label(), v.Layer, v.Detail)
	}
	fmt.Fprintln(w)

	var rows []pathRow
	for _, path := range c.measured.Paths() {
		rows = append(rows, pathRow{pathLabel(path.Kind, c.objs.Evidence.Service.DNSName),
			[2][]string{connectLines(path.Connects[dualstack.FamilyIPv4]), connectLines(path.Connects[dualstack.FamilyIPv6])}})
	}
	writePaths(w, "", rows)
	fmt.Fprintf(w, "listener: %s\n\n", c.measured.Listener.Reason)

	res := c.measured.NameResult
	clients := make([]*dsprobev1.ClientPrediction, len(res.Clients))
	for i, p := range res.Clients {
		clients[i] = apiconv.ClientPrediction(p)
	}
	writePredictions(w, "", apiconv.ClientPrediction(res.HappyEyeballs), clients)
}

// pathRow is one path of the PATH table: its label and each family's
// connect lines.
type pathRow struct {
	label string
	cells [2][]string
}

// writePaths prints the PATH table, each line indented by indent: a
// path's connects one per line, IPv4 and IPv6 side by side.
func writePaths(w io.Writer, indent string, rows []pathRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	row(tw, indent+"PATH", "IPv4", "IPv6")
	for _, path := range rows {
		for line := range max(len(path.cells[0]), len(path.cells[1])) {
			fields := []string{indent, "", ""}
			if line == 0 {
				fields[0] = indent + path.label
			}
			for i, cell := range path.cells {
				if line < len(cell) {
					fields[1+i] = cell[line]
				}
			}
			row(tw, fields...)
		}
	}
	tw.Flush()
}

// connectLines are a path's connects of one family, as the probe table's
// connect row shows them.
func connectLines(connects []diagnose.AddressEvidence) []string {
	var out []string
	for _, a := range connects {
		out = append(out, connectLine(a.Address.String(), a.Outcome, a.Connect))
	}
	return orDash(out)
}

func connectLine(address string, o dualstack.Outcome, took time.Duration) string {
	return fmt.Sprintf("%s %s %s", address, o, formatMs(took))
}

// serviceProbeJSON is dsprobe probe svc/NAME -o json (docs/contracts.md).
type serviceProbeJSON struct {
	Service  string        `json:"service"`
	Name     string        `json:"name"`
	Port     string        `json:"port"`
	Families []string      `json:"families"`
	Passed   bool          `json:"passed"`
	Verdicts []verdictJSON `json:"verdicts"`
	Paths    []pathJSON    `json:"paths"`
	// HappyEyeballs and Clients are the name's predictions, as protojson
	// ClientPrediction messages: the shape a probe of a host writes.
	HappyEyeballs json.RawMessage   `json:"happyEyeballs"`
	Clients       []json.RawMessage `json:"clients"`
}

type pathJSON struct {
	Path     string        `json:"path"`
	Connects []connectJSON `json:"connects"`
}

type connectJSON struct {
	Family    string  `json:"family"`
	Address   string  `json:"address"`
	Outcome   string  `json:"outcome"`
	ConnectMs float64 `json:"connectMs"`
}

func serviceProbeJSONOf(c checkedService, families []dualstack.Family, verdicts []diagnose.Verdict, passed bool) (serviceProbeJSON, error) {
	out := serviceProbeJSON{
		Service: c.objs.Evidence.Service.String(),
		Name:    c.objs.Evidence.Service.DNSName,
		Port:    fmt.Sprintf("%d/%s", c.objs.Port.Port, c.objs.Port.Protocol),
		Passed:  passed, Verdicts: []verdictJSON{}, Paths: []pathJSON{}, Clients: []json.RawMessage{},
	}
	for _, f := range families {
		out.Families = append(out.Families, dsprobev1.Family(f).String())
	}
	for _, v := range verdicts {
		out.Verdicts = append(out.Verdicts, verdictJSON{Family: dsprobev1.Family(v.Family).String(), OK: v.OK, FailingLayer: v.Layer.String(), Detail: v.Detail})
	}
	for _, path := range c.measured.Paths() {
		pj := pathJSON{Path: path.Kind, Connects: []connectJSON{}}
		for _, f := range servicecheck.Families {
			for _, a := range path.Connects[f] {
				pj.Connects = append(pj.Connects, connectJSON{
					Family: dsprobev1.Family(f).String(), Address: a.Address.String(),
					Outcome: dsprobev1.Outcome(a.Outcome).String(), ConnectMs: float64(a.Connect.Microseconds()) / 1000,
				})
			}
		}
		out.Paths = append(out.Paths, pj)
	}
	res := c.measured.NameResult
	var err error
	if out.HappyEyeballs, err = protoJSON.Marshal(apiconv.ClientPrediction(res.HappyEyeballs)); err != nil {
		return out, fmt.Errorf("writing JSON: %w", err)
	}
	for _, p := range res.Clients {
		b, err := protoJSON.Marshal(apiconv.ClientPrediction(p))
		if err != nil {
			return out, fmt.Errorf("writing JSON: %w", err)
		}
		out.Clients = append(out.Clients, b)
	}
	return out, nil
}
