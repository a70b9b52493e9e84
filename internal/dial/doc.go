// Package dial makes one TCP connect to one address and says exactly how it
// ended: connected, refused, timed out, unreachable, administratively
// prohibited, reset or canceled.
//
// net.Dialer cannot tell those apart. Linux folds ICMPv4 "communication
// administratively prohibited" (type 3 code 13, and the older codes 9 and 10)
// into EHOSTUNREACH, the errno of a plain host unreachable, so a firewall or a
// NetworkPolicy that rejects looks like a route failure. Dial turns on
// IP_RECVERR / IPV6_RECVERR and, when the connect fails, reads the socket's
// error queue for the ICMP type, code and the address of the router (or
// host) that sent it. The result is an *Error that satisfies
// dualstack.OutcomeError, so dualstack.ClassifyDialError trusts the
// ICMP evidence over the errno.
//
// A connect can also fail because the prober's own machine ran out of
// something: local ports (EADDRNOTAVAIL), file descriptors (EMFILE, ENFILE),
// kernel memory (ENOBUFS, ENOMEM). That is no Outcome of the path;
// LocalFaultOf recognises it in any dialer's error and names the Resource, so
// the probe fails as the prober's fault instead of reporting a verdict. Dial's
// own connections reset when they are closed, so a prober that connects to one
// address over and over does not use up its ports in TIME_WAIT.
//
// Dial creates its socket on the calling goroutine's thread, so a caller on a
// thread inside another network namespace (a test host's Do) connects from
// that namespace.
//
// A connect can also fail before any packet leaves the host: when no host on
// the link answers ARP or NDP for the next hop, the SYN waits for an answer
// that never comes. Dial then asks the kernel for the next hop's neighbour
// entry (internal/localaddr) and reports the attempt unreachable with that
// next hop as its evidence, whether the kernel gave up first or the
// attempt's deadline did.
//
// The ICMP and neighbour evidence needs Linux; elsewhere Dial falls back to
// net.Dialer and classifies by errno.
//
// Through localaddr it reaches the pure internal/happyeyeballs, whose Source
// type localaddr fills.
//
// It must depend on nothing outside the standard library,
// golang.org/x/sys/unix, internal/dualstack, internal/localaddr,
// internal/happyeyeballs and internal/smallfile.
package dial
