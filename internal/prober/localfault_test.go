package prober

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dsprobe/dsprobe/internal/dial"
)

// The prober's own machine out of ports, descriptors or memory is the
// prober's fault: RESOURCE_EXHAUSTED, with the message naming what ran out,
// so a coordinator records it as that prober's error, never as a verdict.
func TestStatusOfLocalFault(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EADDRNOTAVAIL, syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		fault := dial.LocalFaultOf(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
		st := status.Convert(statusOf(fmt.Errorf("probing svc.example:80: %w", fault)))
		if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), fault.Resource.String()) {
			t.Errorf("%v: got %v %q, want ResourceExhausted naming %q", errno, st.Code(), st.Message(), fault.Resource)
		}
	}
}
