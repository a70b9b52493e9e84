package diagnose

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
)

func TestJudge(t *testing.T) {
	v6 := netip.MustParseAddrPort("[2001:db8::1]:80")
	v6b := netip.MustParseAddrPort("[2001:db8::2]:80")
	positive := &DNSAnswer{Status: DNSPositive}
	connected := AddressEvidence{Address: v6, Outcome: dualstack.OutcomeConnected, Check: "http", AppOK: true}
	tests := []struct {
		name   string
		ev     FamilyEvidence
		ok     bool
		layer  layer.Layer
		detail []string
	}{
		{
			name: "passes", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{connected}},
			ok: true, layer: layer.None, detail: []string{"all 1 IPv6 address(es) connect and pass the http check"},
		},
		{
			name: "literal target skips DNS", ev: FamilyEvidence{Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeConnected, Check: "tcp", AppOK: true}}},
			ok: true, layer: layer.None, detail: []string{"accept TCP connections"},
		},
		{
			name: "NODATA", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSNoData, Server: netip.MustParseAddrPort("192.0.2.53:53")}},
			layer: layer.DNS, detail: []string{"AAAA query", "NODATA", "192.0.2.53:53"},
		},
		{name: "NXDOMAIN", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSNXDomain}}, layer: layer.DNS, detail: []string{"NXDOMAIN"}},
		{name: "SERVFAIL", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSServFail}}, layer: layer.DNS, detail: []string{"SERVFAIL"}},
		{name: "DNS timeout", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSTimeout}}, layer: layer.DNS, detail: []string{"no DNS server answered"}},
		{
			name: "silent drop is ROUTE", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeTimeout}}},
			layer: layer.Route, detail: []string{"time out", "silently dropped"},
		},
		{
			name: "a drop the probe's budget ended is ROUTE, worded for the budget", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeTimeout, BudgetEnded: true, Connect: 980 * time.Millisecond}}},
			layer: layer.Route, detail: []string{"when the probe's budget ended (980ms into the attempt)", "silently dropped", "longer budget"},
		},
		{
			name: "DNS unanswered within the probe's budget", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSTimeout, BudgetEnded: true}},
			layer: layer.DNS, detail: []string{"before the probe's budget ended", "longer budget"},
		},
		{
			name: "admin-prohibited is POLICY", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeProhibited, Err: "ICMPv6 administratively prohibited"}}},
			layer: layer.Policy, detail: []string{"administratively prohibited", "NetworkPolicy"},
		},
		{
			name: "refused while IPv4 connects is LISTENER",
			ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeRefused}},
				Listener: listener.Infer([]listener.Observation{{Family: dualstack.FamilyIPv4, Outcome: dualstack.OutcomeConnected}, {Family: dualstack.FamilyIPv6, Outcome: dualstack.OutcomeRefused}})},
			layer: layer.Listener, detail: []string{"refused while IPv4 connects succeed", "listens on IPv4 only", "[::]"},
		},
		{
			name: "refused everywhere: nothing listens", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeRefused}}, Listener: listener.Inference{Accepts: listener.None}},
			layer: layer.Listener, detail: []string{"nothing listens on port 80"},
		},
		{
			name: "app check fails", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeConnected, Check: "http", AppDetail: "HTTP 500"}}},
			layer: layer.Application, detail: []string{"http check fails", "HTTP 500"},
		},
		{
			// The most fundamental failing layer is the root cause.
			name: "ROUTE outranks APPLICATION across addresses",
			ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{
				{Address: v6, Outcome: dualstack.OutcomeConnected, Check: "http", AppDetail: "HTTP 500"},
				{Address: v6b, Outcome: dualstack.OutcomeTimeout},
			}},
			layer: layer.Route, detail: []string{"2 of 2 IPv6", "[2001:db8::2]:80"},
		},
		{
			name:  "one bad address fails the family",
			ev:    FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{connected, {Address: v6b, Outcome: dualstack.OutcomeUnreachable, Err: "no route"}}},
			layer: layer.Route, detail: []string{"1 of 2 IPv6", "unreachable"},
		},
		{
			name: "DNS64 is noted on a pass", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSPositive, DNS64: true}, Addresses: []AddressEvidence{connected}},
			ok: true, layer: layer.None, detail: []string{"NAT64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.Family, tt.ev.Name = dualstack.FamilyIPv6, "svc.example"
			v := Judge(tt.ev)
			if v.OK != tt.ok || v.Layer != tt.layer {
				t.Errorf("got ok=%v %v (%s), want ok=%v %v", v.OK, v.Layer, v.Detail, tt.ok, tt.layer)
			}
			for _, d := range tt.detail {
				if !strings.Contains(v.Detail, d) {
					t.Errorf("got detail %q, want it to contain %q", v.Detail, d)
				}
			}
		})
	}
}
