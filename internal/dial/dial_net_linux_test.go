package dial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// quickBound is how soon a failure the network answers must be reported. It
// only has to separate "at once" from the first SYN retransmission (1 s),
// which is when an ICMPv6 error generated during connect() would surface
// without IPV6_RECVERR; it is generous so a loaded machine does not flake.
const quickBound = 900 * time.Millisecond

// dialIn runs Dial inside host, so the socket belongs to host's namespace,
// and times it.
func dialIn(ctx context.Context, t *testing.T, host *testhost.Host, addr netip.AddrPort) (net.Conn, time.Duration, error) {
	t.Helper()
	var conn net.Conn
	var dialErr error
	var took time.Duration
	if err := host.Do(func() error {
		start := time.Now()
		conn, dialErr = Dial(ctx, addr)
		took = time.Since(start)
		return nil
	}); err != nil {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("running in %s: %v", host.Name(), err)
	}
	return conn, took, dialErr
}

// rejectWith adds an nftables rule on host that answers TCP to dst with the
// given reject statement, for the ICMP codes testhost.RejectInbound has no
// name for (nft "reject with icmp type host-prohibited", ...).
func rejectWith(t *testing.T, host *testhost.Host, dst netip.AddrPort, reject string) {
	t.Helper()
	match := "ip daddr"
	if dst.Addr().Is6() {
		match = "ip6 daddr"
	}
	script := fmt.Sprintf(`add table inet dsprobe_dial_test
add chain inet dsprobe_dial_test input { type filter hook input priority filter - 1; policy accept; }
add rule inet dsprobe_dial_test input %s %s tcp dport %d %s
`, match, dst.Addr(), dst.Port(), reject)
	cmd := host.Command(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s\n%s", err, script, out)
	}
	t.Cleanup(func() {
		if out, err := host.Command(context.WithoutCancel(t.Context()), "nft", "delete table inet dsprobe_dial_test").CombinedOutput(); err != nil {
			t.Errorf("nft: %v\n%s", err, out)
		}
	})
}

// Every fault the prober must tell apart, made for real between two test
// hosts (nftables on the server, a route removed on the client), in both
// families: the Outcome, the errno, the ICMP type and code with its sender,
// and, for answers the network sends, that they arrive at once.
func TestDialOnTestHosts(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0") // dual-stack: one port for both families
	if err != nil {
		t.Fatal(err)
	}
	acceptAndClose(t, ln)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	type icmp struct{ typ, code uint8 }
	families := []struct {
		family dualstack.Family
		server netip.Addr
		prefix netip.Prefix
	}{
		{dualstack.FamilyIPv4, server.Addr4(), lab.Prefix4()},
		{dualstack.FamilyIPv6, server.Addr6(), lab.Prefix6()},
	}
	for _, fam := range families {
		dst := netip.AddrPortFrom(fam.server, port)
		v4 := fam.family == dualstack.FamilyIPv4
		// pick returns the IPv4 or IPv6 expectation.
		pick := func(ipv4, ipv6 icmp) *icmp {
			if v4 {
				return &ipv4
			}
			return &ipv6
		}
		pickErrno := func(ipv4, ipv6 syscall.Errno) syscall.Errno {
			if v4 {
				return ipv4
			}
			return ipv6
		}
		tests := []struct {
			name      string
			fault     func(t *testing.T)
			timeout   time.Duration // of the dial's context
			want      dualstack.Outcome
			wantErrno syscall.Errno
			wantICMP  *icmp // nil: no ICMP must be reported
			quick     bool  // the answer must arrive well before a SYN retransmission
		}{
			{
				name:  "healthy",
				fault: func(t *testing.T) {},
				want:  dualstack.OutcomeConnected, quick: true,
			},
			{
				name:    "silent drop",
				fault:   func(t *testing.T) { must(t, server.DropInbound(dst)) },
				timeout: 300 * time.Millisecond,
				want:    dualstack.OutcomeTimeout,
			},
			{
				name:      "reject admin-prohibited",
				fault:     func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectAdminProhibited)) },
				want:      dualstack.OutcomeProhibited,
				wantErrno: pickErrno(syscall.EHOSTUNREACH, syscall.EACCES),
				wantICMP:  pick(icmp{3, 13}, icmp{1, 1}), quick: true,
			},
			{
				name:      "reject tcp reset",
				fault:     func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectTCPReset)) },
				want:      dualstack.OutcomeRefused,
				wantErrno: syscall.ECONNREFUSED, quick: true,
			},
			{
				name:      "reject host-unreachable",
				fault:     func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectHostUnreachable)) },
				want:      dualstack.OutcomeUnreachable,
				wantErrno: syscall.EHOSTUNREACH,
				wantICMP:  pick(icmp{3, 1}, icmp{1, 3}), quick: true,
			},
			{
				name:      "reject port-unreachable",
				fault:     func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectPortUnreachable)) },
				want:      dualstack.OutcomeRefused,
				wantErrno: syscall.ECONNREFUSED,
				wantICMP:  pick(icmp{3, 3}, icmp{1, 4}), quick: true,
			},
			{
				name:      "reject no-route",
				fault:     func(t *testing.T) { must(t, server.RejectInbound(dst, testhost.RejectNoRoute)) },
				want:      dualstack.OutcomeUnreachable,
				wantErrno: syscall.ENETUNREACH,
				wantICMP:  pick(icmp{3, 0}, icmp{1, 0}), quick: true,
			},
			{
				// The older policy codes, which iptables' --reject-with
				// icmp-net-prohibited/icmp-host-prohibited and ICMPv6
				// policy-fail/reject-route send; Linux turns the ICMPv4
				// ones into ENETUNREACH/EHOSTUNREACH.
				name: "reject net-prohibited / policy-fail",
				fault: func(t *testing.T) {
					rejectWith(t, server, dst, map[bool]string{true: "reject with icmp type net-prohibited", false: "reject with icmpv6 type policy-fail"}[v4])
				},
				want:      dualstack.OutcomeProhibited,
				wantErrno: pickErrno(syscall.ENETUNREACH, syscall.EACCES),
				wantICMP:  pick(icmp{3, 9}, icmp{1, 5}), quick: true,
			},
			{
				name: "reject host-prohibited / reject-route",
				fault: func(t *testing.T) {
					rejectWith(t, server, dst, map[bool]string{true: "reject with icmp type host-prohibited", false: "reject with icmpv6 type reject-route"}[v4])
				},
				want:      dualstack.OutcomeProhibited,
				wantErrno: pickErrno(syscall.EHOSTUNREACH, syscall.EACCES),
				wantICMP:  pick(icmp{3, 10}, icmp{1, 6}), quick: true,
			},
			{
				name: "client route deleted",
				fault: func(t *testing.T) {
					must(t, client.DelRoute(fam.prefix))
					t.Cleanup(func() { must(t, client.AddRoute(fam.prefix, netip.Addr{})) })
				},
				want:      dualstack.OutcomeUnreachable,
				wantErrno: syscall.ENETUNREACH, quick: true,
			},
		}
		t.Run(fam.family.String(), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.fault(t)
					t.Cleanup(func() { must(t, server.ClearFaults()) })
					timeout := tt.timeout
					if timeout == 0 {
						timeout = 5 * time.Second // far past a retransmission, so a slow report shows as slow, not as a timeout
					}
					ctx, cancel := context.WithTimeout(t.Context(), timeout)
					defer cancel()
					conn, took, err := dialIn(ctx, t, client, dst)
					if conn != nil {
						defer conn.Close()
					}
					var de *Error
					errors.As(err, &de)
					var gotICMP *dualstack.ICMP
					var gotErrno syscall.Errno
					if de != nil {
						gotICMP, gotErrno = de.ICMP, de.Errno
					}
					t.Logf("%v %s: outcome %v, errno %d (%v), ICMP %v, after %v: %v",
						fam.family, tt.name, dualstack.ClassifyDialError(err), gotErrno, gotErrno, gotICMP, took.Round(time.Microsecond), err)

					if got := dualstack.ClassifyDialError(err); got != tt.want {
						t.Fatalf("got outcome %v (%v), want %v", got, err, tt.want)
					}
					if tt.want != dualstack.OutcomeConnected && de == nil {
						t.Fatalf("got error %T %v, want *Error", err, err)
					}
					if gotErrno != tt.wantErrno {
						t.Errorf("got errno %v, want %v", gotErrno, tt.wantErrno)
					}
					switch {
					case tt.wantICMP == nil && gotICMP != nil:
						t.Errorf("got ICMP %v, want none", gotICMP)
					case tt.wantICMP != nil && gotICMP == nil:
						t.Errorf("got no ICMP, want type %d code %d", tt.wantICMP.typ, tt.wantICMP.code)
					case tt.wantICMP != nil:
						if gotICMP.Type != tt.wantICMP.typ || gotICMP.Code != tt.wantICMP.code || gotICMP.Family != fam.family {
							t.Errorf("got ICMP %v type %d code %d, want %v type %d code %d",
								gotICMP.Family, gotICMP.Type, gotICMP.Code, fam.family, tt.wantICMP.typ, tt.wantICMP.code)
						}
						// The server's own firewall rejects, so it is the sender.
						if gotICMP.From != fam.server {
							t.Errorf("got ICMP from %v, want %v", gotICMP.From, fam.server)
						}
						if !strings.Contains(err.Error(), "from "+fam.server.String()) {
							t.Errorf("got message %q, want it to name the sender %v", err, fam.server)
						}
					}
					if tt.quick && took >= quickBound {
						t.Errorf("got the answer after %v, want it well before the first SYN retransmission (< %v)", took, quickBound)
					}
				})
			}
		})
	}

	t.Run("canceled while the SYN is unanswered", func(t *testing.T) {
		dst := netip.AddrPortFrom(server.Addr6(), port)
		must(t, server.DropInbound(dst))
		t.Cleanup(func() { must(t, server.ClearFaults()) })
		ctx, cancel := context.WithCancel(t.Context())
		timer := time.AfterFunc(100*time.Millisecond, cancel)
		defer timer.Stop()
		conn, took, err := dialIn(ctx, t, client, dst)
		if conn != nil {
			conn.Close()
		}
		if got := dualstack.ClassifyDialError(err); got != dualstack.OutcomeCanceled {
			t.Fatalf("got %v (%v), want %v", got, err, dualstack.OutcomeCanceled)
		}
		if took >= quickBound {
			t.Errorf("got the cancellation noticed after %v, want it at once (< %v)", took, quickBound)
		}
	})

	t.Run("race falls back at once from a prohibited IPv6", func(t *testing.T) {
		v6 := netip.AddrPortFrom(server.Addr6(), port)
		must(t, server.RejectInbound(v6, testhost.RejectAdminProhibited))
		t.Cleanup(func() { must(t, server.ClearFaults()) })
		p, err := he.LookupProfile("rfc8305")
		if err != nil {
			t.Fatal(err)
		}
		r := &he.Racer{Strategy: p.Strategy, Dialer: client.Dialer(Dialer{}), SourceFor: func(a netip.Addr) he.Source {
			if a.Is4() {
				return he.Source{Addr: client.Addr4()}
			}
			return he.Source{Addr: client.Addr6()}
		}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, res, err := r.Replay(ctx, he.InstantAnswers(server.Addr4(), server.Addr6()), port)
		if err != nil {
			t.Fatal(err)
		}
		if conn == nil {
			t.Fatalf("no connection: %+v", res)
		}
		conn.Close()
		if res.Family != dualstack.FamilyIPv4 {
			t.Errorf("got family %v, want %v", res.Family, dualstack.FamilyIPv4)
		}
		if got := res.Attempts[0]; got.Address != server.Addr6() || got.Outcome != dualstack.OutcomeProhibited {
			t.Errorf("got first attempt %v %v (%v), want %v %v", got.Address, got.Outcome, got.Err, server.Addr6(), dualstack.OutcomeProhibited)
		}
		// The rejection, not the 250 ms attempt delay, starts IPv4.
		if res.FallbackDelay >= he.DefaultAttemptDelay {
			t.Errorf("got fallback delay %v, want under the attempt delay %v", res.FallbackDelay, he.DefaultAttemptDelay)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A connect that finds no free local port fails as the prober's own fault,
// at once, in both families: never as an Outcome of the path. (Exhausted
// ports were once reported as LAYER_ROUTE on a healthy target.)
func TestDialLocalFaultOnTestHosts(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	// The kernel completes handshakes into the backlog; nothing accepts,
	// so every connection made stays open.
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	client.NarrowLocalPorts(t, 1)

	for _, dst := range []netip.AddrPort{netip.AddrPortFrom(server.Addr4(), port), netip.AddrPortFrom(server.Addr6(), port)} {
		t.Run(dualstack.FamilyOf(dst.Addr()).String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			// The one port, held towards dst.
			held, _, err := dialIn(ctx, t, client, dst)
			if err != nil {
				t.Fatalf("the first connect: %v", err)
			}
			defer held.Close()

			conn, took, err := dialIn(ctx, t, client, dst)
			if conn != nil {
				conn.Close()
				t.Fatalf("connected from %v with the only port held, want EADDRNOTAVAIL", conn.LocalAddr())
			}
			t.Logf("%v after %v", err, took)
			if got := dualstack.ClassifyDialError(err); got != dualstack.OutcomeUnspecified {
				t.Errorf("got outcome %v, want none: a local fault says nothing of the path", got)
			}
			fault := LocalFaultOf(err)
			if fault == nil || fault.Resource != ResourceLocalPorts || fault.Errno != syscall.EADDRNOTAVAIL {
				t.Fatalf("got %v (local fault %+v), want a fault of %v with EADDRNOTAVAIL", err, fault, ResourceLocalPorts)
			}
			if took >= quickBound {
				t.Errorf("got the fault after %v, want it at once (< %v)", took, quickBound)
			}
		})
	}
}

// Dial's connections close with a reset, so the prober leaves no TIME_WAIT
// behind and reconnects to the same address as often as it likes: with only
// four local ports, far more connects in a row each exchange a line and
// close, and every one succeeds. (A graceful close by the prober, which
// closes first, holds each port towards the address for 60 s: the fifth
// connect failed with EADDRNOTAVAIL.)
func TestDialLeavesNoTimeWait(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	echoLines(t, ln)
	const ports, connects = 4, 40
	client.NarrowLocalPorts(t, ports)

	for i := range connects {
		// Both families, alternately: the range is one for both.
		dst := netip.AddrPortFrom(server.Addr4(), port)
		if i%2 == 1 {
			dst = netip.AddrPortFrom(server.Addr6(), port)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		conn, _, err := dialIn(ctx, t, client, dst)
		cancel()
		if err != nil {
			t.Fatalf("connect %d of %d to %v with %d local ports: %v", i+1, connects, dst, ports, err)
		}
		// An application check reads its answer before it closes; the
		// reset comes after, so the answer is whole.
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		line := fmt.Sprintf("ping %d\n", i)
		_, err = io.WriteString(conn, line)
		got := make([]byte, len(line))
		if err == nil {
			_, err = io.ReadFull(conn, got)
		}
		conn.Close()
		if err != nil || string(got) != line {
			t.Fatalf("exchange %d: got %q (%v), want %q", i+1, got, err, line)
		}
	}
	out, err := client.Run(t.Context(), "ss", "-Htan", "state", "time-wait")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n > 0 {
		t.Errorf("got %d connections in TIME_WAIT on the client, want none:\n%s", n, out)
	}
}

// echoLines echoes what each connection on ln sends until the peer closes or
// resets it, until the test ends.
func echoLines(t *testing.T, ln net.Listener) {
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(c, c)
			})
		}
	})
}
