package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dial"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
)

// faultyDialer fails the connects to the addresses fails says with errno, as
// the kernel does when the prober's machine has run out of something, and
// makes the others with internal/dial.
type faultyDialer struct {
	errno syscall.Errno
	fails func(netip.AddrPort) bool
}

func (d faultyDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(address); err == nil && d.fails(ap) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", d.errno)}
	}
	return dial.Dialer{}.DialContext(ctx, network, address)
}

func always(netip.AddrPort) bool { return true }

// wantLocalFault checks that err is the prober's own fault for want of
// resource, and that no result came with it.
func wantLocalFault(t *testing.T, res Result, err error, resource dial.Resource) {
	t.Helper()
	var fault *dial.LocalFaultError
	if !errors.As(err, &fault) || fault.Resource != resource {
		t.Fatalf("got error %v and verdicts %+v, want the probe to fail as a local fault of %v", err, res.Families, resource)
	}
	if res.Families != nil || res.Attempts != nil {
		t.Errorf("got a partial result %+v with the fault, want none", res)
	}
}

// A probe whose connects find the prober's own machine out of ports, file
// descriptors or memory has measured nothing about the path: it fails as the
// prober's fault and names the resource. Issue 8: with the ephemeral ports
// used up, a healthy dual-stack target was judged LAYER_ROUTE, "there is no
// route to the endpoint", on both families.
func TestRunFailsOnLocalFault(t *testing.T) {
	port := loopbackService(t, false)
	tests := []struct {
		errno syscall.Errno
		want  dial.Resource
	}{
		{syscall.EADDRNOTAVAIL, dial.ResourceLocalPorts},
		{syscall.EMFILE, dial.ResourceFileDescriptors},
		{syscall.ENFILE, dial.ResourceSystemFileTable},
		{syscall.ENOBUFS, dial.ResourceKernelMemory},
		{syscall.ENOMEM, dial.ResourceKernelMemory},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			req := loopbackRequest(t, "svc.dsprobe.test", port)
			req.Dialer = faultyDialer{tt.errno, always}
			res, err := Run(t.Context(), req)
			wantLocalFault(t, res, err, tt.want)
		})
	}

	// The port range can run out in the middle of a probe: one attempt
	// meets the fault while the other connects and passes its check. The
	// probe still fails as a whole rather than judge IPv6 unreachable.
	t.Run("one attempt of two", func(t *testing.T) {
		req := loopbackRequest(t, "svc.dsprobe.test", port)
		req.Dialer = faultyDialer{syscall.EADDRNOTAVAIL, func(ap netip.AddrPort) bool { return ap.Addr().Is6() }}
		res, err := Run(t.Context(), req)
		wantLocalFault(t, res, err, dial.ResourceLocalPorts)
	})
}

// The prober's own race connects too: a local fault there fails the probe,
// even when the race found a winner on another address.
func TestRaceFailsOnLocalFault(t *testing.T) {
	port := loopbackService(t, false)
	tgt, err := target.Parse("svc.dsprobe.test:80")
	if err != nil {
		t.Fatal(err)
	}
	for name, fails := range map[string]func(netip.AddrPort) bool{
		"every attempt":  always,
		"the first only": func(ap netip.AddrPort) bool { return ap.Addr().Is6() },
	} {
		t.Run(name, func(t *testing.T) {
			req := Request{Target: tgt, Dialer: faultyDialer{syscall.EMFILE, fails}}
			req.Target.Port = port
			if err := req.Validate(); err != nil {
				t.Fatal(err)
			}
			var answers [3]*resolve.Answer
			answers[dualstack.FamilyIPv4] = &resolve.Answer{Family: dualstack.FamilyIPv4, Addresses: []netip.Addr{lo4}}
			answers[dualstack.FamilyIPv6] = &resolve.Answer{Family: dualstack.FamilyIPv6, Addresses: []netip.Addr{lo6}}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			// RFC 6724 sorts ::1 first, so the race tries IPv6 first.
			_, err := runRace(ctx, &req, answers, []netip.Addr{lo4, lo6}, func(a netip.Addr) he.Source { return he.Source{Addr: a} })
			var fault *dial.LocalFaultError
			if !errors.As(err, &fault) || fault.Resource != dial.ResourceFileDescriptors {
				t.Fatalf("got %v, want the race to fail as a local fault of %v", err, dial.ResourceFileDescriptors)
			}
		})
	}
}
