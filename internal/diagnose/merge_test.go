package diagnose

import (
	"testing"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

func TestMerge(t *testing.T) {
	ok4 := Verdict{Family: dualstack.FamilyIPv4, OK: true, Layer: layer.None}
	ok6 := Verdict{Family: dualstack.FamilyIPv6, OK: true, Layer: layer.None}
	listener6 := Verdict{Family: dualstack.FamilyIPv6, Layer: layer.Listener}
	route6 := Verdict{Family: dualstack.FamilyIPv6, Layer: layer.Route}
	// Answers in any order; IPv6 listed first by one prober.
	answers := []ProberVerdicts{
		{Prober: "team-c/p", Verdicts: []Verdict{listener6, ok4}},
		{Prober: "team-a/p", Verdicts: []Verdict{ok4, route6}},
		{Prober: "team-b/p", Verdicts: []Verdict{ok4, ok6}},
		{Prober: "team-d/p"}, // erred: no evidence about the path
	}
	got := Merge(answers)
	if len(got) != 2 || got[0].Family != dualstack.FamilyIPv4 || got[1].Family != dualstack.FamilyIPv6 {
		t.Fatalf("got %+v, want IPv4 then IPv6", got)
	}
	if !got[0].OK || got[0].Layer != layer.None || got[0].Detail != "passed on all 3 prober(s) that answered" {
		t.Errorf("got IPv4 %+v, want passed on all 3", got[0])
	}
	// ROUTE is more fundamental than LISTENER; probers named sorted.
	if got[1].OK || got[1].Layer != layer.Route || got[1].Detail != "failed on 2 of 3 prober(s): team-a/p, team-c/p" {
		t.Errorf("got IPv6 %+v, want LAYER_ROUTE failed on 2 of 3 prober(s): team-a/p, team-c/p", got[1])
	}
	if got := Merge(nil); len(got) != 0 {
		t.Errorf("got %+v for no answers, want none", got)
	}
}
