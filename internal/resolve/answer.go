package resolve

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Status is what one family's query came to, as a verdict needs it.
type Status uint8

const (
	// StatusNone is the zero Answer's status: no query was made.
	StatusNone Status = iota
	// StatusPositive: at least one address of the asked type.
	StatusPositive
	// StatusNoData: NOERROR without an address of the asked type (the name
	// exists, the type does not; a CNAME chain that ends nowhere also lands
	// here).
	StatusNoData
	// StatusNXDomain: the name does not exist (rcode NXDOMAIN).
	StatusNXDomain
	// StatusServFail: the server failed to resolve it (rcode SERVFAIL).
	StatusServFail
	// StatusRefused: the server will not answer this client (rcode
	// REFUSED).
	StatusRefused
	// StatusTimeout: no server answered before its time ran out (or the
	// caller's deadline passed). Err says which.
	StatusTimeout
	// StatusError: anything else — a malformed reply (see ErrMalformed),
	// another rcode (NOTIMP, FORMERR), a network error, a name that is not
	// a valid domain name, a canceled context. Err says which.
	StatusError
)

// String gives the short lower-case name: "positive", "nodata", "nxdomain",
// "servfail", "refused", "timeout", "error"; "none" for StatusNone.
func (s Status) String() string {
	switch s {
	case StatusNone:
		return "none"
	case StatusPositive:
		return "positive"
	case StatusNoData:
		return "nodata"
	case StatusNXDomain:
		return "nxdomain"
	case StatusServFail:
		return "servfail"
	case StatusRefused:
		return "refused"
	case StatusTimeout:
		return "timeout"
	case StatusError:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// The transports of a Try and an Answer.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
)

// ErrMalformed is wrapped by the error of a try whose reply could not be
// used: garbage bytes, a reply shorter than a DNS header, a message that is
// not a response, or only replies with the wrong ID or question (those are
// ignored while waiting, as glibc ignores them, and reported if nothing
// better came), and by an Answer whose records are all of the wrong class.
var ErrMalformed = errors.New("malformed DNS reply")

// Answer is one family's query: the final result and every exchange that led
// to it. The zero Answer is "not asked" (StatusNone).
type Answer struct {
	// Family is the family asked for: FamilyIPv4 asks A, FamilyIPv6 AAAA.
	Family dualstack.Family

	// Name is the fully qualified name (with its trailing dot) whose answer
	// this is: after a search walk, the name that decided Status. For an IP
	// literal it is the literal; empty when no query was made.
	Name string

	// Status classifies the answer.
	Status Status

	// Rcode is the rcode of the reply that decided Status (dns.RcodeSuccess
	// is 0), or -1 when no reply did (timeout, network error, IP literal).
	Rcode int

	// Addresses are the records of the asked type whose owner is the asked
	// name or a name in its CNAME chain, in answer order. Records of other
	// types, classes or owners are left out.
	Addresses []netip.Addr
	// TTLs are the records' TTLs in seconds, parallel to Addresses.
	TTLs []uint32
	// CNAMEs is the CNAME chain followed from Name, in order (each entry a
	// target, fully qualified). Nil without CNAMEs.
	CNAMEs []string

	// RTT is how long the try that got the deciding reply took, from the
	// start of the try (a TCP try includes its handshake) to the reply.
	// Zero when no reply decided Status.
	RTT time.Duration
	// Server is the server that sent the deciding reply; the zero AddrPort
	// when none did.
	Server netip.AddrPort
	// ServerFamily is the family Server was reached over
	// (FamilyUnspecified when none).
	ServerFamily dualstack.Family
	// Transport is TransportUDP or TransportTCP for the deciding reply,
	// TransportFiles for an answer from the hosts file; empty when none.
	Transport string
	// Truncated is true when a UDP answer came back truncated (TC) and the
	// deciding reply was then fetched over TCP.
	Truncated bool

	// HostsFile is the hosts file that answered (Resolver.Hosts listed the
	// name: Transport is TransportFiles, no DNS was asked); empty when DNS
	// answered.
	HostsFile string

	// DNS64 is true when an IPv6 address lies in 64:ff9b::/96, the
	// well-known NAT64 prefix of RFC 6052: the AAAA records were most likely
	// synthesised by DNS64 and IPv6 to them is translated to IPv4.
	DNS64 bool

	// Tries are every exchange made, in order, across every name of the
	// search walk. Nil for an IP literal.
	Tries []Try

	// Err says why for StatusTimeout and StatusError; nil otherwise.
	Err error
}

// Elapsed is when the answer was known, measured from the start of the
// lookup: the end of the last try. Zero without tries (an IP literal).
func (a Answer) Elapsed() time.Duration {
	if len(a.Tries) == 0 {
		return 0
	}
	last := a.Tries[len(a.Tries)-1]
	return last.Start + last.RTT
}

// Try is one exchange: one query for one name to one server over one
// transport.
type Try struct {
	// Name is the fully qualified name asked.
	Name string
	// Server is the server asked.
	Server netip.AddrPort
	// Transport is TransportUDP or TransportTCP.
	Transport string
	// Start is when the try began, measured from the start of the lookup.
	Start time.Duration
	// RTT is how long the try took: to the reply, or to giving up (its
	// timeout, a network error, cancellation).
	RTT time.Duration
	// Rcode is the reply's rcode, or -1 when no usable reply came (then Err
	// says why).
	Rcode int
	// Truncated is true when the reply had the TC bit set.
	Truncated bool
	// Err is why the try got no usable reply; nil when it got one.
	Err error
}

// LookupError is the error a Resolver.LookupFunc lookup returns when its
// query gave no address. Its Answer is kept in the recording, not here.
type LookupError struct {
	// Name is the name asked, as the caller gave it.
	Name string
	// Family is the family asked for.
	Family dualstack.Family
	// Status is the answer's status (never StatusPositive).
	Status Status
	// Err is the answer's Err, if any.
	Err error
}

func (e *LookupError) Error() string {
	s := fmt.Sprintf("%s query for %s: %s", e.Family.QueryType(), e.Name, e.Status)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *LookupError) Unwrap() error { return e.Err }

// nat64Prefix is the well-known prefix of RFC 6052 section 2.1.
var nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
