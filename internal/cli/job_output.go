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

// writeJobTable prints a coordinator job: every prober's verdicts side by
// side (one row per prober, labelled with its namespace), then the merged
// verdict of each family.
func writeJobTable(w io.Writer, target string, run *coordinator.JobRun) {
	fmt.Fprintf(w, "target  %s\n\n", target)
	results := inTableOrder(run.Results)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "PROBER", "NAMESPACE", "IPv4", "IPv6", "LISTENER", "TOOK")
	for _, r := range results {
		res := r.GetResult()
		if res == nil {
			row(tw, r.GetProber(), r.GetNamespace(), "no answer: "+r.GetError().GetCode(), r.GetError().GetMessage(), "-", formatFloatMs(r.GetDurationMs()))
			continue
		}
		cells := map[dsprobev1.Family]string{dsprobev1.Family_FAMILY_IPV4: "-", dsprobev1.Family_FAMILY_IPV6: "-"}
		for _, v := range res.GetFamilies() {
			cells[v.GetFamily()] = verdictCell(v)
		}
		row(tw, r.GetProber(), r.GetNamespace(), cells[dsprobev1.Family_FAMILY_IPV4], cells[dsprobev1.Family_FAMILY_IPV6],
			listenerName(res.GetListener().GetAccepts()), formatFloatMs(r.GetDurationMs()))
	}
	tw.Flush()
	sum := run.Summary
	fmt.Fprintf(w, "\n%d of %d prober(s) answered in %s\n", sum.GetAnswered(), sum.GetProbers(), formatFloatMs(sum.GetDurationMs()))
	for _, v := range sum.GetFamilies() {
		fmt.Fprintf(w, "%s: %s — %s\n", familyName(v.GetFamily()), verdictCell(v), v.GetDetail())
	}
	if run.TraceID != "" {
		fmt.Fprintf(w, "trace %s\n", run.TraceID)
	}
}

// inTableOrder is a job's results in the order its table lists them, by
// namespace, then prober: the same on every run, whatever order the probers
// answered in.
func inTableOrder(results []*dsprobev1.ProberResult) []*dsprobev1.ProberResult {
	return slices.SortedFunc(slices.Values(results), func(a, b *dsprobev1.ProberResult) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetProber(), b.GetNamespace()+"/"+b.GetProber())
	})
}

// writeJobDetails prints the details (writeFamilyDetails) of the first
// prober in the table's order that answered, so a run shows the same
// prober's as the last did.
func writeJobDetails(w io.Writer, run *coordinator.JobRun) {
	for _, r := range inTableOrder(run.Results) {
		if r.GetResult() != nil {
			writeFamilyDetails(w, r.GetProber(), r.GetResult())
			return
		}
	}
}

// writeFamilyDetails prints each family's one-sentence verdict and the
// client predictions of one prober's result.
func writeFamilyDetails(w io.Writer, prober string, res *dsprobev1.ProbeResult) {
	fmt.Fprintf(w, "\nfrom prober %s:\n", prober)
	for _, v := range res.GetFamilies() {
		fmt.Fprintf(w, "  %s: %s\n", familyName(v.GetFamily()), v.GetDetail())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "  CLIENT", "ENDS ON", "TIME TO CONNECT", "FALLBACK DELAY", "VERDICT")
	for i, c := range append([]*dsprobev1.ClientPrediction{res.GetHappyEyeballs()}, res.GetClients()...) {
		name := c.GetProfile()
		if i == 0 {
			name += " (the prober's real race)"
		}
		ends := familyName(c.GetFamily())
		if c.GetFamily() == dsprobev1.Family_FAMILY_UNSPECIFIED {
			ends = "no connection (" + c.GetOutcome().String() + ")"
		}
		row(tw, "  "+name, ends, formatFloatMs(c.GetTimeToConnectMs()), formatFloatMs(c.GetFallbackDelayMs()), c.GetFailingLayer().String())
	}
	tw.Flush()
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

// familyName is familyLabel of an API family (the enum numbers are the
// engine's; internal/apicontract pins that).
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
