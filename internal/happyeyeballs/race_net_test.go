package happyeyeballs

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The race engine over real sockets between two test hosts, each fault made
// for real: nftables on the server, a route removed on the client. Timing is
// asserted only in the direction timers guarantee (a fallback cannot start
// before its delay) or with a wide margin where an instant failure must
// start the next attempt.
func TestRaceOnTestHosts(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0") // dual-stack: both families, one port
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptAll(ln)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	v6, v4 := netip.AddrPortFrom(server.Addr6(), port), netip.AddrPortFrom(server.Addr4(), port)
	sources := func(a netip.Addr) Source {
		if a.Is4() {
			return Source{Addr: client.Addr4()}
		}
		return Source{Addr: client.Addr6()}
	}

	tests := []struct {
		name         string
		profile      string
		fault        func(t *testing.T)
		family       dualstack.Family
		firstOutcome dualstack.Outcome
		// The fallback must start no earlier than minFallback and, when it
		// is the failure rather than a timer that starts it, before
		// maxFallback.
		minFallback, maxFallback time.Duration
	}{
		{
			name:    "healthy dual-stack: IPv6 wins",
			profile: "rfc8305",
			fault:   func(t *testing.T) {},
			family:  dualstack.FamilyIPv6, firstOutcome: dualstack.OutcomeConnected,
		},
		{
			name:    "IPv6 silently dropped: IPv4 after the 250 ms attempt delay",
			profile: "rfc8305",
			fault: func(t *testing.T) {
				must(t, server.DropInbound(v6))
			},
			family: dualstack.FamilyIPv4, firstOutcome: dualstack.OutcomeCanceled,
			minFallback: 250 * time.Millisecond, maxFallback: 2 * time.Second,
		},
		{
			name:    "IPv6 refused: IPv4 starts at once",
			profile: "rfc8305",
			fault: func(t *testing.T) {
				must(t, server.RejectInbound(v6, testhost.RejectTCPReset))
			},
			family: dualstack.FamilyIPv4, firstOutcome: dualstack.OutcomeRefused,
			maxFallback: DefaultAttemptDelay,
		},
		{
			name:    "IPv6 route removed: unreachable, IPv4 starts at once",
			profile: "go",
			fault: func(t *testing.T) {
				must(t, client.DelRoute(lab.Prefix6()))
				t.Cleanup(func() { must(t, client.AddRoute(lab.Prefix6(), netip.Addr{})) })
			},
			family: dualstack.FamilyIPv4, firstOutcome: dualstack.OutcomeUnreachable,
			maxFallback: 300 * time.Millisecond,
		},
		{
			// Sequential, so the slow ICMPv6 error (the lab delivers it at
			// the first SYN retransmission) is waited for and classified.
			name:    "IPv6 admin-prohibited: classified as prohibited",
			profile: "python,attempt-timeout=5s",
			fault: func(t *testing.T) {
				must(t, server.RejectInbound(v6, testhost.RejectAdminProhibited))
			},
			family: dualstack.FamilyIPv4, firstOutcome: dualstack.OutcomeProhibited,
			maxFallback: 5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fault(t)
			t.Cleanup(func() { must(t, server.ClearFaults()) })
			p, err := ParseProfile(tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			r := &Racer{Strategy: p.Strategy, Dialer: client, SourceFor: sources}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, res, err := r.Replay(ctx, InstantAnswers(v4.Addr(), v6.Addr()), port)
			if err != nil {
				t.Fatal(err)
			}
			if conn == nil {
				t.Fatalf("no connection: %+v", res)
			}
			conn.Close()
			if res.Family != tt.family {
				t.Errorf("got family %v, want %v (attempts %+v)", res.Family, tt.family, res.Attempts)
			}
			if got := res.Attempts[0]; got.Address != v6.Addr() || got.Outcome != tt.firstOutcome {
				t.Errorf("got first attempt %v %v (%v), want %v %v", got.Address, got.Outcome, got.Err, v6.Addr(), tt.firstOutcome)
			}
			if res.FallbackDelay < tt.minFallback {
				t.Errorf("got fallback delay %v, want at least %v", res.FallbackDelay, tt.minFallback)
			}
			if tt.maxFallback > 0 && res.FallbackDelay >= tt.maxFallback {
				t.Errorf("got fallback delay %v, want under %v", res.FallbackDelay, tt.maxFallback)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
