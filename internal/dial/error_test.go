package dial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
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
	v4 := func(typ, code uint8) *dualstack.ICMP {
		return &dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: typ, Code: code}
	}
	v6 := func(typ, code uint8) *dualstack.ICMP {
		return &dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: typ, Code: code}
	}
	tests := []struct {
		name  string
		errno syscall.Errno
		icmp  *dualstack.ICMP
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
				&dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 13, From: netip.MustParseAddr("192.0.2.254")}, nil),
			"connect 192.0.2.1:80: ICMP administratively prohibited from 192.0.2.254",
		},
		{
			newError(netip.MustParseAddrPort("[2001:db8::1]:443"), time.Now(), syscall.EACCES,
				&dualstack.ICMP{Family: dualstack.FamilyIPv6, Type: 1, Code: 5, From: netip.MustParseAddr("2001:db8::fe")}, nil),
			"connect [2001:db8::1]:443: ICMPv6 source address failed ingress/egress policy from 2001:db8::fe",
		},
		{
			newError(netip.MustParseAddrPort("192.0.2.1:80"), time.Now(), syscall.EHOSTUNREACH,
				&dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 99}, nil),
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

// The prober's own machine running out of something is never an Outcome of
// the path: exhausted ephemeral ports (EADDRNOTAVAIL) were once reported as
// LAYER_ROUTE "no route to the endpoint" on a healthy dual-stack target.
func TestLocalFault(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.1:80")
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		errno syscall.Errno
		want  Resource
		// remedy is a word of what the message tells the reader to do.
		remedy string
	}{
		{syscall.EADDRNOTAVAIL, ResourceLocalPorts, "net.ipv4.ip_local_port_range"},
		{syscall.EMFILE, ResourceFileDescriptors, "ulimit -n"},
		{syscall.ENFILE, ResourceSystemFileTable, "fs.file-max"},
		{syscall.ENOBUFS, ResourceKernelMemory, "memory"},
		{syscall.ENOMEM, ResourceKernelMemory, "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			// From Dial (connect's own return), from Dial's socket()
			// call, and from any other dialer (net.Dialer's *OpError).
			for _, err := range []error{
				newError(addr, time.Now(), tt.errno, nil, nil),
				newError(addr, time.Now(), tt.errno, nil, os.NewSyscallError("socket", tt.errno)),
				opErr(tt.errno),
			} {
				if got := dualstack.ClassifyDialError(err); got != dualstack.OutcomeUnspecified {
					t.Errorf("%v: got outcome %v, want none (a local fault says nothing of the path)", err, got)
				}
				fault := LocalFaultOf(err)
				if fault == nil {
					t.Fatalf("%v: got no local fault, want %v", err, tt.want)
				}
				if fault.Resource != tt.want || fault.Errno != tt.errno {
					t.Errorf("%v: got %v (%v), want %v (%v)", err, fault.Resource, fault.Errno, tt.want, tt.errno)
				}
				if !errors.Is(fault, tt.errno) {
					t.Errorf("%v: the fault does not unwrap to %v", err, tt.errno)
				}
				msg := fault.Error()
				if !strings.Contains(msg, tt.want.String()) || !strings.Contains(msg, tt.remedy) || !strings.Contains(msg, err.Error()) {
					t.Errorf("got %q, want it to name %q, the remedy (%q) and the connect's error", msg, tt.want, tt.remedy)
				}
				// A fault wrapped on its way up is still found, as itself.
				if again := LocalFaultOf(fmt.Errorf("probe: %w", fault)); again != fault {
					t.Errorf("got %v from the wrapped fault, want the fault itself", again)
				}
			}
		})
	}
	for _, err := range []error{
		nil,
		newError(addr, time.Now(), syscall.ECONNREFUSED, nil, nil),
		newError(addr, time.Now(), syscall.ENETUNREACH, nil, nil),
		newError(addr, time.Now(), syscall.EHOSTUNREACH, &dualstack.ICMP{Family: dualstack.FamilyIPv4, Type: 3, Code: 13}, nil),
		contextError(addr, time.Now(), context.DeadlineExceeded),
		opErr(syscall.ETIMEDOUT),
		errors.New("dial tcp: address svc.example: want an IP literal"),
	} {
		if fault := LocalFaultOf(err); fault != nil {
			t.Errorf("%v: got local fault %v, want none (the path's answer, or no errno)", err, fault)
		}
	}
}
