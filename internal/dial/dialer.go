package dial

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Dialer is Dial behind net.Dialer's DialContext method, so it plugs in where
// a dialer is expected, such as happyeyeballs.Racer's Dialer. It has no
// options, so its zero value is the only value and ready to use.
type Dialer struct{}

// DialContext connects to address, an IP literal and port ("192.0.2.1:80",
// "[2001:db8::1]:443"), over network "tcp", "tcp4" or "tcp6" with Dial. It
// never resolves a name: the prober connects to each resolved address
// itself, so a name here is a caller's bug. "tcp4" and "tcp6" refuse an
// address of the other family, as net.Dialer does. Errors from the connect
// are *Error; errors about the arguments are not.
func (Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	addr, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: want an IP literal and a port: %w", network, address, err)
	}
	v4 := addr.Addr().Unmap().Is4()
	switch {
	case network == "tcp":
	case network == "tcp4" && !v4, network == "tcp6" && v4:
		return nil, fmt.Errorf("dial %s %s: address of the wrong family for the network", network, address)
	case network == "tcp4", network == "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s: %w", network, address, net.UnknownNetworkError(network))
	}
	return Dial(ctx, addr)
}
