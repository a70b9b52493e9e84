//go:build linux

package demo

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// fullQueueBacklog is the backlog of a listener whose accept queue the demo
// fills: the fewer connections it takes, the better.
const fullQueueBacklog = 1

// fillAcceptQueue makes ln drop every connection attempt without a word, as
// a path that loses packets does, with no root and no firewall. Linux drops
// a SYN to a listener whose accept queue is full (tcp_conn_request counts it
// in ListenOverflows and sends nothing back; tcp_abort_on_overflow only
// governs the handshake's last ACK), so the client retransmits until its own
// timeout. The queue of a listener nobody accepts from is full once it holds
// backlog+1 connections: fillAcceptQueue shrinks the backlog to
// fullQueueBacklog (listen again on a listening socket only updates it),
// connects that many times plus one, and checks with TCP_INFO that the kernel
// counts the queue full. It returns the connections holding the queue, for
// the caller to close after ln.
func fillAcceptQueue(ctx context.Context, ln *net.TCPListener) ([]net.Conn, error) {
	raw, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	var listenErr error
	if err := raw.Control(func(fd uintptr) { listenErr = unix.Listen(int(fd), fullQueueBacklog) }); err != nil {
		return nil, err
	}
	if listenErr != nil {
		return nil, fmt.Errorf("shrinking the backlog of %v: %w", ln.Addr(), listenErr)
	}
	var conns []net.Conn
	dialer := net.Dialer{Timeout: time.Second}
	for range fullQueueBacklog + 1 {
		c, err := dialer.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("filling the accept queue of %v: %w", ln.Addr(), err)
		}
		conns = append(conns, c)
	}
	// On a listener, tcpi_unacked is the accept queue's length and
	// tcpi_sacked its backlog.
	var info *unix.TCPInfo
	var infoErr error
	if err := raw.Control(func(fd uintptr) { info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		infoErr = err
	}
	if infoErr != nil || info.Unacked <= info.Sacked {
		closeAll(conns)
		if infoErr != nil {
			return nil, fmt.Errorf("reading the accept queue of %v: %w", ln.Addr(), infoErr)
		}
		return nil, fmt.Errorf("the accept queue of %v holds %d connections, not more than its backlog %d: SYNs to it would be answered", ln.Addr(), info.Unacked, info.Sacked)
	}
	return conns, nil
}
