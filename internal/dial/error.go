package dial

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/localaddr"
)

// Error is why a connect failed. Dial returns only *Error values for failed
// connects, so callers can branch on the Outcome and read the ICMP evidence
// with errors.As.
type Error struct {
	// Addr is the address Dial connected to.
	Addr netip.AddrPort
	// Errno is the socket error the connect ended with (SO_ERROR, or
	// connect's own return); zero when the context ended the attempt
	// first.
	Errno syscall.Errno
	// ICMP is the ICMP error the socket's error queue held when the connect
	// failed; nil when none arrived (a reset, a local route failure, a
	// silent drop) or the platform cannot say.
	ICMP *ICMP
	// UnresolvedNextHop is the next hop toward Addr (Addr itself when
	// on-link, else the route's gateway) when no host on the link answers
	// neighbour discovery (ARP, NDP) for it, so the SYN never left this
	// host; nil otherwise, and always nil where the platform cannot say.
	UnresolvedNextHop *localaddr.NextHop
	// Err is the underlying error that Unwrap returns: Errno, or the
	// context's error (context.DeadlineExceeded, context.Canceled), or the
	// failure of a system call that is not about the path (out of file
	// descriptors, say).
	Err error
	// Elapsed is how long the attempt ran before it failed.
	Elapsed time.Duration

	// outcome is unexported because Outcome is the method that
	// dualstack.OutcomeError requires, and a field cannot share its
	// name.
	outcome dualstack.Outcome
}

// Outcome returns how the attempt ended: OutcomeRefused, OutcomeTimeout,
// OutcomeUnreachable, OutcomeProhibited, OutcomeReset or OutcomeCanceled,
// or OutcomeUnspecified for a failure that says nothing about the path
// (bad input, no file descriptors left).
func (e *Error) Outcome() dualstack.Outcome { return e.outcome }

// Error reads "connect 192.0.2.1:80: ICMP administratively prohibited from
// 192.0.2.254": the address, then the most specific evidence there is.
func (e *Error) Error() string {
	var cause string
	switch {
	case e.UnresolvedNextHop != nil:
		// Before the ICMP: the one the kernel queues here is its own,
		// sent from this host, and names no one who answered.
		cause = unansweredNeighbour(e.UnresolvedNextHop, e.Elapsed)
	case e.ICMP != nil:
		cause = e.ICMP.String()
	case e.outcome == dualstack.OutcomeTimeout && e.Errno == 0:
		// The budget ran out, so the packets (or their answers) were
		// probably dropped silently; say how long was waited.
		cause = fmt.Sprintf("no answer within %v (%v)", e.Elapsed.Round(time.Millisecond), e.Err)
	case e.outcome == dualstack.OutcomeCanceled:
		cause = fmt.Sprintf("abandoned after %v (%v)", e.Elapsed.Round(time.Millisecond), e.Err)
	case e.Err != nil:
		cause = e.Err.Error()
	default:
		cause = e.outcome.String()
	}
	return "connect " + e.Addr.String() + ": " + cause
}

// unansweredNeighbour reads "no host answers ARP for 192.0.2.7 on eth0
// (neighbour INCOMPLETE after 1s)", adding ", the route's gateway" after the
// link for a gateway.
func unansweredNeighbour(hop *localaddr.NextHop, elapsed time.Duration) string {
	role := ""
	if hop.Gateway {
		role = ", the route's gateway"
	}
	return fmt.Sprintf("no host answers %s for %v on %s%s (neighbour %v after %v)",
		dualstack.FamilyOf(hop.Addr).NeighbourDiscovery(), hop.Addr, hop.Interface, role, hop.State, elapsed.Round(time.Millisecond))
}

// Unwrap returns Err, so errors.Is(err, syscall.ECONNREFUSED) and
// errors.Is(err, context.DeadlineExceeded) work.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the attempt ran out of time, as net.Error's
// Timeout does, so code written for the net package's errors reads it right.
func (e *Error) Timeout() bool { return e.outcome == dualstack.OutcomeTimeout }

// ICMP is an ICMP or ICMPv6 error a router or the destination sent about a
// connect, as the kernel queued it on the socket (struct sock_extended_err).
type ICMP struct {
	// Family says which protocol Type and Code belong to: FamilyIPv4 for
	// ICMP, FamilyIPv6 for ICMPv6.
	Family dualstack.Family
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
	case dualstack.FamilyIPv4:
		return m.Type == icmpDestUnreachable &&
			(m.Code == icmpNetProhibited || m.Code == icmpHostProhibited || m.Code == icmpAdminProhibited)
	case dualstack.FamilyIPv6:
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
	case m.Family == dualstack.FamilyIPv4 && m.Type == icmpDestUnreachable && int(m.Code) < len(icmpUnreachableNames):
		return icmpUnreachableNames[m.Code]
	case m.Family == dualstack.FamilyIPv4 && m.Type == icmpTimeExceeded:
		return "time exceeded"
	case m.Family == dualstack.FamilyIPv4 && m.Type == icmpParameterProblem:
		return "parameter problem"
	case m.Family == dualstack.FamilyIPv4 && m.Type == icmpSourceQuench:
		return "source quench"
	case m.Family == dualstack.FamilyIPv6 && m.Type == icmp6DestUnreachable && int(m.Code) < len(icmp6UnreachableNames):
		return icmp6UnreachableNames[m.Code]
	case m.Family == dualstack.FamilyIPv6 && m.Type == icmp6PacketTooBig:
		return "packet too big"
	case m.Family == dualstack.FamilyIPv6 && m.Type == icmp6TimeExceeded:
		return "time exceeded"
	case m.Family == dualstack.FamilyIPv6 && m.Type == icmp6ParameterProblem:
		return "parameter problem"
	}
	return fmt.Sprintf("type %d code %d", m.Type, m.Code)
}

// String reads "ICMP administratively prohibited from 192.0.2.254" (ICMPv6
// for IPv6).
func (m *ICMP) String() string {
	s := "ICMP " + m.Name()
	if m.Family == dualstack.FamilyIPv6 {
		s = "ICMPv6 " + m.Name()
	}
	if m.From.IsValid() {
		s += " from " + m.From.String()
	}
	return s
}

// classify decides the Outcome of a failed connect from the evidence, the
// most specific first: the context when it ended the attempt before the
// socket had an answer, then an ICMP policy rejection (which the errno hides
// over IPv4), then the errno.
func classify(errno syscall.Errno, icmp *ICMP, err error) dualstack.Outcome {
	switch {
	case errno == 0 && errors.Is(err, context.Canceled):
		return dualstack.OutcomeCanceled
	case errno == 0 && errors.Is(err, context.DeadlineExceeded):
		return dualstack.OutcomeTimeout
	case icmp != nil && icmp.Prohibited():
		return dualstack.OutcomeProhibited
	case errno == syscall.EAFNOSUPPORT:
		// The kernel has no stack for the family (IPv6 disabled at boot):
		// for this host the family has no route at all.
		return dualstack.OutcomeUnreachable
	case errno != 0:
		// The errno table (ECONNREFUSED, EHOSTUNREACH, EACCES, ...) is
		// happyeyeballs', kept in one place.
		return dualstack.ClassifyDialError(errno)
	}
	return dualstack.OutcomeUnspecified
}

// newError builds the *Error for a failed connect to addr that started at
// start.
func newError(addr netip.AddrPort, start time.Time, errno syscall.Errno, icmp *ICMP, err error) *Error {
	if err == nil && errno != 0 {
		err = errno
	}
	return &Error{
		Addr:    addr,
		Errno:   errno,
		ICMP:    icmp,
		Err:     err,
		Elapsed: time.Since(start),
		outcome: classify(errno, icmp, err),
	}
}

// contextError is the *Error for an attempt the context ended before the
// socket had an answer.
func contextError(addr netip.AddrPort, start time.Time, ctxErr error) *Error {
	return newError(addr, start, 0, nil, ctxErr)
}
