package dial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/localaddr"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A connect whose next hop nobody answers neighbour discovery for (an
// on-link address no host holds, or a gateway no host holds) never sends its
// SYN: it waits for ARP or NDP until the kernel gives up and fails it with
// EHOSTUNREACH, with an ICMP host/address unreachable the kernel queues
// from the host's own address. Whether the attempt's budget ends before the
// kernel gives up or after, Dial must report the same: unreachable, with the
// next hop as evidence. Failures whose next hop answers must not get it.
func TestDialUnansweredNeighbour(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	acceptAndClose(t, ln)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	type dialCase struct {
		name     string
		dst      netip.AddrPort
		timeout  time.Duration
		hop      netip.Addr // the unanswered next hop; zero when it answers
		gateway  bool
		state    localaddr.NeighbourState
		want     dualstack.Outcome
		protocol string
		fault    func(t *testing.T)
	}
	var cases []dialCase
	vacant := 0
	behind := map[bool]netip.Addr{true: netip.MustParseAddr("198.51.100.0"), false: netip.MustParseAddr("2001:db8:1::")}
	for _, fam := range []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6} {
		v4 := fam == dualstack.FamilyIPv4
		prefix, serverAddr := lab.Prefix6(), server.Addr6()
		if v4 {
			prefix, serverAddr = lab.Prefix4(), server.Addr4()
		}
		giveUp, err := client.NeighbourGiveUp(prefix.Addr())
		must(t, err)
		// Below the give-up time the budget ends the attempt while the
		// kernel still asks (INCOMPLETE); above it the kernel fails the
		// connect first (FAILED, EHOSTUNREACH).
		for _, budget := range []struct {
			timeout time.Duration
			state   localaddr.NeighbourState
		}{{giveUp / 3, localaddr.NeighbourIncomplete}, {giveUp * 3, localaddr.NeighbourFailed}} {
			when := fmt.Sprintf("budget %v (the kernel gives up after %v)", budget.timeout, giveUp)
			onLink, err := lab.Vacant(prefix, vacant)
			must(t, err)
			gateway, err := lab.Vacant(prefix, vacant+1)
			must(t, err)
			vacant += 2
			behind[v4] = behind[v4].Next()
			must(t, client.AddRoute(netip.PrefixFrom(behind[v4], behind[v4].BitLen()), gateway))
			cases = append(cases,
				dialCase{
					name: fmt.Sprintf("%v on-link, %s", fam, when), dst: netip.AddrPortFrom(onLink, port),
					timeout: budget.timeout, hop: onLink, state: budget.state, want: dualstack.OutcomeUnreachable, protocol: fam.NeighbourDiscovery(),
				},
				dialCase{
					name: fmt.Sprintf("%v through an unanswered gateway, %s", fam, when), dst: netip.AddrPortFrom(behind[v4], port),
					timeout: budget.timeout, hop: gateway, gateway: true, state: budget.state, want: dualstack.OutcomeUnreachable, protocol: fam.NeighbourDiscovery(),
				})
		}
		// The next hop answers: a silent drop stays a timeout, and an ICMP
		// host unreachable from the destination stays its own evidence.
		dst := netip.AddrPortFrom(serverAddr, port)
		cases = append(cases,
			dialCase{
				name: fmt.Sprintf("%v silent drop, the neighbour answers", fam), dst: dst, timeout: giveUp / 3, want: dualstack.OutcomeTimeout,
				fault: func(t *testing.T) { must(t, server.DropInbound(dst)) },
			},
			dialCase{
				name: fmt.Sprintf("%v host unreachable from the destination", fam), dst: dst, timeout: giveUp * 3, want: dualstack.OutcomeUnreachable,
				fault: func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectHostUnreachable)) },
			})
	}

	// The faults share the server's firewall, so those cases run one at a
	// time; the others each have next hops of their own and run together.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				tc.fault(t)
				t.Cleanup(func() { must(t, server.ClearFaults()) })
			} else {
				t.Parallel()
			}
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			conn, took, err := dialIn(ctx, t, client, tc.dst)
			if conn != nil {
				conn.Close()
				t.Fatalf("connected to %v, want a failure", tc.dst)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("got error %T %v, want *Error", err, err)
			}
			t.Logf("outcome %v, errno %v, ICMP %v, next hop %v, after %v: %v", de.Outcome(), de.Errno, de.ICMP, de.UnresolvedNextHop, took.Round(time.Millisecond), err)
			if got := dualstack.ClassifyDialError(err); got != tc.want {
				t.Errorf("got outcome %v, want %v", got, tc.want)
			}
			if !tc.hop.IsValid() {
				if de.UnresolvedNextHop != nil {
					t.Errorf("got unresolved next hop %v, want none: the neighbour answers", de.UnresolvedNextHop)
				}
				return
			}
			hop := de.UnresolvedNextHop
			if hop == nil || hop.Addr != tc.hop || hop.Gateway != tc.gateway || hop.Interface != "eth0" || hop.State != tc.state {
				t.Fatalf("got unresolved next hop %v, want %v (gateway %v) on eth0 in state %v", hop, tc.hop, tc.gateway, tc.state)
			}
			// FAILED means the kernel gave up first and failed the
			// connect itself, with EHOSTUNREACH.
			wantErrno := syscall.Errno(0)
			if tc.state == localaddr.NeighbourFailed {
				wantErrno = syscall.EHOSTUNREACH
			}
			if de.Errno != wantErrno {
				t.Errorf("got errno %v, want %v", de.Errno, wantErrno)
			}
			if want := fmt.Sprintf("no host answers %s for %v on eth0", tc.protocol, tc.hop); !strings.Contains(err.Error(), want) {
				t.Errorf("got message %q, want it to say %q", err, want)
			}
			if de.Timeout() {
				t.Error("got Timeout() true, want false: the attempt is unreachable")
			}
		})
	}
}
