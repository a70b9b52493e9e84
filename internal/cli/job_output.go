package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// writeJob prints a coordinator job as dsprobe probe --coordinator shows
// it: the probers' verdicts side by side, then each prober's details (what
// a local probe shows), then the merged verdicts, last, where a terminal
// leaves them in view.
func writeJob(w io.Writer, target string, run *coordinator.JobRun) {
	results := byProber(run.Results)
	writeProberTable(w, target, results)
	for _, r := range results {
		if res := r.GetResult(); res != nil {
			writeFamilyDetails(w, r.GetProber(), res)
		}
	}
	writeJobSummary(w, run)
}

// writeJobTable prints a coordinator job: every prober's verdicts side by
// side (one row per prober, labelled with its namespace), then the merged
// verdict of each family.
func writeJobTable(w io.Writer, target string, run *coordinator.JobRun) {
	writeProberTable(w, target, byProber(run.Results))
	writeJobSummary(w, run)
}

// byProber is a job's results by namespace, then prober: the same order on
// every run, whatever order the probers answered in.
func byProber(results []*dsprobev1.ProberResult) []*dsprobev1.ProberResult {
	return slices.SortedFunc(slices.Values(results), func(a, b *dsprobev1.ProberResult) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetProber(), b.GetNamespace()+"/"+b.GetProber())
	})
}

// writeProberTable prints one row per prober that answered, then one line
// per prober that did not: an error is no verdict, so it has no place in a
// family's column.
func writeProberTable(w io.Writer, target string, results []*dsprobev1.ProberResult) {
	fmt.Fprintf(w, "target  %s\n\n", target)
	var answered, failed []*dsprobev1.ProberResult
	for _, r := range results {
		if r.GetResult() != nil {
			answered = append(answered, r)
		} else {
			failed = append(failed, r)
		}
	}
	if len(answered) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		row(tw, "PROBER", "NAMESPACE", "IPv4", "IPv6", "LISTENER", "TOOK")
		for _, r := range answered {
			res := r.GetResult()
			cells := map[dsprobev1.Family]string{dsprobev1.Family_FAMILY_IPV4: "-", dsprobev1.Family_FAMILY_IPV6: "-"}
			for _, v := range res.GetFamilies() {
				cells[v.GetFamily()] = verdictCell(v)
			}
			row(tw, r.GetProber(), r.GetNamespace(), cells[dsprobev1.Family_FAMILY_IPV4], cells[dsprobev1.Family_FAMILY_IPV6],
				listenerName(res.GetListener().GetAccepts()), formatFloatMs(r.GetDurationMs()))
		}
		tw.Flush()
	}
	if len(answered) > 0 && len(failed) > 0 {
		fmt.Fprintln(w)
	}
	for _, r := range failed {
		fmt.Fprintf(w, "no answer from %s (%s) after %s: %s: %s\n", r.GetProber(), r.GetNamespace(),
			formatFloatMs(r.GetDurationMs()), r.GetError().GetCode(), r.GetError().GetMessage())
	}
}

// writeJobSummary prints how many probers answered and each family's
// verdict merged over them, and the job's trace.
func writeJobSummary(w io.Writer, run *coordinator.JobRun) {
	sum := run.Summary
	fmt.Fprintf(w, "\n%d of %d prober(s) answered in %s\n", sum.GetAnswered(), sum.GetProbers(), formatFloatMs(sum.GetDurationMs()))
	if sum.GetAnswered() == 0 {
		fmt.Fprintln(w, "no prober answered: no family was checked")
	}
	for _, v := range sum.GetFamilies() {
		fmt.Fprintf(w, "%s: %s — %s\n", familyName(v.GetFamily()), verdictCell(v), v.GetDetail())
	}
	if run.TraceID != "" {
		fmt.Fprintf(w, "trace %s\n", run.TraceID)
	}
}

// writeJobDetails prints the details (writeFamilyDetails) of the first
// prober in the table's order that answered, so a run shows the same
// prober's as the last did.
func writeJobDetails(w io.Writer, run *coordinator.JobRun) {
	for _, r := range byProber(run.Results) {
		if r.GetResult() != nil {
			writeFamilyDetails(w, r.GetProber(), r.GetResult())
			return
		}
	}
}

// writeFamilyDetails prints what one prober found: each family's verdict
// and its sentence, then its own race and the clients worth a responder's
// look — those that fail, are too slow or fall back to the other family —
// with a count of the rest (-o json lists every client). With many probers,
// one table of every client each would bury the few that matter.
func writeFamilyDetails(w io.Writer, prober string, res *dsprobev1.ProbeResult) {
	fmt.Fprintf(w, "\nfrom prober %s:\n", prober)
	for _, v := range res.GetFamilies() {
		fmt.Fprintf(w, "  %s: %s — %s\n", familyName(v.GetFamily()), verdictCell(v), v.GetDetail())
	}
	var notable []*dsprobev1.ClientPrediction
	for _, c := range res.GetClients() {
		if c.GetFailingLayer() != dsprobev1.Layer_LAYER_NONE || c.GetFallbackDelayMs() > 0 {
			notable = append(notable, c)
		}
	}
	writePredictions(w, "  ", res.GetHappyEyeballs(), notable)
	if rest := len(res.GetClients()) - len(notable); rest > 0 {
		fmt.Fprintf(w, "  %d other client(s) connect in time without falling back\n", rest)
	}
}

// listenerName is the short form of the enum for tables: "ipv4_only".
func listenerName(a dsprobev1.ListenerAccepts) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "LISTENER_ACCEPTS_"))
}

func verdictCell(v *dsprobev1.FamilyVerdict) string {
	if v.GetOk() {
		return "ok"
	}
	return "FAIL " + v.GetFailingLayer().String()
}

// familyName is the label of an API family (the enum numbers are the
// engine's; test/apicontract pins that).
func familyName(f dsprobev1.Family) string { return dualstack.Family(f).Label() }

func formatFloatMs(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.0fs", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}
