package faultdns_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/faultdns"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var transports = []string{"udp", "tcp"}

// exchange asks s one question over transport with a plain miekg/dns client.
func exchange(t *testing.T, s *faultdns.Server, transport, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: transport, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.Addr().String())
	return r, err
}

func addrsOf(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.CNAME:
			out = append(out, "CNAME "+rr.Target)
		}
	}
	return out
}

func TestAnswers(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, TTL: 30})
	s.Set("WWW.example", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}})
	s.Set("v4only.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.4")}})
	s.Set("alias.example.", dns.TypeCNAME, faultdns.Response{CNAME: "www.example."})
	s.Set("dangling.example.", dns.TypeA, faultdns.Response{CNAME: "nowhere.example."})
	s.Set("servfail.example.", dns.TypeA, faultdns.Response{Rcode: dns.RcodeServerFailure})
	s.Set("refused.example.", dns.TypeA, faultdns.Response{Rcode: dns.RcodeRefused})
	s.Set("big.example.", dns.TypeA, faultdns.Response{Truncate: true, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}})
	s.Set("chaos.example.", dns.TypeA, faultdns.Response{WrongClass: true, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}})

	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		wantRcode int
		wantAddrs []string
		// wantTC only over UDP: TCP gets the full answer.
		wantTC bool
	}{
		{name: "A", qname: "www.example.", qtype: dns.TypeA, wantAddrs: []string{"192.0.2.1"}},
		{name: "AAAA, name set in another case without the dot", qname: "www.Example.", qtype: dns.TypeAAAA, wantAddrs: []string{"2001:db8::1"}},
		{name: "NODATA: name known, type not", qname: "v4only.example.", qtype: dns.TypeAAAA},
		{name: "NXDOMAIN: name unknown", qname: "missing.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError},
		{name: "CNAME set for every type", qname: "alias.example.", qtype: dns.TypeAAAA, wantAddrs: []string{"CNAME www.example.", "2001:db8::1"}},
		{name: "CNAME to an unknown name", qname: "dangling.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAddrs: []string{"CNAME nowhere.example."}},
		{name: "SERVFAIL", qname: "servfail.example.", qtype: dns.TypeA, wantRcode: dns.RcodeServerFailure},
		{name: "REFUSED", qname: "refused.example.", qtype: dns.TypeA, wantRcode: dns.RcodeRefused},
		{name: "truncated over UDP only", qname: "big.example.", qtype: dns.TypeA, wantAddrs: []string{"192.0.2.9"}, wantTC: true},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				r, err := exchange(t, s, transport, tt.qname, tt.qtype)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if r.Rcode != tt.wantRcode {
					t.Errorf("got rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.wantRcode])
				}
				wantTC, want := tt.wantTC && transport == "udp", tt.wantAddrs
				if wantTC {
					want = nil
				}
				if r.Truncated != wantTC {
					t.Errorf("got TC %v, want %v", r.Truncated, wantTC)
				}
				if got := addrsOf(r); !slices.Equal(got, want) {
					t.Errorf("got answer %q, want %q", got, want)
				}
				if !r.Authoritative || !r.RecursionAvailable {
					t.Errorf("got AA %v RA %v, want both set (glibc takes neither for a referral)", r.Authoritative, r.RecursionAvailable)
				}
			})
		}
	}

	t.Run("wrong class", func(t *testing.T) {
		r, err := exchange(t, s, "udp", "chaos.example.", dns.TypeA)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if len(r.Answer) != 1 || r.Answer[0].Header().Class != dns.ClassCHAOS {
			t.Errorf("got answer %v, want one record of class CH", r.Answer)
		}
	})
}

func TestSameServerAcrossTransports(t *testing.T) {
	s := dnstest.Start(t, "127.0.0.1:0", "[::1]:0")
	addrs := s.Addrs()
	if len(addrs) != 2 || !addrs[0].Addr().Is4() || !addrs[1].Addr().Is6() {
		t.Fatalf("got addresses %v, want one on 127.0.0.1 and one on ::1", addrs)
	}
	s.Set("www.example.", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}})
	for _, addr := range addrs {
		for _, transport := range transports {
			m := new(dns.Msg)
			m.SetQuestion("www.example.", dns.TypeAAAA)
			c := &dns.Client{Net: transport, Timeout: 2 * time.Second}
			r, _, err := c.Exchange(m, addr.String())
			if err != nil {
				t.Fatalf("%s %s: %v", transport, addr, err)
			}
			if got := addrsOf(r); !slices.Equal(got, []string{"2001:db8::1"}) {
				t.Errorf("%s %s: got %q, want [2001:db8::1]", transport, addr, got)
			}
		}
	}
	var got []string
	for _, q := range s.Queries() {
		got = append(got, q.Transport+" "+q.To.String())
		if q.Name != "www.example." || q.Type != dns.TypeAAAA || !q.From.IsValid() || q.From.Addr().Is4() != q.To.Addr().Is4() {
			t.Errorf("got query %+v, want www.example. AAAA from a client of the same family", q)
		}
	}
	want := []string{"udp " + addrs[0].String(), "tcp " + addrs[0].String(), "udp " + addrs[1].String(), "tcp " + addrs[1].String()}
	if !slices.Equal(got, want) {
		t.Errorf("got queries %q, want %q", got, want)
	}
}

func TestFaults(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("drop.example.", dns.TypeA, faultdns.Response{Drop: true})
	s.Set("garbage.example.", dns.TypeA, faultdns.Response{Malformed: true})
	s.Set("wrongid.example.", dns.TypeA, faultdns.Response{WrongID: true})

	for _, transport := range transports {
		t.Run(transport+"/drop", func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("drop.example.", dns.TypeA)
			c := &dns.Client{Net: transport, Timeout: 100 * time.Millisecond}
			if r, _, err := c.Exchange(m, s.Addr().String()); err == nil {
				t.Errorf("got reply %v, want a timeout", r)
			}
		})
		t.Run(transport+"/malformed", func(t *testing.T) {
			if r, err := exchange(t, s, transport, "garbage.example.", dns.TypeA); err == nil {
				t.Errorf("got reply %v, want an unpack error", r)
			}
		})
		t.Run(transport+"/wrong ID", func(t *testing.T) {
			// A client that skips foreign IDs (miekg/dns does) waits
			// in vain; read the raw reply instead.
			conn, err := net.Dial(transport, s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			co := &dns.Conn{Conn: conn}
			m := new(dns.Msg)
			m.SetQuestion("wrongid.example.", dns.TypeA)
			if err := co.WriteMsg(m); err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			r, err := co.ReadMsg()
			if err != nil {
				t.Fatal(err)
			}
			if r.Id == m.Id {
				t.Errorf("got ID %d, want anything but the query's", r.Id)
			}
		})
	}
}

// A late answer must not hold up the others: the fast query is answered
// while the slow one waits, which shows as the fast reply arriving first.
func TestDelayDoesNotBlock(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("slow.example.", dns.TypeAAAA, faultdns.Response{Delay: 300 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}})
	s.Set("fast.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})

	order := make(chan string, 2) // buffered: both senders finish without a reader
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := exchange(t, s, "udp", "slow.example.", dns.TypeAAAA); err != nil {
			t.Errorf("slow: %v", err)
		}
		order <- "slow"
	})
	// The fast query goes out once the slow one has arrived.
	for len(s.Queries()) == 0 {
		time.Sleep(time.Millisecond)
	}
	wg.Go(func() {
		if _, err := exchange(t, s, "udp", "fast.example.", dns.TypeA); err != nil {
			t.Errorf("fast: %v", err)
		}
		order <- "fast"
	})
	wg.Wait()
	if got := []string{<-order, <-order}; !slices.Equal(got, []string{"fast", "slow"}) {
		t.Errorf("got replies in order %q, want fast before slow", got)
	}
}

// Close abandons a delayed answer instead of waiting it out.
func TestCloseWithPendingDelay(t *testing.T) {
	s, err := faultdns.Listen()
	if err != nil {
		t.Fatal(err)
	}
	s.Set("slow.example.", dns.TypeA, faultdns.Response{Delay: time.Hour})
	conn, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("slow.example.", dns.TypeA)
	wire, _ := m.Pack()
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	for len(s.Queries()) == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close is still waiting for a delayed answer after 5s")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want the first result (nil)", err)
	}
}

func TestStartOn(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		pc.Close()
		t.Skipf("the UDP port is taken for TCP: %v", err)
	}
	s := dnstest.StartOn(t, pc, ln)
	if got, want := s.Addr(), pc.LocalAddr().(*net.UDPAddr).AddrPort(); got != want {
		t.Errorf("got address %v, want %v", got, want)
	}
	s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})
	for _, transport := range transports {
		r, err := exchange(t, s, transport, "www.example.", dns.TypeA)
		if err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
		if got := addrsOf(r); !slices.Equal(got, []string{"192.0.2.1"}) {
			t.Errorf("%s: got %q, want [192.0.2.1]", transport, got)
		}
	}
}

// Set while serving, under the race detector.
func TestConcurrentSet(t *testing.T) {
	s := dnstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			s.Set("www.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}})
		}
	})
	for range 20 {
		if _, err := exchange(t, s, "udp", "www.example.", dns.TypeA); err != nil {
			t.Errorf("exchange: %v", err)
		}
	}
	cancel()
	wg.Wait()
}

// Client groups see their own answers, as behind CoreDNS view or acl: a
// group withheld from AAAA gets NODATA and still its A record; the most
// specific prefix wins; a name set for one group alone is NXDOMAIN to
// the others. The clients are loopback addresses of 127.0.0.0/8, each a
// query's source address.
func TestViews(t *testing.T) {
	s := dnstest.Start(t)
	a, aaaa := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	s.Set("web.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{a}})
	s.Set("web.example.", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{aaaa}})
	s.SetFor(netip.MustParsePrefix("127.0.0.0/8"), "web.example.", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::8")}})
	s.SetFor(netip.MustParsePrefix("127.0.0.2/32"), "web.example.", dns.TypeAAAA, faultdns.Response{})
	s.SetFor(netip.MustParsePrefix("127.0.0.3/32"), "private.example.", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{a}})

	tests := []struct {
		from, qname string
		qtype       uint16
		wantRcode   int
		wantAddrs   []string
	}{
		{"127.0.0.1", "web.example.", dns.TypeAAAA, dns.RcodeSuccess, []string{"2001:db8::8"}},
		{"127.0.0.2", "web.example.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"127.0.0.2", "web.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.1"}},
		{"127.0.0.3", "private.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.1"}},
		{"127.0.0.3", "private.example.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"127.0.0.1", "private.example.", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.from+"/"+tt.qname+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion(tt.qname, tt.qtype)
				local := net.Addr(&net.UDPAddr{IP: net.ParseIP(tt.from)})
				if transport == "tcp" {
					local = &net.TCPAddr{IP: net.ParseIP(tt.from)}
				}
				c := &dns.Client{Net: transport, Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: local}}
				r, _, err := c.Exchange(m, s.Addr().String())
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if r.Rcode != tt.wantRcode || !slices.Equal(addrsOf(r), tt.wantAddrs) {
					t.Errorf("got %s %q, want %s %q", dns.RcodeToString[r.Rcode], addrsOf(r), dns.RcodeToString[tt.wantRcode], tt.wantAddrs)
				}
			})
		}
	}
	if got := s.Queries()[0].From.Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("got the first query from %s, want 127.0.0.1", got)
	}
}
