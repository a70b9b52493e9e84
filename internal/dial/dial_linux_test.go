package dial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// loopbacks returns the loopback addresses the machine has, IPv4 first.
func loopbacks(t *testing.T) []netip.Addr {
	t.Helper()
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		addrs = append(addrs, netip.MustParseAddr("::1"))
	} else {
		t.Logf("no IPv6 loopback, testing IPv4 only: %v", err)
	}
	return addrs
}

// acceptAndClose accepts every connection on ln and closes it at once, until
// the test ends or stop is called; either closes ln and waits for the loop,
// so every accepted descriptor is closed when stop returns.
func acceptAndClose(t *testing.T, ln net.Listener) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	stop = sync.OnceFunc(func() {
		ln.Close()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

// listen starts a listener on ip that accepts connections and closes them
// at once (so the process's descriptor count reflects only the dialer's),
// and returns its address.
func listen(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	acceptAndClose(t, ln)
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns an address on ip where nothing listens: a port that was
// just bound and released.
func closedPort(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return addr
}

// blackHole returns an address on ip where SYNs go unanswered, without root
// or a firewall: a listener with a backlog of 0 that never accepts and whose
// accept queue one connection already fills, so Linux drops further SYNs
// (tcp_conn_request: the listen overflow) and a connect waits until its
// deadline.
func blackHole(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	domain, sa, err := sockaddrOf(netip.AddrPortFrom(ip, 0))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	var addr netip.AddrPort
	switch bound := bound.(type) {
	case *unix.SockaddrInet4:
		addr = netip.AddrPortFrom(netip.AddrFrom4(bound.Addr), uint16(bound.Port))
	case *unix.SockaddrInet6:
		addr = netip.AddrPortFrom(netip.AddrFrom16(bound.Addr), uint16(bound.Port))
	}
	filler, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	return addr
}

func TestDialLoopback(t *testing.T) {
	for _, ip := range loopbacks(t) {
		t.Run(ip.String(), func(t *testing.T) {
			open, closed, hole := listen(t, ip), closedPort(t, ip), blackHole(t, ip)
			short, cancelShort := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancelShort()
			canceled, cancel := context.WithCancel(t.Context())
			cancel()
			expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			defer cancel()

			tests := []struct {
				name      string
				ctx       context.Context
				addr      netip.AddrPort
				want      dualstack.Outcome
				wantErrIs error
			}{
				{"listener", t.Context(), open, dualstack.OutcomeConnected, nil},
				{"closed port", t.Context(), closed, dualstack.OutcomeRefused, syscall.ECONNREFUSED},
				{"canceled before the dial", canceled, open, dualstack.OutcomeCanceled, context.Canceled},
				{"deadline already passed", expired, open, dualstack.OutcomeTimeout, context.DeadlineExceeded},
				{"SYN dropped until the deadline", short, hole, dualstack.OutcomeTimeout, context.DeadlineExceeded},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					conn, err := Dial(tt.ctx, tt.addr)
					if conn != nil {
						defer conn.Close()
					}
					if got := dualstack.ClassifyDialError(err); got != tt.want {
						t.Fatalf("got outcome %v (%v), want %v", got, err, tt.want)
					}
					if tt.want == dualstack.OutcomeConnected {
						if conn == nil {
							t.Fatal("got a nil conn with a nil error")
						}
						return
					}
					if conn != nil {
						t.Errorf("got conn %v with error %v, want nil", conn.LocalAddr(), err)
					}
					var de *Error
					if !errors.As(err, &de) {
						t.Fatalf("got error %T %v, want *Error", err, err)
					}
					if !errors.Is(err, tt.wantErrIs) {
						t.Errorf("got error %v, want one that is %v", err, tt.wantErrIs)
					}
					if de.ICMP != nil {
						t.Errorf("got ICMP %v on loopback, want none", de.ICMP)
					}
					if want := "connect " + tt.addr.String() + ": "; !strings.HasPrefix(err.Error(), want) {
						t.Errorf("got message %q, want it to start with %q", err, want)
					}
				})
			}
		})
	}
}

// Canceling the context must end a connect that is waiting for an answer at
// once, not at the next SYN retransmission.
func TestDialCanceledWhileWaiting(t *testing.T) {
	for _, ip := range loopbacks(t) {
		t.Run(ip.String(), func(t *testing.T) {
			hole := blackHole(t, ip)
			ctx, cancel := context.WithCancel(t.Context())
			timer := time.AfterFunc(50*time.Millisecond, cancel)
			defer timer.Stop()
			start := time.Now()
			conn, err := Dial(ctx, hole)
			took := time.Since(start)
			if conn != nil {
				conn.Close()
			}
			if got := dualstack.ClassifyDialError(err); got != dualstack.OutcomeCanceled {
				t.Fatalf("got %v (%v), want %v", got, err, dualstack.OutcomeCanceled)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want an error that is context.Canceled", err)
			}
			// Generous: it only has to be well before the 1 s retransmission.
			if took >= 900*time.Millisecond {
				t.Errorf("got the cancellation noticed after %v, want it at once", took)
			}
		})
	}
}

// The connection Dial returns must be an ordinary TCP connection whose
// addresses are the socket's, as net.Dial's are.
func TestDialAddrs(t *testing.T) {
	for _, ip := range loopbacks(t) {
		t.Run(ip.String(), func(t *testing.T) {
			ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1) // buffered: the goroutine must not block if the test failed first
			go func() {
				c, _ := ln.Accept()
				accepted <- c
			}()
			target := ln.Addr().(*net.TCPAddr).AddrPort()
			conn, err := Dial(t.Context(), target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			server := <-accepted
			if server == nil {
				t.Fatal("accept failed")
			}
			defer server.Close()

			if _, ok := conn.(*net.TCPConn); !ok {
				t.Errorf("got %T, want *net.TCPConn", conn)
			}
			if got, want := conn.RemoteAddr().(*net.TCPAddr).AddrPort(), target; got != want {
				t.Errorf("got RemoteAddr %v, want %v", got, want)
			}
			if got, want := conn.LocalAddr().(*net.TCPAddr).AddrPort(), server.RemoteAddr().(*net.TCPAddr).AddrPort(); got != want {
				t.Errorf("got LocalAddr %v, want %v (the server's peer)", got, want)
			}
			// And it carries data both ways.
			if _, err := conn.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			server.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := server.Read(buf); err != nil || string(buf) != "ping" {
				t.Errorf("got %q, %v from the server side, want \"ping\"", buf, err)
			}
		})
	}
}

func TestDialerArguments(t *testing.T) {
	open := listen(t, netip.MustParseAddr("127.0.0.1"))
	tests := []struct {
		network, address string
		wantConn         bool
	}{
		{"tcp", open.String(), true},
		{"tcp4", open.String(), true},
		{"tcp4", netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), open.Port()).String(), true},
		{"tcp6", open.String(), false},
		{"tcp4", "[2001:db8::1]:80", false},
		{"udp", open.String(), false},
		{"tcp", "localhost:80", false},
		{"tcp", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address, func(t *testing.T) {
			conn, err := Dialer{}.DialContext(t.Context(), tt.network, tt.address)
			if conn != nil {
				conn.Close()
			}
			if got := conn != nil; got != tt.wantConn {
				t.Errorf("got a connection %v (error %v), want %v", got, err, tt.wantConn)
			}
			if !tt.wantConn && err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}

// Every path of Dial must close its descriptor: a prober dials thousands of
// failing addresses.
func TestDialNoFDLeak(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	stopAccepting := acceptAndClose(t, ln)
	open := ln.Addr().(*net.TCPAddr).AddrPort()
	closed, hole := closedPort(t, ip), blackHole(t, ip)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	multicast := netip.MustParseAddrPort("224.0.0.1:80") // connect fails synchronously: TCP cannot multicast
	before := countFDs(t)
	for i := range 200 {
		if i%20 == 0 { // every path, but the slow one only now and then
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			_, err := Dial(ctx, hole)
			cancel()
			if dualstack.ClassifyDialError(err) != dualstack.OutcomeTimeout {
				t.Fatalf("got %v, want timeout", err)
			}
		}
		if _, err := Dial(t.Context(), multicast); dualstack.ClassifyDialError(err) != dualstack.OutcomeUnreachable {
			t.Fatalf("got %v, want unreachable", err)
		}
		if _, err := Dial(t.Context(), closed); dualstack.ClassifyDialError(err) != dualstack.OutcomeRefused {
			t.Fatalf("got %v, want refused", err)
		}
		if _, err := Dial(canceled, open); dualstack.ClassifyDialError(err) != dualstack.OutcomeCanceled {
			t.Fatalf("got %v, want canceled", err)
		}
		if _, err := Dial(t.Context(), netip.AddrPortFrom(netip.MustParseAddr("fe80::1%no-such-if0"), 80)); err == nil {
			t.Fatal("got no error for an unknown zone")
		}
		conn, err := Dial(t.Context(), open)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	// The acceptor may still hold the server side of the last connection:
	// stop it, which also closes the listener, one descriptor fewer.
	stopAccepting()
	if after, want := countFDs(t), before-1; after > want {
		t.Errorf("got %d open descriptors after 1010 dials, want at most %d (as before, less the listener)", after, want)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(entries)
}
