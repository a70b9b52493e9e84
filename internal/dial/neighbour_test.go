package dial

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/localaddr"
)

// The message names the next hop nobody answers, before the ICMP error the
// kernel queued from this host's own address.
func TestErrorUnresolvedNextHop(t *testing.T) {
	self := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "on-link, the budget ended first",
			err: &Error{
				Addr: netip.MustParseAddrPort("192.0.2.7:80"), Elapsed: time.Second, outcome: dualstack.OutcomeUnreachable,
				UnresolvedNextHop: &localaddr.NextHop{Addr: netip.MustParseAddr("192.0.2.7"), Interface: "eth0", State: localaddr.NeighbourIncomplete},
			},
			want: "connect 192.0.2.7:80: no host answers ARP for 192.0.2.7 on eth0 (neighbour INCOMPLETE after 1s)",
		},
		{
			name: "gateway, the kernel gave up first",
			err: &Error{
				Addr: netip.MustParseAddrPort("[2001:db8:1::7]:80"), Elapsed: 3063 * time.Millisecond, outcome: dualstack.OutcomeUnreachable,
				Errno: syscall.EHOSTUNREACH, ICMP: &dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 3, From: self},
				UnresolvedNextHop: &localaddr.NextHop{Addr: netip.MustParseAddr("fe80::1"), Gateway: true, Interface: "eth0", State: localaddr.NeighbourFailed},
			},
			want: "connect [2001:db8:1::7]:80: no host answers NDP for fe80::1 on eth0, the route's gateway (neighbour FAILED after 3.063s)",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
		if tt.err.Timeout() {
			t.Errorf("%s: got Timeout() true, want false", tt.name)
		}
	}
}
