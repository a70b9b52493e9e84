package happyeyeballs

import (
	"net/netip"
	"slices"
	"testing"
)

// Go's TestRFC6724PolicyTableContent, as rows in the RFC's order.
func TestRFC6724PolicyRows(t *testing.T) {
	want := []PolicyRow{
		{netip.MustParsePrefix("::1/128"), 50, 0},
		{netip.MustParsePrefix("::/0"), 40, 1},
		{netip.MustParsePrefix("::ffff:0:0/96"), 35, 4},
		{netip.MustParsePrefix("2002::/16"), 30, 2},
		{netip.MustParsePrefix("2001::/32"), 5, 5},
		{netip.MustParsePrefix("fc00::/7"), 3, 13},
		{netip.MustParsePrefix("::/96"), 1, 3},
		{netip.MustParsePrefix("fec0::/10"), 1, 11},
		{netip.MustParsePrefix("3ffe::/16"), 1, 12},
	}
	for name, p := range map[string]*Policy{"RFC6724Policy": RFC6724Policy(), "nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			if got := p.Rows(); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// glibc's posix/gai.conf documents its defaults; the label-only prefixes
// show the precedence ::/0 gives them.
func TestGlibcPolicyRows(t *testing.T) {
	want := []PolicyRow{
		{netip.MustParsePrefix("::1/128"), 50, 0},
		{netip.MustParsePrefix("::/0"), 40, 1},
		{netip.MustParsePrefix("2002::/16"), 30, 2},
		{netip.MustParsePrefix("::/96"), 20, 3},
		{netip.MustParsePrefix("::ffff:0:0/96"), 10, 4},
		{netip.MustParsePrefix("fec0::/10"), 40, 5},
		{netip.MustParsePrefix("fc00::/7"), 40, 6},
		{netip.MustParsePrefix("2001::/32"), 40, 7},
	}
	if got := GlibcPolicy().Rows(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPolicyLookups(t *testing.T) {
	rfc, glibc := RFC6724Policy(), GlibcPolicy()
	tests := []struct {
		addr                  string
		rfcPrec, rfcLabel     uint8
		glibcPrec, glibcLabel uint8
	}{
		// The first four are Go's TestRFC6724PolicyTableClassify.
		{"127.0.0.1", 35, 4, 10, 4},
		{"2601:645:8002:a500:986f:1db8:c836:bd65", 40, 1, 40, 1},
		{"::1", 50, 0, 50, 0},
		{"2002::ab12", 30, 2, 30, 2},

		{"::ffff:127.0.0.1", 35, 4, 10, 4}, // mapped is IPv4
		{"10.1.2.3", 35, 4, 10, 4},
		{"fd00::1", 3, 13, 40, 6},     // the ULA divergence
		{"2001::1", 5, 5, 40, 7},      // Teredo
		{"2001:db8::1", 40, 1, 40, 1}, // not Teredo: 2001::/32 is 2001:0000::
		{"fec0::1", 1, 11, 40, 5},
		{"3ffe::1", 1, 12, 40, 1},
		{"::10.0.0.1", 1, 3, 20, 3}, // IPv4-compatible
		{"fe80::1%eth0", 40, 1, 40, 1},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := rfc.Precedence(a); got != tt.rfcPrec {
				t.Errorf("rfc6724 precedence: got %d, want %d", got, tt.rfcPrec)
			}
			if got := rfc.Label(a); got != tt.rfcLabel {
				t.Errorf("rfc6724 label: got %d, want %d", got, tt.rfcLabel)
			}
			if got := glibc.Precedence(a); got != tt.glibcPrec {
				t.Errorf("glibc precedence: got %d, want %d", got, tt.glibcPrec)
			}
			if got := glibc.Label(a); got != tt.glibcLabel {
				t.Errorf("glibc label: got %d, want %d", got, tt.glibcLabel)
			}
		})
	}
	if got := rfc.Precedence(netip.Addr{}); got != 0 {
		t.Errorf("precedence of the zero Addr: got %d, want 0", got)
	}
}

// The defaults are handed out as copies: changing one policy changes no
// other, and never the default a nil Policy reads.
func TestPoliciesAreFreshCopies(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	for name, ctor := range map[string]func() *Policy{"rfc6724": RFC6724Policy, "glibc": GlibcPolicy} {
		t.Run(name, func(t *testing.T) {
			p := ctor()
			want := p.Precedence(v4)
			for i := range p.PrecedenceTable {
				p.PrecedenceTable[i].Value = 99
			}
			for i := range p.ScopeV4Table {
				p.ScopeV4Table[i].Value = 1
			}
			if got := ctor().Precedence(v4); got != want {
				t.Errorf("a fresh %s policy: got precedence %d, want %d", name, got, want)
			}
			if got := (*Policy)(nil).Precedence(v4); got != 35 {
				t.Errorf("nil policy: got precedence %d, want 35", got)
			}
			if got := scopeOf(netip.MustParseAddr("127.0.0.1"), ctor()); got != scopeLinkLocal {
				t.Errorf("a fresh %s policy: got scope %d for 127.0.0.1, want %d", name, got, scopeLinkLocal)
			}
		})
	}
}

// A hand-built table may write IPv4 prefixes plainly; a table without ::/0
// gives 0 to what it does not cover, as Go's Classify does.
func TestPolicyHandBuilt(t *testing.T) {
	p := &Policy{PrecedenceTable: []PolicyEntry{
		{netip.MustParsePrefix("10.0.0.0/8"), 60},
		{netip.MustParsePrefix("2001:db8::/32"), 20},
	}}
	for addr, want := range map[string]uint8{"10.9.9.9": 60, "::ffff:10.1.1.1": 60, "2001:db8::1": 20, "192.0.2.1": 0, "fd00::1": 0} {
		if got := p.Precedence(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Precedence(%s): got %d, want %d", addr, got, want)
		}
	}
	// The empty label table is RFC 6724's.
	if got := p.Label(netip.MustParseAddr("fd00::1")); got != 13 {
		t.Errorf("Label(fd00::1): got %d, want 13", got)
	}
}

func TestPolicyByName(t *testing.T) {
	for name, wantPrec := range map[string]uint8{"rfc6724": 35, "glibc": 10, "testdata/gaiconf/prefer-ipv4.conf": 100} {
		t.Run(name, func(t *testing.T) {
			p, err := PolicyByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("name: got %q, want %q", p.Name, name)
			}
			if got := p.Precedence(netip.MustParseAddr("192.0.2.1")); got != wantPrec {
				t.Errorf("precedence of IPv4: got %d, want %d", got, wantPrec)
			}
		})
	}
	if _, err := PolicyByName("glbc"); err == nil {
		t.Error(`PolicyByName("glbc"): got no error, want one`)
	}
}

func TestSortOptionsFor(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		prefix PrefixRule
	}{
		{"rfc6724", "rfc6724", PrefixRuleRFC},
		{"glibc", "glibc", PrefixRuleGlibc},
		{"testdata/gaiconf/prefer-ipv4.conf", "testdata/gaiconf/prefer-ipv4.conf", PrefixRuleGlibc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := SortOptionsFor(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if opts.Policy.Name != tt.policy || opts.PrefixRule != tt.prefix || opts.Rules != AllRules {
				t.Errorf("got {%s %v %v}, want {%s %v %v}", opts.Policy.Name, opts.PrefixRule, opts.Rules, tt.policy, tt.prefix, AllRules)
			}
		})
	}
}
