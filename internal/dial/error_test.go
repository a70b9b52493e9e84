package dial

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Dialer must fit where the race engine takes a dialer.
var _ he.Dialer = Dialer{}

// Dial's *Error must be trusted by the race engine's classifier.
var _ dualstack.OutcomeError = (*Error)(nil)

func TestClassify(t *testing.T) {
	v4 := func(typ, code uint8) *ICMP { return &ICMP{Family: dualstack.FamilyIPv4, Type: typ, Code: code} }
	v6 := func(typ, code uint8) *ICMP { return &ICMP{Family: dualstack.FamilyIPv6, Type: typ, Code: code} }
	tests := []struct {
		name  string
		errno syscall.Errno
		icmp  *ICMP
		err   error
		want  dualstack.Outcome
	}{
		{"RST", syscall.ECONNREFUSED, nil, nil, dualstack.OutcomeRefused},
		{"SYN retries exhausted", syscall.ETIMEDOUT, nil, nil, dualstack.OutcomeTimeout},
		{"context deadline", 0, nil, context.DeadlineExceeded, dualstack.OutcomeTimeout},
		{"context canceled", 0, nil, context.Canceled, dualstack.OutcomeCanceled},
		{"no route, no ICMP", syscall.ENETUNREACH, nil, nil, dualstack.OutcomeUnreachable},
		{"neighbour discovery failed", syscall.EHOSTUNREACH, nil, nil, dualstack.OutcomeUnreachable},
		{"EHOSTDOWN", syscall.EHOSTDOWN, nil, nil, dualstack.OutcomeUnreachable},
		{"ENONET", syscall.ENONET, nil, nil, dualstack.OutcomeUnreachable},
		{"no IPv6 stack", syscall.EAFNOSUPPORT, nil, nil, dualstack.OutcomeUnreachable},
		{"local firewall", syscall.EPERM, nil, nil, dualstack.OutcomeProhibited},
		{"EACCES", syscall.EACCES, nil, nil, dualstack.OutcomeProhibited},
		{"reset", syscall.ECONNRESET, nil, nil, dualstack.OutcomeReset},
		{"out of descriptors", syscall.EMFILE, nil, nil, dualstack.OutcomeUnspecified},
		// Linux's icmp_err_convert folds these into EHOSTUNREACH or
		// ENETUNREACH; only the ICMP code tells the policy apart.
		{"ICMP 3/13 (RFC 1812)", syscall.EHOSTUNREACH, v4(3, 13), nil, dualstack.OutcomeProhibited},
		{"ICMP 3/9 (RFC 1122)", syscall.ENETUNREACH, v4(3, 9), nil, dualstack.OutcomeProhibited},
		{"ICMP 3/10 (RFC 1122)", syscall.EHOSTUNREACH, v4(3, 10), nil, dualstack.OutcomeProhibited},
		{"ICMP 3/1 host unreachable", syscall.EHOSTUNREACH, v4(3, 1), nil, dualstack.OutcomeUnreachable},
		{"ICMP 3/0 net unreachable", syscall.ENETUNREACH, v4(3, 0), nil, dualstack.OutcomeUnreachable},
		{"ICMP 3/3 port unreachable", syscall.ECONNREFUSED, v4(3, 3), nil, dualstack.OutcomeRefused},
		{"ICMP 11/0 TTL exceeded", syscall.EHOSTUNREACH, v4(11, 0), nil, dualstack.OutcomeUnreachable},
		// RFC 4443 section 3.1.
		{"ICMPv6 1/1", syscall.EACCES, v6(1, 1), nil, dualstack.OutcomeProhibited},
		{"ICMPv6 1/5", syscall.EACCES, v6(1, 5), nil, dualstack.OutcomeProhibited},
		{"ICMPv6 1/6", syscall.EACCES, v6(1, 6), nil, dualstack.OutcomeProhibited},
		{"ICMPv6 1/0 no route", syscall.ENETUNREACH, v6(1, 0), nil, dualstack.OutcomeUnreachable},
		{"ICMPv6 1/3 address unreachable", syscall.EHOSTUNREACH, v6(1, 3), nil, dualstack.OutcomeUnreachable},
		{"ICMPv6 1/4 port unreachable", syscall.ECONNREFUSED, v6(1, 4), nil, dualstack.OutcomeRefused},
		// A type/code pair means what it means only in its own family.
		{"ICMPv6 code 13 is not a policy code", syscall.EHOSTUNREACH, v6(1, 13), nil, dualstack.OutcomeUnreachable},
		{"ICMP 1/1 is not ICMPv6 1/1", syscall.EHOSTUNREACH, v4(1, 1), nil, dualstack.OutcomeUnreachable},
		// The socket's answer stands even if the caller gave up at the
		// same moment.
		{"refused as the context ended", syscall.ECONNREFUSED, nil, context.Canceled, dualstack.OutcomeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newError(netip.MustParseAddrPort("192.0.2.1:80"), time.Now(), tt.errno, tt.icmp, tt.err)
			if got := e.Outcome(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if got := dualstack.ClassifyDialError(e); got != tt.want && tt.want != dualstack.OutcomeUnspecified {
				t.Errorf("got %v from dualstack.ClassifyDialError, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{
			newError(netip.MustParseAddrPort("192.0.2.1:80"), time.Now(), syscall.EHOSTUNREACH,
				&ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 13, From: netip.MustParseAddr("192.0.2.254")}, nil),
			"connect 192.0.2.1:80: ICMP administratively prohibited from 192.0.2.254",
		},
		{
			newError(netip.MustParseAddrPort("[2001:db8::1]:443"), time.Now(), syscall.EACCES,
				&ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 5, From: netip.MustParseAddr("2001:db8::fe")}, nil),
			"connect [2001:db8::1]:443: ICMPv6 source address failed ingress/egress policy from 2001:db8::fe",
		},
		{
			newError(netip.MustParseAddrPort("192.0.2.1:80"), time.Now(), syscall.EHOSTUNREACH,
				&ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 99}, nil),
			"connect 192.0.2.1:80: ICMP type 3 code 99",
		},
		{
			newError(netip.MustParseAddrPort("192.0.2.1:80"), time.Now(), syscall.ECONNREFUSED, nil, nil),
			"connect 192.0.2.1:80: connection refused",
		},
		{
			&Error{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Err: context.DeadlineExceeded, Elapsed: 2 * time.Second, outcome: dualstack.OutcomeTimeout},
			"connect 192.0.2.1:80: no answer within 2s (context deadline exceeded)",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
