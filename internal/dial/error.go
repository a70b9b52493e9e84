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
	ICMP *dualstack.ICMP
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

// classify decides the Outcome of a failed connect from the evidence, the
// most specific first: the context when it ended the attempt before the
// socket had an answer, then an ICMP policy rejection (which the errno hides
// over IPv4), then the errno.
func classify(errno syscall.Errno, icmp *dualstack.ICMP, err error) dualstack.Outcome {
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
func newError(addr netip.AddrPort, start time.Time, errno syscall.Errno, icmp *dualstack.ICMP, err error) *Error {
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
