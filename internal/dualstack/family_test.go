package dualstack

import (
	"net/netip"
	"testing"
)

func TestFamilyNames(t *testing.T) {
	tests := []struct {
		f                            Family
		str, label, query, neighbour string
		addr                         string
	}{
		{FamilyIPv4, "ipv4", "IPv4", "A", "ARP", "192.0.2.1"},
		{FamilyIPv6, "ipv6", "IPv6", "AAAA", "NDP", "2001:db8::1"},
		// An IPv4-mapped address is IPv4: that is the family its packets use.
		{FamilyIPv4, "ipv4", "IPv4", "A", "ARP", "::ffff:192.0.2.1"},
		{FamilyUnspecified, "none", "none", "", "", ""},
	}
	for _, tt := range tests {
		var a netip.Addr
		if tt.addr != "" {
			a = netip.MustParseAddr(tt.addr)
		}
		if got := FamilyOf(a); got != tt.f {
			t.Errorf("FamilyOf(%q) = %v, want %v", tt.addr, got, tt.f)
		}
		if got := tt.f.String(); got != tt.str {
			t.Errorf("%d.String() = %q, want %q", tt.f, got, tt.str)
		}
		if got := tt.f.Label(); got != tt.label {
			t.Errorf("%v.Label() = %q, want %q", tt.f, got, tt.label)
		}
		if got := tt.f.QueryType(); got != tt.query {
			t.Errorf("%v.QueryType() = %q, want %q", tt.f, got, tt.query)
		}
		if got := tt.f.NeighbourDiscovery(); got != tt.neighbour {
			t.Errorf("%v.NeighbourDiscovery() = %q, want %q", tt.f, got, tt.neighbour)
		}
		if tt.f != FamilyUnspecified {
			if got, err := ParseFamily(tt.str); err != nil || got != tt.f {
				t.Errorf("ParseFamily(%q) = %v, %v, want %v", tt.str, got, err, tt.f)
			}
		}
	}
	if _, err := ParseFamily("ipv5"); err == nil {
		t.Error("ParseFamily(ipv5) succeeded, want an error")
	}
}
