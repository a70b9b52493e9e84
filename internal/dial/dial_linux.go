//go:build linux

package dial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/localaddr"
)

// Dial connects to addr over TCP and returns the connection, or an *Error
// that says how the connect failed. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is dialed over IPv4, the family its packets use.
//
// Closing the connection resets it rather than leave it in TIME_WAIT (see
// resetOnClose), so close it only once the exchange on it is over.
//
// The socket is created on the calling goroutine's OS thread, so it belongs
// to that thread's network namespace. ctx bounds the attempt: its deadline
// ends it with OutcomeTimeout, its cancellation with OutcomeCanceled. Without
// a deadline the kernel's SYN retries (about 127 s with the default
// net.ipv4.tcp_syn_retries) end an unanswered connect with ETIMEDOUT.
//
// On success the connection is an ordinary *net.TCPConn whose sockets see
// ICMP errors the way any other TCP connection does (IP_RECVERR is turned
// off again): a transient ICMP error during the application check is then a
// soft error, as RFC 1122 section 4.2.3.9 asks, rather than fatal.
//
// A connect that fails because no host on the link answers ARP or NDP for
// the next hop is OutcomeUnreachable, with the next hop in the *Error's
// UnresolvedNextHop, whether the kernel gave up resolving it first or ctx's
// deadline ended the wait.
func Dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	conn, err := connect(ctx, addr)
	if e, ok := err.(*Error); ok {
		e.findUnresolvedNextHop()
	}
	return conn, err
}

// connect is Dial without the neighbour evidence.
func connect(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, contextError(addr, start, err)
	}
	domain, sa, err := sockaddrOf(addr)
	if err != nil {
		return nil, newError(addr, start, 0, nil, err)
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, newError(addr, start, errnoOf(err), nil, os.NewSyscallError("socket", err))
	}
	// Before connect: an ICMP error that arrives while the socket is in
	// SYN_SENT is queued with its type, code and sender only if the option is
	// already on. It also wakes the waiter: an ICMPv6 error that arrives
	// while connect() itself holds the socket lock (the SYN, the reject and
	// the error all processed synchronously, as between namespaces or Pods on
	// one node) is otherwise recorded as a soft error without a wakeup, and a
	// waiter such as net.Dialer sees it only at the first SYN retransmission,
	// a second later. (waitConnected also reads SO_ERROR before it first
	// waits, which finds that soft error at once either way.)
	if err := setRecvErr(fd, domain, true); err != nil {
		unix.Close(fd)
		return nil, newError(addr, start, errnoOf(err), nil, os.NewSyscallError("setsockopt", err))
	}
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		// Under way (or, rarely, done): wait below. A non-blocking connect
		// interrupted by a signal carries on in the kernel, as net's does.
	default:
		// Failed before any packet left (no route: ENETUNREACH), or an
		// answer came back synchronously; the queue says which.
		icmp := readICMP(fd)
		unix.Close(fd)
		return nil, newError(addr, start, errnoOf(err), icmp, nil)
	}
	return waitConnected(ctx, addr, start, domain, os.NewFile(uintptr(fd), "tcp "+addr.String()))
}

// aLongTimeAgo is a deadline in the past, which wakes a pending wait at once
// (as net does to interrupt a connect).
var aLongTimeAgo = time.Unix(1, 0)

// errInProgress says the handshake has not finished yet.
var errInProgress = errors.New("connect in progress")

// waitConnected waits until the connect on f's socket completes, fails or
// ctx ends, and always closes f (on success the returned conn holds a
// duplicate of the descriptor).
//
// The wait hands the descriptor to Go's netpoller (os.NewFile on a
// non-blocking descriptor registers it; RawConn.Write waits for
// writability), the way net.Dialer waits for its own connects. That parks
// the goroutine rather than a thread, and ctx's deadline and cancellation
// reach it through the file's write deadline, so it wakes the moment either
// fires. The alternative, poll(2) in a loop, holds an OS thread per attempt
// for the whole connect and either notices cancellation only at the end of
// each slice or needs an eventfd to be woken early: more code for a worse
// result.
func waitConnected(ctx context.Context, addr netip.AddrPort, start time.Time, domain int, f *os.File) (net.Conn, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, newError(addr, start, 0, nil, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(deadline); err != nil {
			// Only a descriptor the poller refused has no deadlines; a
			// wait without one could outlive ctx, so do not start it.
			return nil, newError(addr, start, 0, nil, fmt.Errorf("set deadline: %w", err))
		}
	}
	// interrupted is closed when the AfterFunc has finished with f, so f is
	// not closed under it and no goroutine outlives Dial.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		f.SetWriteDeadline(aLongTimeAgo)
	})
	var connErr error
	waitErr := rc.Write(func(fd uintptr) bool {
		connErr = connectResult(int(fd))
		return connErr != errInProgress
	})
	if !stop() {
		<-interrupted
	}

	if waitErr != nil {
		ctxErr := ctx.Err()
		if ctxErr == nil && errors.Is(waitErr, os.ErrDeadlineExceeded) {
			// The file's deadline is ctx's, and fired a moment before
			// ctx's own timer did.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr == nil {
			return nil, newError(addr, start, errnoOf(waitErr), nil, waitErr)
		}
		return nil, contextError(addr, start, ctxErr)
	}
	if connErr != nil {
		var icmp *dualstack.ICMP
		rc.Control(func(fd uintptr) { icmp = readICMP(int(fd)) })
		return nil, newError(addr, start, errnoOf(connErr), icmp, nil)
	}

	// Connected. Turning the option off also purges the error queue, so a
	// stray queued error cannot surface later as POLLERR on a healthy
	// connection.
	var optErr error
	rc.Control(func(fd uintptr) {
		if optErr = setRecvErr(int(fd), domain, false); optErr == nil {
			optErr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &resetOnClose)
		}
	})
	if optErr != nil {
		return nil, newError(addr, start, errnoOf(optErr), nil, os.NewSyscallError("setsockopt", optErr))
	}
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, newError(addr, start, errnoOf(err), nil, err)
	}
	return conn, nil
}

// resetOnClose is SO_LINGER with a zero timeout: close(2) then discards
// what is unsent and ends the connection with a RST, and no TIME_WAIT.
//
// The prober connects to one address over and over, and it closes first (a
// TCP check closes as soon as it connects, the race as soon as it has a
// winner), so a graceful close would leave each connection in TIME_WAIT for
// 60 s, holding its local port towards that address. Probing one target
// 1,000 times a second (two connects each to the address the race wins)
// needs 120,000 ports towards it per minute, and Linux's default range has
// 28,232: on a test host the first connect failed with EADDRNOTAVAIL after
// 23 s, connects slowing down as the range filled. What others do about it:
//
//   - HAProxy closes every health-check connection with a RST: proto_tcp.c
//     marks each outgoing socket FD_LINGER_RISK ("close hard if needed"),
//     fd.c sets SO_LINGER 0 on it before close, and "tcp-check connect
//     linger" is the opt-out for "servers [that] don't like reset on close"
//     ("option nolinger" does the same for proxied traffic).
//   - Envoy's health checkers keep one connection from check to check
//     (reuse_connection, on by default), and Go's net/http pools its
//     keep-alive connections: neither fits a probe, whose every connect is a
//     measurement of a fresh handshake.
//   - blackbox_exporter closes gracefully, and TIME_WAIT sockets pile up
//     under its tcp_connect probes (issue #794, "Add support for sending a
//     RST when closing a tcp connection"; PR #1266 proposes SO_LINGER 0).
//   - net.ipv4.tcp_tw_reuse is not among Kubernetes' safe sysctls, so a
//     prober Pod under the restricted Pod Security Standard cannot turn it
//     on, and by default Linux applies it to loopback only.
//
// So Dial's connections reset on close, as HAProxy's checks do. A reset
// discards data that has not reached the peer, which is harmless only once
// the exchange is over: Go's net/http server waits (rstAvoidanceDelay)
// before it resets a connection for that reason. The prober's checks close
// only after they have read their answer or given up on it (appcheck.Run
// closes the connection when the check has ended), and a TCP check or the
// race sends nothing, so nothing of theirs is lost. The peer sees
// ECONNRESET instead of EOF, as behind HAProxy.
var resetOnClose = unix.Linger{Onoff: 1, Linger: 0}

// connectResult reports how the connect on fd stands: nil when connected,
// errInProgress while the handshake runs, or the socket error.
func connectResult(fd int) error {
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	// SO_ERROR also returns (and clears) a soft error: over IPv6 an ICMP
	// error that arrived while connect() held the socket lock is recorded
	// only as one, with the socket still in SYN_SENT. It is the error the
	// kernel would fail the connect with at the next retransmission, so it
	// ends the attempt now.
	switch errno := unix.Errno(soErr); errno {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return errInProgress
	case 0, unix.EISCONN:
		// The poller can wake a waiter spuriously (Go issues 14548 and
		// 19289); only a peer address proves the handshake completed.
		if _, err := unix.Getpeername(fd); err != nil {
			if err == unix.ENOTCONN {
				return errInProgress
			}
			return err
		}
		return nil
	default:
		return errno
	}
}

// setRecvErr turns IP_RECVERR or IPV6_RECVERR on or off. Turning it off
// purges the socket's error queue.
func setRecvErr(fd, domain int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if domain == unix.AF_INET {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, v)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, v)
}

// maxErrQueue bounds how many queued errors readICMP reads: a connect that
// failed has seen one or two (a retransmitted SYN rejected again); the bound
// only keeps a flood from holding the caller.
const maxErrQueue = 16

// sizeofSockExtendedErr is sizeof(struct sock_extended_err): ee_errno (4),
// ee_origin, ee_type, ee_code, ee_pad (1 each), ee_info (4), ee_data (4).
const sizeofSockExtendedErr = 16

// readICMP drains fd's error queue and returns the first ICMP or ICMPv6
// error in it, the one that failed the connect; nil if there is none.
func readICMP(fd int) *dualstack.ICMP {
	var first *dualstack.ICMP
	// The payload is the start of the offending packet, which is not
	// needed; it is read only to dequeue the message.
	var payload [64]byte
	oob := make([]byte, unix.CmsgSpace(sizeofSockExtendedErr+unix.SizeofSockaddrInet6))
	for range maxErrQueue {
		_, oobn, _, _, err := unix.Recvmsg(fd, payload[:], oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			break // EAGAIN: the queue is empty
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if icmp := parseExtendedErr(m); icmp != nil && first == nil {
				first = icmp
			}
		}
	}
	return first
}

// parseExtendedErr decodes an IP_RECVERR or IPV6_RECVERR control message
// (struct sock_extended_err followed by the offender's sockaddr, see ip(7))
// into an ICMP, or returns nil if the message is not an ICMP error.
func parseExtendedErr(m unix.SocketControlMessage) *dualstack.ICMP {
	v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
	v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
	if !v4 && !v6 || len(m.Data) < sizeofSockExtendedErr {
		return nil
	}
	origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
	icmp := &dualstack.ICMP{Type: typ, Code: code, From: parseOffender(m.Data[sizeofSockExtendedErr:])}
	switch origin {
	case unix.SO_EE_ORIGIN_ICMP:
		icmp.Family = dualstack.FamilyIPv4
	case unix.SO_EE_ORIGIN_ICMP6:
		icmp.Family = dualstack.FamilyIPv6
	default:
		return nil // a local error (EMSGSIZE, say) or a timestamp
	}
	return icmp
}

// parseOffender decodes SO_EE_OFFENDER, the sockaddr_in or sockaddr_in6 of
// the node that sent the ICMP error; the zero Addr if it is absent.
func parseOffender(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) >= unix.SizeofSockaddrInet4 {
			return netip.AddrFrom4([4]byte(b[4:8]))
		}
	case unix.AF_INET6:
		if len(b) >= unix.SizeofSockaddrInet6 {
			a := netip.AddrFrom16([16]byte(b[8:24]))
			if scope := binary.NativeEndian.Uint32(b[24:28]); scope != 0 && a.IsLinkLocalUnicast() {
				a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
			}
			return a
		}
	}
	return netip.Addr{}
}

// sockaddrOf returns the socket domain and address for addr.
func sockaddrOf(addr netip.AddrPort) (int, unix.Sockaddr, error) {
	if !addr.IsValid() {
		return 0, nil, errors.New("invalid address")
	}
	ip, port := addr.Addr(), int(addr.Port())
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		index, err := localaddr.ZoneIndex(zone)
		if err != nil {
			return 0, nil, err
		}
		sa.ZoneId = index
	}
	return unix.AF_INET6, sa, nil
}

// errnoOf returns the errno inside err, or zero.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	errors.As(err, &errno)
	return errno
}
