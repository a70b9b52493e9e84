package dualstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Outcome is how one connection attempt ended. The names mirror the API's
// Outcome enum (OUTCOME_CONNECTED, ...).
type Outcome uint8

const (
	OutcomeUnspecified Outcome = iota
	// OutcomeConnected: the TCP handshake completed.
	OutcomeConnected
	// OutcomeRefused: the peer answered with a RST (nothing listens).
	OutcomeRefused
	// OutcomeTimeout: no answer before the attempt's budget ran out
	// (a silent drop, or the OS SYN retries exhausted).
	OutcomeTimeout
	// OutcomeUnreachable: no route, or ICMP host/net unreachable.
	OutcomeUnreachable
	// OutcomeProhibited: ICMP administratively prohibited, or a local
	// firewall refused the packet (EACCES/EPERM).
	OutcomeProhibited
	// OutcomeReset: the connection was reset after it was accepted.
	OutcomeReset
	// OutcomeAppFailed: TCP connected but the application check failed.
	OutcomeAppFailed
	// OutcomeCanceled: the attempt lost the race and was abandoned.
	OutcomeCanceled
	// OutcomeNotAttempted: the address was known but never tried.
	OutcomeNotAttempted
)

var outcomeNames = [...]string{
	OutcomeUnspecified:  "unspecified",
	OutcomeConnected:    "connected",
	OutcomeRefused:      "refused",
	OutcomeTimeout:      "timeout",
	OutcomeUnreachable:  "unreachable",
	OutcomeProhibited:   "prohibited",
	OutcomeReset:        "reset",
	OutcomeAppFailed:    "app_failed",
	OutcomeCanceled:     "canceled",
	OutcomeNotAttempted: "not_attempted",
}

// String returns the lower-case name used on the command line and in tables
// ("connected", "refused", ...).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// ParseOutcome is the inverse of Outcome.String.
func ParseOutcome(s string) (Outcome, error) {
	for o, name := range outcomeNames {
		if name == s && Outcome(o) != OutcomeUnspecified {
			return Outcome(o), nil
		}
	}
	return OutcomeUnspecified, fmt.Errorf("unknown outcome %q", s)
}

// Failed reports whether the attempt ended without a usable connection for a
// reason of the path (not because the client abandoned it).
func (o Outcome) Failed() bool {
	switch o {
	case OutcomeRefused, OutcomeTimeout, OutcomeUnreachable, OutcomeProhibited, OutcomeReset, OutcomeAppFailed:
		return true
	}
	return false
}

// OutcomeError is an error that knows the Outcome it stands for, such as a
// dialer's error that read the ICMP type and code from the socket's error
// queue. ClassifyDialError trusts it over the errno.
type OutcomeError interface {
	error
	Outcome() Outcome
}

// ClassifyDialError maps the error of a connect to an Outcome. A nil error is
// OutcomeConnected. Errors that carry no socket errno and are not a deadline
// are OutcomeUnspecified, so the caller keeps the error text as the cause.
//
// So are the errnos that say the connecting machine ran out of something of
// its own (EADDRNOTAVAIL: no free local port; EMFILE, ENFILE: file
// descriptors; ENOBUFS, ENOMEM: kernel memory): they are facts about the
// prober, not outcomes of the path, and internal/dial names them.
func ClassifyDialError(err error) Outcome {
	var errno syscall.Errno
	var known OutcomeError
	switch {
	case err == nil:
		return OutcomeConnected
	case errors.As(err, &known) && known.Outcome() != OutcomeUnspecified:
		return known.Outcome()
	case errors.As(err, &errno):
		switch errno {
		case syscall.ECONNREFUSED:
			return OutcomeRefused
		case syscall.ETIMEDOUT:
			return OutcomeTimeout
		case syscall.ENETUNREACH, syscall.EHOSTUNREACH, errnoNoNetwork, syscall.EHOSTDOWN:
			// Linux folds ICMPv4 "communication administratively
			// prohibited" into EHOSTUNREACH too; telling it apart needs
			// the ICMP type and code from the socket's error queue
			// (IP_RECVERR), which is the prober's job, not this one's.
			return OutcomeUnreachable
		case syscall.EACCES, syscall.EPERM:
			// ICMPv6 administratively prohibited, policy failure and
			// reject route arrive as EACCES; a local netfilter drop of
			// the SYN is EPERM.
			return OutcomeProhibited
		case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE:
			return OutcomeReset
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeUnspecified
}
