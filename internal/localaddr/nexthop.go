package localaddr

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// NextHop is the host on the link that the kernel hands a destination's
// packets to — the destination itself when it is on-link, otherwise the
// gateway of its route — with what the kernel's neighbour cache (ARP for
// IPv4, NDP for IPv6) knows of it.
type NextHop struct {
	// Addr is the next hop's address, without a zone: Interface names its
	// link.
	Addr netip.Addr
	// Gateway reports whether Addr is the route's gateway rather than the
	// destination itself.
	Gateway bool
	// Interface names the link the next hop is on ("eth0").
	Interface string
	// State is the state of the next hop's neighbour cache entry;
	// NeighbourNone when the kernel has no entry for it.
	State NeighbourState
	// GiveUp is how long the kernel solicits a neighbour on this link
	// before it fails the packets waiting for it (a connect, with
	// EHOSTUNREACH), counted from the first packet; zero if unknown.
	GiveUp time.Duration
}

// String reads "192.0.2.200 on eth0 (FAILED)" or "gateway 192.0.2.254 on
// eth0 (INCOMPLETE)".
func (h NextHop) String() string {
	s := h.Addr.String() + " on " + h.Interface + " (" + h.State.String() + ")"
	if h.Gateway {
		s = "gateway " + s
	}
	return s
}

// NeighbourState is the state of a neighbour cache entry, the NUD_* bits of
// linux/neighbour.h (RFC 4861 section 7.3.2's states, which Linux uses for
// ARP too, plus its own).
type NeighbourState uint16

// The values are Linux's, so a state read from the kernel needs no mapping.
const (
	NeighbourNone       NeighbourState = 0x00 // NUD_NONE: no entry, or one never resolved
	NeighbourIncomplete NeighbourState = 0x01 // NUD_INCOMPLETE: solicited, no answer yet
	NeighbourReachable  NeighbourState = 0x02 // NUD_REACHABLE
	NeighbourStale      NeighbourState = 0x04 // NUD_STALE
	NeighbourDelay      NeighbourState = 0x08 // NUD_DELAY
	NeighbourProbe      NeighbourState = 0x10 // NUD_PROBE
	NeighbourFailed     NeighbourState = 0x20 // NUD_FAILED: every solicitation went unanswered
	NeighbourNoARP      NeighbourState = 0x40 // NUD_NOARP: the link needs no resolution
	NeighbourPermanent  NeighbourState = 0x80 // NUD_PERMANENT: set by hand
)

var neighbourStateNames = []struct {
	state NeighbourState
	name  string
}{
	{NeighbourIncomplete, "INCOMPLETE"},
	{NeighbourReachable, "REACHABLE"},
	{NeighbourStale, "STALE"},
	{NeighbourDelay, "DELAY"},
	{NeighbourProbe, "PROBE"},
	{NeighbourFailed, "FAILED"},
	{NeighbourNoARP, "NOARP"},
	{NeighbourPermanent, "PERMANENT"},
}

// String names the state as `ip neigh` does ("REACHABLE", "FAILED"); bits
// the kernel may combine are joined with "|".
func (s NeighbourState) String() string {
	if s == NeighbourNone {
		return "NONE"
	}
	var names []string
	rest := s
	for _, n := range neighbourStateNames {
		if s&n.state != 0 {
			names = append(names, n.name)
			rest &^= n.state
		}
	}
	if rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint16(rest)))
	}
	return strings.Join(names, "|")
}

// Unresolved reports whether the kernel asked for the neighbour's link-layer
// address and no host answered: INCOMPLETE while it still asks, FAILED once
// it has given up. Packets to such a neighbour never leave the host; they
// wait in the entry's queue and are dropped when resolution fails.
func (s NeighbourState) Unresolved() bool {
	return s&(NeighbourIncomplete|NeighbourFailed) != 0
}

// ZoneIndex turns an IPv6 zone, an interface name or index, into an
// interface index. A name is looked up in the calling thread's network
// namespace.
func ZoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}
