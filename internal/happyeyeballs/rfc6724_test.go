package happyeyeballs

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mustAddrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = mustAddr(s)
	}
	return out
}

// dest is a destination reached from source src; src "" means no source.
func dest(dst, src string) Destination {
	d := Destination{Addr: mustAddr(dst)}
	if src != "" {
		d.Source.Addr = mustAddr(src)
	}
	return d
}

// destFrom is a destination reached from a source with flags.
func destFrom(dst string, src Source) Destination {
	return Destination{Addr: mustAddr(dst), Source: src}
}

func addrsOf(dsts []Destination) []netip.Addr {
	out := make([]netip.Addr, len(dsts))
	for i, d := range dsts {
		out[i] = d.Addr
	}
	return out
}

// goSortOptions is how Go's sortByRFC6724 sorts (src/net/addrselect.go).
var goSortOptions = SortOptions{Rules: GoRules, PrefixRule: PrefixRuleGo, KeepUnusableOrder: true}

// glibcSortOptions is how glibc's rfc3484_sort sorts with no gai.conf.
func glibcSortOptions() SortOptions {
	return SortOptions{Policy: GlibcPolicy(), PrefixRule: PrefixRuleGlibc}
}

type sortCase struct {
	name string
	in   []Destination
	opts SortOptions
	want []netip.Addr
	// wantReversed is the result for the reversed input where the two
	// differ: only when some destinations tie on every rule, so rule 10
	// keeps them in input order. Nil means want.
	wantReversed []netip.Addr
}

// runSortCases sorts each case's input as given and reversed, as Go's
// TestSortByRFC6724 does, so a result cannot come from rule 10 by accident.
func runSortCases(t *testing.T, cases []sortCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(tt.in)
			SortDestinations(got, tt.opts)
			if !slices.Equal(addrsOf(got), tt.want) {
				t.Errorf("got %v, want %v", addrsOf(got), tt.want)
			}
			// The sources travel with their destinations.
			for _, d := range got {
				i := slices.IndexFunc(tt.in, func(o Destination) bool { return o.Addr == d.Addr })
				if tt.in[i] != d {
					t.Errorf("destination %v got source %+v, want %+v", d.Addr, d.Source, tt.in[i].Source)
				}
			}

			checkAntisymmetric(t, tt.in, tt.opts)

			rev := slices.Clone(tt.in)
			slices.Reverse(rev)
			SortDestinations(rev, tt.opts)
			wantRev := tt.want
			if tt.wantReversed != nil {
				wantRev = tt.wantReversed
			}
			if !slices.Equal(addrsOf(rev), wantRev) {
				t.Errorf("reversed input: got %v, want %v", addrsOf(rev), wantRev)
			}
		})
	}
}

// checkAntisymmetric checks that the comparison of every pair is the
// negation of the reverse comparison: a rule coded for one direction only
// would otherwise pass whenever the sort happens to compare the other way.
func checkAntisymmetric(t *testing.T, in []Destination, opts SortOptions) {
	t.Helper()
	rules := opts.Rules.orAll()
	for i := range in {
		for j := range in {
			a, b := newSortItem(in[i], opts), newSortItem(in[j], opts)
			ab := compareDestinations(&a, &b, rules, opts.KeepUnusableOrder)
			ba := compareDestinations(&b, &a, rules, opts.KeepUnusableOrder)
			if ab != -ba {
				t.Errorf("compare(%v, %v) = %d but compare(%v, %v) = %d", in[i].Addr, in[j].Addr, ab, in[j].Addr, in[i].Addr, ba)
			}
		}
	}
}

// Each example of RFC 6724 §10.2 gives the host's candidate source addresses
// and a destination list, and the result names the source chosen for each
// destination. Here SelectSource chooses the sources from the candidates (and
// must name the RFC's), and SortDestinations, with its zero options (RFC
// 6724 as written), must give the RFC's order from either input order.
func TestSortDestinationsRFC6724Examples(t *testing.T) {
	coa := func(s string) Source { return Source{Addr: mustAddr(s), CareOf: true} }
	tests := []struct {
		name       string
		candidates []Source
		dsts       []string // the RFC's Destination Address List
		want       []string // the RFC's Result
		wantSrc    []string // the "(src X)" of each destination in want
	}{
		{
			// Candidate Source Addresses: 2001:db8:1::2 or fe80::1 or 169.254.13.78
			// Destination Address List: 2001:db8:1::1 or 198.51.100.121
			// Result: 2001:db8:1::1 (src 2001:db8:1::2) then 198.51.100.121 (src
			// 169.254.13.78) (prefer matching scope)
			name:       "10.2 prefer matching scope, IPv6 first",
			candidates: []Source{{Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("fe80::1")}, {Addr: mustAddr("169.254.13.78")}},
			dsts:       []string{"2001:db8:1::1", "198.51.100.121"},
			want:       []string{"2001:db8:1::1", "198.51.100.121"},
			wantSrc:    []string{"2001:db8:1::2", "169.254.13.78"},
		},
		{
			// Candidate Source Addresses: fe80::1 or 198.51.100.117
			// Destination Address List: 2001:db8:1::1 or 198.51.100.121
			// Result: 198.51.100.121 (src 198.51.100.117) then 2001:db8:1::1 (src
			// fe80::1) (prefer matching scope)
			name:       "10.2 prefer matching scope, IPv4 first",
			candidates: []Source{{Addr: mustAddr("fe80::1")}, {Addr: mustAddr("198.51.100.117")}},
			dsts:       []string{"2001:db8:1::1", "198.51.100.121"},
			want:       []string{"198.51.100.121", "2001:db8:1::1"},
			wantSrc:    []string{"198.51.100.117", "fe80::1"},
		},
		{
			// Candidate Source Addresses: 2001:db8:1::2 or fe80::1 or 10.1.2.4
			// Destination Address List: 2001:db8:1::1 or 10.1.2.3
			// Result: 2001:db8:1::1 (src 2001:db8:1::2) then 10.1.2.3 (src
			// 10.1.2.4) (prefer higher precedence)
			name:       "10.2 prefer higher precedence, IPv6 over IPv4",
			candidates: []Source{{Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("fe80::1")}, {Addr: mustAddr("10.1.2.4")}},
			dsts:       []string{"2001:db8:1::1", "10.1.2.3"},
			want:       []string{"2001:db8:1::1", "10.1.2.3"},
			wantSrc:    []string{"2001:db8:1::2", "10.1.2.4"},
		},
		{
			// Candidate Source Addresses: 2001:db8:1::2 or fe80::2
			// Destination Address List: 2001:db8:1::1 or fe80::1
			// Result: fe80::1 (src fe80::2) then 2001:db8:1::1 (src 2001:db8:1::2)
			// (prefer smaller scope)
			name:       "10.2 prefer smaller scope",
			candidates: []Source{{Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("fe80::2")}},
			dsts:       []string{"2001:db8:1::1", "fe80::1"},
			want:       []string{"fe80::1", "2001:db8:1::1"},
			wantSrc:    []string{"fe80::2", "2001:db8:1::2"},
		},
		{
			// Candidate Source Addresses: 2001:db8:1::2 (care-of address) or 2001:
			// db8:3::1 (home address) or fe80::2 (care-of address)
			// Destination Address List: 2001:db8:1::1 or fe80::1
			// Result: 2001:db8:1::1 (src 2001:db8:3::1) then fe80::1 (src fe80::2)
			// (prefer home address)
			//
			// Rule 4's text only speaks of a source that is "simultaneously a
			// home address and care-of address", which neither source is;
			// this result needs "just home" to beat "just care-of", the order
			// source rule 4 gives (see homeRank). Read literally, rule 8 would
			// put fe80::1 first.
			name:       "10.2 prefer home address",
			candidates: []Source{coa("2001:db8:1::2"), {Addr: mustAddr("2001:db8:3::1"), Home: true}, coa("fe80::2")},
			dsts:       []string{"2001:db8:1::1", "fe80::1"},
			want:       []string{"2001:db8:1::1", "fe80::1"},
			wantSrc:    []string{"2001:db8:3::1", "fe80::2"},
		},
		{
			// Candidate Source Addresses: 2001:db8:1::2 or fe80::2 (deprecated)
			// Destination Address List: 2001:db8:1::1 or fe80::1
			// Result: 2001:db8:1::1 (src 2001:db8:1::2) then fe80::1 (src fe80::2)
			// (avoid deprecated addresses)
			name:       "10.2 avoid deprecated addresses",
			candidates: []Source{{Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("fe80::2"), Deprecated: true}},
			dsts:       []string{"2001:db8:1::1", "fe80::1"},
			want:       []string{"2001:db8:1::1", "fe80::1"},
			wantSrc:    []string{"2001:db8:1::2", "fe80::2"},
		},
		{
			// Candidate Source Addresses: 2001:db8:1::2 or 2001:db8:3f44::2 or
			// fe80::2
			// Destination Address List: 2001:db8:1::1 or 2001:db8:3ffe::1
			// Result: 2001:db8:1::1 (src 2001:db8:1::2) then 2001:db8:3ffe::1 (src
			// 2001:db8:3f44::2) (longest matching prefix)
			name:       "10.2 longest matching prefix",
			candidates: []Source{{Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("2001:db8:3f44::2")}, {Addr: mustAddr("fe80::2")}},
			dsts:       []string{"2001:db8:1::1", "2001:db8:3ffe::1"},
			want:       []string{"2001:db8:1::1", "2001:db8:3ffe::1"},
			wantSrc:    []string{"2001:db8:1::2", "2001:db8:3f44::2"},
		},
		{
			// Candidate Source Addresses: 2002:c633:6401::2 or fe80::2
			// Destination Address List: 2002:c633:6401::1 or 2001:db8:1::1
			// Result: 2002:c633:6401::1 (src 2002:c633:6401::2) then 2001:db8:1::1
			// (src 2002:c633:6401::2) (prefer matching label)
			name:       "10.2 prefer matching label",
			candidates: []Source{{Addr: mustAddr("2002:c633:6401::2")}, {Addr: mustAddr("fe80::2")}},
			dsts:       []string{"2002:c633:6401::1", "2001:db8:1::1"},
			want:       []string{"2002:c633:6401::1", "2001:db8:1::1"},
			wantSrc:    []string{"2002:c633:6401::2", "2002:c633:6401::2"},
		},
		{
			// Candidate Source Addresses: 2002:c633:6401::2 or 2001:db8:1::2 or
			// fe80::2
			// Destination Address List: 2002:c633:6401::1 or 2001:db8:1::1
			// Result: 2001:db8:1::1 (src 2001:db8:1::2) then 2002:c633:6401::1 (src
			// 2002:c633:6401::2) (prefer higher precedence)
			name:       "10.2 prefer higher precedence, native over 6to4",
			candidates: []Source{{Addr: mustAddr("2002:c633:6401::2")}, {Addr: mustAddr("2001:db8:1::2")}, {Addr: mustAddr("fe80::2")}},
			dsts:       []string{"2002:c633:6401::1", "2001:db8:1::1"},
			want:       []string{"2001:db8:1::1", "2002:c633:6401::1"},
			wantSrc:    []string{"2001:db8:1::2", "2002:c633:6401::2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []Destination
			for _, d := range tt.dsts {
				src, ok := SelectSource(mustAddr(d), tt.candidates, nil)
				if !ok {
					t.Fatalf("SelectSource(%s) found no source", d)
				}
				in = append(in, Destination{Addr: mustAddr(d), Source: src})
			}
			for i, d := range tt.want {
				j := slices.IndexFunc(in, func(o Destination) bool { return o.Addr == mustAddr(d) })
				if got := in[j].Source.Addr; got != mustAddr(tt.wantSrc[i]) {
					t.Errorf("source for %s: got %v, want %v", d, got, tt.wantSrc[i])
				}
			}
			checkAntisymmetric(t, in, SortOptions{})
			for _, reversed := range []bool{false, true} {
				got := slices.Clone(in)
				if reversed {
					slices.Reverse(got)
				}
				SortDestinations(got, SortOptions{})
				if !slices.Equal(addrsOf(got), mustAddrs(tt.want...)) {
					t.Errorf("reversed=%v: got %v, want %v", reversed, addrsOf(got), tt.want)
				}
			}
		})
	}
}

// The cases of Go's TestSortByRFC6724 (src/net/addrselect_test.go), with
// the options that reproduce Go's sortByRFC6724.
func TestSortDestinationsGoCases(t *testing.T) {
	issue13283 := []Destination{
		dest("54.83.193.112", "10.2.3.4"),
		dest("184.72.238.214", "10.2.3.4"),
		dest("23.23.172.185", "10.2.3.4"),
		dest("75.101.148.21", "10.2.3.4"),
		dest("23.23.134.56", "10.2.3.4"),
		dest("23.21.50.150", "10.2.3.4"),
	}
	inOrder := addrsOf(issue13283)
	reversed := slices.Clone(inOrder)
	slices.Reverse(reversed)

	runSortCases(t, []sortCase{
		{
			// Examples from RFC 6724 section 10.2: Prefer matching scope.
			name: "go: prefer matching scope, IPv6 first",
			in:   []Destination{dest("2001:db8:1::1", "2001:db8:1::2"), dest("198.51.100.121", "169.254.13.78")},
			opts: goSortOptions,
			want: mustAddrs("2001:db8:1::1", "198.51.100.121"),
		},
		{
			name: "go: prefer matching scope, IPv4 first",
			in:   []Destination{dest("2001:db8:1::1", "fe80::1"), dest("198.51.100.121", "198.51.100.117")},
			opts: goSortOptions,
			want: mustAddrs("198.51.100.121", "2001:db8:1::1"),
		},
		{
			name: "go: prefer higher precedence",
			in:   []Destination{dest("2001:db8:1::1", "2001:db8:1::2"), dest("10.1.2.3", "10.1.2.4")},
			opts: goSortOptions,
			want: mustAddrs("2001:db8:1::1", "10.1.2.3"),
		},
		{
			name: "go: prefer smaller scope",
			in:   []Destination{dest("2001:db8:1::1", "2001:db8:1::2"), dest("fe80::1", "fe80::2")},
			opts: goSortOptions,
			want: mustAddrs("fe80::1", "2001:db8:1::1"),
		},
		{
			// Issue 13283. Having a 10/8 source address does not mean we
			// should prefer 23/8 destination addresses. Go tests this
			// case only forwards: all six tie, so reversed they stay
			// reversed.
			name:         "go: issue 13283, IPv4 round robin survives",
			in:           issue13283,
			opts:         goSortOptions,
			want:         inOrder,
			wantReversed: reversed,
		},
		{
			// What golang/go#13283 reported: the RFC's rule 9 over full
			// IPv4 addresses sends every client of a 10/8 host to the
			// 23/8 servers (3 common bits with 10.2.3.4; 54/8 shares 2,
			// 75/8 1, 184/8 none). The three 23/8 servers tie.
			name: "rfc: issue 13283, rule 9 defeats round robin",
			in:   issue13283,
			opts: SortOptions{},
			want: mustAddrs("23.23.172.185", "23.23.134.56", "23.21.50.150",
				"54.83.193.112", "75.101.148.21", "184.72.238.214"),
			wantReversed: mustAddrs("23.21.50.150", "23.23.134.56", "23.23.172.185",
				"54.83.193.112", "75.101.148.21", "184.72.238.214"),
		},
		{
			// glibc applies IPv4 rule 9 only inside the source's subnet
			// (10.0.0.0/8 here, where none of these servers is).
			name: "glibc: issue 13283, no destination on the subnet",
			in: func() []Destination {
				in := slices.Clone(issue13283)
				for i := range in {
					in[i].Source.PrefixLen = 8
				}
				return in
			}(),
			opts:         glibcSortOptions(),
			want:         inOrder,
			wantReversed: reversed,
		},
	})
}

// golang/go#18518 asked Go to order IPv4 as glibc does; Go's answer was to
// drop IPv4 from rule 9 altogether. One source, 192.168.1.10/24, and three
// servers: one on its subnet, two on neighbouring /24s. The three rule-9
// variants disagree.
func TestSortDestinationsIssue18518(t *testing.T) {
	src := Source{Addr: mustAddr("192.168.1.10"), PrefixLen: 24}
	in := []Destination{
		destFrom("192.168.2.1", src),   // 22 bits in common with the source
		destFrom("192.168.0.1", src),   // 23 bits
		destFrom("192.168.1.200", src), // 24 bits, and the same /24
	}
	runSortCases(t, []sortCase{
		{
			// Go: no IPv4 rule 9; all tie and keep their order.
			name:         "go keeps the resolver's order",
			in:           in,
			opts:         goSortOptions,
			want:         mustAddrs("192.168.2.1", "192.168.0.1", "192.168.1.200"),
			wantReversed: mustAddrs("192.168.1.200", "192.168.0.1", "192.168.2.1"),
		},
		{
			// glibc: only 192.168.1.200 is on the subnet; the other two
			// count 0 and tie.
			name:         "glibc puts the same-subnet server first",
			in:           in,
			opts:         glibcSortOptions(),
			want:         mustAddrs("192.168.1.200", "192.168.2.1", "192.168.0.1"),
			wantReversed: mustAddrs("192.168.1.200", "192.168.0.1", "192.168.2.1"),
		},
		{
			// RFC: common bits up to the source's /24: 24 > 23 > 22.
			name: "rfc ranks every server by common prefix",
			in:   in,
			opts: SortOptions{},
			want: mustAddrs("192.168.1.200", "192.168.0.1", "192.168.2.1"),
		},
	})
}

// RFC 6724 section 2.1 gives fc00::/7 precedence 3, below IPv4's 35, so a Go
// client prefers IPv4 over an fd00:: Service address, while glibc's default
// table (RFC 3484 section 2.1 values) prefers the ULA (docs/architecture.md,
// Client behaviour).
func TestSortDestinationsULAVersusIPv4(t *testing.T) {
	in := []Destination{dest("fd00::1", "fd00::2"), dest("10.0.0.1", "10.0.0.2")}
	runSortCases(t, []sortCase{
		{name: "rfc6724 table prefers IPv4", in: in, opts: SortOptions{}, want: mustAddrs("10.0.0.1", "fd00::1")},
		{name: "go prefers IPv4", in: in, opts: goSortOptions, want: mustAddrs("10.0.0.1", "fd00::1")},
		{name: "glibc table prefers the ULA", in: in, opts: glibcSortOptions(), want: mustAddrs("fd00::1", "10.0.0.1")},
	})
}

// The rules Go skips (3, 4, 7) and the rules' use of the source flags.
func TestSortDestinationsRules(t *testing.T) {
	global := func(s string) Source { return Source{Addr: mustAddr(s)} }
	deprecated := Source{Addr: mustAddr("2001:db8:1::2"), Deprecated: true}
	tunnel := Source{Addr: mustAddr("2001:db8:9::2"), Encapsulated: true}
	atHome := Source{Addr: mustAddr("2001:db8:3::2"), Home: true, CareOf: true}
	careOf := Source{Addr: mustAddr("2001:db8:1::3"), CareOf: true}

	runSortCases(t, []sortCase{
		{
			name: "rule 1: a destination without a source goes last",
			in:   []Destination{dest("2001:db8:1::1", ""), dest("192.0.2.1", "192.0.2.2")},
			want: mustAddrs("192.0.2.1", "2001:db8:1::1"),
		},
		{
			name: "rule 1: a source of the other family is no source",
			in:   []Destination{dest("2001:db8:1::1", "192.0.2.2"), dest("192.0.2.1", "192.0.2.2")},
			want: mustAddrs("192.0.2.1", "2001:db8:1::1"),
		},
		{
			// glibc's rfc3484_sort still applies rules 6 and 8 to two
			// unusable destinations: global IPv6 (40) before ULA (3).
			name: "both unusable: precedence still orders them",
			in:   []Destination{dest("fd00::1", ""), dest("2001:db8::1", "")},
			want: mustAddrs("2001:db8::1", "fd00::1"),
		},
		{
			// Go's sortByRFC6724 returns "equal" at rule 1.
			name:         "both unusable, KeepUnusableOrder: input order",
			in:           []Destination{dest("fd00::1", ""), dest("2001:db8::1", "")},
			opts:         SortOptions{KeepUnusableOrder: true},
			want:         mustAddrs("fd00::1", "2001:db8::1"),
			wantReversed: mustAddrs("2001:db8::1", "fd00::1"),
		},
		{
			name: "rule 3: avoid a deprecated source",
			in:   []Destination{destFrom("2001:db8:1::1", deprecated), destFrom("2001:db8:2::1", global("2001:db8:2::2"))},
			want: mustAddrs("2001:db8:2::1", "2001:db8:1::1"),
		},
		{
			name:         "rule 3 is not Go's",
			in:           []Destination{destFrom("2001:db8:1::1", deprecated), destFrom("2001:db8:2::1", global("2001:db8:2::2"))},
			opts:         goSortOptions,
			want:         mustAddrs("2001:db8:1::1", "2001:db8:2::1"),
			wantReversed: mustAddrs("2001:db8:2::1", "2001:db8:1::1"),
		},
		{
			// Rule 4 as written: home and care-of at once, over care-of.
			name: "rule 4: a mobile node at home",
			in:   []Destination{destFrom("2001:db8:1::1", careOf), destFrom("2001:db8:3::1", atHome)},
			want: mustAddrs("2001:db8:3::1", "2001:db8:1::1"),
		},
		{
			// glibc prefers any IFA_F_HOMEADDRESS source.
			name: "rule 4: a home address over an address with no role",
			in:   []Destination{destFrom("2001:db8:1::1", global("2001:db8:1::2")), destFrom("2001:db8:3::1", Source{Addr: mustAddr("2001:db8:3::2"), Home: true})},
			want: mustAddrs("2001:db8:3::1", "2001:db8:1::1"),
		},
		{
			name: "rule 7: prefer native transport",
			in:   []Destination{destFrom("2001:db8:9::1", tunnel), destFrom("2001:db8:2::1", global("2001:db8:2::2"))},
			want: mustAddrs("2001:db8:2::1", "2001:db8:9::1"),
		},
		{
			name:         "rule 7 is not Go's",
			in:           []Destination{destFrom("2001:db8:9::1", tunnel), destFrom("2001:db8:2::1", global("2001:db8:2::2"))},
			opts:         goSortOptions,
			want:         mustAddrs("2001:db8:9::1", "2001:db8:2::1"),
			wantReversed: mustAddrs("2001:db8:2::1", "2001:db8:9::1"),
		},
		{
			// All rules: both match scope and label, and rule 6 puts the
			// IPv6 address (40) before the IPv4 one (35). Without rule 6,
			// rule 8 puts the link-local IPv4 address first.
			name: "all rules: precedence before scope",
			in:   []Destination{dest("2001:db8::1", "2001:db8::2"), dest("169.254.1.1", "169.254.1.2")},
			want: mustAddrs("2001:db8::1", "169.254.1.1"),
		},
		{
			name: "rules 1 and 8 only: smaller scope",
			in:   []Destination{dest("2001:db8::1", "2001:db8::2"), dest("169.254.1.1", "169.254.1.2")},
			opts: SortOptions{Rules: NewRuleSet(RuleAvoidUnusable, RulePreferSmallerScope)},
			want: mustAddrs("169.254.1.1", "2001:db8::1"),
		},
		{
			// Go stops rule 9 at the /64: these two share it with their
			// sources equally, so rule 10 keeps their order; the RFC
			// (prefix 64 by default) agrees; glibc counts all 128 bits.
			name:         "rule 9: go counts 64 bits",
			in:           []Destination{dest("2001:db8:1::ffff", "2001:db8:1::1"), dest("2001:db8:1::2", "2001:db8:1::1")},
			opts:         goSortOptions,
			want:         mustAddrs("2001:db8:1::ffff", "2001:db8:1::2"),
			wantReversed: mustAddrs("2001:db8:1::2", "2001:db8:1::ffff"),
		},
		{
			name: "rule 9: glibc counts all 128 bits",
			in:   []Destination{dest("2001:db8:1::ffff", "2001:db8:1::1"), dest("2001:db8:1::2", "2001:db8:1::1")},
			opts: glibcSortOptions(),
			want: mustAddrs("2001:db8:1::2", "2001:db8:1::ffff"),
		},
		{
			// IPv4-mapped destinations and sources are IPv4; zones do not
			// stop policy matches.
			name: "mapped and zoned addresses",
			in:   []Destination{dest("::ffff:10.1.2.3", "10.1.2.4"), dest("fe80::1%eth0", "fe80::2%eth0")},
			want: mustAddrs("fe80::1%eth0", "::ffff:10.1.2.3"),
		},
	})
}

// gai.conf's own advice: "For sites which prefer IPv4 connections change the
// last line to precedence ::ffff:0:0/96 100".
func TestSortDestinationsGaiConfPreferIPv4(t *testing.T) {
	p := mustLoadGaiConf(t, "testdata/gaiconf/prefer-ipv4.conf")
	in := []Destination{dest("2001:db8::1", "2001:db8::2"), dest("192.0.2.1", "192.0.2.2")}
	runSortCases(t, []sortCase{
		{name: "glibc default: IPv6 first", in: in, opts: glibcSortOptions(), want: mustAddrs("2001:db8::1", "192.0.2.1")},
		{name: "prefer-ipv4 gai.conf: IPv4 first", in: in, opts: SortOptions{Policy: p, PrefixRule: PrefixRuleGlibc}, want: mustAddrs("192.0.2.1", "2001:db8::1")},
	})
}

func TestSortDestinationsShortLists(t *testing.T) {
	SortDestinations(nil, SortOptions{})
	// A zero destination address is unusable, not a panic.
	zero := []Destination{{}, dest("192.0.2.1", "192.0.2.2")}
	SortDestinations(zero, SortOptions{})
	if got := zero[0].Addr; got != mustAddr("192.0.2.1") {
		t.Errorf("got %v first, want 192.0.2.1", got)
	}
	one := []Destination{dest("192.0.2.1", "")}
	SortDestinations(one, SortOptions{})
	if got := one[0].Addr; got != mustAddr("192.0.2.1") {
		t.Errorf("got %v, want 192.0.2.1", got)
	}
}

// A long list (beyond the stack buffer) sorts like a short one.
func TestSortDestinationsLongList(t *testing.T) {
	in := mixedDestinations(32)
	got := slices.Clone(in)
	SortDestinations(got, SortOptions{})
	// RFC table: every IPv6 (global, 40) before every IPv4 (35); within a
	// family all tie (rule 9 caps at the /64 and /32 they share with
	// their sources equally), so input order holds.
	var want []netip.Addr
	for _, fam := range []bool{false, true} {
		for _, d := range in {
			if d.Addr.Is4() == fam {
				want = append(want, d.Addr)
			}
		}
	}
	if !slices.Equal(addrsOf(got), want) {
		t.Errorf("got %v, want %v", addrsOf(got), want)
	}
}

func TestRuleSet(t *testing.T) {
	tests := []struct {
		name string
		set  RuleSet
		want string
	}{
		{"GoRules", GoRules, "1,2,5,6,8,9,10"},
		{"AllRules", AllRules, "1,2,3,4,5,6,7,8,9,10"},
		{"zero means all", 0, "1,2,3,4,5,6,7,8,9,10"},
		{"NewRuleSet adds rule 10", NewRuleSet(RuleAvoidUnusable, RulePreferHigherPrecedence), "1,6,10"},
		{"NewRuleSet ignores non-rules", NewRuleSet(0, 11, RulePreferSmallerScope), "8,10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			parsed, err := ParseRuleSet(tt.want)
			if err != nil {
				t.Fatalf("ParseRuleSet(%q): %v", tt.want, err)
			}
			if parsed.String() != tt.want {
				t.Errorf("ParseRuleSet(%q) = %v, want the same rules", tt.want, parsed)
			}
		})
	}
	if GoRules.Has(RuleAvoidDeprecated) || GoRules.Has(RulePreferHome) || GoRules.Has(RulePreferNativeTransport) {
		t.Errorf("GoRules has one of rules 3, 4, 7: got %v", GoRules)
	}
	if got, err := ParseRuleSet("all"); err != nil || got != AllRules {
		t.Errorf(`ParseRuleSet("all") = %v, %v; want %v, nil`, got, err, AllRules)
	}
	if got, err := ParseRuleSet(" 1, 6 "); err != nil || got.String() != "1,6,10" {
		t.Errorf(`ParseRuleSet(" 1, 6 ") = %v, %v; want 1,6,10, nil`, got, err)
	}
	for _, bad := range []string{"", "0", "11", "1,x,3", "none"} {
		if _, err := ParseRuleSet(bad); err == nil {
			t.Errorf("ParseRuleSet(%q): got no error, want one", bad)
		}
	}
	if got := RulePreferHigherPrecedence.String(); got != "prefer higher precedence" {
		t.Errorf("got %q, want %q", got, "prefer higher precedence")
	}
}

func TestPrefixRuleString(t *testing.T) {
	for r, want := range map[PrefixRule]string{PrefixRuleRFC: "rfc", PrefixRuleGo: "go", PrefixRuleGlibc: "glibc", 7: "PrefixRule(7)"} {
		if got := r.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// Cases from Go's TestRFC6724ClassifyScope; the comments are Go's.
func TestScopeOf(t *testing.T) {
	tests := []struct {
		addr netip.Addr
		want uint8
	}{
		{mustAddr("127.0.0.1"), scopeLinkLocal},   // rfc6724#section-3.2
		{mustAddr("::1"), scopeLinkLocal},         // rfc4007#section-4
		{mustAddr("169.254.1.2"), scopeLinkLocal}, // rfc6724#section-3.2
		{mustAddr("fec0::1"), scopeSiteLocal},
		{mustAddr("8.8.8.8"), scopeGlobal},

		{mustAddr("ff02::"), scopeLinkLocal},  // IPv6 multicast
		{mustAddr("ff05::"), scopeSiteLocal},  // IPv6 multicast
		{mustAddr("ff04::"), scopeAdminLocal}, // IPv6 multicast
		{mustAddr("ff0e::"), scopeGlobal},     // IPv6 multicast

		{mustAddr("224.0.0.0"), scopeGlobal}, // IPv4 link-local multicast
		{mustAddr("224.2.2.2"), scopeGlobal}, // IPv4 global multicast

		// RFC 6724 §3.1: "ULAs are considered as global, not site-local".
		{mustAddr("fd00::1"), scopeGlobal},
		{mustAddr("10.1.2.3"), scopeGlobal},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String(), func(t *testing.T) {
			if got := scopeOf(tt.addr, nil); got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
		})
	}
}

// Cases from Go's TestRFC6724CommonPrefixLength, which caps IPv6 at 64
// bits as rule 9 does; commonPrefixLen here counts all bits and the cap is
// applied by matchRank.
func TestCommonPrefixLen(t *testing.T) {
	tests := []struct {
		a, b string
		full int // commonPrefixLen
		goV6 int // matchRank with PrefixRuleGo, as Go's commonPrefixLen
	}{
		{"fe80::1", "fe80::2", 126, 64},
		{"fe81::1", "fe80::2", 15, 15},
		{"1.2.3.4", "1.2.3.4", 32, -1},
		{"1.2.255.255", "1.2.0.0", 16, -1},
		{"1.2.127.255", "1.2.0.0", 17, -1},
		{"1.2.63.255", "1.2.0.0", 18, -1},
		{"1.2.31.255", "1.2.0.0", 19, -1},
		{"1.2.15.255", "1.2.0.0", 20, -1},
		{"1.2.7.255", "1.2.0.0", 21, -1},
		{"1.2.3.255", "1.2.0.0", 22, -1},
		{"1.2.1.255", "1.2.0.0", 23, -1},
		{"1.2.0.255", "1.2.0.0", 24, -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			a, b := mustAddr(tt.a), mustAddr(tt.b)
			if got := commonPrefixLen(a, b); got != tt.full {
				t.Errorf("commonPrefixLen: got %d, want %d", got, tt.full)
			}
			if got := matchRank(PrefixRuleGo, Source{Addr: a}, a, b); got != tt.goV6 {
				t.Errorf("matchRank(go): got %d, want %d", got, tt.goV6)
			}
		})
	}
	// RFC 6724 §2.2: "CommonPrefixLen(fe80::1, fe80::2) is 64."
	if got := matchRank(PrefixRuleRFC, Source{Addr: mustAddr("fe80::1")}, mustAddr("fe80::1"), mustAddr("fe80::2")); got != 64 {
		t.Errorf("CommonPrefixLen(fe80::1, fe80::2): got %d, want 64", got)
	}
}

// mixedDestinations returns n destinations alternating IPv6 and IPv4, each
// with a source on its own /64 or /24.
func mixedDestinations(n int) []Destination {
	out := make([]Destination, n)
	for i := range out {
		if i%2 == 0 {
			out[i] = dest(fmt.Sprintf("2001:db8:%x::1", i), fmt.Sprintf("2001:db8:%x::2", i))
		} else {
			out[i] = dest(fmt.Sprintf("198.51.%d.1", i), fmt.Sprintf("198.51.%d.2", i))
		}
	}
	return out
}

func BenchmarkSortDestinations(b *testing.B) {
	for _, n := range []int{2, 8, 32} {
		in := mixedDestinations(n)
		slices.Reverse(in) // so the sort has work to do
		work := make([]Destination, n)
		for _, bc := range []struct {
			name string
			opts SortOptions
		}{
			{"rfc6724", SortOptions{}},
			{"glibc", glibcSortOptions()},
		} {
			b.Run(fmt.Sprintf("n=%d/%s", n, bc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					copy(work, in)
					SortDestinations(work, bc.opts)
				}
			})
		}
	}
}
