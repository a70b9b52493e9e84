package resolve

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

// Dialer opens the connection of one try: "udp" or "tcp" to a literal
// address ("[2001:db8::53]:53"). *net.Dialer satisfies it, and so does a test
// host's DialContext, to ask from inside a network namespace.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Resolver asks DNS one family at a time and records every exchange. The
// zero Resolver asks 127.0.0.1:53 with glibc's defaults. A Resolver is safe
// for concurrent use and must not be copied after first use.
type Resolver struct {
	// Config says whom to ask and how; see Config for its zero values.
	Config Config

	// Dialer makes each try's connection. If nil, a zero net.Dialer is
	// used.
	Dialer Dialer

	// Hosts, if set, is consulted before DNS, as glibc and Go consult
	// /etc/hosts: a name it lists is answered from it alone. Nil asks DNS
	// only (a caller that names its DNS server wants that server's answer).
	Hosts *Hosts

	// rotation is the next server offset when Config.Rotate is set.
	rotation atomic.Uint32
}

// Lookup asks for name's addresses of one family: A for FamilyIPv4, AAAA for
// FamilyIPv6. It never fails as a call; what happened is in the Answer.
//
// The name is searched as glibc's res_search (res_query.c) does:
//
//   - A name with a trailing dot is only tried as given.
//   - A name with at least Ndots dots is tried as given first, then with
//     each search domain; a name with fewer dots is tried with each search
//     domain first, then as given (not at all with NoTLDQuery when it has no
//     dot; a search domain "." stands for this final try).
//   - A positive answer (strictly: NOERROR with a non-empty answer section,
//     which glibc takes for success even if it holds only a CNAME) ends the
//     walk. NXDOMAIN, NODATA and SERVFAIL go on to the next name: glibc does
//     not stop at NODATA. A timeout, REFUSED or a malformed reply stops the
//     search list, and the name is still tried as given if it was not yet.
//     When no server can be reached at all, the walk ends there.
//   - When nothing succeeds, the Answer is that of the as-given try if it
//     came first; else the first NODATA; else the first SERVFAIL; else the
//     last name tried. Tries holds every exchange of the walk.
//
// Each name is asked as glibc's res_send does: Attempts rounds over the
// servers in order (starting at the next server each query with Rotate), a
// try waiting at most Timeout; SERVFAIL, NOTIMP, REFUSED, a referral, a
// timeout or a network error moves on to the next server; a truncated UDP
// answer is asked again over TCP of the same server, after which, as with
// UseTCP, each server gets one TCP try. Replies with a foreign ID or
// question are skipped while waiting, as glibc skips them.
//
// Lookup walks the search list for one family. glibc's getaddrinfo asks A
// and AAAA together for each name and stops at the first name where either
// succeeds: where the A record lives under the first search domain and the
// AAAA record only under the second, a glibc client gets no IPv6 address,
// while Lookup's AAAA answer is positive from the second domain (its Name
// says which).
//
// A name that Hosts lists is answered from the file (TransportFiles, no
// Tries): positive with its addresses of the family, or NODATA when the file
// lists only the other family, since then getaddrinfo returns none of this
// family either.
//
// An IP literal is not looked up: the Answer is positive with that address
// (NODATA when it is of the other family), with Rcode -1 and no Tries. A
// caller normally skips DNS for literals.
//
// When ctx ends, Lookup returns promptly with StatusTimeout (deadline) or
// StatusError (cancellation) and ctx's error in Err.
func (r *Resolver) Lookup(ctx context.Context, name string, family dualstack.Family) Answer {
	var qtype uint16
	switch family {
	case dualstack.FamilyIPv4:
		qtype = dns.TypeA
	case dualstack.FamilyIPv6:
		qtype = dns.TypeAAAA
	default:
		return Answer{Family: family, Name: name, Status: StatusError, Rcode: -1, Err: fmt.Errorf("lookup of %q: unknown address family %v", name, family)}
	}
	if addr, err := netip.ParseAddr(name); err == nil {
		a := Answer{Family: family, Name: name, Status: StatusNoData, Rcode: -1}
		if dualstack.FamilyOf(addr) == family {
			a.Status = StatusPositive
			a.Addresses = []netip.Addr{addr}
			a.DNS64 = addr.Is6() && nat64Prefix.Contains(addr)
		}
		return a
	}
	if name == "" {
		return Answer{Family: family, Status: StatusError, Rcode: -1, Err: fmt.Errorf("lookup of an empty name")}
	}
	if addrs := r.Hosts.Lookup(name); len(addrs) > 0 {
		return r.Hosts.answer(name, family, addrs)
	}

	st := &lookupState{start: time.Now()}
	var results []nameResult
	decided := searchWalk(name, r.Config.ndots(), r.Config.Search, r.Config.NoTLDQuery, func(fqdn string) outcome {
		res := r.queryName(ctx, st, fqdn, qtype)
		results = append(results, res)
		return res.outcome
	})
	a := results[decided].answer
	a.Family = family
	a.Tries = st.tries
	return a
}

// LookupBoth asks A and AAAA for name concurrently, each in its own
// goroutine, and returns when both have answered. With Config.SingleRequest
// the AAAA query waits for the A answer, as glibc's single-request does.
func (r *Resolver) LookupBoth(ctx context.Context, name string) (a, aaaa Answer) {
	if r.Config.SingleRequest {
		a = r.Lookup(ctx, name, dualstack.FamilyIPv4)
		aaaa = r.Lookup(ctx, name, dualstack.FamilyIPv6)
		return a, aaaa
	}
	var wg sync.WaitGroup
	wg.Go(func() { a = r.Lookup(ctx, name, dualstack.FamilyIPv4) })
	wg.Go(func() { aaaa = r.Lookup(ctx, name, dualstack.FamilyIPv6) })
	wg.Wait()
	return a, aaaa
}

// LookupFunc adapts the Resolver to happyeyeballs.Racer, so a race runs on
// real DNS timing: lookup answers each family with Lookup (the addresses, or
// a *LookupError when there are none), and answers returns the Answers those
// lookups recorded, for the evidence.
//
//	lookup, answers := r.LookupFunc("svc.example.")
//	conn, result, err := racer.Race(ctx, lookup, 443)
//	a, aaaa := answers()
//
// answers may be called at any time; a family whose lookup has not returned
// (or was never asked) is the zero Answer with its Family set. The lookups
// run whenever the racer calls them, concurrently; Config.SingleRequest does
// not order them here, since a racer may ask for one family only.
func (r *Resolver) LookupFunc(name string) (lookup happyeyeballs.LookupFunc, answers func() (a, aaaa Answer)) {
	var mu sync.Mutex // guards recorded, written by the racer's goroutines
	recorded := map[dualstack.Family]Answer{}
	lookup = func(ctx context.Context, family dualstack.Family) ([]netip.Addr, error) {
		ans := r.Lookup(ctx, name, family)
		mu.Lock()
		recorded[family] = ans
		mu.Unlock()
		if ans.Status != StatusPositive {
			return nil, &LookupError{Name: name, Family: family, Status: ans.Status, Err: ans.Err}
		}
		return ans.Addresses, nil
	}
	answers = func() (a, aaaa Answer) {
		mu.Lock()
		defer mu.Unlock()
		a, aaaa = recorded[dualstack.FamilyIPv4], recorded[dualstack.FamilyIPv6]
		a.Family, aaaa.Family = dualstack.FamilyIPv4, dualstack.FamilyIPv6
		return a, aaaa
	}
	return lookup, answers
}
