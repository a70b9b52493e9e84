package dualstack

import (
	"fmt"
	"net/netip"
)

// Family is an IP address family. The zero value, FamilyUnspecified, means
// "no family": an address that is not valid, or a client that never connected.
type Family uint8

const (
	FamilyUnspecified Family = iota
	FamilyIPv4
	FamilyIPv6
)

// FamilyOf returns the family of addr. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is IPv4: that is the family the packets use.
func FamilyOf(addr netip.Addr) Family {
	switch {
	case !addr.IsValid():
		return FamilyUnspecified
	case addr.Unmap().Is4():
		return FamilyIPv4
	default:
		return FamilyIPv6
	}
}

// Other returns the other family of a dual-stack pair; FamilyUnspecified for
// FamilyUnspecified.
func (f Family) Other() Family {
	switch f {
	case FamilyIPv4:
		return FamilyIPv6
	case FamilyIPv6:
		return FamilyIPv4
	default:
		return FamilyUnspecified
	}
}

// String returns "ipv4", "ipv6" or "none", the values of the span attributes
// network.type and dsprobe.chosen_family.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	case FamilyUnspecified:
		return "none"
	default:
		return fmt.Sprintf("Family(%d)", uint8(f))
	}
}

// Label returns "IPv4", "IPv6" or "none": the family as people write it, in
// tables and sentences.
func (f Family) Label() string {
	switch f {
	case FamilyIPv4:
		return "IPv4"
	case FamilyIPv6:
		return "IPv6"
	case FamilyUnspecified:
		return "none"
	default:
		return fmt.Sprintf("Family(%d)", uint8(f))
	}
}

// QueryType returns the DNS query type that asks for the family's
// addresses: "A" or "AAAA" ("" for FamilyUnspecified).
func (f Family) QueryType() string {
	switch f {
	case FamilyIPv4:
		return "A"
	case FamilyIPv6:
		return "AAAA"
	}
	return ""
}

// NeighbourDiscovery returns the protocol that finds a neighbour's
// link-layer address on the link: "ARP" (RFC 826) for IPv4, "NDP" (RFC 4861)
// for IPv6 ("" for FamilyUnspecified).
func (f Family) NeighbourDiscovery() string {
	switch f {
	case FamilyIPv4:
		return "ARP"
	case FamilyIPv6:
		return "NDP"
	}
	return ""
}

// ParseFamily parses "ipv4"/"4" or "ipv6"/"6".
func ParseFamily(s string) (Family, error) {
	switch s {
	case "ipv4", "4", "inet":
		return FamilyIPv4, nil
	case "ipv6", "6", "inet6":
		return FamilyIPv6, nil
	}
	return FamilyUnspecified, fmt.Errorf("unknown address family %q (want ipv4 or ipv6)", s)
}
