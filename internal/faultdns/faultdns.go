package faultdns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Response is how the server answers one (name, type). The zero Response is a
// NODATA answer: NOERROR with no records.
type Response struct {
	// Addrs become the answer's records: an A record for each IPv4
	// address and an AAAA record for each IPv6 one, whatever the query
	// type, so a test can also send records of the wrong type.
	Addrs []netip.Addr
	// CNAME, if set, answers with a CNAME to this name first, then with
	// the records set for the target and the same type (a chain is
	// followed up to 8 hops); a target without records for the type gives
	// NODATA, a target without any records NXDOMAIN. Empty means no
	// CNAME.
	CNAME string
	// TTL is every record's TTL in seconds; zero sends TTL 0.
	TTL uint32
	// Rcode is the reply's rcode (dns.RcodeNameError, RcodeServerFailure,
	// RcodeRefused, ...). Zero is NOERROR, which without Addrs is NODATA.
	Rcode int

	// Delay holds the answer back this long; zero answers at once. Other
	// queries are answered meanwhile (a UDP query waits in its own
	// goroutine; a TCP connection answers its queries in order).
	Delay time.Duration
	// Drop never answers.
	Drop bool
	// Truncate answers a UDP query with the TC bit and no records, so the
	// client must ask again over TCP, which gets the full answer.
	Truncate bool
	// Malformed answers with bytes that do not parse as a DNS message
	// (a header with the query's ID, then a broken question).
	Malformed bool
	// WrongID answers with an ID that is not the query's.
	WrongID bool
	// WrongClass puts the answer's records in class CH instead of IN.
	WrongClass bool
}

// Query is one query the server received.
type Query struct {
	// Name is the question's name as received, with its trailing dot.
	Name string
	// Type is the question's type (dns.TypeA, dns.TypeAAAA, ...).
	Type uint16
	// Transport is "udp" or "tcp".
	Transport string
	// From is the client's address and port.
	From netip.AddrPort
	// To is the server address the query arrived on.
	To netip.AddrPort
}

// String reads like "udp www.example. AAAA".
func (q Query) String() string {
	return fmt.Sprintf("%s %s %s", q.Transport, q.Name, dns.TypeToString[q.Type])
}

// Server is a running DNS server. Its methods are safe for concurrent use,
// including Set while it serves.
type Server struct {
	addrs   []netip.AddrPort
	servers []*dns.Server

	// stop is closed by Close so that delayed answers give up at once.
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
	// serving counts the goroutines running dns.Server.ActivateAndServe;
	// Close waits for them.
	serving sync.WaitGroup

	mu      sync.Mutex // guards records, views and queries
	records map[recordKey]Response
	// views are the records some clients see instead (SetFor), by the
	// prefix of the clients' addresses.
	views   map[netip.Prefix]map[recordKey]Response
	queries []Query
}

type recordKey struct {
	name  string // canonical: lower case, fully qualified
	qtype uint16
}

// Listen starts a server on each of addrs (IP literal and port; default
// "127.0.0.1:0"), each serving UDP and TCP on the same port. The caller must
// Close it.
func Listen(addrs ...string) (*Server, error) {
	if len(addrs) == 0 {
		addrs = []string{"127.0.0.1:0"}
	}
	s := newServer()
	for _, addr := range addrs {
		pc, ln, err := listenPair(addr)
		if err == nil {
			err = s.serve(pc, ln)
		}
		if err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	return s, nil
}

// Serve is StartOn without a test: the caller must Close the server. On
// error the sockets are closed.
func Serve(pc net.PacketConn, ln net.Listener) (*Server, error) {
	if pc == nil && ln == nil {
		return nil, errors.New("dnstest: no socket to serve on")
	}
	s := newServer()
	if err := s.serve(pc, ln); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func newServer() *Server {
	return &Server{stop: make(chan struct{}), records: map[recordKey]Response{}, views: map[netip.Prefix]map[recordKey]Response{}}
}

// listenPair opens UDP and TCP on the same address and port. With port 0 the
// kernel picks the UDP port, which may be taken for TCP; then it tries again.
func listenPair(addr string) (*net.UDPConn, *net.TCPListener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnstest: %q is not an IP address and port (want 127.0.0.1:0 or [::1]:0): %w", addr, err)
	}
	var lastErr error
	for range 20 {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, nil, fmt.Errorf("dnstest: listening on udp %s: %w", ap, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr(), port)))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if ap.Port() != 0 {
			break
		}
	}
	return nil, nil, fmt.Errorf("dnstest: listening on tcp with the udp port of %s: %w", ap, lastErr)
}

// serve starts one dns.Server per socket and returns once each has said it
// is serving, so that Close can always shut it down.
func (s *Server) serve(pc net.PacketConn, ln net.Listener) error {
	var servers []*dns.Server
	if pc != nil {
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: s.handler("udp")})
		s.addrs = append(s.addrs, addrPortOf(pc.LocalAddr()))
	}
	if ln != nil {
		servers = append(servers, &dns.Server{Listener: ln, Handler: s.handler("tcp")})
		if pc == nil {
			s.addrs = append(s.addrs, addrPortOf(ln.Addr()))
		}
	}
	for i, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		// Buffered: once started, the result is only read if serving
		// fails to start, and the goroutine must not block on it.
		done := make(chan error, 1)
		s.serving.Go(func() { done <- srv.ActivateAndServe() })
		select {
		case <-started:
			s.servers = append(s.servers, srv)
		case err := <-done:
			// Not started: close the sockets it did not take over.
			for _, later := range servers[i:] {
				closeSocket(later)
			}
			return fmt.Errorf("dnstest: serving: %w", err)
		}
	}
	return nil
}

func closeSocket(srv *dns.Server) {
	if srv.PacketConn != nil {
		srv.PacketConn.Close()
	}
	if srv.Listener != nil {
		srv.Listener.Close()
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// Addrs returns the address of each socket pair, in the order they were
// given; UDP and TCP share it.
func (s *Server) Addrs() []netip.AddrPort { return append([]netip.AddrPort(nil), s.addrs...) }

// Addr returns the first of Addrs.
func (s *Server) Addr() netip.AddrPort { return s.addrs[0] }

// Set configures how queries for (name, qtype) are answered, replacing what
// was set before. The name is matched without regard to case, with or
// without its trailing dot. A Response set for dns.TypeCNAME answers every
// type that has none of its own, as a CNAME does.
//
// A name with nothing set for the asked type gets NODATA if anything is set
// for it (another type), and NXDOMAIN otherwise.
func (s *Server) Set(name string, qtype uint16, r Response) {
	r.Addrs = append([]netip.Addr(nil), r.Addrs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[recordKey{dns.CanonicalName(name), qtype}] = r
}

// SetFor is Set for the clients whose address is in clients alone, as a
// DNS view or ACL answers client groups differently (CoreDNS view and
// acl): a query from such a client is answered from what SetFor set for
// the name and type, the most specific prefix first, else from Set. A
// zero Response withholds the records from them (NODATA). An IPv4-mapped
// client address counts as IPv4.
func (s *Server) SetFor(clients netip.Prefix, name string, qtype uint16, r Response) {
	r.Addrs = append([]netip.Addr(nil), r.Addrs...)
	clients = clients.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.views[clients] == nil {
		s.views[clients] = map[recordKey]Response{}
	}
	s.views[clients][recordKey{dns.CanonicalName(name), qtype}] = r
}

// Queries returns every query received so far, in arrival order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// ResetQueries forgets the queries received so far.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = nil
}

// Close stops the server: delayed answers are abandoned, the sockets closed,
// and every goroutine of the server has returned when Close does. Calling it
// again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		var errs []error
		for _, srv := range s.servers {
			// The handlers return at once (stop is closed) and reads
			// are unblocked, so this is quick; the bound is for a bug.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := srv.ShutdownContext(ctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		s.serving.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) handler(transport string) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { s.answer(w, req, transport) })
}

// answer runs in the dns.Server's goroutine for this query (UDP) or
// connection (TCP); dns.Server.ShutdownContext waits for it, and stop ends a
// delay. Write errors are ignored: the client may have given up.
func (s *Server) answer(w dns.ResponseWriter, req *dns.Msg, transport string) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	s.mu.Lock()
	s.queries = append(s.queries, Query{
		Name: q.Name, Type: q.Qtype, Transport: transport,
		From: addrPortOf(w.RemoteAddr()), To: addrPortOf(w.LocalAddr()),
	})
	resp, reply := s.reply(req, addrPortOf(w.RemoteAddr()).Addr().Unmap())
	s.mu.Unlock()

	if resp.Drop {
		return
	}
	if resp.Delay > 0 {
		t := time.NewTimer(resp.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
	}
	switch {
	case resp.Malformed:
		w.Write(garbage(req.Id))
	case resp.Truncate && transport == "udp":
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative, m.RecursionAvailable, m.Truncated = true, true, true
		w.WriteMsg(m)
	default:
		if resp.WrongID {
			reply.Id++
		}
		w.WriteMsg(reply)
	}
}

// reply builds the answer to req, from the client from, from the records;
// s.mu is held. It returns the Response set for the asked name, whose
// fault flags apply.
func (s *Server) reply(req *dns.Msg, from netip.Addr) (Response, *dns.Msg) {
	q := req.Question[0]
	m := new(dns.Msg)
	m.SetReply(req)
	// AA and RA: glibc takes NOERROR without AA, RA, answers or additional
	// records for a referral and moves on to the next server.
	m.Authoritative, m.RecursionAvailable = true, true

	first, _ := s.find(q.Name, q.Qtype, from)
	class := uint16(dns.ClassINET)
	if first.WrongClass {
		class = dns.ClassCHAOS
	}
	name := q.Name
	for hop := 0; ; hop++ {
		r, ok := s.find(name, q.Qtype, from)
		if !ok {
			if !s.known(name, from) {
				m.Rcode = dns.RcodeNameError
			}
			break
		}
		m.Rcode = r.Rcode
		for _, a := range r.Addrs {
			m.Answer = append(m.Answer, addressRecord(name, a, class, r.TTL))
		}
		if r.CNAME == "" || hop == 8 {
			break
		}
		target := dns.Fqdn(r.CNAME)
		m.Answer = append(m.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: class, Ttl: r.TTL},
			Target: target,
		})
		name = target
	}
	return first, m
}

// find is the Response for (name, qtype) that the client from sees: its
// most specific view's, else the default.
func (s *Server) find(name string, qtype uint16, from netip.Addr) (Response, bool) {
	name = dns.CanonicalName(name)
	for _, records := range s.viewsOf(from) {
		if r, ok := lookup(records, name, qtype); ok {
			return r, true
		}
	}
	return lookup(s.records, name, qtype)
}

func lookup(records map[recordKey]Response, name string, qtype uint16) (Response, bool) {
	if r, ok := records[recordKey{name, qtype}]; ok {
		return r, true
	}
	r, ok := records[recordKey{name, dns.TypeCNAME}]
	return r, ok
}

// known says whether anything is set for name that the client from sees.
func (s *Server) known(name string, from netip.Addr) bool {
	name = dns.CanonicalName(name)
	for _, records := range append(s.viewsOf(from), s.records) {
		for k := range records {
			if k.name == name {
				return true
			}
		}
	}
	return false
}

// viewsOf are the views whose prefix holds from, the most specific first.
func (s *Server) viewsOf(from netip.Addr) []map[recordKey]Response {
	var prefixes []netip.Prefix
	for p := range s.views {
		if p.Contains(from) {
			prefixes = append(prefixes, p)
		}
	}
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
	var views []map[recordKey]Response
	for _, p := range prefixes {
		views = append(views, s.views[p])
	}
	return views
}

func addressRecord(name string, a netip.Addr, class uint16, ttl uint32) dns.RR {
	if a.Is4() || a.Is4In6() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: class, Ttl: ttl}, A: a.Unmap().AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: class, Ttl: ttl}, AAAA: a.AsSlice()}
}

// garbage is a reply that passes the first checks a client makes (the ID,
// the QR bit) and then does not parse: its question's name is a compression
// pointer past the end of the message.
func garbage(id uint16) []byte {
	b := make([]byte, 12, 16)
	binary.BigEndian.PutUint16(b[0:], id)
	b[2] = 0x80                          // QR: a response
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT
	return append(b, 0xc0, 0xff, 0x00, 0x01)
}

// Names returns the names of qs, for comparing a search walk.
func Names(qs []Query) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Name
	}
	return out
}

// Only returns the queries of qs with the given type, e.g. only the AAAA
// queries of a search walk.
func Only(qs []Query, qtype uint16) []Query {
	var out []Query
	for _, q := range qs {
		if q.Type == qtype {
			out = append(out, q)
		}
	}
	return out
}
