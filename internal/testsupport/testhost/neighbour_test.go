package testhost

import (
	"net/netip"
	"testing"
)

func TestVacant(t *testing.T) {
	lab, client, _ := newPair(t)
	a := netip.MustParseAddr
	for _, tt := range []struct {
		prefix netip.Prefix
		i      int
		want   netip.Addr
	}{
		{lab.Prefix4(), 0, a("192.0.2.254")}, // below the broadcast address
		{lab.Prefix4(), 3, a("192.0.2.251")},
		{lab.Prefix6(), 0, a("2001:db8::ffff:ffff:ffff:ffff")},
		{lab.Prefix6(), 1, a("2001:db8::ffff:ffff:ffff:fffe")},
	} {
		if got, err := lab.Vacant(tt.prefix, tt.i); err != nil || got != tt.want {
			t.Errorf("Vacant(%v, %d) = %v, %v, want %v", tt.prefix, tt.i, got, err, tt.want)
		}
	}
	for _, bad := range []struct {
		prefix netip.Prefix
		i      int
	}{
		{netip.MustParsePrefix("198.51.100.0/24"), 0}, // not the lab's
		{lab.Prefix4(), 253},                          // the client's own .1
		{lab.Prefix4(), 254},                          // the network address
	} {
		if got, err := lab.Vacant(bad.prefix, bad.i); err == nil {
			t.Errorf("Vacant(%v, %d) = %v, want an error", bad.prefix, bad.i, got)
		}
	}

	for _, dst := range []netip.Addr{lab.Prefix4().Addr(), lab.Prefix6().Addr()} {
		// The value is the machine's default (3 s unless changed), so
		// only its being there is checked.
		if d, err := client.NeighbourGiveUp(dst); err != nil || d <= 0 {
			t.Errorf("NeighbourGiveUp(%v) = %v, %v, want a positive duration", dst, d, err)
		}
	}
}
