package diagnose

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

// ProberVerdicts are the family verdicts one prober returned in a job.
// Probers that answered with an error have none: they are no evidence about
// the path and take no part in the merge.
type ProberVerdicts struct {
	// Prober names it ("team-a/prober-0").
	Prober   string
	Verdicts []Verdict
}

// Merge merges the verdicts of the probers that answered, family by family,
// in family order: a family passes only if it passed on every prober that
// judged it; its failing layer is the most fundamental one any prober saw;
// the sentence names the probers it failed on, sorted, so the same job reads
// the same whatever order the answers came in.
func Merge(answers []ProberVerdicts) []Verdict {
	type tally struct {
		failing []string
		layers  []layer.Layer
		seen    int
	}
	byFamily := map[dualstack.Family]*tally{}
	var families []dualstack.Family
	for _, a := range answers {
		for _, v := range a.Verdicts {
			t := byFamily[v.Family]
			if t == nil {
				t = &tally{}
				byFamily[v.Family] = t
				families = append(families, v.Family)
			}
			t.seen++
			if !v.OK {
				t.failing = append(t.failing, a.Prober)
				t.layers = append(t.layers, v.Layer)
			}
		}
	}
	slices.Sort(families)
	merged := make([]Verdict, 0, len(families))
	for _, f := range families {
		t := byFamily[f]
		v := Verdict{Family: f, OK: len(t.failing) == 0, Layer: layer.None}
		if v.OK {
			v.Detail = fmt.Sprintf("passed on all %d prober(s) that answered", t.seen)
		} else {
			v.Layer = layer.MostFundamental(t.layers...)
			slices.Sort(t.failing)
			v.Detail = fmt.Sprintf("failed on %d of %d prober(s): %s", len(t.failing), t.seen, strings.Join(t.failing, ", "))
		}
		merged = append(merged, v)
	}
	return merged
}
