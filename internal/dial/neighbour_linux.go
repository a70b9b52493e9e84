//go:build linux

package dial

import (
	"syscall"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/localaddr"
)

// findUnresolvedNextHop asks the kernel, for a connect that timed out or
// failed as host unreachable, whether the next hop toward e.Addr — the
// address itself when on-link, else the route's gateway — is a neighbour
// nobody answers ARP or NDP for, and if so records it on e.
//
// Such a connect never sent its SYN: it waits in the neighbour entry's queue
// while the kernel solicits (mcast_solicit times, retrans_time apart: 3 x 1 s
// by default), and when nobody answers the kernel fails it with EHOSTUNREACH
// and queues an ICMP host unreachable (ICMPv6 address unreachable) from the
// host's own address. That ICMP cannot tell the case apart on its own: it
// arrives only once the kernel gives up, after a shorter budget has already
// ended the attempt, and a local firewall rule that rejects with host
// unreachable queues the same message from the same address. The neighbour
// entry can: INCOMPLETE while the kernel still asks, FAILED once it gave up.
//
// The attempt is then unreachable, not a timeout, whichever came first: the
// kernel itself fails such a connect as unreachable, and a timeout would
// claim a silent drop on the path for a packet that never left this host.
// So the outcome does not depend on whether the budget outlasted the
// kernel's solicitations.
//
// It must run on the thread that connected, which is in the network
// namespace the connect used.
func (e *Error) findUnresolvedNextHop() {
	switch {
	case e.outcome == dualstack.OutcomeTimeout:
	case e.outcome == dualstack.OutcomeUnreachable && e.Errno == syscall.EHOSTUNREACH:
	default:
		return
	}
	// A next hop that answered carried the SYN on: a remote ICMP error or
	// a drop further on is then the evidence, and it is left as it is.
	hop, err := localaddr.NextHopFor(e.Addr.Addr())
	if err != nil || !hop.State.Unresolved() {
		return
	}
	e.UnresolvedNextHop = &hop
	e.outcome = dualstack.OutcomeUnreachable
}
