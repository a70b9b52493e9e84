package resolve

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// glibc's defaults and caps, from resolv.h and resolv.conf(5).
const (
	// DefaultTimeout is RES_TIMEOUT, the wait for one try when resolv.conf
	// sets no timeout option.
	DefaultTimeout = 5 * time.Second
	// DefaultAttempts is RES_DFLRETRY.
	DefaultAttempts = 2
	// DefaultNdots is glibc's ndots when resolv.conf sets none.
	DefaultNdots = 1

	// MaxServers is glibc's MAXNS: nameserver lines after the third are
	// ignored.
	MaxServers = 3
	maxNdots   = 15 // RES_MAXNDOTS
	maxTimeout = 30 // RES_MAXRETRANS, seconds
	maxAttempt = 5  // RES_MAXRETRY
)

// Config is how a Resolver asks: which servers, which search list, and how
// patiently. The zero Config asks 127.0.0.1:53 with glibc's default timeout
// and attempts and no search list. ParseResolvConf fills it from a
// resolv.conf file; DefaultConfig is what an empty file gives.
type Config struct {
	// Servers are asked in order (see Rotate). If empty, 127.0.0.1:53 is
	// asked: glibc's default when resolv.conf has no nameserver line. (Go's
	// own resolver also asks [::1]:53; glibc does not.) The Resolver asks
	// every server listed here; ParseResolvConf keeps at most MaxServers.
	Servers []netip.AddrPort

	// Search is the search list, tried as glibc's res_search does (see
	// Resolver.Lookup). Empty means names are only tried as given.
	Search []string

	// Ndots is the number of dots a name needs to be tried as given before
	// the search list. It is used as is (zero means every name is tried as
	// given first; negative counts as zero); ParseResolvConf sets glibc's
	// default, 1. It only matters when Search is not empty.
	Ndots int

	// Attempts is how many rounds of tries are made over the servers. Zero
	// or negative means DefaultAttempts.
	Attempts int

	// Timeout is the wait for one try (one query to one server). Zero or
	// negative means DefaultTimeout.
	Timeout time.Duration

	// Rotate starts each query at the next server in turn instead of the
	// first (options rotate). glibc starts at a random server per process;
	// a Resolver starts at the first, so tests are repeatable.
	Rotate bool

	// SingleRequest makes LookupBoth send the AAAA query only after the A
	// query is answered (options single-request, single-request-reopen), as
	// glibc then does. If false, the two go out together.
	SingleRequest bool

	// UseTCP sends every query over TCP (options use-vc). If false, queries
	// go over UDP and move to TCP only when an answer is truncated.
	UseTCP bool

	// EDNS0 adds an EDNS(0) OPT record advertising a 1200-byte UDP payload
	// (options edns0; glibc's RESOLV_EDNS_BUFFER_SIZE). If false, no OPT
	// record is sent, as glibc does by default.
	EDNS0 bool

	// NoTLDQuery stops a name without dots from being tried as given once
	// the search list was tried (options no-tld-query, RES_NOTLDQUERY).
	NoTLDQuery bool

	// NoAAAA records options no-aaaa (glibc 2.36 and later): glibc clients
	// then send no AAAA query at all. A Resolver still asks AAAA when told
	// to, since a prober measures both families; callers predicting glibc
	// clients read this field.
	NoAAAA bool

	// IgnoredServers are the nameservers ParseResolvConf read after the
	// first MaxServers. glibc ignores them without a word, and so does the
	// Resolver; they are kept so a caller can warn. Nil when there were
	// none.
	IgnoredServers []netip.AddrPort
}

// DefaultConfig is the configuration of an empty resolv.conf: glibc's
// defaults spelled out (127.0.0.1:53, ndots 1, timeout 5 s, 2 attempts).
func DefaultConfig() Config {
	return Config{
		Servers:  []netip.AddrPort{defaultServer},
		Ndots:    DefaultNdots,
		Attempts: DefaultAttempts,
		Timeout:  DefaultTimeout,
	}
}

// defaultServer is glibc's fallback: res_init.c adds INADDR_LOOPBACK when the
// file names no server.
var defaultServer = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 53)

func (c *Config) servers() []netip.AddrPort {
	if len(c.Servers) == 0 {
		return []netip.AddrPort{defaultServer}
	}
	return c.Servers
}

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Config) attempts() int {
	if c.Attempts <= 0 {
		return DefaultAttempts
	}
	return c.Attempts
}

func (c *Config) ndots() int { return max(c.Ndots, 0) }

// ParseServer parses the address of a DNS server as a --dns-server flag gives
// it: an IP address with an optional port, which defaults to 53.
//
//	192.0.2.53  192.0.2.53:5353  2001:db8::53  [2001:db8::53]:5353  [2001:db8::53]
//
// A host name is an error: resolving the resolver would need a resolver.
func ParseServer(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("empty DNS server address")
	}
	// A bare address first: "2001:db8::53" has colons but no port.
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(addr, 53), nil
	}
	host, port := s, "53"
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return netip.AddrPort{}, fmt.Errorf("DNS server %q: missing ']' after the IPv6 address", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return netip.AddrPort{}, fmt.Errorf("DNS server %q: unexpected %q after ']' (want :PORT)", s, rest)
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() {
			return netip.AddrPort{}, fmt.Errorf("DNS server %q: %q in brackets is not an IPv6 address", s, host)
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		return netip.AddrPort{}, fmt.Errorf("DNS server %q is not an IP address (an IPv6 address with a port is written [2001:db8::53]:5353)", s)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("DNS server %q: %q is not an IP address (give the server's address, not a name)", s, host)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return netip.AddrPort{}, fmt.Errorf("DNS server %q: port %q is not a number from 1 to 65535", s, port)
	}
	return netip.AddrPortFrom(addr, uint16(n)), nil
}
