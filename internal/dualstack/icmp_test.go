package dualstack

import (
	"net/netip"
	"testing"
)

func TestICMP(t *testing.T) {
	router := netip.MustParseAddr("192.0.2.254")
	tests := []struct {
		m          ICMP
		prohibited bool
		str        string
	}{
		// RFC 1812 section 5.2.7.1; RFC 1122 section 3.2.2.1.
		{ICMP{Family: FamilyIPv4, Type: 3, Code: 13, From: router}, true, "ICMP administratively prohibited from 192.0.2.254"},
		{ICMP{Family: FamilyIPv4, Type: 3, Code: 10}, true, "ICMP host administratively prohibited"},
		{ICMP{Family: FamilyIPv4, Type: 3, Code: 1}, false, "ICMP host unreachable"},
		// RFC 4443 section 3.1.
		{ICMP{Family: FamilyIPv6, Type: 1, Code: 1}, true, "ICMPv6 administratively prohibited"},
		{ICMP{Family: FamilyIPv6, Type: 1, Code: 5}, true, "ICMPv6 source address failed ingress/egress policy"},
		{ICMP{Family: FamilyIPv6, Type: 1, Code: 3}, false, "ICMPv6 address unreachable"},
		{ICMP{Family: FamilyIPv6, Type: 3}, false, "ICMPv6 time exceeded"},
		{ICMP{Family: FamilyIPv4, Type: 3, Code: 99}, false, "ICMP type 3 code 99"},
	}
	for _, tt := range tests {
		if got := tt.m.Prohibited(); got != tt.prohibited {
			t.Errorf("%v.Prohibited() = %v, want %v", tt.m, got, tt.prohibited)
		}
		if got := tt.m.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
	}
}
