package localaddr

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

func TestNeighbourState(t *testing.T) {
	tests := []struct {
		state      NeighbourState
		name       string
		unresolved bool
	}{
		{NeighbourNone, "NONE", false},
		{NeighbourIncomplete, "INCOMPLETE", true},
		{NeighbourReachable, "REACHABLE", false},
		{NeighbourStale, "STALE", false},
		{NeighbourDelay, "DELAY", false},
		{NeighbourProbe, "PROBE", false},
		{NeighbourFailed, "FAILED", true},
		{NeighbourNoARP, "NOARP", false},
		{NeighbourPermanent, "PERMANENT", false},
		{NeighbourStale | 0x100, "STALE|0x100", false},
	}
	for _, tt := range tests {
		if got := tt.state.String(); got != tt.name {
			t.Errorf("%#x: got %q, want %q", uint16(tt.state), got, tt.name)
		}
		if got := tt.state.Unresolved(); got != tt.unresolved {
			t.Errorf("%v: got Unresolved %v, want %v", tt.state, got, tt.unresolved)
		}
	}
}

func TestNextHopString(t *testing.T) {
	for hop, want := range map[NextHop]string{
		{Addr: netip.MustParseAddr("192.0.2.200"), Interface: "eth0", State: NeighbourFailed}:                "192.0.2.200 on eth0 (FAILED)",
		{Addr: netip.MustParseAddr("fe80::1"), Gateway: true, Interface: "eth0", State: NeighbourIncomplete}: "gateway fe80::1 on eth0 (INCOMPLETE)",
	} {
		if got := hop.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// testdata/proc/sys/net holds an interface's neighbour parameters as the
// kernel shows them, IPv4's at their defaults.
func TestNeighbourGiveUp(t *testing.T) {
	defer func(saved string) { procSysNet = saved }(procSysNet)
	procSysNet = "testdata/proc/sys/net"
	for _, tt := range []struct {
		addr netip.Addr
		dev  string
		want time.Duration
	}{
		{netip.MustParseAddr("192.0.2.1"), "eth0", 3 * time.Second},           // 3 solicitations, 1 s apart
		{netip.MustParseAddr("2001:db8::1"), "eth0", 2500 * time.Millisecond}, // 4 multicast and 1 user-space, 500 ms apart
		{netip.MustParseAddr("192.0.2.1"), "nosuch0", 0},
	} {
		if got := neighbourGiveUp(tt.addr, tt.dev); got != tt.want {
			t.Errorf("neighbourGiveUp(%v, %s) = %v, want %v", tt.addr, tt.dev, got, tt.want)
		}
	}
}

// routeAnswer builds an RTM_NEWROUTE message as the kernel answers
// RTM_GETROUTE: struct rtmsg, then attributes.
func routeAnswer(rtmType uint8, attrs ...attr) syscall.NetlinkMessage {
	b := make([]byte, unix.SizeofRtMsg)
	b[7] = rtmType
	for _, a := range attrs {
		b = appendAttr(b, a)
	}
	return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.RTM_NEWROUTE}, Data: b}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestParseRoute(t *testing.T) {
	a := netip.MustParseAddr
	dst4, dst6 := a("198.51.100.7"), a("2001:db8:1::7")
	via := append(binary.NativeEndian.AppendUint16(nil, unix.AF_INET6), a("fe80::1").AsSlice()...)
	tests := []struct {
		name    string
		dst     netip.Addr
		msg     syscall.NetlinkMessage
		want    NextHop
		wantOIF uint32
		wantErr string
	}{
		{
			name: "on-link", dst: dst4,
			msg:  routeAnswer(unix.RTN_UNICAST, attr{unix.RTA_DST, dst4.AsSlice()}, attr{unix.RTA_OIF, u32(2)}),
			want: NextHop{Addr: dst4}, wantOIF: 2,
		},
		{
			name: "through a gateway", dst: dst6,
			msg:  routeAnswer(unix.RTN_UNICAST, attr{unix.RTA_OIF, u32(3)}, attr{unix.RTA_GATEWAY, a("2001:db8::fe").AsSlice()}),
			want: NextHop{Addr: a("2001:db8::fe"), Gateway: true}, wantOIF: 3,
		},
		{
			// RFC 5549: an IPv4 route whose next hop is an IPv6 address.
			name: "through a gateway of the other family", dst: dst4,
			msg:  routeAnswer(unix.RTN_UNICAST, attr{unix.RTA_VIA, via}, attr{unix.RTA_OIF, u32(4)}),
			want: NextHop{Addr: a("fe80::1"), Gateway: true}, wantOIF: 4,
		},
		{name: "local", dst: dst4, msg: routeAnswer(unix.RTN_LOCAL, attr{unix.RTA_OIF, u32(1)}), wantErr: "own address"},
		{name: "unreachable route", dst: dst6, msg: routeAnswer(unix.RTN_UNREACHABLE, attr{unix.RTA_OIF, u32(1)}), wantErr: "not unicast"},
		{name: "no interface", dst: dst4, msg: routeAnswer(unix.RTN_UNICAST), wantErr: "no outgoing interface"},
		{
			name: "truncated", dst: dst4,
			msg:     syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.RTM_NEWROUTE}, Data: []byte{2, 32}},
			wantErr: "unexpected answer",
		},
		{
			name: "another message", dst: dst4,
			msg:     syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.RTM_NEWNEIGH}, Data: make([]byte, 64)},
			wantErr: "unexpected answer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, oif, err := parseRoute(tt.msg, tt.dst)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v, want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || oif != tt.wantOIF {
				t.Errorf("got %+v on %d (%v), want %+v on %d", got, oif, err, tt.want, tt.wantOIF)
			}
		})
	}
}

func TestParseAttrs(t *testing.T) {
	b := appendAttr(nil, attr{unix.RTA_DST, []byte{192, 0, 2, 1}})
	b = appendAttr(b, attr{unix.RTA_PRIORITY, []byte{1}}) // padded to 4 bytes
	b = appendAttr(b, attr{unix.RTA_OIF, u32(7)})
	good := len(b)
	b = append(b, 200, 0, 5, 0) // claims 200 bytes: truncated
	got := parseAttrs(b)
	if len(got) != 3 || string(got[unix.RTA_DST]) != string([]byte{192, 0, 2, 1}) ||
		len(got[unix.RTA_PRIORITY]) != 1 || binary.NativeEndian.Uint32(got[unix.RTA_OIF]) != 7 {
		t.Errorf("got %v from %d good bytes, want RTA_DST, RTA_PRIORITY and RTA_OIF", got, good)
	}
}

// NextHopFor against a real kernel, in a test host: on-link and routed
// destinations, a live neighbour and one nobody answers, and the
// destinations that have no neighbour at all.
func TestNextHopForOnTestHosts(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	a := netip.MustParseAddr
	nobody4, nobody6 := a("192.0.2.200"), a("2001:db8::c8")
	must(t, client.AddRoute(netip.MustParsePrefix("198.51.100.0/24"), nobody4))
	must(t, client.AddRoute(netip.MustParsePrefix("2001:db8:1::/64"), server.Addr6()))

	// Resolve the server's addresses, and start resolving nobody4's
	// and nobody6's: a datagram to each makes the kernel solicit.
	must(t, client.Do(func() error {
		for _, dst := range []netip.Addr{server.Addr4(), server.Addr6(), nobody4, nobody6} {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
			if err != nil {
				return err
			}
			c.Write([]byte("x"))
			c.Close()
		}
		return nil
	}))
	// The server answers at once, but asynchronously: wait until its
	// entries are resolved, bounded.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, dst := range []netip.Addr{server.Addr4(), server.Addr6()} {
		for {
			hop, err := nextHopIn(t, client, dst)
			if err == nil && hop.State&(NeighbourReachable|NeighbourStale|NeighbourDelay) != 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%v never resolved: %+v %v", dst, hop, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	resolved := func(s NeighbourState) bool { return !s.Unresolved() && s != NeighbourNone }
	tests := []struct {
		name    string
		dst     netip.Addr
		hop     netip.Addr
		gateway bool
		state   func(NeighbourState) bool
		wantErr string
	}{
		{name: "IPv4 on-link, answered", dst: server.Addr4(), hop: server.Addr4(), state: resolved},
		{name: "IPv6 on-link, answered", dst: server.Addr6(), hop: server.Addr6(), state: resolved},
		{name: "IPv4-mapped is IPv4", dst: netip.AddrFrom16(server.Addr4().As16()), hop: server.Addr4(), state: resolved},
		{name: "IPv4 on-link, nobody answers", dst: nobody4, hop: nobody4, state: NeighbourState.Unresolved},
		{name: "IPv6 on-link, nobody answers", dst: nobody6, hop: nobody6, state: NeighbourState.Unresolved},
		{name: "IPv4 through a gateway nobody answers", dst: a("198.51.100.7"), hop: nobody4, gateway: true, state: NeighbourState.Unresolved},
		{name: "IPv6 through an answered gateway", dst: a("2001:db8:1::7"), hop: server.Addr6(), gateway: true, state: resolved},
		{
			name: "never tried", dst: a("192.0.2.201"), hop: a("192.0.2.201"),
			state: func(s NeighbourState) bool { return s == NeighbourNone },
		},
		{
			name: "IPv6 link-local with a zone", dst: a("fe80::99").WithZone("eth0"), hop: a("fe80::99"),
			state: func(s NeighbourState) bool { return s == NeighbourNone },
		},
		{name: "own address", dst: client.Addr4(), wantErr: "own address"},
		{name: "no route", dst: a("203.0.113.1"), wantErr: "network is unreachable"},
		{name: "unknown zone", dst: a("fe80::99").WithZone("nosuch0"), wantErr: "nosuch0"},
		{name: "not a destination", dst: netip.IPv6Unspecified(), wantErr: "not a destination"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hop, err := nextHopIn(t, client, tt.dst)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v, want an error with %q", hop, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hop.Addr != tt.hop || hop.Gateway != tt.gateway || hop.Interface != "eth0" || !tt.state(hop.State) {
				t.Errorf("got %v (gateway %v), want %v (gateway %v) on eth0", hop, hop.Gateway, tt.hop, tt.gateway)
			}
			if want, err := client.NeighbourGiveUp(tt.hop); err != nil || hop.GiveUp != want {
				t.Errorf("got give-up time %v, want %v (%v)", hop.GiveUp, want, err)
			}
		})
	}
}

func nextHopIn(t *testing.T, host *testhost.Host, dst netip.Addr) (NextHop, error) {
	t.Helper()
	var hop NextHop
	var hopErr error
	must(t, host.Do(func() error {
		hop, hopErr = NextHopFor(dst)
		return nil
	}))
	return hop, hopErr
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
