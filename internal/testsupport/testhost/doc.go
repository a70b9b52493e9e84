// Package testhost builds small network labs for the network test tier: Linux
// network namespaces ("hosts") joined by veth pairs to a bridge, each with one
// IPv4 and one IPv6 address, plus the faults the probe must classify (silent
// drops, ICMP rejects, TCP resets, missing routes) made with nftables and ip.
//
// A lab is isolated from the machine it runs on: the bridge lives in a
// namespace of its own and both ends of every veth pair are created inside the
// lab's namespaces, so nothing appears in, or routes through, the root
// namespace. Labs of concurrent tests and test processes therefore never share
// a link and may use the same addresses. Everything a lab makes is deleted by
// t.Cleanup; namespaces left behind by a test process that died before its
// cleanups ran are deleted by the next New on the machine.
//
// Addresses come from documentation ranges: 192.0.2.0/24 and 2001:db8::/64.
// The IPv6 default is global-scope space on purpose: RFC 6724's default policy
// table ranks ULA (fc00::/7) below IPv4, so tests that need an IPv6-preferred
// path must not use ULA. Tests about ULA choose fd00::/64 with WithIPv6Prefix.
//
// The package needs root and the ip (iproute2) and nft (nftables) binaries.
// Without them New skips the test, or fails it when CI is true. It depends on
// nothing of the project's, only on the standard library, x/sys/unix and
// those two binaries.
//
// It is test support: only tests and other test support may import it.
// It must depend on nothing outside the standard library and
// golang.org/x/sys/unix.
package testhost
