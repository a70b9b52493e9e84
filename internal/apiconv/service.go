package apiconv

import (
	"net/netip"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/servicecheck"
)

// diagnoseDNSStatuses are the API's DNS statuses as diagnose judges them.
var diagnoseDNSStatuses = map[dsprobev1.DnsStatus]diagnose.DNSStatus{
	dsprobev1.DnsStatus_DNS_STATUS_POSITIVE: diagnose.DNSPositive,
	dsprobev1.DnsStatus_DNS_STATUS_NODATA:   diagnose.DNSNoData,
	dsprobev1.DnsStatus_DNS_STATUS_NXDOMAIN: diagnose.DNSNXDomain,
	dsprobev1.DnsStatus_DNS_STATUS_SERVFAIL: diagnose.DNSServFail,
	dsprobev1.DnsStatus_DNS_STATUS_REFUSED:  diagnose.DNSRefused,
	dsprobev1.DnsStatus_DNS_STATUS_TIMEOUT:  diagnose.DNSTimeout,
	dsprobev1.DnsStatus_DNS_STATUS_ERROR:    diagnose.DNSError,
}

// Observed is what servicecheck reads of a prober's result: each family's
// DNS answer and direct connects, and their outcomes for the listener.
// The API carries a failed connect's error as text only, so the typed
// cause the engine keeps (errno, ICMP sender, unanswered next hop) is
// lost: the rules judge a prober's connects by their outcomes, and quote
// the error.
func Observed(res *dsprobev1.ProbeResult) servicecheck.Observed {
	var o servicecheck.Observed
	check, _ := checkKind(res.GetCheck(), "") // TCP, unless the prober said which
	answers := map[dualstack.Family]*dsprobev1.DnsAnswer{dualstack.FamilyIPv4: res.GetDns().GetA(), dualstack.FamilyIPv6: res.GetDns().GetAaaa()}
	for f, a := range answers {
		if a != nil {
			o.DNS[f] = diagnoseDNSAnswer(a)
		}
	}
	for _, a := range res.GetAttempts() {
		f := dualstack.Family(a.GetFamily())
		if f != dualstack.FamilyIPv4 && f != dualstack.FamilyIPv6 {
			continue
		}
		ap, err := netip.ParseAddrPort(a.GetAddress())
		if err != nil {
			continue // a prober writes ip:port; anything else is no connect to judge
		}
		outcome := dualstack.Outcome(a.GetOutcome())
		ae := diagnose.AddressEvidence{Address: ap, Outcome: outcome, Cause: diagnose.Cause{Text: a.GetError()}, Connect: fromMs(a.GetDurationMs()), Check: check.String()}
		if a.AppOk != nil {
			// As the engine's own evidence: a failed check is a
			// connected attempt whose application failed.
			ae.AppOK, ae.AppDetail = a.GetAppOk(), a.GetAppDetail()
			if outcome == dualstack.OutcomeAppFailed {
				ae.Outcome = dualstack.OutcomeConnected
			}
		}
		o.Connects[f] = append(o.Connects[f], ae)
		o.Listener = append(o.Listener, listener.Observation{Family: f, Outcome: outcome})
	}
	return o
}

func diagnoseDNSAnswer(a *dsprobev1.DnsAnswer) *diagnose.DNSAnswer {
	out := &diagnose.DNSAnswer{Status: diagnoseDNSStatuses[a.GetStatus()], Elapsed: fromMs(a.GetElapsedMs()), DNS64: a.GetDns64(), Err: a.GetError()}
	if out.Status == 0 {
		out.Status = diagnose.DNSError
	}
	if server, err := netip.ParseAddrPort(a.GetServer()); err == nil {
		out.Server = server
	} else if a.GetTransport() == "files" {
		out.HostsFile = a.GetServer()
	}
	return out
}

// ServiceResult is what one prober found of a Service: the verdicts of the
// families asked for, its paths, the listener and the evidence table.
func ServiceResult(service, name, port string, verdicts []diagnose.Verdict, paths []servicecheck.Path, l listener.Inference, table diagnose.EvidenceTable) *dsprobev1.ServiceResult {
	out := &dsprobev1.ServiceResult{
		Service: service, Name: name, Port: port,
		Listener: &dsprobev1.ListenerInference{Accepts: listenerAccepts[l.Accepts], Reason: l.Reason},
	}
	for _, v := range verdicts {
		out.Families = append(out.Families, FamilyVerdict(v))
	}
	for _, p := range paths {
		sp := &dsprobev1.ServicePath{Path: p.Kind}
		for _, f := range servicecheck.Families {
			for _, a := range p.Connects[f] {
				sp.Connects = append(sp.Connects, &dsprobev1.ServiceConnect{
					Family: family(f), Address: a.Address.String(), Outcome: dsprobev1.Outcome(a.Outcome), ConnectMs: ms(a.Connect),
				})
			}
		}
		out.Paths = append(out.Paths, sp)
	}
	cell := func(c diagnose.Cell) *dsprobev1.EvidenceCell {
		return &dsprobev1.EvidenceCell{Status: c.Status.String(), Text: c.Text}
	}
	for _, r := range table.Rows {
		out.Evidence = append(out.Evidence, &dsprobev1.EvidenceRow{Row: r.Row.String(), Ipv4: cell(r.IPv4), Ipv6: cell(r.IPv6)})
	}
	return out
}

// fromMs is an API *Ms value as a duration.
func fromMs(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
