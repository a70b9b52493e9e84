package apiconv

import (
	"slices"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

// LadderJob is the coordinator job of one rung of a ladder: the target's
// probe, from the rung's vantage points.
func LadderJob(s *ladder.Spec, rung ladder.Rung) *dsprobev1.RunProbeRequest {
	return &dsprobev1.RunProbeRequest{
		Probe: &dsprobev1.ProbeRequest{
			Target:     s.Target.Address,
			DnsServers: s.Target.DNSServers,
			// ladder.Validate bounds it by ladder.MaxTimeout.
			TimeoutMs: uint32(time.Duration(s.Target.Timeout).Milliseconds()),
		},
		Namespaces: rung.Vantage.Namespaces,
		Probers:    rung.Vantage.Probers,
	}
}

// LadderRun is what a rung's job measured, as the ladder judges it: one
// vantage point per prober, with the predictions of the clients the rung's
// gates list (the rest would only fill the status).
func LadderRun(jobID, traceID string, results []*dsprobev1.ProberResult, rung ladder.Rung) ladder.RungRun {
	run := ladder.RungRun{JobID: jobID, TraceID: traceID}
	for _, r := range results {
		v := ladder.VantageRun{Prober: r.GetProber(), Namespace: r.GetNamespace()}
		res := r.GetResult()
		if res == nil {
			v.Error = "no result"
			if e := r.GetError(); e != nil {
				v.Error = e.GetCode() + ": " + e.GetMessage()
			}
			run.Vantages = append(run.Vantages, v)
			continue
		}
		v.A, v.AAAA = ladderAnswer(res.GetDns().GetA()), ladderAnswer(res.GetDns().GetAaaa())
		for _, a := range res.GetAttempts() {
			if a.GetOutcome() != dsprobev1.Outcome_OUTCOME_NOT_ATTEMPTED {
				v.Attempted = append(v.Attempted, a.GetAddress())
			}
		}
		v.ChosenFamily = res.GetHappyEyeballs().GetFamily().String()
		for _, f := range res.GetFamilies() {
			v.Families = append(v.Families, ladder.FamilyVerdict{
				Family: f.GetFamily().String(), OK: f.GetOk(), FailingLayer: f.GetFailingLayer().String(), Detail: f.GetDetail(),
			})
		}
		for _, c := range res.GetClients() {
			if slices.Contains(rung.Gates.Clients, c.GetProfile()) {
				v.Clients = append(v.Clients, ladder.ClientRun{
					Profile: c.GetProfile(), Family: c.GetFamily().String(), Outcome: c.GetOutcome().String(),
					TimeToConnectMs: c.GetTimeToConnectMs(), FallbackDelayMs: c.GetFallbackDelayMs(), FailingLayer: c.GetFailingLayer().String(),
				})
			}
		}
		run.Vantages = append(run.Vantages, v)
	}
	return run
}

func ladderAnswer(a *dsprobev1.DnsAnswer) ladder.DNSAnswer {
	if a == nil {
		return ladder.DNSAnswer{}
	}
	return ladder.DNSAnswer{Status: a.GetStatus().String(), Rcode: a.GetRcode(), Addresses: a.GetAddresses(), Server: a.GetServer()}
}
