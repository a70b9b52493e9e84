package happyeyeballs

import (
	"net/netip"
	"testing"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// A driver hands the engine one answer at a time, even when both arrived in
// the same instant. RFC 8305 §3 starts IPv6 at once only for an AAAA answer
// received *first* and lets an A answer wait for AAAA; answers of one instant
// are received together, and §4 sorts them into one list before the first
// attempt, whichever of them the driver happened to hand over first.
func TestEngineAnswersOfOneInstantInEitherOrder(t *testing.T) {
	ula, private4 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		profile string
		host    string
		sources func(netip.Addr) Source
		v6, v4  netip.Addr
		want    netip.Addr
	}{
		// RFC 6724's table: IPv4 (35) above fc00::/7 (3) ...
		{"rfc8305", "ULA", sourcesAmong("fd00::2", "10.0.0.2"), ula, private4, private4},
		{"rfc8305,resolution-delay=-1ms", "ULA", sourcesAmong("fd00::2", "10.0.0.2"), ula, private4, private4},
		// ... but below ::/0 (40).
		{"rfc8305", "GUA", sourcesAmong("2001:db8::9", "192.0.2.9"), v6a, v4a, v6a},
		{"rfc8305,resolution-delay=-1ms", "GUA", sourcesAmong("2001:db8::9", "192.0.2.9"), v6a, v4a, v6a},
		// glibc's table puts the ULA first ...
		{"safari", "ULA", sourcesAmong("fd00::2", "10.0.0.2"), ula, private4, ula},
		// ... unless the host has no IPv6 source for it (rule 1).
		{"safari", "IPv4-only", sourcesAmong("10.0.0.2"), ula, private4, private4},
		{"curl-8.20", "IPv4-only", sourcesAmong("10.0.0.2"), ula, private4, private4},
	}
	for _, tt := range tests {
		answers := map[dualstack.Family][]netip.Addr{dualstack.FamilyIPv6: {tt.v6}, dualstack.FamilyIPv4: {tt.v4}}
		for _, first := range []dualstack.Family{dualstack.FamilyIPv6, dualstack.FamilyIPv4} {
			t.Run(tt.profile+" "+tt.host+" "+first.QueryType()+" handed first", func(t *testing.T) {
				s := mustProfile(t, tt.profile)
				e := newEngine(&s, tt.sources)
				e.begin()
				e.takeActions()
				e.answer(0, first, answers[first], nil)
				e.answer(0, first.Other(), answers[first.Other()], nil)
				e.tick(0)
				var dials []netip.Addr
				for _, act := range e.takeActions() {
					if act.kind == actDial {
						dials = append(dials, act.addr)
					}
				}
				if len(dials) == 0 || dials[0] != tt.want {
					t.Fatalf("got dials %v, want the first to %v", dials, tt.want)
				}
				if e.order[0] != tt.want {
					t.Errorf("got order %v, want %v first", e.order, tt.want)
				}
			})
		}
	}
}

// An address an answer lists twice is tried once, whatever the strategy:
// a client that has failed to connect to an address does not try it again
// in the same race.
func TestEngineTriesARepeatedAddressOnce(t *testing.T) {
	for _, profile := range []string{"rfc8305", "go", "python"} {
		t.Run(profile, func(t *testing.T) {
			s := mustProfile(t, profile)
			e := newEngine(&s, nil)
			e.begin()
			e.takeActions()
			e.answer(0, dualstack.FamilyIPv6, []netip.Addr{v6a, v6a}, nil)
			e.answer(0, dualstack.FamilyIPv4, nil, nil)
			e.tick(0)
			var dials []netip.Addr
			for step := 0; step < 4 && !e.done; step++ {
				for _, act := range e.takeActions() {
					if act.kind == actDial {
						dials = append(dials, act.addr)
						e.attemptEnded(e.now, act.attempt, dualstack.OutcomeRefused, nil)
					}
				}
			}
			if !e.done || len(dials) != 1 {
				t.Errorf("got dials %v (race over: %v), want one to %v and the race over", dials, e.done, v6a)
			}
		})
	}
}
