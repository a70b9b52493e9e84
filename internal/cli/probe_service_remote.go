package cli

import (
	"context"
	"fmt"
	"io"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/kube"
)

// runServiceRemote probes the Service from every selected prober of the
// coordinator, which reads the Service's objects and judges each prober's
// measurements with them: this machine needs no Kubernetes API, only
// the coordinator.
func (p *probeFlags) runServiceRemote(ctx context.Context, e *env, name, port string, families []dualstack.Family) error {
	namespace, err := p.serviceNamespace()
	if err != nil {
		return err
	}
	probe := &dsprobev1.ProbeRequest{}
	if probe.TimeoutMs, err = apiMillis("timeout", p.timeout); err != nil {
		return usageError{err}
	}
	if probe.AttemptTimeoutMs, err = apiMillis("attempt-timeout", p.attemptTimeout); err != nil {
		return usageError{err}
	}
	if len(families) == 1 {
		probe.Families = []dsprobev1.Family{dsprobev1.Family(families[0])}
	}
	req := &dsprobev1.RunProbeRequest{
		Probe:      probe,
		Service:    &dsprobev1.ServiceRef{Namespace: namespace, Name: name, Port: port, ClusterDomain: p.kube.clusterDomain},
		Namespaces: p.remote.namespaces, Probers: p.remote.probers,
	}
	return p.remote.runJob(ctx, e, req, *p.out, writeServiceJob)
}

// serviceNamespace is the Service's namespace as kubectl would take it:
// -n, else the kubeconfig context's when one is configured, else
// "default" (the coordinator's default), since a coordinator needs no
// kubeconfig on this machine.
func (p *probeFlags) serviceNamespace() (string, error) {
	if p.kube.namespace != "" {
		return p.kube.namespace, nil
	}
	_, ns, err := kube.Config(kube.Target{Kubeconfig: p.kube.kubeconfig, Context: p.kube.context})
	switch {
	case err == nil:
		return ns, nil
	case p.kube.kubeconfig != "" || p.kube.context != "":
		return "", usageError{err} // asked for, and wrong
	}
	return "default", nil
}

// writeServiceJob prints a Service job: per prober that answered its
// Service verdicts, paths and listener; the probers that did not; then the
// merged verdicts.
func writeServiceJob(w io.Writer, run *coordinator.JobRun) {
	results := byProber(run.Results)
	printed := 0
	for _, r := range results {
		svc := r.GetService()
		if svc == nil {
			continue
		}
		if printed++; printed > 1 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Service %s  (port %s)  from prober %s (%s)\n", svc.GetService(), svc.GetPort(), r.GetProber(), r.GetNamespace())
		for _, v := range apiconv.VerdictsOf(svc.GetFamilies()) {
			fmt.Fprintf(w, "  %s: %s: %s\n", v.Family.Label(), v.Layer, v.Detail)
		}
		var rows []pathRow
		for _, path := range svc.GetPaths() {
			var cells [2][]string
			for _, c := range path.GetConnects() {
				if i := int(c.GetFamily()) - 1; i == 0 || i == 1 {
					cells[i] = append(cells[i], connectLine(c.GetAddress(), dualstack.Outcome(c.GetOutcome()), fromMillis(c.GetConnectMs())))
				}
			}
			rows = append(rows, pathRow{pathLabel(path.GetPath(), svc.GetName()), [2][]string{orDash(cells[0]), orDash(cells[1])}})
		}
		writePaths(w, "  ", rows)
		fmt.Fprintf(w, "  listener: %s\n", svc.GetListener().GetReason())
	}
	if printed > 0 && printed < len(results) {
		fmt.Fprintln(w)
	}
	for _, r := range results {
		if r.GetService() == nil {
			fmt.Fprintf(w, "no answer from %s (%s) after %s: %s: %s\n", r.GetProber(), r.GetNamespace(),
				formatFloatMs(r.GetDurationMs()), r.GetError().GetCode(), r.GetError().GetMessage())
		}
	}
	writeJobSummary(w, run)
}
