package localaddr

import (
	"net/netip"
	"os"
	"slices"
	"testing"
)

// testdata/if_inet6 is in the kernel's format (net/ipv6/addrconf.c,
// if6_seq_show), with one address per flag dsprobe reads and a last line the
// parser must skip.
func TestParseIfInet6(t *testing.T) {
	f, err := os.Open("testdata/if_inet6")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseIfInet6(f)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := []inet6Addr{
		{a("::1"), 1, 128, 0x10, 0x80, "lo"},
		{a("2001:db8:1::2"), 2, 64, 0, 0, "eth0"},
		{a("2001:db8:1:0:d5e3:7953:13eb:22e8"), 2, 64, 0, ifaTemporary, "eth0"},
		{a("2001:db8:1::3"), 2, 64, 0, ifaDeprecated, "eth0"},
		{a("2001:db8:1::4"), 2, 64, 0, ifaOptimistic, "eth0"},
		{a("2001:db8:1::5"), 2, 64, 0, ifaTentative, "eth0"},
		{a("2001:db8:3::1"), 2, 64, 0, ifaHomeAddress, "eth0"},
		{a("fe80::1"), 2, 64, 0x20, 0x80, "eth0"},
		{a("fe80::1"), 5, 64, 0x20, 0x80, "ip6tnl0"},
		{a("2002:c633:6401::2"), 3, 48, 0, 0x80, "sit0"},
		{a("fd00::9"), 2, 64, 0, 0x280, "eth0"}, // flags wider than a byte
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

func TestInet6Usable(t *testing.T) {
	for flags, want := range map[uint32]bool{
		0:                            true,
		ifaDeprecated:                true,
		ifaTentative:                 false,
		ifaTentative | ifaOptimistic: true,
		ifaDADFailed:                 false,
	} {
		if got := (inet6Addr{Flags: flags}).usable(); got != want {
			t.Errorf("flags %#x: got usable=%v, want %v", flags, got, want)
		}
	}
}
