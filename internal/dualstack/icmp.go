package dualstack

import (
	"fmt"
	"net/netip"
)

// ICMP is an ICMP or ICMPv6 error a router or the destination sent about a
// connect, as the kernel queued it on the socket (struct sock_extended_err).
type ICMP struct {
	// Family says which protocol Type and Code belong to: FamilyIPv4 for
	// ICMP, FamilyIPv6 for ICMPv6.
	Family Family
	// Type and Code are the message's type and code fields (ICMP 3/13 is
	// "communication administratively prohibited").
	Type, Code uint8
	// From is the address of the node that sent the message: the router
	// or host that rejected the packet. The zero Addr if the kernel did
	// not say.
	From netip.Addr
}

// ICMP types and codes that name a policy rejection. RFC 1812 section 5.2.7.1
// defines code 13; RFC 1122 section 3.2.2.1 codes 9 and 10 ("for use by
// end-to-end encryption devices used by U.S. military agencies", reused by
// firewalls such as iptables' --reject-with icmp-net-prohibited). RFC 4443
// section 3.1 defines the ICMPv6 codes.
const (
	icmpDestUnreachable   = 3
	icmpNetProhibited     = 9
	icmpHostProhibited    = 10
	icmpAdminProhibited   = 13
	icmp6DestUnreachable  = 1
	icmp6AdminProhibited  = 1
	icmp6PolicyFail       = 5
	icmp6RejectRoute      = 6
	icmpTimeExceeded      = 11
	icmp6TimeExceeded     = 3
	icmp6PacketTooBig     = 2
	icmp6ParameterProblem = 4
	icmpParameterProblem  = 12
	icmpSourceQuench      = 4
)

// Prohibited reports whether the message says a policy rejected the packet:
// ICMP 3/9, 3/10 or 3/13, or ICMPv6 1/1, 1/5 or 1/6.
func (m *ICMP) Prohibited() bool {
	switch m.Family {
	case FamilyIPv4:
		return m.Type == icmpDestUnreachable &&
			(m.Code == icmpNetProhibited || m.Code == icmpHostProhibited || m.Code == icmpAdminProhibited)
	case FamilyIPv6:
		return m.Type == icmp6DestUnreachable &&
			(m.Code == icmp6AdminProhibited || m.Code == icmp6PolicyFail || m.Code == icmp6RejectRoute)
	}
	return false
}

// icmpUnreachableNames are the destination unreachable codes of RFC 792,
// RFC 1122 section 3.2.2.1 and RFC 1812 section 5.2.7.1, worded as a
// responder would search for them.
var icmpUnreachableNames = [...]string{
	0:  "network unreachable",
	1:  "host unreachable",
	2:  "protocol unreachable",
	3:  "port unreachable",
	4:  "fragmentation needed",
	5:  "source route failed",
	6:  "destination network unknown",
	7:  "destination host unknown",
	8:  "source host isolated",
	9:  "network administratively prohibited",
	10: "host administratively prohibited",
	11: "network unreachable for TOS",
	12: "host unreachable for TOS",
	13: "administratively prohibited",
	14: "host precedence violation",
	15: "precedence cutoff in effect",
}

// icmp6UnreachableNames are the destination unreachable codes of RFC 4443
// section 3.1.
var icmp6UnreachableNames = [...]string{
	0: "no route to destination",
	1: "administratively prohibited",
	2: "beyond scope of source address",
	3: "address unreachable",
	4: "port unreachable",
	5: "source address failed ingress/egress policy",
	6: "reject route to destination",
}

// Name returns what the message says, such as "administratively
// prohibited", or "type 3 code 99" for a message it does not know.
func (m *ICMP) Name() string {
	switch {
	case m.Family == FamilyIPv4 && m.Type == icmpDestUnreachable && int(m.Code) < len(icmpUnreachableNames):
		return icmpUnreachableNames[m.Code]
	case m.Family == FamilyIPv4 && m.Type == icmpTimeExceeded:
		return "time exceeded"
	case m.Family == FamilyIPv4 && m.Type == icmpParameterProblem:
		return "parameter problem"
	case m.Family == FamilyIPv4 && m.Type == icmpSourceQuench:
		return "source quench"
	case m.Family == FamilyIPv6 && m.Type == icmp6DestUnreachable && int(m.Code) < len(icmp6UnreachableNames):
		return icmp6UnreachableNames[m.Code]
	case m.Family == FamilyIPv6 && m.Type == icmp6PacketTooBig:
		return "packet too big"
	case m.Family == FamilyIPv6 && m.Type == icmp6TimeExceeded:
		return "time exceeded"
	case m.Family == FamilyIPv6 && m.Type == icmp6ParameterProblem:
		return "parameter problem"
	}
	return fmt.Sprintf("type %d code %d", m.Type, m.Code)
}

// String reads "ICMP administratively prohibited from 192.0.2.254" (ICMPv6
// for IPv6).
func (m *ICMP) String() string {
	s := "ICMP " + m.Name()
	if m.Family == FamilyIPv6 {
		s = "ICMPv6 " + m.Name()
	}
	if m.From.IsValid() {
		s += " from " + m.From.String()
	}
	return s
}
