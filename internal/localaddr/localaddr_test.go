package localaddr

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"

	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// fixtureHost reads testdata/ instead of /proc and /sys, lists the
// interfaces below, and answers connects from routes.
func fixtureHost(routes map[string]string) *host {
	return &host{
		ifInet6: "testdata/if_inet6",
		sysNet:  "testdata/sys/class/net",
		interfaces: func() ([]iface, error) {
			return []iface{
				{name: "lo", up: true, prefixes: []netip.Prefix{pfx("127.0.0.1/8"), pfx("::1/128")}},
				{name: "eth0", up: true, prefixes: []netip.Prefix{
					pfx("192.0.2.2/24"),
					pfx("2001:db8:1::2/64"),
					pfx("2001:db8:1:0:d5e3:7953:13eb:22e8/64"),
					pfx("2001:db8:1::3/64"),
					pfx("2001:db8:1::4/64"),
					pfx("2001:db8:1::5/64"),
					pfx("2001:db8:3::1/64"),
					pfx("fe80::1/64"),
					pfx("fd00::9/64"),
				}},
				{name: "sit0", up: true, prefixes: []netip.Prefix{pfx("2002:c633:6401::2/48")}},
				{name: "ip6tnl0", up: true, prefixes: []netip.Prefix{pfx("fe80::1/64")}},
				{name: "down0", up: false, prefixes: []netip.Prefix{pfx("198.51.100.1/24")}},
			}, nil
		},
		connect: func(dst netip.Addr) (netip.Addr, error) {
			src, ok := routes[dst.String()]
			if !ok {
				return netip.Addr{}, syscall.ENETUNREACH
			}
			return netip.MustParseAddr(src), nil
		},
	}
}

func TestSourcesForFlags(t *testing.T) {
	h := fixtureHost(map[string]string{
		"2001:db8:1::1":     "2001:db8:1:0:d5e3:7953:13eb:22e8",
		"2001:db8:1::9":     "2001:db8:1::3",
		"2001:db8:1::8":     "2001:db8:1::4",
		"2001:db8:3::9":     "2001:db8:3::1",
		"2002:c633:6401::1": "2002:c633:6401::2",
		"fe80::9%eth0":      "fe80::1%eth0",
		"fe80::9%ip6tnl0":   "fe80::1%ip6tnl0",
		"192.0.2.1":         "192.0.2.2",
		"127.0.0.5":         "127.0.0.5", // not configured: glibc looks up 127.0.0.1
		"203.0.113.1":       "203.0.113.7",
	})
	a := netip.MustParseAddr
	tests := []struct {
		dst  string
		want he.Source
	}{
		{"2001:db8:1::1", he.Source{Addr: a("2001:db8:1:0:d5e3:7953:13eb:22e8"), Temporary: true, PrefixLen: 64}},
		{"2001:db8:1::9", he.Source{Addr: a("2001:db8:1::3"), Deprecated: true, PrefixLen: 64}},
		{"2001:db8:1::8", he.Source{Addr: a("2001:db8:1::4"), Deprecated: true, PrefixLen: 64}}, // optimistic
		{"2001:db8:3::9", he.Source{Addr: a("2001:db8:3::1"), Home: true, PrefixLen: 64}},
		{"2002:c633:6401::1", he.Source{Addr: a("2002:c633:6401::2"), Encapsulated: true, PrefixLen: 48}},
		{"fe80::9%eth0", he.Source{Addr: a("fe80::1%eth0"), PrefixLen: 64}},
		{"fe80::9%ip6tnl0", he.Source{Addr: a("fe80::1%ip6tnl0"), Encapsulated: true, PrefixLen: 64}},
		{"192.0.2.1", he.Source{Addr: a("192.0.2.2"), PrefixLen: 24}},
		{"127.0.0.5", he.Source{Addr: a("127.0.0.5"), PrefixLen: 8}},
		{"203.0.113.1", he.Source{Addr: a("203.0.113.7")}},
		{"2001:db8:9::1", he.Source{}}, // no route
	}
	var dsts []netip.Addr
	for _, tt := range tests {
		dsts = append(dsts, a(tt.dst))
	}
	got := h.sourcesFor(dsts)
	for i, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			if got[i] != tt.want {
				t.Errorf("got %+v, want %+v", got[i], tt.want)
			}
		})
	}
}

// Without /proc and /sys (another OS, a locked-down container) the sources
// come without flags, and that is not an error.
func TestSourcesForWithoutProcOrSys(t *testing.T) {
	h := fixtureHost(map[string]string{"2001:db8:1::1": "2001:db8:1::3", "192.0.2.1": "192.0.2.2"})
	h.ifInet6 = "testdata/does-not-exist"
	h.sysNet = "testdata/does-not-exist"
	h.interfaces = func() ([]iface, error) { return nil, errors.New("no netlink here") }
	got := h.sourcesFor([]netip.Addr{netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("192.0.2.1")})
	want := []he.Source{{Addr: netip.MustParseAddr("2001:db8:1::3")}, {Addr: netip.MustParseAddr("192.0.2.2")}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLocalAddressesFixture(t *testing.T) {
	got, err := fixtureHost(nil).localAddresses()
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := []he.Source{
		{Addr: a("127.0.0.1"), PrefixLen: 8},
		{Addr: a("::1"), PrefixLen: 128},
		{Addr: a("192.0.2.2"), PrefixLen: 24},
		{Addr: a("2001:db8:1::2"), PrefixLen: 64},
		{Addr: a("2001:db8:1:0:d5e3:7953:13eb:22e8"), PrefixLen: 64, Temporary: true},
		{Addr: a("2001:db8:1::3"), PrefixLen: 64, Deprecated: true},
		{Addr: a("2001:db8:1::4"), PrefixLen: 64, Deprecated: true},
		// 2001:db8:1::5 is tentative: the kernel would not send from it.
		{Addr: a("2001:db8:3::1"), PrefixLen: 64, Home: true},
		{Addr: a("fe80::1%eth0"), PrefixLen: 64},
		{Addr: a("fd00::9"), PrefixLen: 64},
		{Addr: a("2002:c633:6401::2"), PrefixLen: 48, Encapsulated: true},
		{Addr: a("fe80::1%ip6tnl0"), PrefixLen: 64, Encapsulated: true},
		// down0 is down.
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	h := fixtureHost(nil)
	h.interfaces = func() ([]iface, error) { return nil, errors.New("no netlink here") }
	if _, err := h.localAddresses(); err == nil {
		t.Error("got no error from a failing interface listing, want one")
	}
}

func hasIPv6Loopback() bool {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// The kernel's own answer on loopback: a loopback destination is reached
// from itself.
func TestSourcesForLoopback(t *testing.T) {
	dsts := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	if hasIPv6Loopback() {
		dsts = append(dsts, netip.MustParseAddr("::1"))
	} else {
		t.Log("no IPv6 loopback on this host; checking 127.0.0.1 only")
	}
	got := SourcesFor(dsts)
	for i, d := range dsts {
		if got[i].Addr != d {
			t.Errorf("source for %v: got %v, want %v", d, got[i].Addr, d)
		}
		if got[i].Deprecated || got[i].Encapsulated || got[i].Home || got[i].Temporary {
			t.Errorf("source for %v: got flags %+v, want none", d, got[i])
		}
	}
	if got[0].PrefixLen != 8 {
		t.Errorf("prefix length of 127.0.0.1: got %d, want 8 (127.0.0.1/8 on lo)", got[0].PrefixLen)
	}
	if invalid := SourcesFor([]netip.Addr{{}, netip.IPv4Unspecified()}); invalid[0] != (he.Source{}) || invalid[1] != (he.Source{}) {
		t.Errorf("got %+v for the zero and the unspecified address, want no sources", invalid)
	}
}

func TestLocalAddressesIncludesLoopback(t *testing.T) {
	got, err := LocalAddresses()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(got, func(s he.Source) bool { return s.Addr == netip.MustParseAddr("127.0.0.1") })
	if i < 0 {
		t.Fatalf("got %+v, want 127.0.0.1 among them", got)
	}
	if got[i].PrefixLen != 8 {
		t.Errorf("127.0.0.1: got prefix length %d, want 8", got[i].PrefixLen)
	}
}

// inFreshNetns runs f on an OS thread moved into a new, empty network
// namespace (only a loopback interface, and that one down). The thread is
// never unlocked, so the runtime ends it with the goroutine and no other
// goroutine ever runs in that namespace. It needs CAP_SYS_ADMIN.
func inFreshNetns[T any](f func() T) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: the sender never waits for the test
	go func() {
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		done <- result{v: f()}
	}()
	r := <-done
	return r.v, r.err
}

// A destination the kernel has no route to gets no source, so RFC 6724 rule
// 1 puts it last. Shown in an empty network namespace where one can be made;
// otherwise on this host, if it happens to have no route to 2001:db8::/32.
func TestSourcesForNoRoute(t *testing.T) {
	dsts := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")}
	got, err := inFreshNetns(func() []he.Source { return SourcesFor(dsts) })
	if err != nil {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("CI runs as root but could not make a network namespace: %v", err)
		}
		t.Logf("no fresh network namespace (%v); using this host's routes", err)
		got = SourcesFor(dsts[:1])
		if got[0].Addr.IsValid() {
			t.Skipf("this host routes 2001:db8::1 (from %v) and cannot make an empty network namespace without CAP_SYS_ADMIN", got[0].Addr)
		}
	}
	for i := range got {
		if got[i] != (he.Source{}) {
			t.Errorf("source for %v: got %+v, want none", dsts[i], got[i])
		}
	}
}

// fakeWatch reports a change when told to.
type fakeWatch struct{ change bool }

func (w *fakeWatch) changed() bool {
	c := w.change
	w.change = false
	return c
}

// With a watch, the tables are read once and again only after a change.
func TestTableReadOncePerChange(t *testing.T) {
	h := fixtureHost(nil)
	reads := 0
	list := h.interfaces
	h.interfaces = func() ([]iface, error) { reads++; return list() }
	w := &fakeWatch{}
	h.watch = w

	first := h.table()
	if again := h.table(); again != first || reads != 1 {
		t.Errorf("without a change: got a new table (%v) after %d reads, want the first after 1", again != first, reads)
	}
	w.change = true
	if changed := h.table(); changed == first || reads != 2 {
		t.Errorf("after a change: got the old table (%v) after %d reads, want a new one after 2", changed == first, reads)
	}
}
