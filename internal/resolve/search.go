package resolve

import "strings"

// outcome is how one name's query ended, in the terms glibc's
// __res_context_search branches on (h_errno, the rcode of the last reply,
// and errno).
type outcome uint8

const (
	// outcomeSuccess: rcode NOERROR with a non-empty answer section — what
	// __res_context_query calls success. A CNAME without an address of the
	// type still counts: glibc stops there.
	outcomeSuccess outcome = iota
	// outcomeNoData: NOERROR with an empty answer section (NO_DATA).
	outcomeNoData
	// outcomeNXDomain: rcode NXDOMAIN (HOST_NOT_FOUND).
	outcomeNXDomain
	// outcomeServFail: every server that replied said SERVFAIL (TRY_AGAIN
	// with the last reply's rcode SERVFAIL).
	outcomeServFail
	// outcomeUnreachable: no server could be reached at all (every try a
	// network error such as ICMP port unreachable): errno ECONNREFUSED.
	outcomeUnreachable
	// outcomeOther: a timeout, REFUSED, NOTIMP, FORMERR, a malformed reply,
	// a name too long: anything else (TRY_AGAIN without SERVFAIL,
	// NO_RECOVERY).
	outcomeOther
	// outcomeCanceled: the caller's context ended; nothing more is asked.
	outcomeCanceled
)

// searchWalk asks for name as glibc's __res_context_search (res_query.c)
// does and returns the index, among the queries it made, of the one whose
// answer glibc would report. query asks one fully qualified name (trailing
// dot) and says how it ended.
//
// What glibc does, and so what this does:
//
//  1. A name with at least ndots dots, or with a trailing dot, is first
//     tried as given. Success ends the walk; with a trailing dot anything
//     ends it (an absolute name is never searched). Otherwise its outcome,
//     whatever it was (even a timeout), is kept and the walk goes on.
//  2. Without a trailing dot, each search domain is tried in order
//     (RES_DEFNAMES and RES_DNSRCH are on by default and resolv.conf cannot
//     turn them off). Success ends the walk. NXDOMAIN and NODATA go on to the
//     next domain — NODATA too: res_query.c says "On a NO_DATA error, keep
//     trying, otherwise a wildcard entry of another type could keep us from
//     finding this entry higher in the domain". SERVFAIL also goes on.
//     ECONNREFUSED (no server reachable) ends the whole walk at once.
//     Anything else (a timeout, REFUSED) stops the search list but still
//     lets step 3 run. A search domain "." (or empty) is the root: it asks
//     the name itself.
//  3. If the name was not tried as given in step 1 and the root was not in
//     the search list, it is tried as given now — unless it has no dots, a
//     search domain was tried and no-tld-query is set. Success ends the walk.
//  4. Nothing succeeded. glibc reports the outcome of step 1 if there was
//     one; else NODATA if any name gave NODATA; else SERVFAIL if any name
//     gave SERVFAIL; else the last outcome. The index returned is the first
//     query with that outcome (the last, in the last case).
//
// glibc's HOSTALIASES lookup for dotless names is not done.
func searchWalk(name string, ndots int, search []string, noTLDQuery bool, query func(fqdn string) outcome) int {
	dots := strings.Count(name, ".")
	trailingDot := strings.HasSuffix(name, ".")
	asked := -1 // index of the last query made
	ask := func(fqdn string) outcome {
		asked++
		return query(fqdn)
	}

	triedAsIs := -1
	if dots >= ndots || trailingDot {
		o := ask(absolute(name))
		if o == outcomeSuccess || o == outcomeCanceled || trailingDot {
			return asked
		}
		triedAsIs = asked
	}

	searched, rootOnList := false, false
	firstNoData, firstServFail := -1, -1
	if !trailingDot {
	domains:
		for _, domain := range search {
			searched = true
			// res_query.c: a leading dot is dropped, and an empty
			// domain makes "name." — the root.
			domain = strings.TrimPrefix(domain, ".")
			if domain == "" {
				rootOnList = true
			}
			switch ask(absolute(name + "." + domain)) {
			case outcomeSuccess, outcomeUnreachable, outcomeCanceled:
				return asked
			case outcomeNoData:
				if firstNoData < 0 {
					firstNoData = asked
				}
			case outcomeNXDomain:
			case outcomeServFail:
				if firstServFail < 0 {
					firstServFail = asked
				}
			default:
				break domains
			}
		}
	}

	if (dots > 0 || !searched || !noTLDQuery) && triedAsIs < 0 && !rootOnList {
		if o := ask(absolute(name)); o == outcomeSuccess || o == outcomeCanceled {
			return asked
		}
	}

	switch {
	case triedAsIs >= 0:
		return triedAsIs
	case firstNoData >= 0:
		return firstNoData
	case firstServFail >= 0:
		return firstServFail
	}
	return asked
}

// absolute adds the root's dot to a name that lacks it.
func absolute(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
