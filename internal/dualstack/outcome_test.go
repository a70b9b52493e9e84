package dualstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

type knownOutcome struct{ o Outcome }

func (k knownOutcome) Error() string    { return "known" }
func (k knownOutcome) Outcome() Outcome { return k.o }

func TestClassifyDialError(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		err  error
		want Outcome
	}{
		{nil, OutcomeConnected},
		{opErr(syscall.ECONNREFUSED), OutcomeRefused},
		{opErr(syscall.ETIMEDOUT), OutcomeTimeout},
		{opErr(syscall.ENETUNREACH), OutcomeUnreachable},
		{opErr(syscall.EHOSTUNREACH), OutcomeUnreachable},
		{opErr(errnoNoNetwork), OutcomeUnreachable},
		{opErr(syscall.EHOSTDOWN), OutcomeUnreachable},
		{opErr(syscall.EACCES), OutcomeProhibited},
		{opErr(syscall.EPERM), OutcomeProhibited},
		{opErr(syscall.ECONNRESET), OutcomeReset},
		{context.DeadlineExceeded, OutcomeTimeout},
		{os.ErrDeadlineExceeded, OutcomeTimeout},
		{context.Canceled, OutcomeCanceled},
		{fmt.Errorf("wrapped: %w", knownOutcome{OutcomeProhibited}), OutcomeProhibited},
		// An ICMP-aware error outranks the errno it wraps.
		{fmt.Errorf("%w: %w", knownOutcome{OutcomeProhibited}, opErr(syscall.EHOSTUNREACH)), OutcomeProhibited},
		{fmt.Errorf("something else"), OutcomeUnspecified},
		// The prober's own machine ran out of something (ports, file
		// descriptors, buffers): a fact about the prober, not an outcome
		// of the path. EADDRNOTAVAIL was once taken for unreachable,
		// which turned exhausted ephemeral ports into LAYER_ROUTE.
		{opErr(syscall.EADDRNOTAVAIL), OutcomeUnspecified},
		{opErr(syscall.EMFILE), OutcomeUnspecified},
		{opErr(syscall.ENFILE), OutcomeUnspecified},
		{opErr(syscall.ENOBUFS), OutcomeUnspecified},
		{opErr(syscall.ENOMEM), OutcomeUnspecified},
	}
	for _, tt := range tests {
		if got := ClassifyDialError(tt.err); got != tt.want {
			t.Errorf("ClassifyDialError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
