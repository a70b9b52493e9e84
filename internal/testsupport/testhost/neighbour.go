package testhost

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Vacant returns an address on the lab's link that no host holds: the ith
// (from 0) counted down from the top of prefix, which must be the lab's
// Prefix4 or Prefix6, skipping IPv4's broadcast address. AddHost hands
// addresses out from the bottom, so it stays vacant unless the prefix
// fills up. Nobody answers ARP or NDP for it, which is the fault it is for.
func (l *Lab) Vacant(prefix netip.Prefix, i int) (netip.Addr, error) {
	if prefix != l.prefix4 && prefix != l.prefix6 {
		return netip.Addr{}, fmt.Errorf("testhost: %v is not one of the lab's prefixes %v and %v", prefix, l.prefix4, l.prefix6)
	}
	a := lastAddr(prefix)
	if a.Is4() {
		a = a.Prev()
	}
	for range i {
		a = a.Prev()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.hosts {
		if h.addr4 == a || h.addr6 == a {
			return netip.Addr{}, fmt.Errorf("testhost: %v is held by host %q", a, h.name)
		}
	}
	if !prefix.Contains(a) || a == prefix.Addr() {
		return netip.Addr{}, fmt.Errorf("testhost: %v has no vacant address number %d", prefix, i)
	}
	return a, nil
}

// NeighbourGiveUp returns how long the host's kernel tries to resolve a new
// neighbour of dst's family on the host's lab interface before it fails
// the packets waiting for it (connects fail with EHOSTUNREACH): mcast_solicit
// solicitations, retrans_time_ms apart (Linux's neigh_timer_handler; 3 x 1 s
// by default).
func (h *Host) NeighbourGiveUp(dst netip.Addr) (time.Duration, error) {
	dir := "/proc/sys/net/ipv6/neigh/" + hostInterface
	if dst.Unmap().Is4() {
		dir = "/proc/sys/net/ipv4/neigh/" + hostInterface
	}
	var solicit, retrans int
	// Network sysctls belong to the namespace of the thread that opens
	// them.
	err := h.Do(func() error {
		for _, v := range []struct {
			name string
			to   *int
		}{{"mcast_solicit", &solicit}, {"retrans_time_ms", &retrans}} {
			b, err := os.ReadFile(filepath.Join(dir, v.name))
			if err != nil {
				return fmt.Errorf("testhost: %w", err)
			}
			if *v.to, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				return fmt.Errorf("testhost: %s/%s: %w", dir, v.name, err)
			}
		}
		return nil
	})
	return time.Duration(solicit*retrans) * time.Millisecond, err
}
