package localaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

// SourcesFor returns, for each destination, the source address the kernel
// would send from, with its flags: out[i] belongs to dsts[i]. A destination
// the kernel has no route to (or cannot connect a UDP socket to for any
// other reason: its family is disabled, a link-local address lacks a zone)
// gets the zero Source, which makes it unusable under RFC 6724 rule 1 — the
// same conclusion Go's net package draws from the same failed connect.
//
// Nothing is sent: connect on a UDP socket only binds a route and a source.
// The port is 53, as in Go's srcAddrs, so that a policy-routing rule that
// matches on the destination port treats this probe as Go's own.
func SourcesFor(dsts []netip.Addr) []he.Source {
	return system.sourcesFor(dsts)
}

// LocalAddresses lists this host's addresses on interfaces that are up, as
// candidates for RFC 6724 source selection (happyeyeballs.SelectSource),
// with the same flags SourcesFor reports. IPv6 addresses the kernel would not
// send from — tentative while duplicate address detection runs, or after it
// failed — are left out. A link-local IPv6 address carries its interface as
// the zone.
func LocalAddresses() ([]he.Source, error) {
	return system.localAddresses()
}

// host is where the information comes from; tests point it at fixtures.
type host struct {
	ifInet6    string // path of the kernel's if_inet6 table
	sysNet     string // path of /sys/class/net
	interfaces func() ([]iface, error)
	// connect returns the kernel's source address for dst.
	connect func(dst netip.Addr) (netip.Addr, error)
	// watch, if set, lets table hand out the table it read last until the
	// watch reports a change; nil reads the tables for every lookup.
	watch changeWatch

	mu     sync.Mutex // guards watch and cached
	cached *addrTable
}

// changeWatch reports whether the host's addresses or interfaces may have
// changed since it was last asked.
type changeWatch interface{ changed() bool }

// system reads the kernel's tables once per change rather than for every
// lookup: listing the interfaces and their addresses costs an rtnetlink dump
// per interface, and a prober looks its sources up for every probe.
var system = &host{
	// The calling thread's namespace, as for the connect and the
	// interface listing: /proc/net is the first thread's (Linux 3.17+).
	ifInet6:    "/proc/thread-self/net/if_inet6",
	sysNet:     "/sys/class/net",
	interfaces: systemInterfaces,
	connect:    kernelSource,
	watch:      newKernelWatch(),
}

// iface is an interface and its addresses.
type iface struct {
	name     string
	up       bool
	prefixes []netip.Prefix // address and its configured prefix length
}

func systemInterfaces() ([]iface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]iface, 0, len(ifs))
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		it := iface{name: ifi.Name, up: ifi.Flags&net.FlagUp != 0}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			it.prefixes = append(it.prefixes, netip.PrefixFrom(addr.Unmap(), ones))
		}
		out = append(out, it)
	}
	return out, nil
}

func kernelSource(dst netip.Addr) (netip.Addr, error) {
	// Connecting to the unspecified address would mean "this host" and
	// yield a loopback source; it is no destination.
	if !dst.IsValid() || dst.IsUnspecified() {
		return netip.Addr{}, errors.New("not a destination address")
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 53)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

func (h *host) sourcesFor(dsts []netip.Addr) []he.Source {
	out := make([]he.Source, len(dsts))
	var t *addrTable // read once, and only if some destination has a source
	for i, d := range dsts {
		src, err := h.connect(d)
		if err != nil || !src.IsValid() {
			continue
		}
		if t == nil {
			t = h.table()
		}
		out[i] = t.source(src)
	}
	return out
}

func (h *host) localAddresses() ([]he.Source, error) {
	ifs, err := h.interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing local addresses: %w", err)
	}
	t := h.tableFrom(ifs)
	var out []he.Source
	for _, ifi := range ifs {
		if !ifi.up {
			continue
		}
		for _, p := range ifi.prefixes {
			a := p.Addr()
			if a.Is6() && a.IsLinkLocalUnicast() {
				a = a.WithZone(ifi.name)
			}
			if info, ok := t.inet6For(a); ok && !info.usable() {
				continue
			}
			out = append(out, t.source(a))
		}
	}
	return out, nil
}

// addrTable is what the kernel says about the host's addresses. Once built
// it is only read, by any number of lookups at once, except for linkType.
type addrTable struct {
	inet6  map[netip.Addr][]inet6Addr // by address without zone
	ipv4   map[netip.Addr]ipv4Addr
	sysNet string

	mu       sync.Mutex     // guards linkType
	linkType map[string]int // cache of /sys/class/net/DEV/type
}

type ipv4Addr struct {
	dev       string
	prefixLen int
}

// table returns the table read last, or reads it again if the watch reports
// a change (or there is no watch). The watch is asked before the kernel's
// tables are read, so a change made while they are read is seen next time.
func (h *host) table() *addrTable {
	if h.watch == nil {
		return h.readTable()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watch.changed() || h.cached == nil {
		h.cached = h.readTable()
	}
	return h.cached
}

// readTable reads what is available; a source it cannot read (no /proc, an
// interface listing that fails) leaves the flags unset rather than failing:
// the rules that need them then do not apply, as in a client that ignores
// them.
func (h *host) readTable() *addrTable {
	ifs, _ := h.interfaces()
	return h.tableFrom(ifs)
}

func (h *host) tableFrom(ifs []iface) *addrTable {
	t := &addrTable{
		inet6:    map[netip.Addr][]inet6Addr{},
		ipv4:     map[netip.Addr]ipv4Addr{},
		sysNet:   h.sysNet,
		linkType: map[string]int{},
	}
	if f, err := os.Open(h.ifInet6); err == nil {
		addrs, _ := parseIfInet6(f)
		f.Close()
		for _, a := range addrs {
			t.inet6[a.Addr] = append(t.inet6[a.Addr], a)
		}
	}
	for _, ifi := range ifs {
		for _, p := range ifi.prefixes {
			if p.Addr().Is4() {
				if _, dup := t.ipv4[p.Addr()]; !dup {
					t.ipv4[p.Addr()] = ipv4Addr{dev: ifi.name, prefixLen: p.Bits()}
				}
			}
		}
	}
	return t
}

// inet6For finds a's line of /proc/net/if_inet6; a link-local address is
// told apart by its zone, the interface it lives on.
func (t *addrTable) inet6For(a netip.Addr) (inet6Addr, bool) {
	lines := t.inet6[a.WithZone("")]
	if len(lines) == 0 {
		return inet6Addr{}, false
	}
	if zone := a.Zone(); zone != "" {
		for _, l := range lines {
			if l.Dev == zone || strconv.Itoa(l.IfIndex) == zone {
				return l, true
			}
		}
	}
	return lines[0], true
}

// source describes the local address a with what the kernel knows of it.
func (t *addrTable) source(a netip.Addr) he.Source {
	s := he.Source{Addr: a}
	if a.Is4() {
		info, ok := t.ipv4[a]
		// glibc looks a 127/8 source up as 127.0.0.1: the kernel may pick
		// a loopback source that is not itself configured.
		if !ok && a.IsLoopback() {
			info, ok = t.ipv4[netip.AddrFrom4([4]byte{127, 0, 0, 1})]
		}
		if ok {
			s.PrefixLen = info.prefixLen
			s.Encapsulated = t.encapsulated(info.dev)
		}
		return s
	}
	info, ok := t.inet6For(a)
	if !ok {
		return s
	}
	s.PrefixLen = info.PrefixLen
	// glibc's check_pf.c counts an optimistic address as deprecated too,
	// which is how RFC 4429 (optimistic DAD) asks source selection to
	// treat it: it may yet turn out to be a duplicate.
	s.Deprecated = info.Flags&(ifaDeprecated|ifaOptimistic) != 0
	s.Temporary = info.Flags&ifaTemporary != 0
	// Linux marks home addresses but has no care-of flag, so CareOf
	// stays false (see happyeyeballs rule 4).
	s.Home = info.Flags&ifaHomeAddress != 0
	s.Encapsulated = t.encapsulated(info.Dev)
	return s
}

// The link types (ARPHRD_* in linux/if_arp.h) that glibc's check_native.c
// counts as not native for RFC 6724 rule 7: IPv4-in-IPv4 (ipip), IPv6-in-IPv6
// or IPv4-in-IPv6 (ip6tnl) and IPv6-in-IPv4 (sit: 6to4, 6rd, ISATAP). Teredo
// and VPNs run over tun devices (ARPHRD_NONE), which glibc does not count,
// and neither does this.
const (
	arphrdTunnel  = 768 // ARPHRD_TUNNEL
	arphrdTunnel6 = 769 // ARPHRD_TUNNEL6
	arphrdSit     = 776 // ARPHRD_SIT
)

func (t *addrTable) encapsulated(dev string) bool {
	if dev == "" || strings.ContainsAny(dev, "/") || dev == "." || dev == ".." {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	typ, ok := t.linkType[dev]
	if !ok {
		typ = -1
		if b, err := os.ReadFile(filepath.Join(t.sysNet, dev, "type")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				typ = n
			}
		}
		t.linkType[dev] = typ
	}
	switch typ {
	case arphrdTunnel, arphrdTunnel6, arphrdSit:
		return true
	}
	return false
}
