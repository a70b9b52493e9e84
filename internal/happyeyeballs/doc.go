// Package happyeyeballs predicts and performs the address choice a dual-stack
// client makes: RFC 6724 destination ordering (with the policy tables of the
// RFC, of glibc and of a gai.conf file), RFC 8305 connection racing, the
// built-in client profiles that describe real clients as data, and the
// simulator that replays a profile over measured outcomes on a virtual clock.
//
// The package is pure logic. It must not depend on the project's
// network-facing packages (DNS, probing, Kubernetes, telemetry): the clock and
// the dialer are injected, so the same race engine dials real sockets in the
// prober and runs instantly on a virtual clock in the simulator. Asking the
// kernel for source addresses lives in internal/localaddr for the same reason.
// It names families and outcomes with internal/dualstack and reads a gai.conf
// through internal/smallfile.
//
// It must depend on nothing outside the standard library, internal/dualstack
// and internal/smallfile.
package happyeyeballs
