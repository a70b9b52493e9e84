package diagnose

import (
	"net/netip"
	"strings"
	"syscall"
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
			name: "a drop the probe's budget ended is ROUTE, worded for the budget", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeTimeout, Cause: Cause{BudgetEnded: true}, Connect: 980 * time.Millisecond}}},
			layer: layer.Route, detail: []string{"when the probe's budget ended (980ms into the attempt)", "silently dropped", "longer budget"},
		},
		{
			name: "DNS unanswered within the probe's budget", ev: FamilyEvidence{DNS: &DNSAnswer{Status: DNSTimeout, BudgetEnded: true}},
			layer: layer.DNS, detail: []string{"before the probe's budget ended", "longer budget"},
		},
		{
			name: "admin-prohibited is POLICY", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeProhibited, Cause: Cause{Errno: syscall.EACCES, Text: "connect: ICMPv6 administratively prohibited"}}}},
			layer: layer.Policy, detail: []string{"administratively prohibited", "NetworkPolicy"},
		},
		{
			// The typed sender names who rejected it.
			name: "admin-prohibited names the firewall that sent it", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeProhibited,
				Cause: Cause{Errno: syscall.EACCES, ICMP: &dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 1, From: netip.MustParseAddr("2001:db8::fe")}}}}},
			layer: layer.Policy, detail: []string{"administratively prohibited by 2001:db8::fe (ICMPv6 administratively prohibited from 2001:db8::fe)", "NetworkPolicy there"},
		},
		{
			name: "a local firewall's EPERM is POLICY on this host", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeProhibited, Cause: Cause{Errno: syscall.EPERM}}}},
			layer: layer.Policy, detail: []string{"this host's own firewall before any packet is sent (EPERM)"},
		},
		{
			// A router's host unreachable is not "no route" on this host.
			name: "a router's ICMP host unreachable names the router", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeUnreachable,
				Cause: Cause{Errno: syscall.EHOSTUNREACH, ICMP: &dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 3, From: netip.MustParseAddr("2001:db8::fe")}}}}},
			layer: layer.Route, detail: []string{"2001:db8::fe answered ICMPv6 address unreachable from 2001:db8::fe", "goes no further than it"},
		},
		{
			name: "no route on this host", ev: FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{{Address: v6, Outcome: dualstack.OutcomeUnreachable, Cause: Cause{Errno: syscall.ENETUNREACH}}}},
			layer: layer.Route, detail: []string{"this host has no IPv6 route to them (network unreachable)"},
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
			ev:    FamilyEvidence{DNS: positive, Addresses: []AddressEvidence{connected, {Address: v6b, Outcome: dualstack.OutcomeUnreachable, Cause: Cause{Errno: syscall.EHOSTUNREACH, Text: "no route"}}}},
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

// A next hop nobody answers neighbour discovery for is named as such, with
// the protocol of its family, whether the connect timed out first or the
// kernel failed it as unreachable: the sentence follows the evidence, not
// the attempt's budget. Causes of different kinds get a clause each.
func TestJudgeUnansweredNeighbour(t *testing.T) {
	ap, a := netip.MustParseAddrPort, netip.MustParseAddr
	onLink4 := AddressEvidence{Address: ap("192.0.2.7:80"), Outcome: dualstack.OutcomeUnreachable,
		Cause: Cause{UnansweredNextHop: &NextHop{Addr: a("192.0.2.7"), Interface: "eth0"}}}
	onLink6 := AddressEvidence{Address: ap("[2001:db8::7]:80"), Outcome: dualstack.OutcomeUnreachable,
		Cause: Cause{UnansweredNextHop: &NextHop{Addr: a("2001:db8::7"), Interface: "eth0"}}}
	gateway := &NextHop{Addr: a("fe80::1"), Gateway: true, Interface: "eth1"}
	behind1 := AddressEvidence{Address: ap("[2001:db8:1::7]:80"), Outcome: dualstack.OutcomeUnreachable, Cause: Cause{UnansweredNextHop: gateway}}
	behind2 := AddressEvidence{Address: ap("[2001:db8:1::8]:80"), Outcome: dualstack.OutcomeUnreachable, Cause: Cause{UnansweredNextHop: gateway}}
	dropped := AddressEvidence{Address: ap("[2001:db8::9]:80"), Outcome: dualstack.OutcomeTimeout}
	tests := []struct {
		name   string
		family dualstack.Family
		addrs  []AddressEvidence
		want   string
	}{
		{
			name: "IPv4 on-link", family: dualstack.FamilyIPv4, addrs: []AddressEvidence{onLink4},
			want: "svc.example: 1 of 1 IPv4 address(es) fail; connects to 192.0.2.7:80 fail as unreachable: " +
				"no host answers neighbour discovery (ARP) for 192.0.2.7 on the link (eth0), so nothing is sent to it: " +
				"no host on that link holds the address (a Pod or host that is gone, or a wrong address)",
		},
		{
			name: "IPv6 on-link", family: dualstack.FamilyIPv6, addrs: []AddressEvidence{onLink6},
			want: "svc.example: 1 of 1 IPv6 address(es) fail; connects to [2001:db8::7]:80 fail as unreachable: " +
				"no host answers neighbour discovery (NDP) for 2001:db8::7 on the link (eth0), so nothing is sent to it: " +
				"no host on that link holds the address (a Pod or host that is gone, or a wrong address)",
		},
		{
			name: "two addresses behind one gateway", family: dualstack.FamilyIPv6, addrs: []AddressEvidence{behind1, behind2},
			want: "svc.example: 2 of 2 IPv6 address(es) fail; connects to [2001:db8:1::7]:80, [2001:db8:1::8]:80 fail as unreachable: " +
				"no host answers neighbour discovery (NDP) for fe80::1, the gateway of their route, on the link (eth1), so nothing is sent on: " +
				"the gateway is down or the route names the wrong one",
		},
		{
			name: "a timed-out connect keeps its own clause", family: dualstack.FamilyIPv6, addrs: []AddressEvidence{dropped, onLink6},
			want: "svc.example: 2 of 2 IPv6 address(es) fail; connects to [2001:db8::9]:80 time out: packets are silently dropped on the IPv6 path " +
				"(a missing route back, a firewall drop or a broken IPv6 datapath); connects to [2001:db8::7]:80 fail as unreachable: " +
				"no host answers neighbour discovery (NDP) for 2001:db8::7 on the link (eth0), so nothing is sent to it: " +
				"no host on that link holds the address (a Pod or host that is gone, or a wrong address)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(FamilyEvidence{Family: tt.family, Name: "svc.example", Addresses: tt.addrs})
			if v.OK || v.Layer != layer.Route || v.Detail != tt.want {
				t.Errorf("got ok=%v %v\n%q\nwant %v\n%q", v.OK, v.Layer, v.Detail, layer.Route, tt.want)
			}
		})
	}
}
