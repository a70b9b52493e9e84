package cli

import (
	"context"
	"fmt"
	"net/netip"
	"text/tabwriter"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/localaddr"
)

const orderSynopsis = `[--src ADDR]... [--policy rfc6724|glibc|PATH-to-gai.conf] [-o table|json] ADDR...`

const orderHelp = `Sorts destination addresses by RFC 6724 section 6 (destination address
selection), the way a client's resolver would before it connects.

--policy chooses the policy table: rfc6724 (the RFC's table, as Go and Chrome
use it; all ten rules), glibc (getaddrinfo's compiled-in RFC 3484 table), or
the path of a gai.conf file (parsed as glibc does: any precedence line
replaces the whole precedence table).

Without --src, the source address for each destination is the one the kernel
would pick (a UDP connect, no packet sent), as Go's net package does. With
--src, sources are chosen from the given set by RFC 6724 section 5.

Note the ULA divergence: the RFC 6724 table ranks fc00::/7 below IPv4, so a Go
client prefers 10.0.0.1 over fd00::1; glibc's default table prefers the ULA.

JSON: {"addresses": [...]} in sorted order.

Example:
  dsprobe order --src fd00::2 --src 10.0.0.2 fd00::1 10.0.0.1
  dsprobe order --policy glibc --src fd00::2 --src 10.0.0.2 fd00::1 10.0.0.1`

func runOrder(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("order", orderSynopsis, orderHelp, e.stdout)
	out := addOutputFlag(fs)
	var srcs addrList
	fs.Var(&srcs, "src", "a local source `address` (repeatable); default: ask the kernel")
	policyName := fs.String("policy", "rfc6724", "policy table: rfc6724, glibc, or the `path` of a gai.conf")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) == 0 {
		return argsErrorf(fs, "[flags] ADDR...", "no addresses to order")
	}
	var dsts []netip.Addr
	for _, s := range positional {
		a, err := parseAddr(s)
		if err != nil {
			return usageError{err}
		}
		dsts = append(dsts, a)
	}
	opts, err := he.SortOptionsFor(*policyName)
	if err != nil {
		return usageError{err}
	}
	sourceFor := sourceResolver(srcs, dsts, opts.Policy)
	sorted := make([]he.Destination, len(dsts))
	for i, d := range dsts {
		sorted[i] = he.Destination{Addr: d, Source: sourceFor(d)}
	}
	he.SortDestinations(sorted, opts)

	if *out == "json" {
		addrs := make([]string, len(sorted))
		for i, d := range sorted {
			addrs[i] = d.Addr.String()
		}
		return writeJSON(e.stdout, struct {
			Addresses []string `json:"addresses"`
		}{addrs})
	}
	fmt.Fprintf(e.stdout, "policy %s, rules %s\n\n", opts.Policy.Name, opts.Rules)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tADDRESS\tFAMILY\tSOURCE\tPRECEDENCE\tLABEL")
	for i, d := range sorted {
		src := "(none: unusable)"
		if d.Source.Addr.IsValid() {
			src = d.Source.Addr.String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\n", i+1, d.Addr, dualstack.FamilyOf(d.Addr).Label(), src,
			opts.Policy.Precedence(d.Addr), opts.Policy.Label(d.Addr))
	}
	return tw.Flush()
}

// sourceResolver returns the source address for each destination: chosen
// from srcs by RFC 6724 §5 when given, else the kernel's choice.
func sourceResolver(srcs []netip.Addr, dsts []netip.Addr, policy *he.Policy) func(netip.Addr) he.Source {
	if len(srcs) > 0 {
		candidates := make([]he.Source, len(srcs))
		for i, s := range srcs {
			candidates[i] = he.Source{Addr: s}
		}
		return func(d netip.Addr) he.Source {
			s, _ := he.SelectSource(d, candidates, policy)
			return s
		}
	}
	kernel := localaddr.SourcesFor(dsts)
	byDst := make(map[netip.Addr]he.Source, len(dsts))
	for i, d := range dsts {
		byDst[d] = kernel[i]
	}
	return func(d netip.Addr) he.Source { return byDst[d] }
}
