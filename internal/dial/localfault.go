package dial

import (
	"errors"
	"fmt"
	"syscall"
)

// Resource is something of the prober's own machine that a connect needs
// and can run out of. Running out of it is a fact about the prober, never
// about the path to the address, so it is no Outcome and no verdict.
type Resource uint8

const (
	// ResourceNone: the failure was not for want of a local resource.
	ResourceNone Resource = iota
	// ResourceLocalPorts: connect found no free local port for the
	// destination (EADDRNOTAVAIL). Each of the ephemeral range's ports is
	// held towards it, by open connections or by closed ones waiting out
	// TIME_WAIT; the range is net.ipv4.ip_local_port_range, per network
	// namespace, and governs IPv6 too. (connect also says EADDRNOTAVAIL
	// when the machine has no usable source address of the family.)
	ResourceLocalPorts
	// ResourceFileDescriptors: the process's open-file limit (EMFILE).
	ResourceFileDescriptors
	// ResourceSystemFileTable: the system-wide file table is full (ENFILE).
	ResourceSystemFileTable
	// ResourceKernelMemory: the kernel could not allocate the socket or
	// its buffers (ENOBUFS, ENOMEM).
	ResourceKernelMemory
)

// localResources is the errno table of local faults: the errnos of socket,
// setsockopt and connect that say the prober's machine ran out of
// something. dualstack.ClassifyDialError leaves them out of its table of
// outcomes on purpose.
var localResources = map[syscall.Errno]Resource{
	syscall.EADDRNOTAVAIL: ResourceLocalPorts,
	syscall.EMFILE:        ResourceFileDescriptors,
	syscall.ENFILE:        ResourceSystemFileTable,
	syscall.ENOBUFS:       ResourceKernelMemory,
	syscall.ENOMEM:        ResourceKernelMemory,
}

// resourceTexts says, per Resource, its name, how it runs out and what to
// do about it, in words a responder can act on.
var resourceTexts = [...]struct{ name, how, remedy string }{
	ResourceNone: {name: "no resource"},
	ResourceLocalPorts: {"local ports",
		"every port of the ephemeral range is held towards this address, by open connections or ones in TIME_WAIT",
		"widen net.ipv4.ip_local_port_range (it governs IPv6 too), close idle connections, or probe less often (with ports to spare, the same error means no usable source address of the family)"},
	ResourceFileDescriptors: {"file descriptors",
		"the process reached its open-file limit",
		"raise the limit (ulimit -n, systemd's LimitNOFILE, the container runtime's nofile) or run fewer probes at once"},
	ResourceSystemFileTable: {"system-wide file descriptors",
		"the number of files open on the machine reached fs.file-max",
		"raise fs.file-max or stop what holds the files"},
	ResourceKernelMemory: {"kernel memory",
		"the kernel could not allocate the socket or its buffers",
		"free memory or run fewer probes at once"},
}

// String names the resource: "local ports", "file descriptors", ...
func (r Resource) String() string {
	if int(r) < len(resourceTexts) {
		return resourceTexts[r].name
	}
	return fmt.Sprintf("Resource(%d)", uint8(r))
}

// LocalFaultError is a connect that failed because the prober's own machine
// ran out of a Resource. A probe that meets one has measured nothing about
// the path and must fail as the prober's fault, naming the resource, rather
// than report a verdict.
type LocalFaultError struct {
	// Resource is what ran out.
	Resource Resource
	// Errno is the kernel's error that said so.
	Errno syscall.Errno
	// Err is the failed connect's error, which Unwrap returns.
	Err error
}

// Error reads "this machine ran out of local ports: every port ... (connect
// 192.0.2.1:80: cannot assign requested address); widen ...": what ran out
// and how, the connect that found out, and what to do.
func (e *LocalFaultError) Error() string {
	msg := "this machine ran out of " + e.Resource.String()
	if e.Resource != ResourceNone && int(e.Resource) < len(resourceTexts) {
		t := resourceTexts[e.Resource]
		return fmt.Sprintf("%s: %s (%v); %s", msg, t.how, e.Err, t.remedy)
	}
	return fmt.Sprintf("%s (%v)", msg, e.Err)
}

// Unwrap returns Err, so errors.Is(err, syscall.EADDRNOTAVAIL) works.
func (e *LocalFaultError) Unwrap() error { return e.Err }

// LocalFaultOf returns the local fault err reports, or nil when err is not
// one: nil, an answer of the path (refused, unreachable, prohibited, a
// timeout), or an error without an errno. err may come from any dialer: a
// *Error from Dial, a *net.OpError from net.Dialer, or a *LocalFaultError
// already, wrapped or not.
func LocalFaultOf(err error) *LocalFaultError {
	if fault, ok := errors.AsType[*LocalFaultError](err); ok {
		return fault
	}
	errno, ok := errors.AsType[syscall.Errno](err)
	if !ok {
		return nil
	}
	resource, ok := localResources[errno]
	if !ok {
		return nil
	}
	return &LocalFaultError{Resource: resource, Errno: errno, Err: err}
}
