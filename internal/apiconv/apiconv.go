package apiconv

import (
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
)

// Defaults are what a request leaves to the side that runs it.
type Defaults struct {
	// ResolvConf is the resolver configuration used when the request names
	// no DNS server; empty means /etc/resolv.conf.
	ResolvConf string
	// Hosts is the hosts file consulted before DNS when the request names
	// no DNS server, as getaddrinfo and Go consult /etc/hosts; empty means
	// /etc/hosts. A request that names its DNS server asks only that server.
	Hosts string
}

// Elsewhere are the Defaults of a side that only validates a request another
// side runs (the coordinator, the CLI sending to one): the runner resolves
// with its own configuration, so this side's files must not matter.
var Elsewhere = Defaults{ResolvConf: os.DevNull, Hosts: os.DevNull}

// InvalidRequest is a request that cannot run; Problems lists every
// problem at once. Servers answer it with INVALID_ARGUMENT, the CLI with
// exit code 2.
type InvalidRequest struct{ Problems []error }

func (e *InvalidRequest) Error() string {
	return "invalid probe request: " + errors.Join(e.Problems...).Error()
}

// ProbeRequest validates req and turns it into the engine's request.
func ProbeRequest(req *dsprobev1.ProbeRequest, d Defaults) (probe.Request, error) {
	var problems []error
	fail := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	tgt, err := target.Parse(req.GetTarget())
	if err != nil {
		problems = append(problems, err)
	}
	out := probe.Request{
		Target:         tgt,
		AttemptTimeout: millis(req.GetAttemptTimeoutMs()),
		MaxConnectTime: millis(req.GetMaxConnectTimeMs()),
	}
	for _, f := range req.GetFamilies() {
		switch f {
		case dsprobev1.Family_FAMILY_IPV4:
			out.Families = append(out.Families, dualstack.FamilyIPv4)
		case dsprobev1.Family_FAMILY_IPV6:
			out.Families = append(out.Families, dualstack.FamilyIPv6)
		default:
			fail("family %v is not IPv4 or IPv6", f)
		}
	}
	kind, err := checkKind(req.GetCheck(), tgt.Scheme)
	if err != nil {
		problems = append(problems, err)
	}
	out.Check = appcheck.Spec{
		Kind:               kind,
		MaxStatus:          int(req.GetMaxHttpStatus()),
		InsecureSkipVerify: req.GetInsecureSkipVerify(),
		GRPCService:        req.GetGrpcService(),
	}
	for i, spec := range req.GetProfiles() {
		p, err := he.ParseProfile(spec)
		switch {
		case err != nil:
			fail("profile: %w", err)
		case i == 0:
			out.Profile = p
		default:
			out.ExtraProfiles = append(out.ExtraProfiles, p)
		}
	}
	if servers := req.GetDnsServers(); len(servers) > 0 {
		cfg := resolve.Config{}
		for _, s := range servers {
			ap, err := resolve.ParseServer(s)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			cfg.Servers = append(cfg.Servers, ap)
		}
		out.Resolver = &resolve.Resolver{Config: cfg}
	} else if err == nil && !tgt.IsLiteral() {
		r, err := resolve.LoadSystem(d.ResolvConf, d.Hosts)
		if err != nil {
			problems = append(problems, err)
		}
		out.Resolver = r
	}
	if len(problems) == 0 {
		if err := out.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return probe.Request{}, &InvalidRequest{problems}
	}
	return out, nil
}

// MaxProbeTimeout bounds the budget a request may give a probe: a prober
// stops every probe after it, whatever timeout_ms says.
const MaxProbeTimeout = 2 * time.Minute

// Timeout is the request's overall budget, or def when it sets none.
func Timeout(req *dsprobev1.ProbeRequest, def time.Duration) time.Duration {
	if ms := req.GetTimeoutMs(); ms > 0 {
		return millis(ms)
	}
	return def
}

func millis(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }

func checkKind(c dsprobev1.Check, scheme string) (appcheck.Kind, error) {
	switch c {
	case dsprobev1.Check_CHECK_UNSPECIFIED:
		if scheme == "" {
			return appcheck.TCP, nil
		}
		return appcheck.ParseKind(scheme)
	case dsprobev1.Check_CHECK_TCP:
		return appcheck.TCP, nil
	case dsprobev1.Check_CHECK_HTTP:
		return appcheck.HTTP, nil
	case dsprobev1.Check_CHECK_HTTPS:
		return appcheck.HTTPS, nil
	case dsprobev1.Check_CHECK_GRPC:
		return appcheck.GRPC, nil
	case dsprobev1.Check_CHECK_GRPCS:
		return appcheck.GRPCS, nil
	}
	return appcheck.TCP, fmt.Errorf("unknown check %v", c)
}

// CheckOf is the API enum of an application check.
func CheckOf(k appcheck.Kind) dsprobev1.Check {
	switch k {
	case appcheck.HTTP:
		return dsprobev1.Check_CHECK_HTTP
	case appcheck.HTTPS:
		return dsprobev1.Check_CHECK_HTTPS
	case appcheck.GRPC:
		return dsprobev1.Check_CHECK_GRPC
	case appcheck.GRPCS:
		return dsprobev1.Check_CHECK_GRPCS
	}
	return dsprobev1.Check_CHECK_TCP
}

// The engine's Family, Layer and Outcome are numbered as the API's enums
// (test/apicontract tests it), so they convert by number.

func family(f dualstack.Family) dsprobev1.Family { return dsprobev1.Family(f) }

var dnsStatuses = map[resolve.Status]dsprobev1.DnsStatus{
	resolve.StatusPositive: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE,
	resolve.StatusNoData:   dsprobev1.DnsStatus_DNS_STATUS_NODATA,
	resolve.StatusNXDomain: dsprobev1.DnsStatus_DNS_STATUS_NXDOMAIN,
	resolve.StatusServFail: dsprobev1.DnsStatus_DNS_STATUS_SERVFAIL,
	resolve.StatusRefused:  dsprobev1.DnsStatus_DNS_STATUS_REFUSED,
	resolve.StatusTimeout:  dsprobev1.DnsStatus_DNS_STATUS_TIMEOUT,
	resolve.StatusError:    dsprobev1.DnsStatus_DNS_STATUS_ERROR,
}

var listenerAccepts = map[listener.Accepts]dsprobev1.ListenerAccepts{
	listener.Unknown:  dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_UNKNOWN,
	listener.Dual:     dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_DUAL,
	listener.IPv4Only: dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_IPV4_ONLY,
	listener.IPv6Only: dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_IPV6_ONLY,
	listener.None:     dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_NONE,
}

// ProbeResult converts a finished probe.
func ProbeResult(r *probe.Result) *dsprobev1.ProbeResult {
	out := &dsprobev1.ProbeResult{
		Target:        r.Target.String(),
		Check:         CheckOf(r.Check),
		Dns:           &dsprobev1.DnsAnswers{},
		Listener:      &dsprobev1.ListenerInference{Accepts: listenerAccepts[r.Listener.Accepts], Reason: r.Listener.Reason},
		HappyEyeballs: ClientPrediction(r.HappyEyeballs),
		Started:       timestamppb.New(r.Started),
		RaceStartMs:   ms(r.RaceStart),
	}
	for _, v := range r.Families {
		out.Families = append(out.Families, FamilyVerdict(v))
	}
	out.Dns.A = dnsAnswer(r.DNS[dualstack.FamilyIPv4])
	out.Dns.Aaaa = dnsAnswer(r.DNS[dualstack.FamilyIPv6])
	for _, a := range r.Order {
		out.Order = append(out.Order, a.String())
	}
	for _, a := range r.Attempts {
		pa := &dsprobev1.Attempt{
			Address: a.Address.String(), Family: family(a.Family), Outcome: dsprobev1.Outcome(a.Outcome),
			StartMs: ms(a.Start), DurationMs: ms(a.Duration),
		}
		if a.Err != nil {
			pa.Error = a.Err.Error()
		}
		if a.App != nil {
			ok := a.App.OK
			pa.AppOk, pa.AppDetail = &ok, a.App.Detail
		}
		out.Attempts = append(out.Attempts, pa)
	}
	for _, c := range r.Clients {
		out.Clients = append(out.Clients, ClientPrediction(c))
	}
	return out
}

// FamilyVerdict converts one families[] entry.
func FamilyVerdict(v diagnose.Verdict) *dsprobev1.FamilyVerdict {
	return &dsprobev1.FamilyVerdict{Family: family(v.Family), Ok: v.OK, FailingLayer: dsprobev1.Layer(v.Layer), Detail: v.Detail}
}

// VerdictsOf converts a result's families[] back to verdicts, for the
// merge across probers.
func VerdictsOf(vs []*dsprobev1.FamilyVerdict) []diagnose.Verdict {
	out := make([]diagnose.Verdict, len(vs))
	for i, v := range vs {
		out[i] = diagnose.Verdict{Family: dualstack.Family(v.GetFamily()), OK: v.GetOk(), Layer: layer.Layer(v.GetFailingLayer()), Detail: v.GetDetail()}
	}
	return out
}

// ClientPrediction converts one clients[] entry (or the prober's race).
func ClientPrediction(p probe.Prediction) *dsprobev1.ClientPrediction {
	out := &dsprobev1.ClientPrediction{
		Profile: p.Profile, Family: family(p.Family), Outcome: dsprobev1.Outcome(p.Outcome),
		TimeToConnectMs: ms(p.TimeToConnect), FallbackDelayMs: ms(p.FallbackDelay),
		FailingLayer: dsprobev1.Layer(p.FailingLayer),
	}
	if p.Address.IsValid() {
		out.Address = p.Address.String()
	}
	for _, a := range p.Attempts {
		pa := &dsprobev1.Attempt{
			Address: a.Address.String(), Family: family(a.Family), Outcome: dsprobev1.Outcome(a.Outcome),
			StartMs: ms(a.Start), DurationMs: ms(a.End - a.Start),
		}
		if a.Err != nil {
			pa.Error = a.Err.Error()
		}
		out.Attempts = append(out.Attempts, pa)
	}
	return out
}

func dnsAnswer(a *resolve.Answer) *dsprobev1.DnsAnswer {
	if a == nil {
		return nil
	}
	out := &dsprobev1.DnsAnswer{
		Name: a.Name, Status: dnsStatuses[a.Status], Rcode: resolve.RcodeName(a.Rcode),
		Ttls: a.TTLs, Cnames: a.CNAMEs, RttMs: ms(a.RTT), ElapsedMs: ms(a.Elapsed()),
		Transport: a.Transport, Truncated: a.Truncated, Dns64: a.DNS64,
	}
	for _, addr := range a.Addresses {
		out.Addresses = append(out.Addresses, addr.String())
	}
	switch {
	case a.Server.IsValid():
		out.Server = a.Server.String()
	case a.HostsFile != "":
		out.Server = a.HostsFile
	}
	if a.Err != nil {
		out.Error = a.Err.Error()
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
