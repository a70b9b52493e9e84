package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/probe"
)

// writeProbeTable prints the evidence family by family (rows: DNS answer,
// addresses in order, connect per address, application check, listener,
// verdict; columns IPv4 and IPv6), then the client predictions.
func writeProbeTable(w io.Writer, r *probe.Result) {
	fmt.Fprintf(w, "target  %s  (check %s)\n\n", r.Target, r.Check)
	families := make([]dualstack.Family, 0, len(r.Families))
	for _, v := range r.Families {
		families = append(families, v.Family)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	header := []string{""}
	for _, f := range families {
		header = append(header, f.Label())
	}
	row(tw, header...)

	rows := func(label string, cell func(f dualstack.Family) []string) {
		cells := make([][]string, len(families))
		n := 1
		for i, f := range families {
			cells[i] = cell(f)
			n = max(n, len(cells[i]))
		}
		for line := range n {
			fields := []string{""}
			if line == 0 {
				fields[0] = label
			}
			for i := range families {
				v := ""
				if line < len(cells[i]) {
					v = cells[i][line]
				}
				fields = append(fields, v)
			}
			row(tw, fields...)
		}
	}
	rows("DNS answer", func(f dualstack.Family) []string { return dnsCell(r, f) })
	rows("addresses (order)", func(f dualstack.Family) []string {
		var out []string
		for i, a := range r.Order {
			if dualstack.FamilyOf(a) == f {
				out = append(out, fmt.Sprintf("%d. %s", i+1, a))
			}
		}
		return orDash(out)
	})
	rows("connect", func(f dualstack.Family) []string {
		var out []string
		for _, a := range attemptsOf(r, f) {
			o := a.Outcome
			if o == dualstack.OutcomeAppFailed {
				o = dualstack.OutcomeConnected
			}
			out = append(out, fmt.Sprintf("%s %s %s", a.Address.Addr(), o, formatMs(a.Duration)))
		}
		return orDash(out)
	})
	rows("application ("+r.Check.String()+")", func(f dualstack.Family) []string {
		var out []string
		for _, a := range attemptsOf(r, f) {
			if a.App == nil {
				out = append(out, "-")
				continue
			}
			status := "ok"
			if !a.App.OK {
				status = "FAIL"
			}
			out = append(out, fmt.Sprintf("%s %s", status, a.App.Detail))
		}
		return orDash(out)
	})
	rows("listener", func(dualstack.Family) []string { return []string{r.Listener.Accepts.String()} })
	rows("verdict", func(f dualstack.Family) []string {
		v := verdictOf(r, f)
		if v.OK {
			return []string{"ok"}
		}
		return []string{"FAIL " + v.Layer.String()}
	})
	tw.Flush()

	fmt.Fprintln(w)
	for _, v := range r.Families {
		fmt.Fprintf(w, "%s: %s\n", v.Family.Label(), v.Detail)
	}
	fmt.Fprintf(w, "listener: %s\n\n", r.Listener.Reason)

	clients := make([]*dsprobev1.ClientPrediction, len(r.Clients))
	for i, c := range r.Clients {
		clients[i] = apiconv.ClientPrediction(c)
	}
	writePredictions(w, "", apiconv.ClientPrediction(r.HappyEyeballs), clients)
}

// writePredictions prints the prober's own race and the given clients'
// predictions as one table, every line indented by indent.
func writePredictions(w io.Writer, indent string, race *dsprobev1.ClientPrediction, clients []*dsprobev1.ClientPrediction) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, indent+"CLIENT", "ENDS ON", "TIME TO CONNECT", "FALLBACK DELAY", "VERDICT")
	// The one label of the race the prober ran for real, in every table,
	// as against the clients predicted from what it measured.
	predictionRow(tw, indent, race, " (the prober's real race)")
	for _, c := range clients {
		predictionRow(tw, indent, c, "")
	}
	tw.Flush()
}

func predictionRow(tw *tabwriter.Writer, indent string, p *dsprobev1.ClientPrediction, note string) {
	// The API's enums are numbered as the engine's (test/apicontract
	// pins it), so they read as the engine's short names.
	family := dualstack.Family(p.GetFamily())
	ends := family.Label()
	took := formatMs(fromMillis(p.GetTimeToConnectMs()))
	if family == dualstack.FamilyUnspecified {
		ends = "no connection (" + dualstack.Outcome(p.GetOutcome()).String() + ")"
		took = "gave up after " + took
	}
	row(tw, indent+p.GetProfile()+note, ends, took, formatMs(fromMillis(p.GetFallbackDelayMs())), p.GetFailingLayer().String())
}

func row(tw *tabwriter.Writer, fields ...string) {
	fmt.Fprintln(tw, strings.Join(fields, "\t"))
}

func orDash(s []string) []string {
	if len(s) == 0 {
		return []string{"-"}
	}
	return s
}

func attemptsOf(r *probe.Result, f dualstack.Family) []probe.Attempt {
	var out []probe.Attempt
	for _, a := range r.Attempts {
		if a.Family == f {
			out = append(out, a)
		}
	}
	return out
}

func verdictOf(r *probe.Result, f dualstack.Family) diagnose.Verdict {
	for _, v := range r.Families {
		if v.Family == f {
			return v
		}
	}
	return diagnose.Verdict{}
}

func dnsCell(r *probe.Result, f dualstack.Family) []string {
	a := r.DNS[f]
	if a == nil {
		return []string{"(literal, no DNS)"}
	}
	line := fmt.Sprintf("%s %s in %s", f.QueryType(), strings.ToUpper(a.Status.String()), formatMs(a.Elapsed()))
	switch {
	case a.Server.IsValid():
		line += " from " + a.Server.String()
	case a.HostsFile != "":
		line += " from " + a.HostsFile
	}
	out := []string{line}
	if len(a.CNAMEs) > 0 {
		out = append(out, "via CNAME "+strings.Join(a.CNAMEs, " -> "))
	}
	if a.Truncated {
		out = append(out, "truncated over UDP, retried over TCP")
	}
	if a.DNS64 {
		out = append(out, "DNS64-synthesised (64:ff9b::/96)")
	}
	return out
}
