//go:build !linux

package localaddr

import (
	"errors"
	"fmt"
	"net/netip"
)

// NextHopFor needs Linux's rtnetlink; elsewhere it reports
// errors.ErrUnsupported, and callers go without the evidence.
func NextHopFor(dst netip.Addr) (NextHop, error) {
	return NextHop{}, fmt.Errorf("next hop for %v: %w", dst, errors.ErrUnsupported)
}
