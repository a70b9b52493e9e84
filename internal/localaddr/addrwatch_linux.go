//go:build linux

package localaddr

import (
	"errors"

	"golang.org/x/sys/unix"
)

// kernelWatch is an rtnetlink socket subscribed to the kernel's address and
// link notifications (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK):
// the kernel queues one on the socket whenever an address appears, goes,
// or changes its flags (DAD ending or failing, the preferred lifetime
// running out: deprecated), and whenever an interface appears, goes, is
// renamed or changes state. Nothing reads the socket in the background;
// changed looks at the queue when asked.
type kernelWatch struct {
	fd    int // -1 until opened, and after a failure
	netns netnsID
	buf   [64]byte // a notification's start; the kernel drops the rest
}

// netnsID identifies a network namespace: the device and inode of its
// /proc/thread-self/ns/net.
type netnsID struct{ dev, ino uint64 }

func newKernelWatch() changeWatch { return &kernelWatch{fd: -1} }

// changed reports whether the kernel notified a change since the last call,
// and empties the queue. It also reports true when it cannot tell: the first
// time, on a thread in another network namespace than the socket's (the
// socket then moves to this one), after the queue overflowed (ENOBUFS: some
// notifications were lost) or when a read fails. The queue is emptied before
// the caller reads the kernel's tables, so that a change made while they are
// read is reported next time.
func (w *kernelWatch) changed() bool {
	ns, err := threadNetns()
	if err != nil {
		w.close()
		return true
	}
	if w.fd < 0 || ns != w.netns {
		w.close()
		if w.fd, err = openWatchSocket(); err == nil {
			w.netns = ns
		}
		return true
	}
	changed := false
	for {
		_, err := unix.Read(w.fd, w.buf[:])
		switch {
		case err == nil:
			changed = true
		case errors.Is(err, unix.EAGAIN):
			return changed
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS):
			changed = true
		default:
			w.close()
			return true
		}
	}
}

func (w *kernelWatch) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// openWatchSocket opens a non-blocking rtnetlink socket in the calling
// thread's network namespace, subscribed to address and link changes.
func openWatchSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, err
	}
	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// threadNetns identifies the calling thread's network namespace, which a
// thread can leave on its own (setns), so a socket opened on another thread
// may listen to another namespace.
func threadNetns() (netnsID, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return netnsID{}, err
	}
	return netnsID{dev: st.Dev, ino: st.Ino}, nil
}
