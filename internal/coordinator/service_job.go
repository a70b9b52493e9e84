package coordinator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/servicecheck"
	"github.com/dsprobe/dsprobe/internal/target"
)

// ServiceReader reads the Kubernetes objects behind a Service, as
// kube.EvidenceCache reads them from its informers' caches.
type ServiceReader interface {
	ReadService(ctx context.Context, q kube.ServiceQuery) (*kube.ServiceObjects, error)
}

// A Service job asks each prober for one probe of the Service's name, one
// per ClusterIP and one per ready endpoint probed. A prober admits 4
// probes at once and 20 in a burst by default (its --max-concurrent and
// --burst), so the coordinator asks it ServiceProbeParallel at once and
// probes at most MaxServiceEndpoints endpoints of each family, the lowest
// addresses, the same on every prober: 1 + 2 + 2×8 = 19 probes at most.
const (
	ServiceProbeParallel = 4
	MaxServiceEndpoints  = 8
)

// serviceNamespace is the namespace a ServiceRef names, "default" when it
// names none.
func serviceNamespace(ref *dsprobev1.ServiceRef) string {
	return cmp.Or(ref.GetNamespace(), "default")
}

// planService validates a Service job. Its probe options are those of a
// probe of the Service's name; the options a Service's probe does not take
// are refused, every problem at once.
func (s *Service) planService(req *dsprobev1.RunProbeRequest) (prepareFunc, error) {
	switch {
	case s.Services == nil && s.ServicesOff != "":
		return nil, status.Errorf(codes.FailedPrecondition,
			"this coordinator cannot read the Services' objects (%s); grant its ServiceAccount list and watch on services, endpointslices, pods, nodes, namespaces and networkpolicies", s.ServicesOff)
	case s.Services == nil:
		return nil, status.Error(codes.FailedPrecondition,
			"this coordinator reads no Kubernetes API (discovery.kubernetes is off), so it cannot probe a Service; probe its name or address instead")
	}
	ref := req.GetService()
	q := kube.ServiceQuery{Namespace: serviceNamespace(ref), Name: ref.GetName(), Port: ref.GetPort(), ClusterDomain: ref.GetClusterDomain()}
	var problems []string
	if err := q.Validate(); err != nil {
		problems = append(problems, "service: "+err.Error())
	}
	probe := req.GetProbe()
	if probe.GetTarget() != "" {
		problems = append(problems, "probe.target must be empty in a Service job: the probers probe the Service's name, ClusterIPs and endpoints")
	}
	if len(probe.GetDnsServers()) > 0 || probe.GetCheck() != dsprobev1.Check_CHECK_UNSPECIFIED || len(probe.GetProfiles()) > 0 {
		problems = append(problems, "probe.dns_servers, probe.check and probe.profiles are not supported in a Service job: its name is resolved as each prober resolves it, and checked over TCP")
	}
	// The remaining options, checked as a probe of the name checks them
	// (the port is the Service's, known once it is read).
	base := proto.CloneOf(probe)
	if base == nil {
		base = &dsprobev1.ProbeRequest{}
	}
	base.Target = "service.invalid:1"
	if _, err := apiconv.ProbeRequest(base, apiconv.Elsewhere); err != nil && len(problems) == 0 {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, status.Error(codes.InvalidArgument, strings.Join(problems, "; "))
	}
	families := servicecheck.Families
	if fs := base.GetFamilies(); len(fs) > 0 {
		families = nil
		for _, f := range fs {
			families = append(families, dualstack.Family(f))
		}
	}
	return func(ctx context.Context) (askFunc, target.Target, error) {
		objs, err := s.Services.ReadService(ctx, q)
		var notFound *kube.ServiceNotFoundError
		var badPort *kube.ServicePortError
		switch {
		case errors.As(err, &notFound):
			return nil, target.Target{}, status.Error(codes.NotFound, err.Error())
		case errors.As(err, &badPort):
			return nil, target.Target{}, status.Error(codes.InvalidArgument, err.Error())
		case err != nil:
			return nil, target.Target{}, status.Errorf(codes.Unavailable, "reading Service %s/%s: %v", q.Namespace, q.Name, err)
		}
		ask := func(ctx context.Context, p *dsprobev1.ProberInfo, timeout time.Duration) *dsprobev1.ProberResult {
			return s.askService(ctx, p, objs, base, families, timeout)
		}
		svc := objs.Probed()
		return ask, target.Target{Host: svc.Service.DNSName, Port: svc.Port}, nil
	}, nil
}

// askService has the prober measure the Service (servicecheck.Measure,
// each probe a Probe RPC) and judges each family of families with the
// Service's objects as the prober's Pod sees them: its Pod IPs, labels and
// namespace are what the NetworkPolicies admit or not.
func (s *Service) askService(ctx context.Context, p *dsprobev1.ProberInfo, objs *kube.ServiceObjects, base *dsprobev1.ProbeRequest, families []dualstack.Family, timeout time.Duration) *dsprobev1.ProberResult {
	start := time.Now()
	client, err := s.Connector.Prober(p)
	if err != nil {
		return proberError(p, err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	run := func(ctx context.Context, t target.Target) (*dsprobev1.ProbeResult, servicecheck.Observed, error) {
		req := proto.CloneOf(base)
		req.Target, req.Families = t.String(), nil
		if !t.IsLiteral() {
			req.Families = []dsprobev1.Family{dsprobev1.Family_FAMILY_IPV4, dsprobev1.Family_FAMILY_IPV6}
		}
		resp, err := client.Probe(ctx, req)
		if err != nil {
			return nil, servicecheck.Observed{}, err
		}
		return resp.GetResult(), apiconv.Observed(resp.GetResult()), nil
	}
	m, err := servicecheck.Measure(ctx, objs.Probed(), servicecheck.Options{Parallel: ServiceProbeParallel, MaxEndpoints: MaxServiceEndpoints}, run)
	if err != nil {
		return proberError(p, err, time.Since(start))
	}
	prober := objs.Prober(ctx, podIPs(p))
	evidence := m.Evidence(func(f dualstack.Family) diagnose.ServiceEvidence { return objs.For(f, prober) })
	var verdicts []diagnose.Verdict
	for i, f := range servicecheck.Families {
		if slices.Contains(families, f) {
			verdicts = append(verdicts, diagnose.JudgeService(evidence[i]))
		}
	}
	svc := objs.Evidence.Service
	return &dsprobev1.ProberResult{
		Prober: p.GetName(), Namespace: p.GetNamespace(),
		Outcome: &dsprobev1.ProberResult_Result{Result: m.NameResult},
		Service: apiconv.ServiceResult(svc.String(), svc.DNSName, fmt.Sprintf("%d/%s", objs.Port.Port, objs.Port.Protocol),
			verdicts, m.Paths(), m.Listener, diagnose.EvidenceTableOf(evidence...)),
		DurationMs: ms(time.Since(start)),
	}
}

// podIPs are the prober's Pod IPs, its source addresses toward the
// Service's Pods.
func podIPs(p *dsprobev1.ProberInfo) []netip.Addr {
	var out []netip.Addr
	for _, s := range p.GetPodIps() {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}
