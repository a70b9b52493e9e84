//go:build linux

package localaddr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NextHopFor asks the kernel which next hop it would send dst's packets to
// and what its neighbour cache knows of that host, over rtnetlink: the
// route lookup a connect makes (RTM_GETROUTE, so policy routing and the
// caller's uid count as they would for the connect), then the next hop's
// neighbour entry (RTM_GETNEIGH for one entry, which Linux answers since
// 5.0). An IPv6 destination's zone picks the outgoing interface, as it
// does for a connect.
//
// It asks from the calling thread's network namespace, as Dial connects
// from it. Nothing is sent to the network, and the neighbour cache is left
// as it is: a destination never tried has no entry (NeighbourNone).
//
// The error says why there is no next hop to report: no route, a route of
// another kind (local, blackhole, unreachable), or a kernel that cannot
// answer.
func NextHopFor(dst netip.Addr) (NextHop, error) {
	dst = dst.Unmap()
	if !dst.IsValid() || dst.IsUnspecified() {
		return NextHop{}, fmt.Errorf("next hop for %v: not a destination address", dst)
	}
	var oif uint32
	if zone := dst.Zone(); zone != "" {
		index, err := ZoneIndex(zone)
		if err != nil {
			return NextHop{}, fmt.Errorf("next hop for %v: %w", dst, err)
		}
		oif = index
	}
	nl, err := openRouteSocket()
	if err != nil {
		return NextHop{}, fmt.Errorf("next hop for %v: %w", dst, err)
	}
	defer nl.close()

	m, err := nl.ask(routeRequest(dst.WithZone(""), oif))
	if err != nil {
		return NextHop{}, fmt.Errorf("next hop for %v: route lookup: %w", dst, err)
	}
	hop, oif, err := parseRoute(m, dst.WithZone(""))
	if err != nil {
		return NextHop{}, fmt.Errorf("next hop for %v: %w", dst, err)
	}
	hop.Interface = strconv.FormatUint(uint64(oif), 10)
	if ifi, err := net.InterfaceByIndex(int(oif)); err == nil {
		hop.Interface = ifi.Name
		hop.GiveUp = neighbourGiveUp(hop.Addr, ifi.Name)
	}

	m, err = nl.ask(neighbourRequest(hop.Addr, oif))
	switch {
	case errors.Is(err, unix.ENOENT):
		// No entry: nothing has been sent to the next hop lately.
		hop.State = NeighbourNone
	case err != nil:
		return NextHop{}, fmt.Errorf("next hop for %v: neighbour %v on %s: %w", dst, hop.Addr, hop.Interface, err)
	default:
		if hop.State, err = parseNeighbour(m); err != nil {
			return NextHop{}, fmt.Errorf("next hop for %v: neighbour %v on %s: %w", dst, hop.Addr, hop.Interface, err)
		}
	}
	return hop, nil
}

// procSysNet is where the kernel shows the calling thread's network
// namespace's parameters; tests point it at fixtures.
var procSysNet = "/proc/sys/net"

// neighbourGiveUp reads how long the kernel solicits a new neighbour of
// addr's family on interface dev before it fails the packets waiting for
// it: mcast_solicit multicast and app_solicit user-space solicitations,
// retrans_time_ms apart, and it gives up one interval after the last
// (neigh_timer_handler: 3 x 1 s by default). Zero if a parameter cannot be
// read.
func neighbourGiveUp(addr netip.Addr, dev string) time.Duration {
	dir := filepath.Join(procSysNet, "ipv6", "neigh", dev)
	if addr.Is4() {
		dir = filepath.Join(procSysNet, "ipv4", "neigh", dev)
	}
	var v [3]int
	for i, name := range []string{"mcast_solicit", "app_solicit", "retrans_time_ms"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0
		}
		if v[i], err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil || v[i] < 0 {
			return 0
		}
	}
	return time.Duration(v[0]+v[1]) * time.Duration(v[2]) * time.Millisecond
}

// routeSocket is an rtnetlink socket that asks one question at a time.
type routeSocket struct {
	fd  int
	seq uint32
}

// rtnetlinkTimeout bounds the wait for an answer. The kernel answers a
// route or neighbour lookup while handling the request, so the bound only
// keeps a kernel that never answers from holding the caller.
var rtnetlinkTimeout = unix.Timeval{Sec: 1}

func openRouteSocket() (*routeSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &rtnetlinkTimeout); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	return &routeSocket{fd: fd}, nil
}

func (s *routeSocket) close() { unix.Close(s.fd) }

// ask sends one request (nlmsghdr and body, its sequence number left for
// ask to fill in) and returns the kernel's answer to it, or the error the
// kernel answered with.
func (s *routeSocket) ask(req []byte) (syscall.NetlinkMessage, error) {
	s.seq++
	binary.NativeEndian.PutUint32(req[8:12], s.seq)
	if err := unix.Sendto(s.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return syscall.NetlinkMessage{}, fmt.Errorf("rtnetlink send: %w", err)
	}
	// One page holds any answer to a single-entry request; MSG_TRUNC
	// reports a longer one rather than cutting it silently.
	buf := make([]byte, max(unix.Getpagesize(), 8192))
	// An unconnected netlink socket may also hold messages that are not
	// this answer (a stale one from an earlier sequence number); the bound
	// keeps a flood of them from holding the caller.
	for range 16 {
		n, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_TRUNC)
		if err != nil {
			return syscall.NetlinkMessage{}, fmt.Errorf("rtnetlink receive: %w", err)
		}
		if n > len(buf) {
			return syscall.NetlinkMessage{}, fmt.Errorf("rtnetlink answer of %d bytes, more than %d", n, len(buf))
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return syscall.NetlinkMessage{}, fmt.Errorf("rtnetlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != s.seq {
				continue
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				return syscall.NetlinkMessage{}, netlinkError(m)
			}
			return m, nil
		}
	}
	return syscall.NetlinkMessage{}, errors.New("rtnetlink: no answer to the request")
}

// netlinkError returns the errno an NLMSG_ERROR message carries (struct
// nlmsgerr: a negative errno, then the request's header).
func netlinkError(m syscall.NetlinkMessage) error {
	if len(m.Data) < 4 {
		return errors.New("rtnetlink: truncated error message")
	}
	code := int32(binary.NativeEndian.Uint32(m.Data))
	if code == 0 {
		return errors.New("rtnetlink: an acknowledgement where an answer was expected")
	}
	return unix.Errno(-code)
}

// request builds an rtnetlink request: the header (sequence number zero,
// for ask to set), the fixed-size body, then the attributes.
func request(typ uint16, body []byte, attrs ...attr) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN, 64)
	b = append(b, body...)
	for _, a := range attrs {
		b = appendAttr(b, a)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST)
	return b
}

// attr is one route attribute (struct rtattr and its payload).
type attr struct {
	typ  uint16
	data []byte
}

func appendAttr(b []byte, a attr) []byte {
	var hdr [unix.SizeofRtAttr]byte
	binary.NativeEndian.PutUint16(hdr[0:2], uint16(unix.SizeofRtAttr+len(a.data)))
	binary.NativeEndian.PutUint16(hdr[2:4], a.typ)
	b = append(append(b, hdr[:]...), a.data...)
	for len(b)%unix.RTA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// parseAttrs splits the attributes that follow a message's fixed-size body.
// A truncated attribute ends the list: what came before it is still good.
func parseAttrs(b []byte) map[uint16][]byte {
	attrs := map[uint16][]byte{}
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		// The top bits are NLA_F_NESTED and NLA_F_NET_BYTEORDER.
		attrs[binary.NativeEndian.Uint16(b[2:4])&0x3fff] = b[unix.SizeofRtAttr:l]
		l = (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return attrs
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// routeRequest asks for the route to dst (struct rtmsg, RTA_DST, and
// RTA_OIF when the destination's zone names the interface).
func routeRequest(dst netip.Addr, oif uint32) []byte {
	body := make([]byte, unix.SizeofRtMsg)
	body[0] = family(dst)         // rtm_family
	body[1] = uint8(dst.BitLen()) // rtm_dst_len: a host route, as strict checking wants
	attrs := []attr{{unix.RTA_DST, dst.AsSlice()}}
	if oif != 0 {
		attrs = append(attrs, attr{unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, oif)})
	}
	return request(unix.RTM_GETROUTE, body, attrs...)
}

// parseRoute reads the kernel's answer to routeRequest for dst: the next hop
// (the gateway, or dst when on-link) and the outgoing interface's index.
func parseRoute(m syscall.NetlinkMessage, dst netip.Addr) (NextHop, uint32, error) {
	if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
		return NextHop{}, 0, fmt.Errorf("route lookup: unexpected answer (type %d, %d bytes)", m.Header.Type, len(m.Data))
	}
	switch typ := m.Data[7]; typ { // rtm_type
	case unix.RTN_UNICAST:
	case unix.RTN_LOCAL:
		return NextHop{}, 0, errors.New("it is this host's own address: no neighbour")
	default:
		return NextHop{}, 0, fmt.Errorf("its route is of type %d (RTN_*), not unicast: no neighbour", typ)
	}
	attrs := parseAttrs(m.Data[unix.SizeofRtMsg:])
	hop := NextHop{Addr: dst}
	if gw, ok := netip.AddrFromSlice(attrs[unix.RTA_GATEWAY]); ok {
		hop.Addr, hop.Gateway = gw, true
	} else if via := attrs[unix.RTA_VIA]; len(via) > 2 {
		// struct rtvia: a gateway of the other family (an IPv4 route
		// through an IPv6 next hop, RFC 5549).
		if gw, ok := netip.AddrFromSlice(via[2:]); ok {
			hop.Addr, hop.Gateway = gw, true
		}
	}
	oif := attrs[unix.RTA_OIF]
	if len(oif) != 4 {
		return NextHop{}, 0, errors.New("route lookup: the answer names no outgoing interface")
	}
	return hop, binary.NativeEndian.Uint32(oif), nil
}

// neighbourRequest asks for the neighbour cache entry of addr on interface
// oif (struct ndmsg and NDA_DST).
func neighbourRequest(addr netip.Addr, oif uint32) []byte {
	body := make([]byte, unix.SizeofNdMsg)
	body[0] = family(addr)                        // ndm_family
	binary.NativeEndian.PutUint32(body[4:8], oif) // ndm_ifindex
	return request(unix.RTM_GETNEIGH, body, attr{unix.NDA_DST, addr.AsSlice()})
}

// parseNeighbour reads the entry's state from the kernel's answer to
// neighbourRequest.
func parseNeighbour(m syscall.NetlinkMessage) (NeighbourState, error) {
	if m.Header.Type != unix.RTM_NEWNEIGH || len(m.Data) < unix.SizeofNdMsg {
		return 0, fmt.Errorf("unexpected answer (type %d, %d bytes)", m.Header.Type, len(m.Data))
	}
	return NeighbourState(binary.NativeEndian.Uint16(m.Data[8:10])), nil // ndm_state
}
