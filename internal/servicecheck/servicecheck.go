package servicecheck

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/target"
)

// Families are the two families, in the order every list of this package
// holds them.
var Families = []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6}

// Service is what is probed of a Service.
type Service struct {
	// Service names it and holds its DNS name and ClusterIPs.
	Service diagnose.Service
	// Port is the Service port; zero when the Service has none, and
	// nothing is probed.
	Port uint16
	// ReadyEndpoints are its ready endpoint addresses, both families, each
	// with the EndpointSlice's port for Port.
	ReadyEndpoints []netip.AddrPort
}

// Observed is what servicecheck reads of one probe of one target.
type Observed struct {
	// DNS is each family's answer, indexed by family; nil for a literal.
	DNS [3]*diagnose.DNSAnswer
	// Connects are each family's direct connects, indexed by family.
	Connects [3][]diagnose.AddressEvidence
	// Listener are the outcomes of the direct connects, both families:
	// what the listener is inferred from.
	Listener []listener.Observation
}

// Run probes one target from the vantage point being measured and returns
// its result R as the caller keeps it, and what servicecheck reads of it.
// A name (t.IsLiteral() false) is probed over both families, a literal over
// its own. An error means the probe could not run (this machine out of
// ports, a prober unreachable or busy): nothing was measured.
type Run[R any] func(ctx context.Context, t target.Target) (R, Observed, error)

// Options bound a measurement.
type Options struct {
	// Parallel bounds the probes in flight (DefaultParallel if zero), so
	// a Service with many endpoints does not open them all at once.
	Parallel int
	// MaxEndpoints bounds the ready endpoints probed of each family, the
	// lowest addresses first (a prober's admission allows only so many
	// probes at once); zero probes them all.
	MaxEndpoints int
}

// DefaultParallel is Options.Parallel's default.
const DefaultParallel = 8

// Measurement is what was measured of a Service from one vantage point.
type Measurement[R any] struct {
	// Unmeasured says why nothing was measured; empty when it was.
	Unmeasured string
	// DNS is the name's answer of each family, indexed by family.
	DNS [3]*diagnose.DNSAnswer
	// Name, ClusterIP and Endpoint are the connects of each path, indexed
	// by family.
	Name, ClusterIP, Endpoint [3][]diagnose.AddressEvidence
	// Listener is what the endpoints' connects say of the application's
	// listening sockets.
	Listener listener.Inference
	// NameResult is the probe of the name as Run returned it (its client
	// predictions are the Service's).
	NameResult R
}

// NotMeasured is a Measurement of nothing, saying why.
func NotMeasured[R any](why string) Measurement[R] {
	return Measurement[R]{Unmeasured: why}
}

// Measure probes svc's name, every ClusterIP and every ready endpoint
// (as opts bounds them) with run, at most opts.Parallel at once. An error
// of any probe is the error: a measurement with holes would be judged as
// if the paths failed.
func Measure[R any](ctx context.Context, svc Service, opts Options, run Run[R]) (Measurement[R], error) {
	if svc.Port == 0 {
		return NotMeasured[R](fmt.Sprintf("not measured: Service %s has no port", svc.Service)), nil
	}
	type job struct {
		target target.Target
		into   *[3][]diagnose.AddressEvidence
	}
	var m Measurement[R]
	jobs := []job{{target.Target{Host: svc.Service.DNSName, Port: svc.Port}, &m.Name}}
	for _, ip := range svc.Service.ClusterIPs {
		jobs = append(jobs, job{target.Target{Host: ip.String(), Addr: ip, Port: svc.Port}, &m.ClusterIP})
	}
	for _, ap := range endpoints(svc.ReadyEndpoints, opts.MaxEndpoints) {
		jobs = append(jobs, job{target.Target{Host: ap.Addr().String(), Addr: ap.Addr(), Port: ap.Port()}, &m.Endpoint})
	}

	results := make([]R, len(jobs))
	observed := make([]Observed, len(jobs))
	errs := make([]error, len(jobs))
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	var wg sync.WaitGroup
	// sem holds a token per probe in flight; buffered to the bound so a
	// probe starts as soon as one ends.
	sem := make(chan struct{}, parallel)
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], observed[i], errs[i] = run(ctx, j.target)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Measurement[R]{}, fmt.Errorf("probing Service %s: %w", svc.Service, err)
	}

	m.NameResult = results[0] // jobs[0] is the name
	var observations []listener.Observation
	for i, j := range jobs {
		for _, f := range Families {
			j.into[f] = append(j.into[f], observed[i].Connects[f]...)
		}
		if j.into == &m.Endpoint {
			observations = append(observations, observed[i].Listener...)
		}
	}
	m.DNS = observed[0].DNS
	m.Listener = listener.Infer(observations)
	return m, nil
}

// endpoints returns at most max (all if zero) of each family's
// endpoints, the lowest addresses first, so every vantage point probes the
// same ones.
func endpoints(all []netip.AddrPort, max int) []netip.AddrPort {
	if max <= 0 {
		return all
	}
	sorted := slices.SortedFunc(slices.Values(all), netip.AddrPort.Compare)
	var out []netip.AddrPort
	for _, f := range Families {
		n := 0
		for _, ap := range sorted {
			if dualstack.FamilyOf(ap.Addr()) == f && n < max {
				out = append(out, ap)
				n++
			}
		}
	}
	return out
}

// Apply adds the measurements of family f to ev (the family's objects);
// with nothing measured, the rows that need measurements say why.
func (m Measurement[R]) Apply(ev diagnose.ServiceEvidence, f dualstack.Family) diagnose.ServiceEvidence {
	if m.Unmeasured != "" {
		ev.Uncollected = maps.Clone(ev.Uncollected)
		if ev.Uncollected == nil {
			ev.Uncollected = map[diagnose.Row]string{}
		}
		ev.Uncollected[diagnose.RowDNS] = m.Unmeasured
		ev.Listener = listener.Inference{Reason: m.Unmeasured}
		return ev
	}
	ev.DNS = m.DNS[f]
	ev.NameConnects, ev.ClusterIPConnects, ev.EndpointConnects = m.Name[f], m.ClusterIP[f], m.Endpoint[f]
	ev.Listener = m.Listener
	return ev
}

// Evidence is each family's evidence, IPv4 then IPv6: the objects as
// objectsOf gives them for the family, with m applied.
func (m Measurement[R]) Evidence(objectsOf func(dualstack.Family) diagnose.ServiceEvidence) []diagnose.ServiceEvidence {
	out := make([]diagnose.ServiceEvidence, len(Families))
	for i, f := range Families {
		out[i] = m.Apply(objectsOf(f), f)
	}
	return out
}

// Path is one path to the Service, as the probe shows it.
type Path struct {
	// Kind is "name", "clusterIP" or "endpoint" (docs/contracts.md).
	Kind string
	// Connects are its connects, indexed by family.
	Connects [3][]diagnose.AddressEvidence
}

// Paths are the name's, the ClusterIPs' and the endpoints' connects, in
// that order.
func (m Measurement[R]) Paths() []Path {
	return []Path{{"name", m.Name}, {"clusterIP", m.ClusterIP}, {"endpoint", m.Endpoint}}
}
