package resolve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// ednsPayload is glibc's RESOLV_EDNS_BUFFER_SIZE.
const ednsPayload = 1200

// replyBuffers hold a reply while it is read. Each is as large as any DNS
// message: a server may send a UDP reply larger than ednsPayload, and only
// reading it whole lets Unpack judge it. They are reused across queries,
// since 64 KiB per query would be most of a probe's memory traffic; that is
// safe because dns.Msg.Unpack copies everything it keeps out of the buffer.
var replyBuffers = sync.Pool{New: func() any { return new([dns.MaxMsgSize]byte) }}

// lookupState is one Lookup in progress: its clock origin and its tries.
type lookupState struct {
	start time.Time
	tries []Try
}

// nameResult is how one name's query (res_send over the servers) ended.
type nameResult struct {
	answer  Answer // without Family and Tries, which Lookup fills in
	outcome outcome
}

// queryName asks one fully qualified name as glibc's __res_context_send
// does:
//
//   - Attempts rounds over the servers, each round in server order (from
//     the rotation offset when Rotate is set); the round is the outer loop,
//     so a dead first server costs one timeout per round, not Attempts
//     timeouts in a row.
//   - A reply with rcode SERVFAIL, NOTIMP or REFUSED, or a referral (NOERROR,
//     no answer, neither AA nor RA, no additional records: a server that does
//     not recurse), moves on to the next server. Any other reply ends the
//     query.
//   - A truncated UDP reply is asked again over TCP from the same server;
//     from then on, as with UseTCP, TCP is used and each server gets at most
//     one try ("Use VC; at most one attempt per server").
//   - Each try waits Timeout. glibc instead waits retrans<<ns/nscount
//     seconds for the ns-th server (5, 3, 6 s for three servers); one fixed
//     budget per try is easier to reason about in a verdict.
//
// When no reply ended the query, the last reply that moved on decides
// (SERVFAIL, REFUSED, ...); without one, a malformed reply makes it an error,
// a try that timed out makes it a timeout, and otherwise it is the network
// error (outcomeUnreachable, glibc's ECONNREFUSED).
func (r *Resolver) queryName(ctx context.Context, st *lookupState, fqdn string, qtype uint16) nameResult {
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		err := fmt.Errorf("%q is not a valid domain name", fqdn)
		return nameResult{answer: Answer{Name: fqdn, Status: StatusError, Rcode: -1, Err: err}, outcome: outcomeOther}
	}
	servers := r.Config.servers()
	offset := 0
	if r.Config.Rotate && len(servers) > 1 {
		offset = int((r.rotation.Add(1) - 1) % uint32(len(servers)))
	}
	tcp := r.Config.UseTCP

	var lastMovedOn *reply
	var lastMalformed, lastTimeout, lastNetErr *Try
	for round := 0; round < r.Config.attempts(); round++ {
		for i := range servers {
			server := servers[(offset+i)%len(servers)]
			transport := TransportUDP
			if tcp {
				transport = TransportTCP
			}
			rep := r.exchange(ctx, st, fqdn, qtype, server, transport)
			if rep.msg != nil && rep.msg.Truncated && transport == TransportUDP {
				tcp = true
				rep = r.exchange(ctx, st, fqdn, qtype, server, TransportTCP)
				rep.truncatedUDP = true
			}
			if err := ended(ctx); err != nil {
				return canceled(fqdn, err)
			}
			switch {
			case rep.msg == nil:
				try := rep.try
				switch {
				case errors.Is(try.Err, ErrMalformed):
					lastMalformed = &try
				case isTimeout(try.Err):
					lastTimeout = &try
				default:
					lastNetErr = &try
				}
			case movesOn(rep.msg):
				lastMovedOn = &rep
			default:
				return finalResult(fqdn, qtype, rep)
			}
		}
		if tcp {
			break
		}
	}

	switch {
	case lastMovedOn != nil:
		return finalResult(fqdn, qtype, *lastMovedOn)
	case lastMalformed != nil:
		return failed(fqdn, StatusError, lastMalformed, outcomeOther)
	case lastTimeout != nil:
		return failed(fqdn, StatusTimeout, lastTimeout, outcomeOther)
	default:
		return failed(fqdn, StatusError, lastNetErr, outcomeUnreachable)
	}
}

// ended is ctx.Err(), except that a deadline counts from the moment it
// passes: a connection's deadline, set from the same instant, can fire before
// the context's own timer.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func canceled(fqdn string, err error) nameResult {
	status := StatusError
	if errors.Is(err, context.DeadlineExceeded) {
		status = StatusTimeout
	}
	return nameResult{answer: Answer{Name: fqdn, Status: status, Rcode: -1, Err: err}, outcome: outcomeCanceled}
}

// failed is the result of a name no reply decided; try is the last try of
// the kind that decides it.
func failed(fqdn string, status Status, try *Try, o outcome) nameResult {
	err := fmt.Errorf("%s over %s: %w", try.Server, try.Transport, try.Err)
	if status == StatusTimeout {
		err = fmt.Errorf("no server answered; last try: %w", err)
	}
	return nameResult{answer: Answer{Name: fqdn, Status: status, Rcode: -1, Err: err}, outcome: o}
}

// movesOn says whether glibc's send_dg goes on to the next server after this
// reply.
func movesOn(m *dns.Msg) bool {
	switch m.Rcode {
	case dns.RcodeServerFailure, dns.RcodeNotImplemented, dns.RcodeRefused:
		return true
	}
	return isReferral(m)
}

// isReferral is send_dg's "referred query" test.
func isReferral(m *dns.Msg) bool {
	return m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0 && !m.Authoritative && !m.RecursionAvailable && len(m.Extra) == 0
}

// finalResult turns the deciding reply into an Answer.
func finalResult(fqdn string, qtype uint16, rep reply) nameResult {
	m := rep.msg
	a := Answer{
		Name:         fqdn,
		Rcode:        m.Rcode,
		RTT:          rep.try.RTT,
		Server:       rep.try.Server,
		ServerFamily: dualstack.FamilyOf(rep.try.Server.Addr()),
		Transport:    rep.try.Transport,
		Truncated:    rep.truncatedUDP,
	}
	wrongClass := readAnswer(&a, m, fqdn, qtype)
	o := outcomeOther
	switch m.Rcode {
	case dns.RcodeSuccess:
		switch {
		case len(a.Addresses) > 0:
			a.Status = StatusPositive
		case wrongClass != 0:
			a.Status = StatusError
			a.Err = fmt.Errorf("%w: the answer's records are of class %s, not IN", ErrMalformed, dns.ClassToString[wrongClass])
		case isReferral(m):
			a.Status = StatusError
			a.Err = fmt.Errorf("server %s sent a referral: it does not recurse", rep.try.Server)
		default:
			a.Status = StatusNoData
		}
		o = outcomeNoData
		if len(m.Answer) > 0 {
			o = outcomeSuccess
		}
	case dns.RcodeNameError:
		a.Status, o = StatusNXDomain, outcomeNXDomain
	case dns.RcodeServerFailure:
		a.Status, o = StatusServFail, outcomeServFail
	case dns.RcodeRefused:
		a.Status = StatusRefused
	default:
		a.Status = StatusError
		a.Err = fmt.Errorf("server %s answered %s", rep.try.Server, RcodeName(m.Rcode))
	}
	if isReferral(m) {
		o = outcomeOther // TRY_AGAIN without SERVFAIL: the search list stops
	}
	return nameResult{answer: a, outcome: o}
}

// readAnswer fills in the CNAME chain from fqdn and the addresses of qtype
// owned by a name of the chain, in answer order. It returns the class of an
// otherwise usable record that was not IN (0 if none), so a reply made only
// of those can be called malformed.
func readAnswer(a *Answer, m *dns.Msg, fqdn string, qtype uint16) (wrongClass uint16) {
	targets := map[string]string{}
	for _, rr := range m.Answer {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET {
			owner := dns.CanonicalName(c.Hdr.Name)
			if _, seen := targets[owner]; !seen {
				targets[owner] = c.Target
			}
		}
	}
	chain := map[string]bool{dns.CanonicalName(fqdn): true}
	for name := dns.CanonicalName(fqdn); len(a.CNAMEs) < 16; { // 16 stops a loop
		target, ok := targets[name]
		if !ok {
			break
		}
		a.CNAMEs = append(a.CNAMEs, target)
		name = dns.CanonicalName(target)
		if chain[name] {
			break
		}
		chain[name] = true
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || !chain[dns.CanonicalName(h.Name)] {
			continue
		}
		if h.Class != dns.ClassINET {
			wrongClass = h.Class
			continue
		}
		var addr netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			addr, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			addr, _ = netip.AddrFromSlice(rr.AAAA.To16())
		}
		if !addr.IsValid() {
			continue
		}
		a.Addresses = append(a.Addresses, addr)
		a.TTLs = append(a.TTLs, h.Ttl)
		if addr.Is6() && nat64Prefix.Contains(addr) {
			a.DNS64 = true
		}
	}
	return wrongClass
}

// RcodeName is the mnemonic of an rcode ("NOERROR", "NXDOMAIN", ...), or
// "" for -1, the Rcode of an Answer no reply decided.
func RcodeName(rcode int) string {
	if rcode < 0 {
		return ""
	}
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rcode)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

// reply is one try's result: the message, if a usable one came.
type reply struct {
	msg          *dns.Msg
	try          Try
	truncatedUDP bool
}

// exchange makes one try and records it in st.
func (r *Resolver) exchange(ctx context.Context, st *lookupState, fqdn string, qtype uint16, server netip.AddrPort, transport string) reply {
	begin := time.Now()
	try := Try{Name: fqdn, Server: server, Transport: transport, Start: begin.Sub(st.start), Rcode: -1}
	msg, err := r.roundTrip(ctx, fqdn, qtype, server, transport)
	try.RTT = time.Since(begin)
	if err != nil {
		try.Err = err
	} else {
		try.Rcode = msg.Rcode
		try.Truncated = msg.Truncated
	}
	st.tries = append(st.tries, try)
	return reply{msg: msg, try: try}
}

// roundTrip sends one query and waits, at most Timeout, for its reply.
// Replies with another ID or question are skipped, as glibc's send_dg and
// send_vc skip them (they may answer an earlier query, or be forged); if
// nothing else comes, they make the error.
func (r *Resolver) roundTrip(ctx context.Context, fqdn string, qtype uint16, server netip.AddrPort, transport string) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.Id = dns.Id()
	q.RecursionDesired = true
	if r.Config.EDNS0 {
		q.SetEdns0(ednsPayload, false)
	}
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing the query: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, r.Config.timeout())
	defer cancel()
	dialer := r.Dialer
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	conn, err := dialer.DialContext(ctx, transport, server.String())
	if err != nil {
		return nil, ioError(ctx, "connecting", err)
	}
	defer conn.Close()
	// The context's end unblocks the read below, whatever ended it.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}

	if transport == TransportTCP {
		// RFC 1035 section 4.2.2: a two-byte length before the message.
		wire = append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(wire)), uint16(len(wire))), wire...)
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, ioError(ctx, "sending the query", err)
	}

	var skipped []string
	pooled := replyBuffers.Get().(*[dns.MaxMsgSize]byte)
	defer replyBuffers.Put(pooled)
	buf := pooled[:]
	for {
		var raw []byte
		if transport == TransportTCP {
			var length [2]byte
			if _, err := io.ReadFull(conn, length[:]); err != nil {
				return nil, waitError(ctx, err, skipped)
			}
			raw = buf[:binary.BigEndian.Uint16(length[:])]
			if _, err := io.ReadFull(conn, raw); err != nil {
				return nil, waitError(ctx, err, skipped)
			}
		} else {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, waitError(ctx, err, skipped)
			}
			raw = buf[:n]
		}
		if len(raw) < 12 {
			return nil, fmt.Errorf("%w: %d bytes, shorter than a DNS header", ErrMalformed, len(raw))
		}
		if id := binary.BigEndian.Uint16(raw); id != q.Id {
			skipped = append(skipped, fmt.Sprintf("a reply with ID %d to the query with ID %d", id, q.Id))
			continue
		}
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			// A truncated UDP reply may be cut mid-record; its header
			// still says to ask over TCP.
			if raw[2]&0x02 != 0 && transport == TransportUDP {
				m = &dns.Msg{MsgHdr: dns.MsgHdr{Id: q.Id, Response: true, Truncated: true, Rcode: int(raw[3] & 0x0f)}}
				return m, nil
			}
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if !m.Response {
			return nil, fmt.Errorf("%w: the message is a query, not a response", ErrMalformed)
		}
		if len(m.Question) != 1 || m.Question[0].Qtype != qtype || m.Question[0].Qclass != dns.ClassINET || !strings.EqualFold(m.Question[0].Name, fqdn) {
			skipped = append(skipped, fmt.Sprintf("a reply to another question (%s)", questionString(m)))
			continue
		}
		return m, nil
	}
}

func questionString(m *dns.Msg) string {
	if len(m.Question) == 0 {
		return "no question"
	}
	q := m.Question[0]
	return fmt.Sprintf("%s %s %s", q.Name, dns.ClassToString[q.Qclass], dns.TypeToString[q.Qtype])
}

// ioError and waitError name what failed. A try that ran out of
// time wraps os.ErrDeadlineExceeded; one the caller ended wraps ctx.Err().
func ioError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%s: %w", what, err)
}

func waitError(ctx context.Context, err error, skipped []string) error {
	if ctx.Err() != nil {
		err = ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = os.ErrDeadlineExceeded
		}
	}
	if len(skipped) > 0 && isTimeout(err) {
		return fmt.Errorf("%w: no matching reply, only %s", ErrMalformed, strings.Join(skipped, "; "))
	}
	return fmt.Errorf("waiting for the reply: %w", err)
}
