package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
)

// AddressEvidence is what happened to one address of the family.
type AddressEvidence struct {
	Address netip.AddrPort
	Outcome dualstack.Outcome
	// Cause is why the connect failed; the zero Cause when it did not.
	Cause Cause
	// Connect is how long the connect took.
	Connect time.Duration
	// Check names the application check ("tcp", "http", ...).
	Check string
	// AppOK and AppDetail are the application check's result; AppOK is
	// meaningless unless Outcome is OutcomeConnected or OutcomeAppFailed.
	AppOK     bool
	AppDetail string
}

// NextHop is the host on the link that packets to an address are handed to:
// the address itself when it is on-link, otherwise its route's gateway.
// Cause is the typed evidence of why one connect failed, kept typed until
// the sentence: the rules branch on it, and a string would lose who sent an
// ICMP error or whether the budget cut the wait.
type Cause struct {
	// Errno is the socket error the connect ended with (ECONNREFUSED,
	// EHOSTUNREACH, EPERM, ...); zero when a deadline ended it first.
	Errno syscall.Errno
	// ICMP is the ICMP error a router or the destination sent about the
	// connect; nil when none arrived (a reset, a silent drop, a local
	// route failure).
	ICMP *dualstack.ICMP
	// UnansweredNextHop is set when no host on the link answers neighbour
	// discovery (ARP, NDP) for the next hop, so nothing was sent; nil
	// otherwise.
	UnansweredNextHop *NextHop
	// BudgetEnded says the whole probe's budget, not the attempt's own
	// timeout, ended a connect that had no answer yet.
	BudgetEnded bool
	// Text is the whole error as the dialer worded it, quoted where no
	// typed field says more.
	Text string
}

// NextHop is a route's next hop that nobody on the link answers neighbour
// discovery for.
type NextHop struct {
	Addr netip.Addr
	// Gateway reports whether Addr is the route's gateway rather than the
	// address itself.
	Gateway bool
	// Interface names the link ("eth0").
	Interface string
}

// FamilyEvidence is everything known about one family of one target.
type FamilyEvidence struct {
	Family dualstack.Family
	// Name is the target's host name (or literal).
	Name string
	// DNS is the answer to this family's query; nil when the target is an
	// IP literal and DNS was skipped.
	DNS *DNSAnswer
	// Addresses holds one entry per address tried.
	Addresses []AddressEvidence
	// Listener is what the connects of both families say about the
	// application's listening sockets.
	Listener listener.Inference
}

// DNSStatus is what one family's query came to, as a verdict needs it.
type DNSStatus uint8

const (
	// DNSPositive: at least one address of the asked type.
	DNSPositive DNSStatus = iota + 1
	// DNSNoData: NOERROR without an address of the asked type.
	DNSNoData
	// DNSNXDomain: the name does not exist.
	DNSNXDomain
	// DNSServFail: the server failed to resolve it.
	DNSServFail
	// DNSRefused: the server will not answer this client.
	DNSRefused
	// DNSTimeout: no server answered in time.
	DNSTimeout
	// DNSError: anything else; DNSAnswer.Err says what.
	DNSError
)

// DNSAnswer is the evidence of one family's query. The caller fills it from
// whatever asked: the prober's resolver, or the cluster DNS for a Service.
type DNSAnswer struct {
	Status DNSStatus
	// Server is the server whose reply decided the answer; the zero value
	// when none did (a timeout, or the hosts file).
	Server netip.AddrPort
	// HostsFile names the hosts file that answered, without asking DNS.
	HostsFile string
	// Tries is how many queries were sent.
	Tries int
	// Elapsed is how long the query took.
	Elapsed time.Duration
	// DNS64 says the addresses are synthesised from A records (RFC 6147).
	DNS64 bool
	// BudgetEnded says the whole probe's budget, not the resolver's own
	// timeouts, ended a query that had no answer yet.
	BudgetEnded bool
	// Err says what went wrong for DNSError (and, as context, others).
	Err string
}

// Verdict is a family's result: the failing layer is LAYER_NONE when the
// family passed.
type Verdict struct {
	Family dualstack.Family
	OK     bool
	Layer  layer.Layer
	Detail string
}

// Judge returns the verdict for one family.
func Judge(ev FamilyEvidence) Verdict {
	v := Verdict{Family: ev.Family, Layer: layer.None}
	fam := ev.Family.Label()
	if ev.DNS != nil && ev.DNS.Status != DNSPositive {
		v.Layer = layer.DNS
		v.Detail = dnsDetail(ev)
		return v
	}
	if len(ev.Addresses) == 0 {
		v.Layer = layer.DNS
		v.Detail = fmt.Sprintf("%s has no %s address to probe", ev.Name, fam)
		return v
	}

	var failing []AddressEvidence
	var layers []layer.Layer
	for _, a := range ev.Addresses {
		if l := addressLayer(a); l != layer.None {
			failing = append(failing, a)
			layers = append(layers, l)
		}
	}
	if len(failing) == 0 {
		v.OK = true
		v.Detail = passDetail(ev)
		return v
	}
	v.Layer = layer.MostFundamental(layers...)
	var root []AddressEvidence
	for i, a := range failing {
		if layers[i] == v.Layer {
			root = append(root, a)
		}
	}
	v.Detail = failDetail(ev, v.Layer, root, len(failing))
	return v
}

// addressLayer names the layer one address's result points at.
func addressLayer(a AddressEvidence) layer.Layer {
	if a.Outcome == dualstack.OutcomeConnected {
		if a.AppOK {
			return layer.None
		}
		return layer.Application
	}
	return outcomeLayer(a.Outcome)
}

// outcomeLayer names the layer a failed connect points at when the network
// is the only evidence: no address at all is DNS, a refusal the listener,
// administratively prohibited policy, a reset or failed check the
// application, and a silent drop or unreachable the route (a drop is ROUTE
// unless policy evidence explains it, docs/architecture.md).
func outcomeLayer(o dualstack.Outcome) layer.Layer {
	switch o {
	case dualstack.OutcomeNotAttempted:
		return layer.DNS
	case dualstack.OutcomeAppFailed, dualstack.OutcomeReset:
		return layer.Application
	case dualstack.OutcomeRefused:
		return layer.Listener
	case dualstack.OutcomeProhibited:
		return layer.Policy
	default:
		return layer.Route
	}
}

func dnsDetail(ev FamilyEvidence) string {
	a := ev.DNS
	q := ev.Family.QueryType()
	from := ""
	if a.Server.IsValid() {
		from = " from " + a.Server.String()
	}
	consequence := fmt.Sprintf("so no %s connection can be made and %s clients fall back or fail", ev.Family.Label(), ev.Family.Label())
	if a.HostsFile != "" && a.Status == DNSNoData {
		return fmt.Sprintf("%s lists %s with no %s address, and clients (getaddrinfo, Go) take a listed name from the file alone, without asking DNS, %s", a.HostsFile, ev.Name, ev.Family.Label(), consequence)
	}
	switch a.Status {
	case DNSNoData:
		return fmt.Sprintf("the %s query for %s answered NOERROR with no records (NODATA)%s: no %s address is published, %s", q, ev.Name, from, ev.Family.Label(), consequence)
	case DNSNXDomain:
		return fmt.Sprintf("the %s query for %s answered NXDOMAIN%s: the name does not exist, %s", q, ev.Name, from, consequence)
	case DNSServFail:
		return fmt.Sprintf("the %s query for %s answered SERVFAIL%s: the DNS server failed to resolve it, %s", q, ev.Name, from, consequence)
	case DNSRefused:
		return fmt.Sprintf("the %s query for %s was REFUSED%s: the DNS server will not answer this client, %s", q, ev.Name, from, consequence)
	case DNSTimeout:
		if a.BudgetEnded {
			return fmt.Sprintf("no DNS server answered the %s query for %s before the probe's budget ended (%d tries in %s): %s; a longer budget tells a silent server from a slow one", q, ev.Name, a.Tries, roundMs(a.Elapsed), consequence)
		}
		return fmt.Sprintf("no DNS server answered the %s query for %s (%d tries): %s", q, ev.Name, a.Tries, consequence)
	default:
		detail := "failed"
		if a.Err != "" {
			detail = a.Err
		}
		return fmt.Sprintf("the %s query for %s %s%s: %s", q, ev.Name, detail, from, consequence)
	}
}

func passDetail(ev FamilyEvidence) string {
	fam := ev.Family.Label()
	check := ev.Addresses[0].Check
	fastest := ev.Addresses[0].Connect
	for _, a := range ev.Addresses {
		fastest = min(fastest, a.Connect)
	}
	what := fmt.Sprintf("connect and pass the %s check", check)
	if check == "" || check == "tcp" {
		what = "accept TCP connections"
	}
	s := fmt.Sprintf("%s: all %d %s address(es) %s (fastest connect %s)", ev.Name, len(ev.Addresses), fam, what, roundMs(fastest))
	if ev.DNS != nil && ev.DNS.DNS64 {
		s += "; the addresses are DNS64-synthesised (64:ff9b::/96), so IPv6 here goes through NAT64"
	}
	return s
}

func failDetail(ev FamilyEvidence, l layer.Layer, root []AddressEvidence, failing int) string {
	fam := ev.Family.Label()
	addrs := make([]string, len(root))
	for i, a := range root {
		addrs[i] = a.Address.String()
	}
	which := strings.Join(addrs, ", ")
	scope := fmt.Sprintf("%d of %d %s address(es) fail", failing, len(ev.Addresses), fam)
	first := root[0]
	var s string
	switch l {
	case layer.Route:
		s = routeDetail(ev.Family, root)
	case layer.Policy:
		s = policyDetail(which, fam, first.Cause)
	case layer.Listener:
		switch ev.Listener.Accepts {
		case listener.IPv4Only:
			s = fmt.Sprintf("connects to %s are refused while IPv4 connects succeed: the application listens on IPv4 only (bound to 0.0.0.0 or an IPv4 address); make it listen on [::] as well", which)
		case listener.IPv6Only:
			s = fmt.Sprintf("connects to %s are refused while IPv6 connects succeed: the application listens on IPv6 only (an IPv6 address, or [::] with IPV6_V6ONLY); make it accept IPv4 as well", which)
		default:
			s = fmt.Sprintf("connects to %s are refused: nothing listens on port %d over %s", which, first.Address.Port(), fam)
		}
	case layer.Application:
		if first.Outcome == dualstack.OutcomeReset {
			s = fmt.Sprintf("connections to %s are reset after they are accepted (%s): the application or a proxy in front of it drops %s clients", which, first.Cause.Text, fam)
		} else {
			s = fmt.Sprintf("TCP connects to %s succeed but the %s check fails: %s", which, first.Check, first.AppDetail)
		}
	}
	return fmt.Sprintf("%s: %s; %s", ev.Name, scope, s)
}

// routeDetail says why connects fail at the route layer, one clause per
// cause, in the order the addresses were tried: no host answers neighbour
// discovery for a next hop (one clause per next hop), a silent drop, or an
// unreachable the network or the routing table reported. Each clause names
// only the addresses its evidence is about.
func routeDetail(f dualstack.Family, root []AddressEvidence) string {
	type cause struct {
		first AddressEvidence
		addrs []string
	}
	type causeKey struct {
		hop         NextHop
		timeout     bool
		budgetEnded bool
	}
	var causes []*cause
	byKey := map[causeKey]*cause{}
	for _, a := range root {
		key := causeKey{timeout: a.Outcome == dualstack.OutcomeTimeout, budgetEnded: a.Cause.BudgetEnded}
		if a.Cause.UnansweredNextHop != nil {
			key = causeKey{hop: *a.Cause.UnansweredNextHop}
		}
		c := byKey[key]
		if c == nil {
			c = &cause{first: a}
			byKey[key] = c
			causes = append(causes, c)
		}
		c.addrs = append(c.addrs, a.Address.String())
	}
	fam := f.Label()
	clauses := make([]string, len(causes))
	for i, c := range causes {
		which := strings.Join(c.addrs, ", ")
		switch hop := c.first.Cause.UnansweredNextHop; {
		case hop != nil && hop.Gateway:
			clauses[i] = fmt.Sprintf("connects to %s fail as unreachable: no host answers neighbour discovery (%s) for %s, the gateway of their route, on the link (%s), so nothing is sent on: the gateway is down or the route names the wrong one",
				which, dualstack.FamilyOf(hop.Addr).NeighbourDiscovery(), hop.Addr, hop.Interface)
		case hop != nil:
			clauses[i] = fmt.Sprintf("connects to %s fail as unreachable: no host answers neighbour discovery (%s) for %s on the link (%s), so nothing is sent to it: no host on that link holds the address (a Pod or host that is gone, or a wrong address)",
				which, dualstack.FamilyOf(hop.Addr).NeighbourDiscovery(), hop.Addr, hop.Interface)
		case c.first.Outcome == dualstack.OutcomeTimeout && c.first.Cause.BudgetEnded:
			clauses[i] = fmt.Sprintf("connects to %s had no answer when the probe's budget ended (%s into the attempt): packets are probably silently dropped on the %s path (a missing route back, a firewall drop or a broken %s datapath); a longer budget tells a drop from a slow path", which, roundMs(c.first.Connect), fam, fam)
		case c.first.Outcome == dualstack.OutcomeTimeout:
			clauses[i] = fmt.Sprintf("connects to %s time out: packets are silently dropped on the %s path (a missing route back, a firewall drop or a broken %s datapath)", which, fam, fam)
		case c.first.Cause.ICMP != nil && c.first.Cause.ICMP.From.IsValid():
			icmp := c.first.Cause.ICMP
			clauses[i] = fmt.Sprintf("connects to %s fail as unreachable: %s answered %s, so the %s path goes no further than it (a missing route or a host that is gone beyond %s)", which, icmp.From, icmp, fam, icmp.From)
		case c.first.Cause.Errno == syscall.ENETUNREACH:
			clauses[i] = fmt.Sprintf("connects to %s fail before any packet is sent: this host has no %s route to them (network unreachable); add a route or a default route for %s", which, fam, fam)
		default:
			clauses[i] = fmt.Sprintf("connects to %s fail as unreachable (%s): there is no %s route to the endpoint", which, c.first.Cause.Text, fam)
		}
	}
	return strings.Join(clauses, "; ")
}

// policyDetail words an administrative rejection by who made it: the router
// or host that sent the ICMP error, or this host's own firewall (EPERM from
// a local netfilter rule, with no packet sent).
func policyDetail(which, fam string, c Cause) string {
	switch {
	case c.ICMP != nil && c.ICMP.From.IsValid():
		return fmt.Sprintf("connects to %s are rejected as administratively prohibited by %s (%s): a firewall or NetworkPolicy there blocks %s to this port", which, c.ICMP.From, c.ICMP, fam)
	case c.ICMP != nil:
		return fmt.Sprintf("connects to %s are rejected as administratively prohibited (%s): a firewall or NetworkPolicy blocks %s to this port", which, c.ICMP, fam)
	case c.Errno == syscall.EPERM:
		return fmt.Sprintf("connects to %s are refused by this host's own firewall before any packet is sent (EPERM): a local rule blocks %s to this port", which, fam)
	default:
		return fmt.Sprintf("connects to %s are rejected as administratively prohibited (%s): a firewall or NetworkPolicy blocks %s to this port", which, c.Text, fam)
	}
}

func roundMs(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}
