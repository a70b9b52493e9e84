package dnstest

import (
	"net"
	"testing"

	"github.com/dsprobe/dsprobe/internal/faultdns"
)

// Start starts a server on each of addrs (IP literal and port; default
// "127.0.0.1:0", "[::1]:0" for IPv6), each serving UDP and TCP on the same
// port, and stops it when the test ends. It fails the test if it cannot
// start.
func Start(t testing.TB, addrs ...string) *faultdns.Server {
	t.Helper()
	s, err := faultdns.Listen(addrs...)
	return stopAtCleanup(t, s, err)
}

// StartOn serves on sockets the test made, such as those a test host's
// ListenPacket and Listen open inside a network namespace, and stops when the
// test ends. pc and ln should share address and port; either may be nil.
func StartOn(t testing.TB, pc net.PacketConn, ln net.Listener) *faultdns.Server {
	t.Helper()
	s, err := faultdns.Serve(pc, ln)
	return stopAtCleanup(t, s, err)
}

// stopAtCleanup fails the test if the server did not start, else closes it
// when the test ends.
func stopAtCleanup(t testing.TB, s *faultdns.Server, err error) *faultdns.Server {
	t.Helper()
	if err != nil {
		t.Fatalf("starting the DNS test server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stopping the DNS test server: %v", err)
		}
	})
	return s
}
