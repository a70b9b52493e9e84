package happyeyeballs

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Source is a local address a host can send from, with the properties the
// address selection rules of RFC 6724 look at. The zero Source (no Addr)
// means "no usable source": the host has no route to the destination, so
// destination rule 1 puts that destination last.
//
// The flags default to false, which is what a host without Mobile IPv6,
// privacy addresses or tunnels has. internal/localaddr fills them from the
// kernel: Deprecated, Temporary and Home from the IFA_F_* flags of
// /proc/net/if_inet6, Encapsulated from the type of the interface that owns
// the address, PrefixLen from the interface's configuration.
type Source struct {
	// Addr is the source address. An IPv4-mapped address counts as IPv4.
	Addr netip.Addr

	// The address is deprecated in the RFC 4862 sense: its preferred
	// lifetime has run out, so it still works but should not start new
	// connections. Rule 3.
	Deprecated bool
	// Home and CareOf are the Mobile IPv6 roles of the address (RFC
	// 6275). An address that is both is a mobile node at home. Rule 4.
	Home   bool
	CareOf bool
	// Temporary marks a privacy address (RFC 8981). Source rule 7 prefers
	// it; destination ordering does not look at it.
	Temporary bool
	// Encapsulated means packets from this address leave through a
	// transition mechanism that wraps them in another protocol (6to4,
	// ISATAP or Teredo, a sit or ipip tunnel). Destination rule 7 avoids
	// it.
	Encapsulated bool

	// PrefixLen is the length of the prefix Addr is configured with (24
	// for 10.0.0.2/24). Zero means unknown. Rule 9 uses it: with
	// PrefixRuleRFC the common prefix is counted only up to it (RFC 6724
	// §2.2), with PrefixRuleGlibc it decides whether an IPv4 destination is
	// on the source's subnet.
	PrefixLen int
}

// Destination is one address to sort, with the source the host would use to
// reach it (see SelectSource, or internal/localaddr to ask the kernel).
type Destination struct {
	Addr   netip.Addr
	Source Source
}

// Rule is one of the ten destination address selection rules of RFC 6724 §6;
// its value is the rule's number.
type Rule uint8

// The rules of RFC 6724 §6, in the order they are applied.
const (
	RuleAvoidUnusable          Rule = iota + 1 // Rule 1: avoid unusable destinations.
	RulePreferMatchingScope                    // Rule 2: prefer matching scope.
	RuleAvoidDeprecated                        // Rule 3: avoid deprecated addresses.
	RulePreferHome                             // Rule 4: prefer home addresses.
	RulePreferMatchingLabel                    // Rule 5: prefer matching label.
	RulePreferHigherPrecedence                 // Rule 6: prefer higher precedence.
	RulePreferNativeTransport                  // Rule 7: prefer native transport.
	RulePreferSmallerScope                     // Rule 8: prefer smaller scope.
	RuleLongestMatchingPrefix                  // Rule 9: use longest matching prefix.
	RuleKeepOrder                              // Rule 10: otherwise, leave the order unchanged.
)

var ruleTitles = [...]string{
	RuleAvoidUnusable:          "avoid unusable destinations",
	RulePreferMatchingScope:    "prefer matching scope",
	RuleAvoidDeprecated:        "avoid deprecated addresses",
	RulePreferHome:             "prefer home addresses",
	RulePreferMatchingLabel:    "prefer matching label",
	RulePreferHigherPrecedence: "prefer higher precedence",
	RulePreferNativeTransport:  "prefer native transport",
	RulePreferSmallerScope:     "prefer smaller scope",
	RuleLongestMatchingPrefix:  "use longest matching prefix",
	RuleKeepOrder:              "leave the order unchanged",
}

// String returns the rule's title as RFC 6724 words it, e.g. "prefer higher
// precedence".
func (r Rule) String() string {
	if r >= RuleAvoidUnusable && r <= RuleKeepOrder {
		return ruleTitles[r]
	}
	return "Rule(" + strconv.Itoa(int(r)) + ")"
}

// RuleSet is a set of destination rules, one bit per rule number. Which rules
// a client applies is part of its profile: Go's resolver skips three.
//
// The zero RuleSet means all rules, so that a zero SortOptions is RFC 6724
// as written. No set lacks rule 10 in effect: the sort is stable.
type RuleSet uint16

const (
	// AllRules is every rule of RFC 6724 §6, as glibc's rfc3484_sort
	// applies them.
	AllRules RuleSet = 1<<RuleAvoidUnusable | 1<<RulePreferMatchingScope |
		1<<RuleAvoidDeprecated | 1<<RulePreferHome | 1<<RulePreferMatchingLabel |
		1<<RulePreferHigherPrecedence | 1<<RulePreferNativeTransport |
		1<<RulePreferSmallerScope | 1<<RuleLongestMatchingPrefix | 1<<RuleKeepOrder

	// GoRules are the rules Go's sortByRFC6724 (src/net/addrselect.go)
	// implements: 1, 2, 5, 6, 8, 9 and 10. Rules 3, 4 and 7 are "TODO ...
	// low priority" there, because Go does not learn the source address's
	// flags or interface.
	GoRules RuleSet = 1<<RuleAvoidUnusable | 1<<RulePreferMatchingScope |
		1<<RulePreferMatchingLabel | 1<<RulePreferHigherPrecedence |
		1<<RulePreferSmallerScope | 1<<RuleLongestMatchingPrefix | 1<<RuleKeepOrder
)

// NewRuleSet returns the set of the given rules plus rule 10; numbers outside
// 1..10 are ignored.
func NewRuleSet(rules ...Rule) RuleSet {
	s := RuleSet(1 << RuleKeepOrder)
	for _, r := range rules {
		if r >= RuleAvoidUnusable && r <= RuleKeepOrder {
			s |= 1 << r
		}
	}
	return s
}

// ParseRuleSet parses a list of rule numbers such as "1,2,5,6,8,9,10" (the
// form String writes), or "all". Rule 10 is added if missing: the sort keeps
// the input order of ties whatever the set says.
func ParseRuleSet(s string) (RuleSet, error) {
	if strings.TrimSpace(s) == "all" {
		return AllRules, nil
	}
	var (
		rules []Rule
		bad   []string
	)
	// "+" separates too, so a rule set fits in a profile spec, whose
	// overrides are separated by commas ("go,rules=1+2+6").
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '+' })
	if len(fields) == 0 {
		return 0, fmt.Errorf("rule set %q is empty: want rule numbers 1..10, or all", s)
	}
	for _, field := range fields {
		field = strings.TrimSpace(field)
		n, err := strconv.Atoi(field)
		if err != nil || n < int(RuleAvoidUnusable) || n > int(RuleKeepOrder) {
			bad = append(bad, strconv.Quote(field))
			continue
		}
		rules = append(rules, Rule(n))
	}
	if len(bad) > 0 {
		return 0, fmt.Errorf("rule set %q: want rule numbers 1..10 such as 1,2,5,6,8,9,10 (or 1+2+5+6+8+9+10), or all; not %s",
			s, strings.Join(bad, ", "))
	}
	return NewRuleSet(rules...), nil
}

func (s RuleSet) orAll() RuleSet {
	if s == 0 {
		return AllRules
	}
	return s
}

// Has reports whether r is in the set. Every rule is in the zero set.
func (s RuleSet) Has(r Rule) bool {
	return r <= RuleKeepOrder && s.orAll()&(1<<r) != 0
}

// String lists the rule numbers, e.g. "1,2,5,6,8,9,10" for GoRules.
func (s RuleSet) String() string {
	var b strings.Builder
	for r := RuleAvoidUnusable; r <= RuleKeepOrder; r++ {
		if s.Has(r) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(r)))
		}
	}
	return b.String()
}

// PrefixRule chooses how rule 9 (longest matching prefix) counts, the rule
// implementations disagree on most. Its zero value is PrefixRuleRFC.
type PrefixRule uint8

const (
	// PrefixRuleRFC applies rule 9 to both families, as the RFC text
	// says, with CommonPrefixLen as §2.2 defines it: common leading bits
	// "up to the length of S's prefix (i.e., the portion of the address
	// not including the interface ID)". The prefix is Source.PrefixLen
	// when known, otherwise 64 bits for IPv6 (the interface ID length RFC
	// 4291 §2.5.1 fixes) and all 32 bits for IPv4.
	PrefixRuleRFC PrefixRule = iota

	// PrefixRuleGo applies rule 9 to IPv6 only, counting at most the first
	// 64 bits, as Go's sortByRFC6724 does. Go stopped applying it to IPv4
	// because it defeats DNS round robin: a 10/8 source made every client
	// prefer the same 23/8 server (golang/go#13283), and no IPv4 variant
	// matched glibc (golang/go#18518).
	PrefixRuleGo

	// PrefixRuleGlibc applies rule 9 as glibc's rfc3484_sort does: IPv6
	// over all 128 bits; IPv4 only when the destination is in the
	// source's subnet (Source.PrefixLen), and then over all 32 bits, since
	// "outside of subnets, as defined by the network masks, common address
	// prefixes for IPv4 addresses make no sense". glibc learns the prefix
	// length from netlink; when it cannot find the source there its mask
	// computation (0xffffffff << 32) is undefined in C, and on x86-64 and
	// arm64, where the shift count wraps, comes out as a /32. An unknown
	// PrefixLen is taken as 32 here for that reason.
	PrefixRuleGlibc
)

var prefixRuleNames = [...]string{
	PrefixRuleRFC:   "rfc",
	PrefixRuleGo:    "go",
	PrefixRuleGlibc: "glibc",
}

// String returns "rfc", "go" or "glibc".
func (r PrefixRule) String() string {
	return enumName(prefixRuleNames[:], int(r), "PrefixRule")
}

// SortOptions says how SortDestinations orders. The zero value is RFC 6724
// as written: its default policy table, all ten rules, rule 9 as the RFC
// defines it, and unusable destinations ordered among themselves by the rules
// that need no source.
//
// Go's resolver is {Rules: GoRules, PrefixRule: PrefixRuleGo,
// KeepUnusableOrder: true} with the default (nil) Policy. glibc's getaddrinfo
// is {Policy: GlibcPolicy() or the gai.conf policy, PrefixRule:
// PrefixRuleGlibc} with all rules.
type SortOptions struct {
	// Policy supplies precedences, labels and IPv4 scopes. Nil means the
	// RFC 6724 default policy.
	Policy *Policy
	// Rules are the rules applied. Zero means AllRules.
	Rules RuleSet
	// PrefixRule is the variant of rule 9. Zero means PrefixRuleRFC.
	PrefixRule PrefixRule
	// KeepUnusableOrder makes two destinations that both lack a source
	// compare equal, so they keep their input order, as in Go's
	// sortByRFC6724, which stops at rule 1. When false, the rules that
	// need no source (6, precedence, and 8, scope) still order them, as
	// in glibc's rfc3484_sort, where only the rules that look at the
	// source are skipped. Rule 1 names neither; it only prefers a usable
	// destination over an unusable one.
	KeepUnusableOrder bool
}

// SortOptionsFor returns how a getaddrinfo-style resolver with the named
// policy sorts (see PolicyByName): "rfc6724" is RFC 6724 as written (its
// table, all rules, PrefixRuleRFC); "glibc" and a gai.conf path are glibc's
// getaddrinfo (all rules, PrefixRuleGlibc) with glibc's compiled-in table or
// the file's. Policy is always set, so its Name can be shown.
func SortOptionsFor(policyName string) (SortOptions, error) {
	p, err := PolicyByName(policyName)
	if err != nil {
		return SortOptions{}, err
	}
	opts := SortOptions{Policy: p, Rules: AllRules, PrefixRule: PrefixRuleGlibc}
	if policyName == "rfc6724" {
		opts.PrefixRule = PrefixRuleRFC
	}
	return opts, nil
}

// The scopes of RFC 4291 §2.7 and RFC 6724 §3.1, as 4-bit values: smaller is
// narrower.
const (
	scopeInterfaceLocal = 0x1
	scopeLinkLocal      = 0x2
	scopeAdminLocal     = 0x4
	scopeSiteLocal      = 0x5
	scopeOrgLocal       = 0x8
	scopeGlobal         = 0xe
)

// scopeOf classifies addr (unmapped, zone-free) per RFC 6724 §3.1 and §3.2.
func scopeOf(addr netip.Addr, p *Policy) uint8 {
	if addr.Is4() {
		return p.scopeV4(addr)
	}
	b := addr.As16()
	switch {
	case addr.IsMulticast():
		// RFC 4291 §2.7: the scop field, the low 4 bits of the second
		// byte.
		return b[1] & 0x0f
	case addr.IsLinkLocalUnicast(), addr.IsLoopback():
		// RFC 4291 §2.5.3 on the loopback address: "It is treated as
		// having Link-Local scope".
		return scopeLinkLocal
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0:
		// fec0::/10, site-local (RFC 3513 §2.5.6, deprecated by RFC
		// 3879 but still classified).
		return scopeSiteLocal
	default:
		// Including ULA: RFC 6724 §3.1, "ULAs are considered as
		// global, not site-local, scope but are handled via the
		// prefix policy table".
		return scopeGlobal
	}
}

// commonPrefixLen is the number of leading bits a and b share; both must be
// of one family (4-byte IPv4 or 16-byte IPv6).
func commonPrefixLen(a, b netip.Addr) int {
	if a.Is4() {
		a4, b4 := a.As4(), b.As4()
		x := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
		y := uint32(b4[0])<<24 | uint32(b4[1])<<16 | uint32(b4[2])<<8 | uint32(b4[3])
		return bits.LeadingZeros32(x ^ y)
	}
	a16, b16 := a.As16(), b.As16()
	hi := be64(a16[:8]) ^ be64(b16[:8])
	if hi != 0 {
		return bits.LeadingZeros64(hi)
	}
	return 64 + bits.LeadingZeros64(be64(a16[8:])^be64(b16[8:]))
}

func be64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// prefixLenOf returns the prefix length RFC 6724 §2.2 stops counting at for
// source s (see PrefixRuleRFC).
func prefixLenOf(s Source, src netip.Addr) int {
	full := src.BitLen()
	if s.PrefixLen > 0 && s.PrefixLen <= full {
		return s.PrefixLen
	}
	if src.Is4() {
		return 32
	}
	return 64
}

// matchRank is rule 9's CommonPrefixLen(Source(D), D) under rule; -1 when
// the variant does not apply rule 9 to this destination's family. src and
// dst are unmapped, zone-free and of one family.
func matchRank(rule PrefixRule, s Source, src, dst netip.Addr) int {
	cpl := commonPrefixLen(src, dst)
	switch rule {
	case PrefixRuleGo:
		if src.Is4() {
			return -1
		}
		return min(cpl, 64)
	case PrefixRuleGlibc:
		if src.Is6() {
			return cpl
		}
		subnet := s.PrefixLen
		if subnet <= 0 || subnet > 32 {
			subnet = 32
		}
		if cpl >= subnet {
			return cpl
		}
		return 0
	default:
		return min(cpl, prefixLenOf(s, src))
	}
}

// sortItem is a destination with everything the rules compare, computed once
// per destination rather than once per comparison.
type sortItem struct {
	dst      Destination
	usable   bool
	is4      bool
	dstScope uint8
	srcScope uint8
	dstLabel uint8
	srcLabel uint8
	dstPrec  uint8
	home     int8 // homeRank of the source
	rank     int  // rule 9's CommonPrefixLen; -1 if rule 9 does not apply
}

// SortDestinations sorts dsts in place, best first, by the destination
// address selection rules of RFC 6724 §6 as opts configures them. The sort is
// stable, which is rule 10.
//
// What each rule needs, and when it cannot apply:
//   - Rules 1, 2, 5 and 9 need Source(D): the address the host would send
//     from, which only the kernel's routing table knows (a UDP connect asks
//     it; see internal/localaddr). Without a source a destination is
//     unusable, and rules 2, 3, 4, 5, 7 and 9 have nothing to compare.
//   - Rules 3, 4 and 7 need flags of the source that the caller must supply
//     in Source: Deprecated (rule 3), Home and CareOf (rule 4) and
//     Encapsulated (rule 7). internal/localaddr reads Deprecated and Home
//     from the IFA_F_* flags of /proc/net/if_inet6 and Encapsulated from the
//     type of the source's interface (/sys/class/net/DEV/type); Linux marks
//     no address as a care-of address. With the flags left false these
//     rules never decide, which is also what a client that skips them
//     (GoRules) does.
//   - Rules 6 and 8 look only at the destination and the Policy.
func SortDestinations(dsts []Destination, opts SortOptions) {
	if len(dsts) < 2 {
		return
	}
	rules := opts.Rules.orAll()
	// Destination lists are short (a DNS answer); a small one is sorted
	// without touching the heap.
	var stack [8]sortItem
	items := stack[:0]
	if len(dsts) > len(stack) {
		items = make([]sortItem, 0, len(dsts))
	}
	for _, d := range dsts {
		items = append(items, newSortItem(d, opts))
	}
	slices.SortStableFunc(items, func(a, b sortItem) int {
		return compareDestinations(&a, &b, rules, opts.KeepUnusableOrder)
	})
	for i := range items {
		dsts[i] = items[i].dst
	}
}

func newSortItem(d Destination, opts SortOptions) sortItem {
	dst := d.Addr.Unmap().WithZone("")
	src := d.Source.Addr.Unmap().WithZone("")
	it := sortItem{
		dst:      d,
		is4:      dst.Is4(),
		dstScope: scopeOf(dst, opts.Policy),
		dstLabel: opts.Policy.Label(dst),
		dstPrec:  opts.Policy.Precedence(dst),
		rank:     -1,
	}
	// A source of the other family cannot carry packets to dst; treat it
	// like no source at all rather than compare unlike addresses.
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return it
	}
	it.usable = true
	it.srcScope = scopeOf(src, opts.Policy)
	it.srcLabel = opts.Policy.Label(src)
	it.home = homeRank(d.Source)
	it.rank = matchRank(opts.PrefixRule, d.Source, src, dst)
	return it
}

// homeRank orders sources for rule 4: an address that is both a home and a
// care-of address (a mobile node at home), then a home address, then one
// with no mobility role, then a care-of address. Putting "no role" between
// home and care-of keeps the text's and the example's orders and also
// glibc's, which prefers any IFA_F_HOMEADDRESS source over any other.
func homeRank(s Source) int8 {
	switch {
	case s.Home && s.CareOf:
		return 2
	case s.Home:
		return 1
	case s.CareOf:
		return -1
	}
	return 0
}

// compareDestinations returns -1 if DA (a) is the better destination, 1 if DB
// (b) is, 0 if no rule in rules tells them apart. The rule texts are quoted
// from RFC 6724 §6.
func compareDestinations(a, b *sortItem, rules RuleSet, keepUnusableOrder bool) int {
	const preferDA, preferDB = -1, 1

	// Rule 1: Avoid unusable destinations.
	// If DB is known to be unreachable or if Source(DB) is undefined, then
	// prefer DA.  Similarly, if DA is known to be unreachable or if
	// Source(DA) is undefined, then prefer DB.
	if rules.Has(RuleAvoidUnusable) {
		switch {
		case a.usable && !b.usable:
			return preferDA
		case !a.usable && b.usable:
			return preferDB
		}
	}
	bothUsable := a.usable && b.usable
	if !a.usable && !b.usable && keepUnusableOrder {
		return 0
	}

	// Rule 2: Prefer matching scope.
	// If Scope(DA) = Scope(Source(DA)) and Scope(DB) <> Scope(Source(DB)),
	// then prefer DA.  Similarly, if Scope(DA) <> Scope(Source(DA)) and
	// Scope(DB) = Scope(Source(DB)), then prefer DB.
	if bothUsable && rules.Has(RulePreferMatchingScope) {
		matchA, matchB := a.dstScope == a.srcScope, b.dstScope == b.srcScope
		switch {
		case matchA && !matchB:
			return preferDA
		case !matchA && matchB:
			return preferDB
		}
	}

	// Rule 3: Avoid deprecated addresses.
	// If Source(DA) is deprecated and Source(DB) is not, then prefer DB.
	// Similarly, if Source(DA) is not deprecated and Source(DB) is
	// deprecated, then prefer DA.
	if bothUsable && rules.Has(RuleAvoidDeprecated) {
		depA, depB := a.dst.Source.Deprecated, b.dst.Source.Deprecated
		switch {
		case depA && !depB:
			return preferDB
		case !depA && depB:
			return preferDA
		}
	}

	// Rule 4: Prefer home addresses.
	// If Source(DA) is simultaneously a home address and care-of address
	// and Source(DB) is not, then prefer DA.  Similarly, if Source(DB) is
	// simultaneously a home address and care-of address and Source(DA) is
	// not, then prefer DB.
	//
	// The text decides nothing between a source that is just a home address
	// and one that is just a care-of address, yet the RFC's own example
	// (§10.2, "prefer home address") prefers the destination reached from
	// the home address over one reached from a care-of address. That is
	// the order source rule 4 spells out (both, then just home, then just
	// care-of), so it is applied here too; see homeRank. glibc tests only
	// the home flag (Linux has no care-of flag), which this order agrees
	// with.
	if bothUsable && rules.Has(RulePreferHome) {
		switch {
		case a.home > b.home:
			return preferDA
		case a.home < b.home:
			return preferDB
		}
	}

	// Rule 5: Prefer matching label.
	// If Label(Source(DA)) = Label(DA) and Label(Source(DB)) <> Label(DB),
	// then prefer DA.  Similarly, if Label(Source(DA)) <> Label(DA) and
	// Label(Source(DB)) = Label(DB), then prefer DB.
	if bothUsable && rules.Has(RulePreferMatchingLabel) {
		matchA, matchB := a.srcLabel == a.dstLabel, b.srcLabel == b.dstLabel
		switch {
		case matchA && !matchB:
			return preferDA
		case !matchA && matchB:
			return preferDB
		}
	}

	// Rule 6: Prefer higher precedence.
	// If Precedence(DA) > Precedence(DB), then prefer DA.  Similarly, if
	// Precedence(DA) < Precedence(DB), then prefer DB.
	if rules.Has(RulePreferHigherPrecedence) {
		switch {
		case a.dstPrec > b.dstPrec:
			return preferDA
		case a.dstPrec < b.dstPrec:
			return preferDB
		}
	}

	// Rule 7: Prefer native transport.
	// If DA is reached via an encapsulating transition mechanism (e.g.,
	// IPv6 in IPv4) and DB is not, then prefer DB.  Similarly, if DB is
	// reached via encapsulation and DA is not, then prefer DA.
	if bothUsable && rules.Has(RulePreferNativeTransport) {
		encA, encB := a.dst.Source.Encapsulated, b.dst.Source.Encapsulated
		switch {
		case encA && !encB:
			return preferDB
		case !encA && encB:
			return preferDA
		}
	}

	// Rule 8: Prefer smaller scope.
	// If Scope(DA) < Scope(DB), then prefer DA.  Similarly, if Scope(DA) >
	// Scope(DB), then prefer DB.
	if rules.Has(RulePreferSmallerScope) {
		switch {
		case a.dstScope < b.dstScope:
			return preferDA
		case a.dstScope > b.dstScope:
			return preferDB
		}
	}

	// Rule 9: Use longest matching prefix.
	// When DA and DB belong to the same address family (both are IPv6 or
	// both are IPv4): If CommonPrefixLen(Source(DA), DA) >
	// CommonPrefixLen(Source(DB), DB), then prefer DA.  Similarly, if
	// CommonPrefixLen(Source(DA), DA) < CommonPrefixLen(Source(DB), DB),
	// then prefer DB.
	//
	// How CommonPrefixLen counts, and whether IPv4 takes part, is the
	// PrefixRule's business; rank is -1 where it does not apply.
	if bothUsable && a.is4 == b.is4 && rules.Has(RuleLongestMatchingPrefix) &&
		a.rank >= 0 && b.rank >= 0 {
		switch {
		case a.rank > b.rank:
			return preferDA
		case a.rank < b.rank:
			return preferDB
		}
	}

	// Rule 10: Otherwise, leave the order unchanged.
	// If DA preceded DB in the original list, prefer DA.  Otherwise,
	// prefer DB.
	//
	// The stable sort keeps the input order of equal elements.
	return 0
}
