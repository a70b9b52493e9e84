package cli

import (
	"bytes"
	"strings"
	"testing"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
)

// A job's details come from the same prober on every run: the first in the
// table's order (namespace, then name) that answered, not whichever
// answered first.
func TestJobDetailsProber(t *testing.T) {
	answered := func(ns, name string) *dsprobev1.ProberResult {
		return &dsprobev1.ProberResult{Prober: name, Namespace: ns, Outcome: &dsprobev1.ProberResult_Result{Result: &dsprobev1.ProbeResult{}}}
	}
	silent := func(ns, name string) *dsprobev1.ProberResult {
		return &dsprobev1.ProberResult{Prober: name, Namespace: ns, Outcome: &dsprobev1.ProberResult_Error{Error: &dsprobev1.ProberError{Code: "DEADLINE_EXCEEDED"}}}
	}
	a, b, c := answered("team-a", "prober-a"), answered("team-b", "prober-b"), answered("team-c", "prober-c")
	tests := []struct {
		name    string
		arrived []*dsprobev1.ProberResult
		want    string
	}{
		{"in order", []*dsprobev1.ProberResult{a, b, c}, "prober-a"},
		{"the last by name first", []*dsprobev1.ProberResult{c, b, a}, "prober-a"},
		{"the middle one first", []*dsprobev1.ProberResult{b, c, a}, "prober-a"},
		{"the first by name did not answer", []*dsprobev1.ProberResult{c, silent("team-a", "prober-a"), b}, "prober-b"},
		{"namespace before name", []*dsprobev1.ProberResult{answered("team-b", "prober-a"), answered("team-a", "prober-z")}, "prober-z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			writeJobDetails(&out, &coordinator.JobRun{Results: tt.arrived})
			if got, want := strings.Count(out.String(), "from prober "), 1; got != want {
				t.Fatalf("got %d detail blocks, want %d:\n%s", got, want, out.String())
			}
			if !strings.Contains(out.String(), "from prober "+tt.want+":") {
				t.Errorf("got\n%s\nwant the details of %s", out.String(), tt.want)
			}
		})
	}
}
