package happyeyeballs

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
)

// PolicyEntry is one row of one policy table: addresses inside Prefix get
// Value. IPv4 prefixes of the precedence and label tables are written
// IPv4-mapped (::ffff:10.0.0.0/104), as RFC 6724 §2.1 and gai.conf write
// them; an entry given in IPv4 form (10.0.0.0/8) is read as that mapped
// prefix. The IPv4 scope table uses plain IPv4 prefixes.
type PolicyEntry struct {
	Prefix netip.Prefix
	Value  uint8
}

// Policy is an RFC 6724 §2.1 policy table, the administrator's knob over
// destination ordering. It is kept as separate tables, as glibc keeps them,
// because a gai.conf can replace the label table and leave the precedence
// table at its default (or the other way round); the RFC prints the two as
// one table only because its defaults share their prefixes.
//
// Lookups are longest-prefix match. IPv4 addresses are looked up as
// IPv4-mapped addresses (RFC 6724 §6: "the IPv4 address MUST be represented
// as an IPv4-mapped address"). If two entries of a table have the same
// prefix, the first one wins.
//
// A nil or empty table means that table's RFC 6724 default (§2.1 for
// precedence and label, §3.2 for IPv4 scopes), so the zero Policy, and a nil
// *Policy, is RFC 6724's default policy. An address that no entry of a
// non-empty table matches gets 0, as in Go's net package; RFC6724Policy,
// GlibcPolicy and ParseGaiConf always include ::/0, so that only happens
// with tables built by hand.
//
// The constructors return fresh tables: changing one Policy never changes
// another or a default.
type Policy struct {
	// Name says where the tables came from, for display: "rfc6724",
	// "glibc", or a gai.conf file's path.
	Name string

	// PrecedenceTable gives Precedence(D), used by destination rule 6.
	PrecedenceTable []PolicyEntry
	// LabelTable gives Label(A), used by destination rule 5 and source
	// rule 6.
	LabelTable []PolicyEntry
	// ScopeV4Table gives the scope of IPv4 addresses (glibc's scopev4,
	// RFC 6724 §3.2), used by the scope rules. IPv6 scopes come from the
	// address itself (RFC 4291) and cannot be configured.
	ScopeV4Table []PolicyEntry
}

// The default tables. They are never handed out: RFC6724Policy and
// GlibcPolicy copy them, and a nil Policy reads them directly.
var (
	// RFC 6724 §2.1, in the order the RFC prints it (and the values of
	// Go's rfc6724policyTable in src/net/addrselect.go).
	rfc6724Precedence = []PolicyEntry{
		{netip.MustParsePrefix("::1/128"), 50},
		{netip.MustParsePrefix("::/0"), 40},
		{netip.MustParsePrefix("::ffff:0:0/96"), 35},
		{netip.MustParsePrefix("2002::/16"), 30},
		{netip.MustParsePrefix("2001::/32"), 5},
		{netip.MustParsePrefix("fc00::/7"), 3},
		{netip.MustParsePrefix("::/96"), 1},
		{netip.MustParsePrefix("fec0::/10"), 1},
		{netip.MustParsePrefix("3ffe::/16"), 1},
	}
	rfc6724Label = []PolicyEntry{
		{netip.MustParsePrefix("::1/128"), 0},
		{netip.MustParsePrefix("::/0"), 1},
		{netip.MustParsePrefix("::ffff:0:0/96"), 4},
		{netip.MustParsePrefix("2002::/16"), 2},
		{netip.MustParsePrefix("2001::/32"), 5},
		{netip.MustParsePrefix("fc00::/7"), 13},
		{netip.MustParsePrefix("::/96"), 3},
		{netip.MustParsePrefix("fec0::/10"), 11},
		{netip.MustParsePrefix("3ffe::/16"), 12},
	}
	// RFC 6724 §3.2: "IPv4 autoconfiguration addresses [RFC3927], which
	// have the prefix 169.254/16, are assigned link-local scope. IPv4
	// loopback addresses ([RFC1122], Section 3.2.1.3), which have the
	// prefix 127/8, are assigned link-local scope ... Other IPv4
	// addresses are assigned global scope." glibc's default_scopes in
	// nss/getaddrinfo.c is the same table.
	defaultScopeV4 = []PolicyEntry{
		{netip.MustParsePrefix("169.254.0.0/16"), scopeLinkLocal},
		{netip.MustParsePrefix("127.0.0.0/8"), scopeLinkLocal},
		{netip.MustParsePrefix("0.0.0.0/0"), scopeGlobal},
	}

	// glibc's compiled-in tables (default_precedence and default_labels
	// in nss/getaddrinfo.c, formerly sysdeps/posix/getaddrinfo.c), which
	// are still RFC 3484's, in the order posix/gai.conf documents them.
	// The labels for fec0::/10, fc00::/7 and 2001::/32 are glibc's own
	// additions; the precedence table has no entry for them, so they get
	// ::/0's 40 — which is why glibc prefers a ULA over IPv4 where RFC
	// 6724 (fc00::/7 precedence 3) prefers IPv4.
	glibcPrecedence = []PolicyEntry{
		{netip.MustParsePrefix("::1/128"), 50},
		{netip.MustParsePrefix("::/0"), 40},
		{netip.MustParsePrefix("2002::/16"), 30},
		{netip.MustParsePrefix("::/96"), 20},
		{netip.MustParsePrefix("::ffff:0:0/96"), 10},
	}
	glibcLabel = []PolicyEntry{
		{netip.MustParsePrefix("::1/128"), 0},
		{netip.MustParsePrefix("::/0"), 1},
		{netip.MustParsePrefix("2002::/16"), 2},
		{netip.MustParsePrefix("::/96"), 3},
		{netip.MustParsePrefix("::ffff:0:0/96"), 4},
		{netip.MustParsePrefix("fec0::/10"), 5},
		{netip.MustParsePrefix("fc00::/7"), 6},
		{netip.MustParsePrefix("2001::/32"), 7},
	}
)

// RFC6724Policy returns the default policy table of RFC 6724 §2.1, the
// table Go's net package sorts with. Its Name is "rfc6724".
func RFC6724Policy() *Policy {
	return &Policy{
		Name:            "rfc6724",
		PrecedenceTable: slices.Clone(rfc6724Precedence),
		LabelTable:      slices.Clone(rfc6724Label),
		ScopeV4Table:    slices.Clone(defaultScopeV4),
	}
}

// GlibcPolicy returns the policy glibc's getaddrinfo uses when /etc/gai.conf
// sets nothing: the RFC 3484 precedences, RFC 3484's labels plus glibc's
// three extra ones, and RFC 6724 §3.2's IPv4 scopes. Its Name is "glibc".
func GlibcPolicy() *Policy {
	return &Policy{
		Name:            "glibc",
		PrecedenceTable: slices.Clone(glibcPrecedence),
		LabelTable:      slices.Clone(glibcLabel),
		ScopeV4Table:    slices.Clone(defaultScopeV4),
	}
}

// Precedence returns Precedence(addr), the value of the longest
// PrecedenceTable prefix that contains addr; 0 if none does or addr is not
// valid. Higher is preferred (destination rule 6).
func (p *Policy) Precedence(addr netip.Addr) uint8 {
	if !addr.IsValid() {
		return 0
	}
	return lookupMapped(p.precedenceTable(), addr)
}

// Label returns Label(addr), the value of the longest LabelTable prefix that
// contains addr; 0 if none does or addr is not valid. Labels are only ever
// compared for equality: a source and a destination with the same label
// belong together (destination rule 5, source rule 6).
func (p *Policy) Label(addr netip.Addr) uint8 {
	if !addr.IsValid() {
		return 0
	}
	return lookupMapped(p.labelTable(), addr)
}

func (p *Policy) precedenceTable() []PolicyEntry {
	if p == nil || len(p.PrecedenceTable) == 0 {
		return rfc6724Precedence
	}
	return p.PrecedenceTable
}

func (p *Policy) labelTable() []PolicyEntry {
	if p == nil || len(p.LabelTable) == 0 {
		return rfc6724Label
	}
	return p.LabelTable
}

func (p *Policy) scopeV4Table() []PolicyEntry {
	if p == nil || len(p.ScopeV4Table) == 0 {
		return defaultScopeV4
	}
	return p.ScopeV4Table
}

// lookupMapped is the longest-prefix match of a precedence or label table,
// where IPv4 lives at ::ffff:0:0/96.
func lookupMapped(table []PolicyEntry, addr netip.Addr) uint8 {
	a := mapped(addr)
	best, value := -1, uint8(0)
	for i := range table {
		e := &table[i]
		pfx := e.Prefix
		if pfx.Addr().Is4() {
			pfx = mappedPrefix(pfx)
		}
		if bits := pfx.Bits(); bits > best && pfx.Contains(a) {
			best, value = bits, e.Value
		}
	}
	return value
}

// scopeV4 is the longest-prefix match of the IPv4 scope table; a is a plain
// (unmapped) IPv4 address. A table without a match leaves the address
// global, which is what a table without 0.0.0.0/0 would mean to glibc's
// gaiconf_init: it adds that entry with scope 14.
func (p *Policy) scopeV4(a netip.Addr) uint8 {
	best, value := -1, uint8(scopeGlobal)
	for _, e := range p.scopeV4Table() {
		pfx := e.Prefix
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		if pfx.Bits() > best && pfx.Contains(a) {
			best, value = pfx.Bits(), e.Value
		}
	}
	return value
}

// mapped returns addr in the 16-byte form policy tables are written in:
// IPv4 as ::ffff:a.b.c.d, and without a zone, which netip.Prefix.Contains
// would otherwise refuse to match.
func mapped(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return netip.AddrFrom16(addr.As16())
	}
	return addr.WithZone("")
}

// mappedPrefix turns an IPv4 prefix into the IPv4-mapped prefix covering the
// same addresses, so a hand-written 10.0.0.0/8 entry works.
func mappedPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4() {
		return netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
	}
	return p
}

// PolicyRow is one line of a policy shown as RFC 6724 §2.1 prints its table:
// the precedence and label that addresses in Prefix get, unless a longer
// prefix of the same policy says otherwise.
type PolicyRow struct {
	Prefix     netip.Prefix
	Precedence uint8
	Label      uint8
}

// Rows lists the policy as one table for display (dsprobe profiles, dsprobe
// order). There is a row for every prefix of either table, in table order:
// the precedence table's prefixes first, then those only the label table
// has. Where a prefix is in one table only (glibc labels fc00::/7 but gives
// it no precedence of its own), the row shows the value that applies to it
// from the other table: that of the longest prefix covering it. A nil Policy
// lists RFC 6724's table. The IPv4 scope table is not part of the rows; read
// ScopeV4Table.
func (p *Policy) Rows() []PolicyRow {
	prec, label := p.precedenceTable(), p.labelTable()
	var prefixes []netip.Prefix
	for _, table := range [][]PolicyEntry{prec, label} {
		for _, e := range table {
			pfx := mappedPrefix(e.Prefix).Masked()
			if !slices.Contains(prefixes, pfx) {
				prefixes = append(prefixes, pfx)
			}
		}
	}
	rows := make([]PolicyRow, len(prefixes))
	for i, pfx := range prefixes {
		rows[i] = PolicyRow{
			Prefix:     pfx,
			Precedence: coveringValue(prec, pfx),
			Label:      coveringValue(label, pfx),
		}
	}
	return rows
}

// coveringValue is the value of the longest entry whose prefix contains all
// of pfx: the value its addresses get unless a longer entry inside pfx
// overrides it.
func coveringValue(table []PolicyEntry, pfx netip.Prefix) uint8 {
	best, value := -1, uint8(0)
	for _, e := range table {
		ep := mappedPrefix(e.Prefix)
		if ep.Bits() <= pfx.Bits() && ep.Bits() > best && ep.Contains(pfx.Addr()) {
			best, value = ep.Bits(), e.Value
		}
	}
	return value
}

// PolicyByName returns the policy a name on the command line or in a profile
// spec means: "rfc6724" (RFC6724Policy), "glibc" (GlibcPolicy), or else the
// path of a gai.conf file to load (LoadGaiConf).
func PolicyByName(name string) (*Policy, error) {
	switch name {
	case "rfc6724":
		return RFC6724Policy(), nil
	case "glibc":
		return GlibcPolicy(), nil
	}
	p, err := LoadGaiConf(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("policy %q is neither rfc6724 nor glibc, nor a gai.conf file: %w", name, err)
	}
	// The file's own errors name it, line by line.
	return p, err
}
