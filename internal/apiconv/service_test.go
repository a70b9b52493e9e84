package apiconv

import (
	"net/netip"
	"testing"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/listener"
)

// A prober's result read back as the engine's evidence: a failed check is
// a connected attempt whose application failed (as probe.Result.Evidence
// has it), a timeout keeps its error as text, the DNS answers keep their
// status and who answered, and every direct connect is a listener
// observation with its outcome as the prober saw it.
func TestObserved(t *testing.T) {
	res := &dsprobev1.ProbeResult{
		Check: dsprobev1.Check_CHECK_HTTP,
		Dns: &dsprobev1.DnsAnswers{
			A:    &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_POSITIVE, Server: "10.96.0.10:53", ElapsedMs: 1.5},
			Aaaa: &dsprobev1.DnsAnswer{Status: dsprobev1.DnsStatus_DNS_STATUS_NODATA, Server: "/etc/hosts", Transport: "files"},
		},
		Attempts: []*dsprobev1.Attempt{
			{Address: "10.96.0.20:80", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_APP_FAILED, DurationMs: 2, AppOk: new(false), AppDetail: "HTTP 503"},
			{Address: "[fd00::20]:80", Family: dsprobev1.Family_FAMILY_IPV6, Outcome: dsprobev1.Outcome_OUTCOME_TIMEOUT, DurationMs: 2000, Error: "i/o timeout"},
		},
	}
	o := Observed(res)
	v4 := o.Connects[dualstack.FamilyIPv4]
	if len(v4) != 1 || v4[0].Outcome != dualstack.OutcomeConnected || v4[0].AppOK || v4[0].AppDetail != "HTTP 503" ||
		v4[0].Check != "http" || v4[0].Address != netip.MustParseAddrPort("10.96.0.20:80") || v4[0].Connect.Milliseconds() != 2 {
		t.Errorf("IPv4: got %+v, want a connected attempt whose HTTP check failed", v4)
	}
	v6 := o.Connects[dualstack.FamilyIPv6]
	if len(v6) != 1 || v6[0].Outcome != dualstack.OutcomeTimeout || v6[0].Cause.Text != "i/o timeout" {
		t.Errorf("IPv6: got %+v, want a timeout quoting its error", v6)
	}
	a, aaaa := o.DNS[dualstack.FamilyIPv4], o.DNS[dualstack.FamilyIPv6]
	if a == nil || a.Status != diagnose.DNSPositive || a.Server != netip.MustParseAddrPort("10.96.0.10:53") ||
		aaaa == nil || aaaa.Status != diagnose.DNSNoData || aaaa.HostsFile != "/etc/hosts" {
		t.Errorf("DNS: got %+v and %+v", a, aaaa)
	}
	want := []listener.Observation{{Family: dualstack.FamilyIPv4, Outcome: dualstack.OutcomeAppFailed}, {Family: dualstack.FamilyIPv6, Outcome: dualstack.OutcomeTimeout}}
	if len(o.Listener) != 2 || o.Listener[0] != want[0] || o.Listener[1] != want[1] {
		t.Errorf("listener observations: got %+v, want %+v", o.Listener, want)
	}
}
