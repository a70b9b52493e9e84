package testhost

import (
	"fmt"
	"net/netip"
	"strings"
)

// faultTable is the nftables table, in a host's own ruleset, that holds the
// faults injected into that host. Its input chain sees packets addressed to
// the host. Faults go on the receiver's input path on purpose: a drop on a
// sender's output path makes connect fail at once with EPERM, which no real
// network does.
const faultTable = "dsprobe_fault"

// Reject says how a host answers the packets RejectInbound rejects, and so
// which error the sender's connect returns. The zero value is invalid.
type Reject int

const (
	// RejectAdminProhibited answers with ICMP "administratively prohibited"
	// (nft: reject with icmpx type admin-prohibited), what a firewall or
	// NetworkPolicy sends: IPv4 type 3 code 13, IPv6 type 1 code 1. Linux
	// fails the connect with EHOSTUNREACH over IPv4 and EACCES over IPv6.
	RejectAdminProhibited Reject = iota + 1
	// RejectTCPReset answers TCP with a reset, like a port nobody listens on
	// (nft: reject with tcp reset): ECONNREFUSED. It matches TCP only.
	RejectTCPReset
	// RejectHostUnreachable answers with ICMP host unreachable (IPv4 type 3
	// code 1, IPv6 type 1 code 3 address unreachable): EHOSTUNREACH.
	RejectHostUnreachable
	// RejectPortUnreachable answers with ICMP port unreachable: ECONNREFUSED.
	RejectPortUnreachable
	// RejectNoRoute answers with ICMP network unreachable (IPv4 type 3 code 0,
	// IPv6 type 1 code 0 no route): ENETUNREACH, as a router without a route
	// would.
	RejectNoRoute
)

// String returns the nft name of the reject.
func (r Reject) String() string {
	switch r {
	case RejectAdminProhibited:
		return "admin-prohibited"
	case RejectTCPReset:
		return "tcp-reset"
	case RejectHostUnreachable:
		return "host-unreachable"
	case RejectPortUnreachable:
		return "port-unreachable"
	case RejectNoRoute:
		return "no-route"
	}
	return fmt.Sprintf("Reject(%d)", int(r))
}

// DropInbound makes the host silently drop packets to dst: TCP and UDP to
// dst's port, or, if the port is 0, everything to dst's address except IPv6
// neighbour discovery (so the link stays up, as with IPv4, whose ARP nftables'
// inet family never sees). A connect to dst then times out.
func (h *Host) DropInbound(dst netip.AddrPort) error {
	rules, err := faultRules(dst, "drop", false)
	if err != nil {
		return err
	}
	return h.addFault(rules)
}

// RejectInbound makes the host reject packets to dst the way how says, with
// dst matched as by DropInbound.
//
// Over IPv6 an ICMP reject (every Reject but RejectTCPReset) fails the
// connect only after about 1 s, the first SYN retransmission. In the lab, the
// SYN's trip through veth and bridge, the reject and the ICMPv6 error's trip
// back all run synchronously inside the client's connect(), while it holds
// the socket lock, so tcp_v6_err may only record a soft error (nstat:
// TcpExtLockDroppedIcmps), and an IPv6 socket without IPV6_RECVERR is not
// woken for it; the retransmitted SYN, sent from a timer, gets the error
// delivered. IPv4 is not affected: tcp_v4_err queues the error on the socket
// whatever IP_RECVERR says, so poll reports POLLERR and SO_ERROR returns the
// soft error at once. The same holds between Pods on one node's veths; across
// a real network the error arrives after connect() has returned and is
// reported at once in both families. Tests assert the errno, not the time.
func (h *Host) RejectInbound(dst netip.AddrPort, how Reject) error {
	var verdict string
	tcpOnly := false
	switch how {
	case RejectAdminProhibited, RejectHostUnreachable, RejectPortUnreachable, RejectNoRoute:
		verdict = "reject with icmpx type " + how.String()
	case RejectTCPReset:
		verdict, tcpOnly = "reject with tcp reset", true
	default:
		return fmt.Errorf("testhost: RejectInbound: unknown %v", how)
	}
	rules, err := faultRules(dst, verdict, tcpOnly)
	if err != nil {
		return err
	}
	return h.addFault(rules)
}

// ClearFaults removes every fault DropInbound and RejectInbound added to the
// host. Routes changed with DelRoute and AddRoute stay as they are.
func (h *Host) ClearFaults() error {
	// Adding first makes the delete succeed when there is no table yet.
	_, err := h.nft("add table inet " + faultTable + "\ndelete table inet " + faultTable + "\n")
	return err
}

// addFault appends rules to the host's fault chain, creating the table and
// chain on first use, in one nft transaction.
func (h *Host) addFault(rules []string) error {
	script := "add table inet " + faultTable + "\n" +
		"add chain inet " + faultTable + " input { type filter hook input priority filter; policy accept; }\n"
	for _, r := range rules {
		script += "add rule inet " + faultTable + " input " + r + "\n"
	}
	_, err := h.nft(script)
	return err
}

// nft runs an nft script inside the host.
func (h *Host) nft(script string) (string, error) {
	return h.lab.run(script, "ip", "netns", "exec", h.netns, "nft", "-f", "-")
}

// faultRules returns the nft rules (after "add rule TABLE CHAIN") that apply
// verdict to packets addressed to dst.
func faultRules(dst netip.AddrPort, verdict string, tcpOnly bool) ([]string, error) {
	addr := dst.Addr().Unmap()
	var match string
	switch {
	case addr.Is4():
		match = "ip daddr " + addr.String()
	case addr.Is6():
		match = "ip6 daddr " + addr.String()
	default:
		return nil, fmt.Errorf("testhost: fault on %v: no address", dst)
	}
	var rules []string
	switch {
	case dst.Port() != 0 && tcpOnly:
		match += fmt.Sprintf(" tcp dport %d", dst.Port())
	case dst.Port() != 0:
		match += fmt.Sprintf(" meta l4proto { tcp, udp } th dport %d", dst.Port())
	case tcpOnly:
		match += " meta l4proto tcp"
	case addr.Is6():
		rules = append(rules, "ip6 daddr "+addr.String()+" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept")
	}
	return append(rules, strings.TrimSpace(match+" "+verdict)), nil
}

// DelRoute deletes the host's route to prefix, for example the lab's on-link
// IPv6 route (Lab.Prefix6), after which connects to that family fail with
// ENETUNREACH.
func (h *Host) DelRoute(prefix netip.Prefix) error {
	if err := checkRoutePrefix(prefix); err != nil {
		return err
	}
	_, err := h.lab.run("", "ip", "-n", h.netns, "route", "del", prefix.String())
	return err
}

// AddRoute adds a route to prefix through the gateway via or, if via is the
// zero Addr, on-link through the host's lab interface, which restores a route
// deleted with DelRoute.
func (h *Host) AddRoute(prefix netip.Prefix, via netip.Addr) error {
	if err := checkRoutePrefix(prefix); err != nil {
		return err
	}
	args := []string{"-n", h.netns, "route", "add", prefix.String()}
	if via.IsValid() {
		args = append(args, "via", via.String())
	}
	args = append(args, "dev", hostInterface)
	_, err := h.lab.run("", "ip", args...)
	return err
}

func checkRoutePrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("testhost: route prefix %v is invalid", p)
	}
	if p != p.Masked() {
		return fmt.Errorf("testhost: route prefix %v has host bits set (want %v)", p, p.Masked())
	}
	return nil
}
