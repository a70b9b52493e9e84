package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Policy is an allow-list. The zero Policy allows nothing: a prober must be
// told what it may reach.
type Policy struct {
	// CIDRs are the address ranges connects may go to, typically the
	// cluster's Pod and Service CIDRs. Every resolved address, and every
	// literal target, must lie in one of them.
	CIDRs []netip.Prefix
	// Names are the host names a target may use: exact names
	// ("api.example.com") or suffix patterns ("*.svc.cluster.local",
	// matching any name below it). Nil means no name is allowed, only IP
	// literals; AnyName lifts that and leaves the CIDRs as the only guard.
	Names []string
	// AnyName allows every name whose addresses lie in CIDRs.
	AnyName bool
	// Ports are the allowed destination ports. Nil means every port.
	Ports []PortRange
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To uint16 }

// Denied is the error for a target or address the policy refuses; callers
// branch on it to answer "permission denied" rather than "failed".
type Denied struct{ Reason string }

func (d *Denied) Error() string { return "target not allowed: " + d.Reason }

// CheckTarget checks a target before anything is sent: its port, and its
// name against Names or its literal address against CIDRs.
func (p *Policy) CheckTarget(host string, port uint16) error {
	if !p.portAllowed(port) {
		return &Denied{fmt.Sprintf("port %d is outside the allowed ports %s", port, p.portsString())}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddress(addr)
	}
	if !p.nameAllowed(host) {
		return &Denied{fmt.Sprintf("name %q matches no allowed name (%s)", host, p.namesString())}
	}
	return nil
}

// CheckAddress checks one address a target resolved to (or is).
func (p *Policy) CheckAddress(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, c := range p.CIDRs {
		if c.Contains(addr) {
			return nil
		}
	}
	return &Denied{fmt.Sprintf("address %s is outside the allowed CIDRs (%s)", addr, p.cidrsString())}
}

// CheckAddresses checks every resolved address and reports all the refused
// ones at once.
func (p *Policy) CheckAddresses(addrs []netip.Addr) error {
	var bad []string
	for _, a := range addrs {
		if p.CheckAddress(a) != nil {
			bad = append(bad, a.Unmap().String())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Denied{fmt.Sprintf("resolved address(es) %s are outside the allowed CIDRs (%s)", strings.Join(bad, ", "), p.cidrsString())}
}

func (p *Policy) portAllowed(port uint16) bool {
	if p.Ports == nil {
		return true
	}
	return slices.ContainsFunc(p.Ports, func(r PortRange) bool { return port >= r.From && port <= r.To })
}

func (p *Policy) nameAllowed(host string) bool {
	if p.AnyName {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	// An empty label (".svc.cluster.local", "a..b") names no host: it must
	// not pass as a name "below" a suffix.
	if host == "" || slices.Contains(strings.Split(host, "."), "") {
		return false
	}
	for _, n := range p.Names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if suffix, ok := strings.CutPrefix(n, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == n {
			return true
		}
	}
	return false
}

func (p *Policy) cidrsString() string {
	if len(p.CIDRs) == 0 {
		return "none configured"
	}
	s := make([]string, len(p.CIDRs))
	for i, c := range p.CIDRs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

func (p *Policy) namesString() string {
	if len(p.Names) == 0 {
		return "none configured"
	}
	return strings.Join(p.Names, ", ")
}

func (p *Policy) portsString() string {
	s := make([]string, len(p.Ports))
	for i, r := range p.Ports {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// Parse builds a policy from flag values: CIDRs ("10.0.0.0/8",
// "fd00::/48"; a bare address is a host prefix), names ("api.example.com",
// "*.svc.cluster.local", or "*" for AnyName) and ports ("80", "8000-8999").
// Every problem is reported at once.
func Parse(cidrs, names, ports []string) (Policy, error) {
	var p Policy
	var errs []error
	for _, c := range cidrs {
		prefix, err := netip.ParsePrefix(c)
		if err != nil {
			addr, aerr := netip.ParseAddr(c)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("allowed CIDR %q: want a prefix such as 10.0.0.0/8 or fd00::/48", c))
				continue
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		p.CIDRs = append(p.CIDRs, prefix.Masked())
	}
	for _, n := range names {
		switch {
		case n == "*":
			p.AnyName = true
		case n == "" || strings.ContainsAny(n, " /:") || strings.Contains(strings.TrimPrefix(n, "*."), "*"):
			errs = append(errs, fmt.Errorf("allowed name %q: want a host name or *.suffix", n))
		default:
			p.Names = append(p.Names, n)
		}
	}
	for _, r := range ports {
		pr, err := parsePortRange(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Ports = append(p.Ports, pr)
	}
	return p, errors.Join(errs...)
}

func parsePortRange(s string) (PortRange, error) {
	from, to, isRange := strings.Cut(s, "-")
	if !isRange {
		to = from
	}
	a, errA := strconv.ParseUint(from, 10, 16)
	b, errB := strconv.ParseUint(to, 10, 16)
	if errA != nil || errB != nil || a == 0 || b < a {
		return PortRange{}, fmt.Errorf("allowed ports %q: want PORT or FROM-TO within 1-65535", s)
	}
	return PortRange{uint16(a), uint16(b)}, nil
}
