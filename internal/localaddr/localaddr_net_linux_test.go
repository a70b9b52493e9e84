package localaddr

import (
	"net/netip"
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
