package happyeyeballs

import (
	"errors"
	"fmt"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Defaults that the zero values of a Strategy's fields stand for. They are
// the values RFC 8305 §8 recommends, and Linux's TCP SYN retry budget.
const (
	// DefaultResolutionDelay is RFC 8305 §3's recommended Resolution Delay.
	DefaultResolutionDelay = 50 * time.Millisecond
	// DefaultAttemptDelay is RFC 8305 §5's recommended Connection Attempt
	// Delay.
	DefaultAttemptDelay = 250 * time.Millisecond
	// MinAttemptDelay is RFC 8305 §5's floor: "MUST NOT be less than 10 ms".
	MinAttemptDelay = 10 * time.Millisecond
	// OSConnectTimeout is how long Linux lets an unanswered connect run
	// with the default net.ipv4.tcp_syn_retries = 6: the initial SYN and six
	// retransmissions with exponential backoff from a 1 s RTO,
	// 1+2+4+8+16+32+64 s = 127 s. A client without a connect timeout of its
	// own waits this long on a silently dropping path.
	OSConnectTimeout = 127 * time.Second
)

// Resolve says how a client asks DNS for the two families and when it starts
// connecting.
type Resolve uint8

const (
	// ResolveWaitBoth sends A and AAAA queries in parallel and connects only
	// when both have answered, as getaddrinfo and Go's resolver do.
	ResolveWaitBoth Resolve = iota
	// ResolveResolutionDelay is RFC 8305 §3: a positive AAAA answer received
	// first starts connecting at once; an A answer first waits up to the
	// resolution delay for AAAA before connecting over IPv4. Answers that
	// arrive together form one list sorted before the first attempt (§4);
	// answers that arrive after connecting began are sorted into the
	// untried addresses.
	ResolveResolutionDelay
	// ResolvePreferIPv6 queries AAAA first and uses only the IPv6 addresses
	// if there are any; A is queried only after AAAA came back empty
	// (Envoy's dns_lookup_family AUTO).
	ResolvePreferIPv6
	// ResolvePreferIPv4 is ResolvePreferIPv6 with the families swapped
	// (Envoy's V4_PREFERRED).
	ResolvePreferIPv4
)

var resolveNames = [...]string{
	ResolveWaitBoth:        "wait-both",
	ResolveResolutionDelay: "resolution-delay",
	ResolvePreferIPv6:      "prefer-ipv6",
	ResolvePreferIPv4:      "prefer-ipv4",
}

func (r Resolve) String() string { return enumName(resolveNames[:], int(r), "Resolve") }

// Order says how a client orders the addresses it resolved.
type Order uint8

const (
	// OrderRFC6724 sorts with RFC 6724 §6 destination address selection
	// (Strategy.Sort chooses the policy table, the rules and rule 9's
	// variant).
	OrderRFC6724 Order = iota
	// OrderResolver keeps the order the resolver returned (Node's
	// "verbatim" over a resolver that does not sort).
	OrderResolver
)

var orderNames = [...]string{OrderRFC6724: "rfc6724", OrderResolver: "resolver"}

func (o Order) String() string { return enumName(orderNames[:], int(o), "Order") }

// Connect says how a client walks the ordered addresses.
type Connect uint8

const (
	// ConnectInterleave is RFC 8305 §4–5: one list with the families
	// interleaved (FirstFamilyCount addresses of the first family, then
	// alternating), a new attempt every AttemptDelay or as soon as an
	// attempt fails, earlier attempts left running.
	ConnectInterleave Connect = iota
	// ConnectFamilyLanes is Go's dialParallel (also Chrome, Firefox,
	// curl 7.x and hyper): the first address's family is the primary lane,
	// the other family the fallback lane, started AttemptDelay later or as
	// soon as the primary lane has failed. Each lane tries its addresses
	// one after another.
	ConnectFamilyLanes
	// ConnectSequential tries one address at a time in order; the next
	// starts only when the previous one failed or ran out of its
	// AttemptTimeout (Python's socket.create_connection, Java, wget, .NET).
	ConnectSequential
)

var connectNames = [...]string{
	ConnectInterleave:  "interleave",
	ConnectFamilyLanes: "lanes",
	ConnectSequential:  "sequential",
}

func (c Connect) String() string { return enumName(connectNames[:], int(c), "Connect") }

// DeadlineSplit says how a client with a TotalTimeout shares it among the
// addresses of one lane.
type DeadlineSplit uint8

const (
	// SplitNone gives every attempt AttemptTimeout, capped by what is left
	// of TotalTimeout.
	SplitNone DeadlineSplit = iota
	// SplitEvenly is Go's partialDeadline: the time left divided by the
	// addresses left, but at least 2 s while that much remains.
	SplitEvenly
	// SplitHalf is curl 7.x: half of the time left while more addresses
	// follow, all of it for the last one.
	SplitHalf
)

var splitNames = [...]string{SplitNone: "none", SplitEvenly: "evenly", SplitHalf: "half"}

func (d DeadlineSplit) String() string { return enumName(splitNames[:], int(d), "DeadlineSplit") }

// Strategy is the behaviour of one client as data: how it resolves, orders
// and connects. Every zero value has a documented meaning. Strategy{} waits
// for both A and AAAA as getaddrinfo does (ResolveWaitBoth), sorts with RFC
// 6724 as written, and connects as RFC 8305 §4–5 recommend: the families
// interleaved, a new attempt every 250 ms, each bounded only by the OS
// connect timeout. It is not RFC 8305 in full: §3's asynchronous resolution
// is ResolveResolutionDelay, as in the rfc8305 profile.
type Strategy struct {
	// Resolve is how the client queries A and AAAA. Zero is
	// ResolveWaitBoth.
	Resolve Resolve
	// ResolutionDelay is how long ResolveResolutionDelay waits for AAAA
	// after A arrived. If zero, DefaultResolutionDelay (50 ms) is used; a
	// negative value means no wait: connect over IPv4 at once.
	ResolutionDelay time.Duration
	// ResolutionDelayFromStart counts the resolution delay from the start
	// of resolution instead of from the A answer (curl 8.20: "waits at most
	// 50 ms from resolve start"). False is RFC 8305's reading.
	ResolutionDelayFromStart bool

	// Order is how the resolved addresses are ordered. Zero is
	// OrderRFC6724.
	Order Order
	// Sort configures OrderRFC6724. Its zero value is the RFC 6724 default
	// policy table with all rules.
	Sort SortOptions
	// FamilyFirst, when set, moves the addresses of that family before
	// the others after sorting, keeping the order within each family
	// (Java's preferIPv6Addresses, Node's ipv4first). Zero leaves the
	// order alone.
	FamilyFirst dualstack.Family

	// Connect is how the ordered addresses are tried. Zero is
	// ConnectInterleave.
	Connect Connect
	// FirstFamilyCount is RFC 8305 §4's "First Address Family Count" for
	// ConnectInterleave: how many addresses of the first family come
	// before the first address of the other. If zero, 1 is used.
	FirstFamilyCount int
	// AttemptDelay is the Connection Attempt Delay of ConnectInterleave
	// and the fallback delay of ConnectFamilyLanes. If zero,
	// DefaultAttemptDelay (250 ms) is used. A negative value disables it:
	// the next attempt (or lane) starts only when the previous failed.
	// ConnectSequential ignores it.
	AttemptDelay time.Duration
	// AbortOnAttemptDelay closes an attempt when the attempt delay expires
	// and the next address starts, instead of leaving it running. The last
	// address is never aborted this way. This is Node's
	// autoSelectFamilyAttemptTimeout, which makes a path slower than the
	// delay fail outright (nodejs/node#54359).
	AbortOnAttemptDelay bool
	// FallbackOnlyFromIPv6 restricts ConnectFamilyLanes to an IPv6 primary
	// lane and an IPv4 fallback lane, as Chrome's and Firefox's IPv4-only
	// backup attempt is: if the first address is IPv4, all addresses form
	// a single lane and nothing runs in parallel.
	FallbackOnlyFromIPv6 bool
	// MaxAttempts caps how many addresses are tried. If zero, all are;
	// Java's Socket(host, port) tries only the first (1).
	MaxAttempts int

	// AttemptTimeout is the budget of one attempt. If zero,
	// OSConnectTimeout (127 s) is used: the client has no timeout of its
	// own and the kernel gives up after its SYN retries.
	AttemptTimeout time.Duration
	// TotalTimeout bounds the whole connect, resolution included. Zero
	// means no bound beyond the attempts' own.
	TotalTimeout time.Duration
	// Split is how TotalTimeout is shared among a lane's addresses. Zero is
	// SplitNone.
	Split DeadlineSplit
}

func (s *Strategy) resolutionDelay() time.Duration {
	switch {
	case s.ResolutionDelay == 0:
		return DefaultResolutionDelay
	case s.ResolutionDelay < 0:
		return 0
	}
	return s.ResolutionDelay
}

// attemptDelay returns the delay and whether one applies at all.
func (s *Strategy) attemptDelay() (time.Duration, bool) {
	switch {
	case s.Connect == ConnectSequential || s.AttemptDelay < 0:
		return 0, false
	case s.AttemptDelay == 0:
		return DefaultAttemptDelay, true
	}
	return s.AttemptDelay, true
}

func (s *Strategy) firstFamilyCount() int {
	if s.FirstFamilyCount <= 0 {
		return 1
	}
	return s.FirstFamilyCount
}

func (s *Strategy) attemptTimeout() time.Duration {
	if s.AttemptTimeout <= 0 {
		return OSConnectTimeout
	}
	return s.AttemptTimeout
}

// Validate reports every problem with s at once.
func (s *Strategy) Validate() error {
	var errs []error
	if int(s.Resolve) >= len(resolveNames) {
		errs = append(errs, fmt.Errorf("unknown resolve mode %d", s.Resolve))
	}
	if int(s.Order) >= len(orderNames) {
		errs = append(errs, fmt.Errorf("unknown order %d", s.Order))
	}
	if int(s.Connect) >= len(connectNames) {
		errs = append(errs, fmt.Errorf("unknown connect mode %d", s.Connect))
	}
	if int(s.Split) >= len(splitNames) {
		errs = append(errs, fmt.Errorf("unknown deadline split %d", s.Split))
	}
	if s.FamilyFirst > dualstack.FamilyIPv6 {
		errs = append(errs, fmt.Errorf("unknown family-first %d", s.FamilyFirst))
	}
	if s.AttemptDelay > 0 && s.AttemptDelay < MinAttemptDelay {
		// RFC 8305 §5: "MUST NOT be less than 10 ms"; Node clamps the same.
		errs = append(errs, fmt.Errorf("attempt delay %v is below RFC 8305's minimum of %v", s.AttemptDelay, MinAttemptDelay))
	}
	if s.FirstFamilyCount < 0 {
		errs = append(errs, fmt.Errorf("first address family count %d is negative", s.FirstFamilyCount))
	}
	if s.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max attempts %d is negative", s.MaxAttempts))
	}
	if s.AttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("attempt timeout %v is negative", s.AttemptTimeout))
	}
	if s.TotalTimeout < 0 {
		errs = append(errs, fmt.Errorf("total timeout %v is negative", s.TotalTimeout))
	}
	if s.Split != SplitNone && s.TotalTimeout == 0 {
		errs = append(errs, fmt.Errorf("deadline split %v needs a total timeout", s.Split))
	}
	return errors.Join(errs...)
}

func enumName(names []string, v int, typ string) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

func parseEnum(names []string, s, what string) (int, error) {
	for i, n := range names {
		if n == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %v)", what, s, names)
}
