// Package localaddr asks the kernel which local source address it would use
// for each destination, as Go's net package does before it sorts a DNS
// answer: a UDP "connect" (which sends no packet) makes the kernel choose a
// route and a source address, and getsockname reports it. It adds what the
// kernel knows about those addresses and RFC 6724's rules look at —
// deprecated, temporary and home flags from /proc/net/if_inet6, whether the
// owning interface is a tunnel, the configured prefix length — and lists the
// host's own addresses. It also asks, over rtnetlink, which next hop the
// kernel hands a destination's packets to and whether that neighbour answers
// ARP or NDP (NextHopFor), the evidence that tells "no host on the link
// holds the address" from a drop on the path.
//
// It is the only package in dsprobe that does this I/O, so that
// internal/happyeyeballs stays pure: the sort and the simulator take the
// sources as data. Its functions are Linux-specific in what they read
// (/proc, /sys and rtnetlink); elsewhere the flags are simply absent and
// NextHopFor reports errors.ErrUnsupported.
//
// It must depend on nothing outside the standard library,
// golang.org/x/sys/unix, internal/happyeyeballs, internal/dualstack and
// internal/smallfile.
package localaddr
