package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// transports is "one table over every transport": each case runs over UDP
// and with use-vc over TCP.
var transports = []string{TransportUDP, TransportTCP}

// newResolver asks the given servers over transport, one attempt each with a
// short timeout, so a case that waits for nothing is fast.
func newResolver(transport string, servers ...netip.AddrPort) *Resolver {
	return &Resolver{Config: Config{
		Servers:  servers,
		Ndots:    1,
		Attempts: 1,
		Timeout:  2 * time.Second,
		UseTCP:   transport == TransportTCP,
	}}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestLookup(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1", "192.0.2.2"), TTL: 30})
	s.Set("www.example.", dns.TypeAAAA, faultdns.Response{Addrs: addrs("2001:db8::1"), TTL: 60})
	s.Set("v4only.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.4")})
	s.Set("servfail.example.", dns.TypeAAAA, faultdns.Response{Rcode: dns.RcodeServerFailure})
	s.Set("refused.example.", dns.TypeAAAA, faultdns.Response{Rcode: dns.RcodeRefused})
	s.Set("notimp.example.", dns.TypeAAAA, faultdns.Response{Rcode: dns.RcodeNotImplemented})
	s.Set("drop.example.", dns.TypeAAAA, faultdns.Response{Drop: true})
	s.Set("alias.example.", dns.TypeCNAME, faultdns.Response{CNAME: "alias2.example."})
	s.Set("alias2.example.", dns.TypeCNAME, faultdns.Response{CNAME: "www.example."})
	s.Set("dangling.example.", dns.TypeAAAA, faultdns.Response{CNAME: "gone.example."})
	s.Set("nat64.example.", dns.TypeAAAA, faultdns.Response{Addrs: addrs("64:ff9b::c000:201")})
	// An AAAA answer that also carries an A record: only AAAA counts.
	s.Set("mixed.example.", dns.TypeAAAA, faultdns.Response{Addrs: addrs("192.0.2.9", "2001:db8::9")})
	s.Set("garbage.example.", dns.TypeAAAA, faultdns.Response{Malformed: true})
	s.Set("wrongid.example.", dns.TypeAAAA, faultdns.Response{WrongID: true})
	s.Set("chaos.example.", dns.TypeAAAA, faultdns.Response{WrongClass: true, Addrs: addrs("2001:db8::7")})

	tests := []struct {
		name       string
		query      string
		family     dualstack.Family
		timeout    time.Duration // 0: newResolver's
		wantStatus Status
		wantRcode  int
		wantAddrs  []netip.Addr
		wantTTLs   []uint32
		wantCNAMEs []string
		wantDNS64  bool
		wantErr    error // errors.Is; nil: Err must be nil
	}{
		{name: "positive A", query: "www.example", family: dualstack.FamilyIPv4, wantStatus: StatusPositive,
			wantAddrs: addrs("192.0.2.1", "192.0.2.2"), wantTTLs: []uint32{30, 30}},
		{name: "positive AAAA", query: "www.example.", family: dualstack.FamilyIPv6, wantStatus: StatusPositive,
			wantAddrs: addrs("2001:db8::1"), wantTTLs: []uint32{60}},
		{name: "NODATA", query: "v4only.example", family: dualstack.FamilyIPv6, wantStatus: StatusNoData},
		{name: "NXDOMAIN", query: "missing.example", family: dualstack.FamilyIPv6, wantStatus: StatusNXDomain, wantRcode: dns.RcodeNameError},
		{name: "SERVFAIL", query: "servfail.example", family: dualstack.FamilyIPv6, wantStatus: StatusServFail, wantRcode: dns.RcodeServerFailure},
		{name: "REFUSED", query: "refused.example", family: dualstack.FamilyIPv6, wantStatus: StatusRefused, wantRcode: dns.RcodeRefused},
		{name: "NOTIMP is an error", query: "notimp.example", family: dualstack.FamilyIPv6, wantStatus: StatusError, wantRcode: dns.RcodeNotImplemented},
		{name: "timeout", query: "drop.example", family: dualstack.FamilyIPv6, timeout: 100 * time.Millisecond,
			wantStatus: StatusTimeout, wantRcode: -1, wantErr: errDeadline},
		{name: "CNAME chain", query: "alias.example", family: dualstack.FamilyIPv6, wantStatus: StatusPositive,
			wantAddrs: addrs("2001:db8::1"), wantTTLs: []uint32{60}, wantCNAMEs: []string{"alias2.example.", "www.example."}},
		{name: "CNAME to a missing name", query: "dangling.example", family: dualstack.FamilyIPv6, wantStatus: StatusNXDomain,
			wantRcode: dns.RcodeNameError, wantCNAMEs: []string{"gone.example."}},
		{name: "DNS64", query: "nat64.example", family: dualstack.FamilyIPv6, wantStatus: StatusPositive,
			wantAddrs: addrs("64:ff9b::c000:201"), wantTTLs: []uint32{0}, wantDNS64: true},
		{name: "records of another type are ignored", query: "mixed.example", family: dualstack.FamilyIPv6, wantStatus: StatusPositive,
			wantAddrs: addrs("2001:db8::9"), wantTTLs: []uint32{0}},
		{name: "garbage reply", query: "garbage.example", family: dualstack.FamilyIPv6, wantStatus: StatusError, wantRcode: -1, wantErr: ErrMalformed},
		{name: "reply with a wrong ID", query: "wrongid.example", family: dualstack.FamilyIPv6, timeout: 100 * time.Millisecond,
			wantStatus: StatusError, wantRcode: -1, wantErr: ErrMalformed},
		{name: "records of the wrong class", query: "chaos.example", family: dualstack.FamilyIPv6, wantStatus: StatusError, wantErr: ErrMalformed},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				r := newResolver(transport, s.Addr())
				if tt.timeout > 0 {
					r.Config.Timeout = tt.timeout
				}
				got := r.Lookup(t.Context(), tt.query, tt.family)
				if got.Status != tt.wantStatus {
					t.Errorf("got status %v (err %v), want %v", got.Status, got.Err, tt.wantStatus)
				}
				if got.Rcode != tt.wantRcode {
					t.Errorf("got rcode %d, want %d", got.Rcode, tt.wantRcode)
				}
				if got.Family != tt.family {
					t.Errorf("got family %v, want %v", got.Family, tt.family)
				}
				if want := absolute(tt.query); got.Name != want {
					t.Errorf("got name %q, want %q", got.Name, want)
				}
				if !slices.Equal(got.Addresses, tt.wantAddrs) {
					t.Errorf("got addresses %v, want %v", got.Addresses, tt.wantAddrs)
				}
				if !slices.Equal(got.TTLs, tt.wantTTLs) {
					t.Errorf("got TTLs %v, want %v", got.TTLs, tt.wantTTLs)
				}
				if !slices.Equal(got.CNAMEs, tt.wantCNAMEs) {
					t.Errorf("got CNAMEs %q, want %q", got.CNAMEs, tt.wantCNAMEs)
				}
				if got.DNS64 != tt.wantDNS64 {
					t.Errorf("got DNS64 %v, want %v", got.DNS64, tt.wantDNS64)
				}
				switch {
				case tt.wantErr == nil && got.Status != StatusError && got.Err != nil:
					t.Errorf("got error %v, want none", got.Err)
				case tt.wantErr == errDeadline && !isTimeout(got.Err):
					t.Errorf("got error %v, want a timeout", got.Err)
				case tt.wantErr != nil && tt.wantErr != errDeadline && !errors.Is(got.Err, tt.wantErr):
					t.Errorf("got error %v, want one wrapping %v", got.Err, tt.wantErr)
				case got.Status == StatusError && got.Err == nil:
					t.Error("got status error without Err")
				}
				if len(got.Tries) != 1 {
					t.Fatalf("got %d tries %+v, want 1", len(got.Tries), got.Tries)
				}
				try := got.Tries[0]
				if try.Transport != transport || try.Server != s.Addr() || try.Name != absolute(tt.query) {
					t.Errorf("got try %+v, want %s to %v for %s", try, transport, s.Addr(), absolute(tt.query))
				}
				if got.Rcode >= 0 {
					// A reply decided: where it came from is recorded.
					if got.Server != s.Addr() || got.ServerFamily != dualstack.FamilyIPv4 || got.Transport != transport || got.RTT <= 0 || got.Truncated {
						t.Errorf("got server %v over %v (%s), RTT %v, truncated %v; want %v over ipv4 (%s), RTT > 0, not truncated",
							got.Server, got.ServerFamily, got.Transport, got.RTT, got.Truncated, s.Addr(), transport)
					}
				} else if got.Server.IsValid() || got.RTT != 0 || got.Transport != "" {
					t.Errorf("got server %v, RTT %v, transport %q without a deciding reply; want none", got.Server, got.RTT, got.Transport)
				}
			})
		}
	}
}

// errDeadline stands for "some timeout error" in a table.
var errDeadline = errors.New("deadline")

// RFC 8305 races on DNS timing: a late AAAA answer must show its delay.
func TestLateAnswerRTT(t *testing.T) {
	const delay = 150 * time.Millisecond
	s := dnstest.Start(t)
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1")})
	s.Set("www.example.", dns.TypeAAAA, faultdns.Response{Addrs: addrs("2001:db8::1"), Delay: delay})
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			a, aaaa := newResolver(transport, s.Addr()).LookupBoth(t.Context(), "www.example.")
			if a.Status != StatusPositive || aaaa.Status != StatusPositive {
				t.Fatalf("got A %v, AAAA %v (%v), want both positive", a.Status, aaaa.Status, aaaa.Err)
			}
			if aaaa.RTT < delay || aaaa.Elapsed() < delay {
				t.Errorf("got AAAA RTT %v, elapsed %v; want at least the server's delay %v", aaaa.RTT, aaaa.Elapsed(), delay)
			}
		})
	}
}

func TestTruncatedRetriedOverTCP(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("big.example.", dns.TypeAAAA, faultdns.Response{Truncate: true, Addrs: addrs("2001:db8::1", "2001:db8::2")})
	got := newResolver(TransportUDP, s.Addr()).Lookup(t.Context(), "big.example.", dualstack.FamilyIPv6)
	if got.Status != StatusPositive || !slices.Equal(got.Addresses, addrs("2001:db8::1", "2001:db8::2")) {
		t.Errorf("got %v %v (%v), want positive 2001:db8::1 2001:db8::2", got.Status, got.Addresses, got.Err)
	}
	if !got.Truncated || got.Transport != TransportTCP {
		t.Errorf("got truncated %v over %s, want truncated over tcp", got.Truncated, got.Transport)
	}
	var tries []string
	for _, try := range got.Tries {
		tries = append(tries, try.Transport)
	}
	if !slices.Equal(tries, []string{"udp", "tcp"}) || !got.Tries[0].Truncated {
		t.Errorf("got tries %+v, want a truncated udp try then tcp", got.Tries)
	}
	var queries []string
	for _, q := range s.Queries() {
		queries = append(queries, q.String())
	}
	if want := []string{"udp big.example. AAAA", "tcp big.example. AAAA"}; !slices.Equal(queries, want) {
		t.Errorf("server got %q, want %q", queries, want)
	}
}

// The search walk on the wire, names checked against glibc's order (see
// TestSearchWalk for every rule).
func TestSearchWalkOnTheWire(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("www.b.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.2")})
	s.Set("db.a.example.", dns.TypeAAAA, faultdns.Response{}) // NODATA
	s.Set("db.a.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.3")})
	search := []string{"a.example", "b.example"}
	tests := []struct {
		name       string
		query      string
		ndots      int
		family     dualstack.Family
		wantNames  []string
		wantStatus Status
		wantName   string
	}{
		{name: "0 dots: search first; stops at the positive answer", query: "www", ndots: 1, family: dualstack.FamilyIPv4,
			wantNames: []string{"www.a.example.", "www.b.example."}, wantStatus: StatusPositive, wantName: "www.b.example."},
		{name: "0 dots, nothing anywhere: search, then as given", query: "nope", ndots: 1, family: dualstack.FamilyIPv4,
			wantNames: []string{"nope.a.example.", "nope.b.example.", "nope."}, wantStatus: StatusNXDomain, wantName: "nope."},
		{name: "1 dot, ndots 1: as given first", query: "nope.svc", ndots: 1, family: dualstack.FamilyIPv4,
			wantNames: []string{"nope.svc.", "nope.svc.a.example.", "nope.svc.b.example."}, wantStatus: StatusNXDomain, wantName: "nope.svc."},
		{name: "1 dot, ndots 2: search first", query: "nope.svc", ndots: 2, family: dualstack.FamilyIPv4,
			wantNames: []string{"nope.svc.a.example.", "nope.svc.b.example.", "nope.svc."}, wantStatus: StatusNXDomain, wantName: "nope.svc."},
		{name: "2 dots, ndots 2: as given first", query: "no.pe.svc", ndots: 2, family: dualstack.FamilyIPv4,
			wantNames: []string{"no.pe.svc.", "no.pe.svc.a.example.", "no.pe.svc.b.example."}, wantStatus: StatusNXDomain, wantName: "no.pe.svc."},
		{name: "trailing dot: as given only", query: "www.", ndots: 1, family: dualstack.FamilyIPv4,
			wantNames: []string{"www."}, wantStatus: StatusNXDomain, wantName: "www."},
		{name: "NODATA goes on (glibc) and is what is reported", query: "db", ndots: 1, family: dualstack.FamilyIPv6,
			wantNames: []string{"db.a.example.", "db.b.example.", "db."}, wantStatus: StatusNoData, wantName: "db.a.example."},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				s.ResetQueries()
				r := newResolver(transport, s.Addr())
				r.Config.Search, r.Config.Ndots = search, tt.ndots
				got := r.Lookup(t.Context(), tt.query, tt.family)
				if got.Status != tt.wantStatus || got.Name != tt.wantName {
					t.Errorf("got %v for %q, want %v for %q", got.Status, got.Name, tt.wantStatus, tt.wantName)
				}
				if names := faultdns.Names(s.Queries()); !slices.Equal(names, tt.wantNames) {
					t.Errorf("server got %q, want %q", names, tt.wantNames)
				}
				var tried []string
				for _, try := range got.Tries {
					tried = append(tried, try.Name)
				}
				if !slices.Equal(tried, tt.wantNames) {
					t.Errorf("got tries for %q, want %q", tried, tt.wantNames)
				}
			})
		}
	}
}

func TestServerOrder(t *testing.T) {
	dead := dnstest.Start(t)
	dead.Set("www.example.", dns.TypeA, faultdns.Response{Drop: true})
	refusing := dnstest.Start(t)
	refusing.Set("www.example.", dns.TypeA, faultdns.Response{Rcode: dns.RcodeRefused})
	failing := dnstest.Start(t)
	failing.Set("www.example.", dns.TypeA, faultdns.Response{Rcode: dns.RcodeServerFailure})
	good := dnstest.Start(t)
	good.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1")})
	closed := closedPort(t)

	name := map[netip.AddrPort]string{dead.Addr(): "dead", refusing.Addr(): "refusing", failing.Addr(): "failing", good.Addr(): "good", closed: "closed"}
	tests := []struct {
		name       string
		servers    []netip.AddrPort
		attempts   int
		transports []string // nil: both
		wantTries  []string
		wantStatus Status
		wantServer string
	}{
		{name: "the second server when the first never answers", servers: []netip.AddrPort{dead.Addr(), good.Addr()}, attempts: 2,
			wantTries: []string{"dead", "good"}, wantStatus: StatusPositive, wantServer: "good"},
		{name: "REFUSED moves on to the next server", servers: []netip.AddrPort{refusing.Addr(), good.Addr()}, attempts: 2,
			wantTries: []string{"refusing", "good"}, wantStatus: StatusPositive, wantServer: "good"},
		{name: "a closed port moves on to the next server", servers: []netip.AddrPort{closed, good.Addr()}, attempts: 2,
			wantTries: []string{"closed", "good"}, wantStatus: StatusPositive, wantServer: "good"},
		{name: "rounds over the servers over UDP: SERVFAIL everywhere", servers: []netip.AddrPort{failing.Addr(), refusing.Addr()}, attempts: 2,
			transports: []string{TransportUDP},
			wantTries:  []string{"failing", "refusing", "failing", "refusing"}, wantStatus: StatusRefused, wantServer: "refusing"},
		{name: "one try per server over TCP (use-vc)", servers: []netip.AddrPort{failing.Addr(), refusing.Addr()}, attempts: 2,
			transports: []string{TransportTCP},
			wantTries:  []string{"failing", "refusing"}, wantStatus: StatusRefused, wantServer: "refusing"},
		{name: "the last reply decides, not a later timeout", servers: []netip.AddrPort{failing.Addr(), dead.Addr()}, attempts: 1,
			wantTries: []string{"failing", "dead"}, wantStatus: StatusServFail, wantServer: "failing"},
		{name: "no server reachable", servers: []netip.AddrPort{closed}, attempts: 1,
			wantTries: []string{"closed"}, wantStatus: StatusError},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			if tt.transports != nil && !slices.Contains(tt.transports, transport) {
				continue
			}
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				r := newResolver(transport, tt.servers...)
				r.Config.Attempts, r.Config.Timeout = tt.attempts, 100*time.Millisecond
				got := r.Lookup(t.Context(), "www.example.", dualstack.FamilyIPv4)
				var tries []string
				for _, try := range got.Tries {
					tries = append(tries, name[try.Server])
				}
				if !slices.Equal(tries, tt.wantTries) {
					t.Errorf("got tries %q, want %q", tries, tt.wantTries)
				}
				if got.Status != tt.wantStatus || name[got.Server] != tt.wantServer {
					t.Errorf("got %v from %q (%v), want %v from %q", got.Status, name[got.Server], got.Err, tt.wantStatus, tt.wantServer)
				}
			})
		}
	}
}

// closedPort is a loopback port with nothing listening on UDP or TCP: a
// query to it gets ICMP port unreachable or a TCP reset.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return addr
}

func TestRotate(t *testing.T) {
	first, second := dnstest.Start(t), dnstest.Start(t)
	for _, s := range []*faultdns.Server{first, second} {
		s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1")})
	}
	r := newResolver(TransportUDP, first.Addr(), second.Addr())
	r.Config.Rotate = true
	var got []netip.AddrPort
	for range 4 {
		got = append(got, r.Lookup(t.Context(), "www.example.", dualstack.FamilyIPv4).Server)
	}
	if want := []netip.AddrPort{first.Addr(), second.Addr(), first.Addr(), second.Addr()}; !slices.Equal(got, want) {
		t.Errorf("got servers %v, want %v", got, want)
	}
}

func TestIPv6Server(t *testing.T) {
	requireIPv6Loopback(t)
	s := dnstest.Start(t, "[::1]:0")
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1")})
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			got := newResolver(transport, s.Addr()).Lookup(t.Context(), "www.example.", dualstack.FamilyIPv4)
			if got.Status != StatusPositive || got.Server != s.Addr() || got.ServerFamily != dualstack.FamilyIPv6 {
				t.Errorf("got %v from %v over %v, want positive from %v over ipv6", got.Status, got.Server, got.ServerFamily, s.Addr())
			}
			if q := s.Queries(); len(q) == 0 || !q[len(q)-1].From.Addr().Is6() {
				t.Errorf("got queries %v, want the last from an IPv6 client", q)
			}
		})
	}
}

func requireIPv6Loopback(t *testing.T) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback (::1) on this host: %v", err)
	}
	pc.Close()
}

func TestContextEndsLookup(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("www.example.", dns.TypeAAAA, faultdns.Response{Drop: true})
	tests := []struct {
		name       string
		ctx        func(t *testing.T) context.Context
		wantStatus Status
		wantErr    error
	}{
		{name: "canceled", wantStatus: StatusError, wantErr: context.Canceled, ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx
		}},
		{name: "deadline", wantStatus: StatusTimeout, wantErr: context.DeadlineExceeded, ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				// Left alone, this lookup would take 3 × 2 × 5 s.
				r := newResolver(transport, s.Addr(), s.Addr(), s.Addr())
				r.Config.Attempts, r.Config.Timeout = 2, 5*time.Second
				r.Config.Search = []string{"a.example", "b.example"}
				done := make(chan Answer, 1)
				go func() { done <- r.Lookup(tt.ctx(t), "www.example.", dualstack.FamilyIPv6) }()
				select {
				case got := <-done:
					if got.Status != tt.wantStatus || !errors.Is(got.Err, tt.wantErr) {
						t.Errorf("got %v (%v), want %v wrapping %v", got.Status, got.Err, tt.wantStatus, tt.wantErr)
					}
					if len(got.Tries) != 1 {
						t.Errorf("got %d tries %+v, want 1 (the one the context ended)", len(got.Tries), got.Tries)
					}
				case <-time.After(4 * time.Second):
					t.Fatal("Lookup still running 4 s after its context ended")
				}
			})
		}
	}
}

func TestIPLiteral(t *testing.T) {
	r := &Resolver{}
	tests := []struct {
		name       string
		family     dualstack.Family
		wantStatus Status
		wantAddrs  []netip.Addr
		wantDNS64  bool
	}{
		{"192.0.2.1", dualstack.FamilyIPv4, StatusPositive, addrs("192.0.2.1"), false},
		{"2001:db8::1", dualstack.FamilyIPv6, StatusPositive, addrs("2001:db8::1"), false},
		{"64:ff9b::c000:201", dualstack.FamilyIPv6, StatusPositive, addrs("64:ff9b::c000:201"), true},
		{"2001:db8::1", dualstack.FamilyIPv4, StatusNoData, nil, false},
		{"192.0.2.1", dualstack.FamilyIPv6, StatusNoData, nil, false},
	}
	for _, tt := range tests {
		got := r.Lookup(t.Context(), tt.name, tt.family)
		if got.Status != tt.wantStatus || !slices.Equal(got.Addresses, tt.wantAddrs) || got.DNS64 != tt.wantDNS64 || got.Tries != nil || got.Rcode != -1 {
			t.Errorf("Lookup(%s, %v): got %v %v DNS64 %v, %d tries, rcode %d; want %v %v DNS64 %v, no tries, rcode -1",
				tt.name, tt.family, got.Status, got.Addresses, got.DNS64, len(got.Tries), got.Rcode, tt.wantStatus, tt.wantAddrs, tt.wantDNS64)
		}
	}
}

func TestInvalidName(t *testing.T) {
	r := &Resolver{}
	for _, name := range []string{"", "a..b", string(make([]byte, 300))} {
		got := r.Lookup(t.Context(), name, dualstack.FamilyIPv4)
		if got.Status != StatusError || got.Err == nil || len(got.Tries) != 0 {
			t.Errorf("Lookup(%q): got %v (%v) after %d tries, want an error without a try", name, got.Status, got.Err, len(got.Tries))
		}
	}
}

func TestSingleRequest(t *testing.T) {
	s := dnstest.Start(t)
	// A late A answer: sent together, the AAAA query would arrive first
	// or meanwhile; with single-request it waits for the A answer.
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: addrs("192.0.2.1"), Delay: 50 * time.Millisecond})
	s.Set("www.example.", dns.TypeAAAA, faultdns.Response{Addrs: addrs("2001:db8::1")})
	r := newResolver(TransportUDP, s.Addr())
	r.Config.SingleRequest = true
	a, aaaa := r.LookupBoth(t.Context(), "www.example.")
	if a.Status != StatusPositive || aaaa.Status != StatusPositive {
		t.Fatalf("got A %v, AAAA %v; want both positive", a.Status, aaaa.Status)
	}
	var got []string
	for _, q := range s.Queries() {
		got = append(got, dns.TypeToString[q.Type])
	}
	if !slices.Equal(got, []string{"A", "AAAA"}) {
		t.Errorf("server got %q, want A then AAAA", got)
	}
}

// LookupFunc feeds a real race with real DNS and keeps the answers.
func TestLookupFuncRace(t *testing.T) {
	s := dnstest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s.Set("svc.example.", dns.TypeA, faultdns.Response{Addrs: addrs("127.0.0.1")})
	s.Set("svc.example.", dns.TypeAAAA, faultdns.Response{}) // NODATA

	profile, err := he.LookupProfile("rfc8305")
	if err != nil {
		t.Fatal(err)
	}
	lookup, answers := newResolver(TransportUDP, s.Addr()).LookupFunc("svc.example.")
	racer := &he.Racer{Strategy: profile.Strategy}
	conn, res, err := racer.Race(t.Context(), lookup, ln.Addr().(*net.TCPAddr).AddrPort().Port())
	if err != nil {
		t.Fatal(err)
	}
	if conn == nil {
		t.Fatalf("got no connection (%+v), want one to 127.0.0.1", res)
	}
	conn.Close()
	a, aaaa := answers()
	if a.Family != dualstack.FamilyIPv4 || a.Status != StatusPositive || !slices.Equal(a.Addresses, addrs("127.0.0.1")) {
		t.Errorf("got A answer %v %v %v, want ipv4 positive [127.0.0.1]", a.Family, a.Status, a.Addresses)
	}
	if aaaa.Family != dualstack.FamilyIPv6 || aaaa.Status != StatusNoData {
		t.Errorf("got AAAA answer %v %v, want ipv6 nodata", aaaa.Family, aaaa.Status)
	}

	var lerr *LookupError
	if _, err := lookup(t.Context(), dualstack.FamilyIPv6); !errors.As(err, &lerr) || lerr.Status != StatusNoData {
		t.Errorf("got error %v, want a *LookupError with status nodata", err)
	}
}

func TestLookupFuncNotAsked(t *testing.T) {
	_, answers := (&Resolver{}).LookupFunc("svc.example.")
	a, aaaa := answers()
	if a.Status != StatusNone || a.Family != dualstack.FamilyIPv4 || aaaa.Status != StatusNone || aaaa.Family != dualstack.FamilyIPv6 {
		t.Errorf("got %v/%v and %v/%v, want none/ipv4 and none/ipv6", a.Status, a.Family, aaaa.Status, aaaa.Family)
	}
}

func TestStatusString(t *testing.T) {
	want := map[Status]string{
		StatusNone: "none", StatusPositive: "positive", StatusNoData: "nodata", StatusNXDomain: "nxdomain",
		StatusServFail: "servfail", StatusRefused: "refused", StatusTimeout: "timeout", StatusError: "error",
		Status(99): "Status(99)",
	}
	for s, w := range want {
		if got := s.String(); got != w {
			t.Errorf("Status(%d).String(): got %q, want %q", uint8(s), got, w)
		}
	}
}
