package localaddr

import (
	"net/netip"
	"slices"
	"testing"

	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A lookup from a thread in another network namespace (testhost's Do, a
// prober's test) describes that namespace's addresses, IPv6 flags and
// prefix lengths included: /proc/net is the namespace of the process's
// first thread, not of the calling one.
func TestSourcesForInAnotherNamespace(t *testing.T) {
	lab := testhost.New(t)
	host, peer := lab.AddHost("host"), lab.AddHost("peer")
	dsts := []netip.Addr{peer.Addr4(), peer.Addr6()}
	want := []he.Source{
		{Addr: host.Addr4(), PrefixLen: lab.Prefix4().Bits()},
		{Addr: host.Addr6(), PrefixLen: lab.Prefix6().Bits()},
	}
	var got []he.Source
	must(t, host.Do(func() error {
		got = SourcesFor(dsts)
		return nil
	}))
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("source for %v: got %+v, want %+v", dsts[i], got[i], want[i])
		}
	}
}

// SourcesFor reuses the tables it read until the kernel says they changed:
// an address that appears, is replaced with another prefix length, or goes
// is seen by the next lookup. Against a real kernel, in a test host (whose
// interface testhost names eth0), after a lookup in the test's own
// namespace, so that the tables read first belong to another namespace.
func TestSourcesForSeesAddressChanges(t *testing.T) {
	lab := testhost.New(t)
	host, peer := lab.AddHost("host"), lab.AddHost("peer")
	a := netip.MustParseAddr
	SourcesFor([]netip.Addr{a("127.0.0.1")})

	own := []he.Source{
		{Addr: host.Addr4(), PrefixLen: lab.Prefix4().Bits()},
		{Addr: host.Addr6(), PrefixLen: lab.Prefix6().Bits()},
	}
	dsts := []netip.Addr{peer.Addr4(), peer.Addr6(), a("198.51.100.9"), a("2001:db8:77::9")}
	steps := []struct {
		name string
		ip   [][]string // ip commands run in the host before the lookup
		want []he.Source
	}{
		{
			name: "no route to the new prefixes yet",
			want: slices.Concat(own, []he.Source{{}, {}}),
		},
		{
			name: "new addresses",
			ip: [][]string{
				{"addr", "add", "198.51.100.2/24", "dev", "eth0"},
				{"addr", "add", "2001:db8:77::2/64", "dev", "eth0", "nodad"},
			},
			want: slices.Concat(own, []he.Source{{Addr: a("198.51.100.2"), PrefixLen: 24}, {Addr: a("2001:db8:77::2"), PrefixLen: 64}}),
		},
		{
			name: "the addresses replaced with other prefix lengths",
			ip: [][]string{
				{"addr", "del", "198.51.100.2/24", "dev", "eth0"},
				{"addr", "add", "198.51.100.2/25", "dev", "eth0"},
				{"addr", "del", "2001:db8:77::2/64", "dev", "eth0"},
				{"addr", "add", "2001:db8:77::2/80", "dev", "eth0", "nodad"},
			},
			want: slices.Concat(own, []he.Source{{Addr: a("198.51.100.2"), PrefixLen: 25}, {Addr: a("2001:db8:77::2"), PrefixLen: 80}}),
		},
		{
			name: "the addresses gone",
			ip: [][]string{
				{"addr", "del", "198.51.100.2/25", "dev", "eth0"},
				{"addr", "del", "2001:db8:77::2/80", "dev", "eth0"},
			},
			want: slices.Concat(own, []he.Source{{}, {}}),
		},
	}
	for _, step := range steps {
		for _, args := range step.ip {
			if out, err := host.Run(t.Context(), "ip", args...); err != nil {
				t.Fatalf("%s: %v: %s", step.name, err, out)
			}
		}
		var got []he.Source
		must(t, host.Do(func() error {
			got = SourcesFor(dsts)
			return nil
		}))
		for i, want := range step.want {
			if got[i] != want {
				t.Errorf("%s: source for %v: got %+v, want %+v", step.name, dsts[i], got[i], want)
			}
		}
	}
}
