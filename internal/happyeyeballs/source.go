package happyeyeballs

import "net/netip"

// SelectSource chooses the source address for dst among candidates, by the
// source address selection rules of RFC 6724 §5, and reports whether any
// candidate could be used. It predicts what a host with these addresses
// would pick; the kernel's own answer for a real host comes from
// internal/localaddr.
//
// Only candidates of dst's family take part (an IPv4-mapped address counts
// as IPv4). RFC 6724 §5 specifies the rules for IPv6 only; they are applied
// to IPv4 the same way, which is what a single-candidate IPv4 host needs. As
// §4 requires, multicast and unspecified candidates are never chosen. When
// the rules leave candidates tied — the RFC leaves that tiebreaker to the
// implementation — the earliest in candidates wins. A nil policy means the
// RFC 6724 default policy.
//
// Rules 5 (prefer outgoing interface) and 5.5 (prefer addresses in a prefix
// advertised by the next-hop) are not applied: they need the route to dst —
// which interface and which router the kernel would use — and a plain set of
// addresses does not carry it. A host where they matter is one with several
// interfaces or routers, and for that host ask the kernel.
func SelectSource(dst netip.Addr, candidates []Source, policy *Policy) (Source, bool) {
	d := dst.Unmap().WithZone("")
	if !d.IsValid() {
		return Source{}, false
	}
	dScope := scopeOf(d, policy)
	dLabel := policy.Label(d)

	best, found := -1, false
	var bestAttr sourceAttr
	for i, c := range candidates {
		a := c.Addr.Unmap().WithZone("")
		if !a.IsValid() || a.Is4() != d.Is4() || a.IsMulticast() || a.IsUnspecified() {
			continue
		}
		attr := sourceAttr{
			src:   c,
			addr:  a,
			scope: scopeOf(a, policy),
			label: policy.Label(a),
		}
		attr.cpl = min(commonPrefixLen(a, d), prefixLenOf(c, a))
		// Only a strictly better candidate replaces the best so far,
		// so ties keep the earlier one.
		if !found || compareSources(&attr, &bestAttr, d, dScope, dLabel) < 0 {
			best, bestAttr, found = i, attr, true
		}
	}
	if !found {
		return Source{}, false
	}
	return candidates[best], true
}

type sourceAttr struct {
	src   Source
	addr  netip.Addr // unmapped, zone-free
	scope uint8
	label uint8
	cpl   int // CommonPrefixLen(S, D), RFC 6724 §2.2
}

// compareSources returns -1 if SA is the better source for D, 1 if SB is, 0
// if the rules leave them tied. The rule texts are quoted from RFC 6724 §5.
func compareSources(sa, sb *sourceAttr, d netip.Addr, dScope, dLabel uint8) int {
	const preferSA, preferSB = -1, 1

	// Rule 1: Prefer same address.
	// If SA = D, then prefer SA.  Similarly, if SB = D, then prefer SB.
	switch {
	case sa.addr == d && sb.addr != d:
		return preferSA
	case sb.addr == d && sa.addr != d:
		return preferSB
	}

	// Rule 2: Prefer appropriate scope.
	// If Scope(SA) < Scope(SB): If Scope(SA) < Scope(D), then prefer SB and
	// otherwise prefer SA.  Similarly, if Scope(SB) < Scope(SA): If
	// Scope(SB) < Scope(D), then prefer SA and otherwise prefer SB.
	switch {
	case sa.scope < sb.scope:
		if sa.scope < dScope {
			return preferSB
		}
		return preferSA
	case sb.scope < sa.scope:
		if sb.scope < dScope {
			return preferSA
		}
		return preferSB
	}

	// Rule 3: Avoid deprecated addresses.
	// If one of the two source addresses is "preferred" and one of them is
	// "deprecated" (in the RFC 4862 sense), then prefer the one that is
	// "preferred".
	switch {
	case !sa.src.Deprecated && sb.src.Deprecated:
		return preferSA
	case sa.src.Deprecated && !sb.src.Deprecated:
		return preferSB
	}

	// Rule 4: Prefer home addresses.
	// If SA is simultaneously a home address and care-of address and SB is
	// not, then prefer SA.  Similarly, if SB is simultaneously a home
	// address and care-of address and SA is not, then prefer SB.  If SA is
	// just a home address and SB is just a care-of address, then prefer
	// SA.  Similarly, if SB is just a home address and SA is just a care-of
	// address, then prefer SB.
	bothA, bothB := sa.src.Home && sa.src.CareOf, sb.src.Home && sb.src.CareOf
	switch {
	case bothA && !bothB:
		return preferSA
	case bothB && !bothA:
		return preferSB
	}
	homeA, homeB := sa.src.Home && !sa.src.CareOf, sb.src.Home && !sb.src.CareOf
	coA, coB := sa.src.CareOf && !sa.src.Home, sb.src.CareOf && !sb.src.Home
	switch {
	case homeA && coB:
		return preferSA
	case homeB && coA:
		return preferSB
	}

	// Rule 5: Prefer outgoing interface.
	// Rule 5.5: Prefer addresses in a prefix advertised by the next-hop.
	//
	// Not applied: both need the route to D, which a set of addresses does
	// not carry (see SelectSource).

	// Rule 6: Prefer matching label.
	// If Label(SA) = Label(D) and Label(SB) <> Label(D), then prefer SA.
	// Similarly, if Label(SB) = Label(D) and Label(SA) <> Label(D), then
	// prefer SB.
	switch {
	case sa.label == dLabel && sb.label != dLabel:
		return preferSA
	case sb.label == dLabel && sa.label != dLabel:
		return preferSB
	}

	// Rule 7: Prefer temporary addresses.
	// If SA is a temporary address and SB is a public address, then prefer
	// SA.  Similarly, if SB is a temporary address and SA is a public
	// address, then prefer SB.
	//
	// The RFC lets an application reverse this (IPV6_PREFER_SRC_PUBLIC);
	// this is the default sense.
	switch {
	case sa.src.Temporary && !sb.src.Temporary:
		return preferSA
	case sb.src.Temporary && !sa.src.Temporary:
		return preferSB
	}

	// Rule 8: Use longest matching prefix.
	// If CommonPrefixLen(SA, D) > CommonPrefixLen(SB, D), then prefer SA.
	// Similarly, if CommonPrefixLen(SB, D) > CommonPrefixLen(SA, D), then
	// prefer SB.
	switch {
	case sa.cpl > sb.cpl:
		return preferSA
	case sb.cpl > sa.cpl:
		return preferSB
	}
	return 0
}
