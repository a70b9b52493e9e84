//go:build !linux

package dial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Dial connects to addr over TCP with net.Dialer and returns the connection,
// or an *Error classified by errno alone: only Linux's error queue tells an
// ICMP administratively prohibited from a host unreachable, and the socket
// is not created on the calling goroutine. ctx bounds the attempt. Closing
// the connection resets it, as on Linux (see dial_linux.go's resetOnClose).
func Dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	start := time.Now()
	if !addr.IsValid() {
		return nil, newError(addr, start, 0, nil, errors.New("invalid address"))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr.String())
	if err == nil {
		err = conn.(*net.TCPConn).SetLinger(0)
		if err == nil {
			return conn, nil
		}
		conn.Close()
	}
	var errno syscall.Errno
	errors.As(err, &errno)
	return nil, newError(addr, start, errno, nil, err)
}
