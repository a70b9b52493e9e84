package happyeyeballs

import (
	"net/netip"
	"testing"
)

// The examples of RFC 6724 §10.1 (source address selection), plus IPv4 and
// the candidates RFC 6724 §4 keeps out.
func TestSelectSource(t *testing.T) {
	src := func(s string) Source { return Source{Addr: netip.MustParseAddr(s)} }
	tests := []struct {
		name       string
		dst        string
		candidates []Source
		want       string // "" for none
	}{
		{
			// Destination: 2001:db8:1::1
			// Candidate Source Addresses: 2001:db8:3::1 or fe80::1
			// Result: 2001:db8:3::1 (prefer appropriate scope)
			name:       "10.1 prefer appropriate scope, global destination",
			dst:        "2001:db8:1::1",
			candidates: []Source{src("2001:db8:3::1"), src("fe80::1")},
			want:       "2001:db8:3::1",
		},
		{
			// Destination: ff05::1
			// Candidate Source Addresses: 2001:db8:3::1 or fe80::1
			// Result: 2001:db8:3::1 (prefer appropriate scope)
			name:       "10.1 prefer appropriate scope, site-local multicast",
			dst:        "ff05::1",
			candidates: []Source{src("fe80::1"), src("2001:db8:3::1")},
			want:       "2001:db8:3::1",
		},
		{
			// Destination: 2001:db8:1::1
			// Candidate Source Addresses: 2001:db8:1::1 (deprecated) or 2001:db8:2::1
			// Result: 2001:db8:1::1 (prefer same address)
			name:       "10.1 prefer same address",
			dst:        "2001:db8:1::1",
			candidates: []Source{src("2001:db8:2::1"), {Addr: netip.MustParseAddr("2001:db8:1::1"), Deprecated: true}},
			want:       "2001:db8:1::1",
		},
		{
			// Destination: fe80::1
			// Candidate Source Addresses: fe80::2 (deprecated) or 2001:db8:1::1
			// Result: fe80::2 (prefer appropriate scope)
			name:       "10.1 prefer appropriate scope over not deprecated",
			dst:        "fe80::1",
			candidates: []Source{src("2001:db8:1::1"), {Addr: netip.MustParseAddr("fe80::2"), Deprecated: true}},
			want:       "fe80::2",
		},
		{
			// Destination: 2001:db8:1::1
			// Candidate Source Addresses: 2001:db8:1::2 or 2001:db8:3::2
			// Result: 2001:db8:1::2 (longest matching prefix)
			name:       "10.1 longest matching prefix",
			dst:        "2001:db8:1::1",
			candidates: []Source{src("2001:db8:3::2"), src("2001:db8:1::2")},
			want:       "2001:db8:1::2",
		},
		{
			// Destination: 2001:db8:1::1
			// Candidate Source Addresses: 2001:db8:1::2 (care-of address) or 2001:
			// db8:3::2 (home address)
			// Result: 2001:db8:3::2 (prefer home address)
			name: "10.1 prefer home address",
			dst:  "2001:db8:1::1",
			candidates: []Source{
				{Addr: netip.MustParseAddr("2001:db8:1::2"), CareOf: true},
				{Addr: netip.MustParseAddr("2001:db8:3::2"), Home: true},
			},
			want: "2001:db8:3::2",
		},
		{
			// Destination: 2002:c633:6401::1
			// Candidate Source Addresses: 2002:c633:6401::d5e3:7953:13eb:22e8
			// (temporary) or 2001:db8:1::2
			// Result: 2002:c633:6401::d5e3:7953:13eb:22e8 (prefer matching label)
			name: "10.1 prefer matching label",
			dst:  "2002:c633:6401::1",
			candidates: []Source{
				src("2001:db8:1::2"),
				{Addr: netip.MustParseAddr("2002:c633:6401::d5e3:7953:13eb:22e8"), Temporary: true},
			},
			want: "2002:c633:6401::d5e3:7953:13eb:22e8",
		},
		{
			// Destination: 2001:db8:1::d5e3:0:0:1
			// Candidate Source Addresses: 2001:db8:1::2 or
			// 2001:db8:1::d5e3:7953:13eb:22e8 (temporary)
			// Result: 2001:db8:1::d5e3:7953:13eb:22e8 (prefer temporary address)
			name: "10.1 prefer temporary address",
			dst:  "2001:db8:1::d5e3:0:0:1",
			candidates: []Source{
				src("2001:db8:1::2"),
				{Addr: netip.MustParseAddr("2001:db8:1::d5e3:7953:13eb:22e8"), Temporary: true},
			},
			want: "2001:db8:1::d5e3:7953:13eb:22e8",
		},
		{
			name:       "IPv4 destination takes an IPv4 source",
			dst:        "192.0.2.1",
			candidates: []Source{src("2001:db8::2"), src("198.51.100.7"), src("192.0.2.2")},
			want:       "192.0.2.2", // longest matching prefix
		},
		{
			name:       "IPv4-mapped destination is IPv4",
			dst:        "::ffff:192.0.2.1",
			candidates: []Source{src("2001:db8::2"), src("192.0.2.2")},
			want:       "192.0.2.2",
		},
		{
			name:       "loopback destination",
			dst:        "127.0.0.1",
			candidates: []Source{src("192.0.2.2"), src("127.0.0.1")},
			want:       "127.0.0.1",
		},
		{
			name:       "no candidate of the family",
			dst:        "2001:db8::1",
			candidates: []Source{src("192.0.2.2")},
		},
		{
			// RFC 6724 §4: "multicast addresses and the unspecified address
			// MUST NOT be included in a candidate set".
			name:       "multicast and unspecified are never sources",
			dst:        "2001:db8::1",
			candidates: []Source{src("ff02::1"), src("::"), {}},
		},
		{
			name:       "tie keeps candidate order",
			dst:        "2001:db8:1::1",
			candidates: []Source{src("2001:db8:1::3"), src("2001:db8:1::2")},
			want:       "2001:db8:1::3", // both share the /64 with D
		},
		{
			name:       "invalid destination",
			dst:        "",
			candidates: []Source{src("2001:db8:1::3")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst netip.Addr
			if tt.dst != "" {
				dst = netip.MustParseAddr(tt.dst)
			}
			got, ok := SelectSource(dst, tt.candidates, nil)
			if tt.want == "" {
				if ok {
					t.Errorf("got %v, want no source", got.Addr)
				}
				return
			}
			if !ok || got.Addr != netip.MustParseAddr(tt.want) {
				t.Errorf("got %v (found %v), want %s", got.Addr, ok, tt.want)
			}
		})
	}
}
