package cli

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/probe"
)

const simulateSynopsis = `--profile NAME[,KEY=VALUE...] [--src ADDR]... [--a-delay DUR] [--aaaa-delay DUR]
                 --attempt ADDR=OUTCOME[:DUR]... [--max-connect-time DUR] [-o table|json]`

const simulateHelp = `Replays a client profile over DNS answer timings and per-address outcomes on a
virtual clock, and prints what that client would do: the family it ends on,
its time to connect (from the start of resolution to the winning handshake)
and its fallback delay (start of the winning attempt minus start of the first
attempt, when the winner's family differs from the first attempted family).

Each --attempt gives one resolved address and how a connect to it ends, after
DUR from the attempt's start (default 0): connected, refused, unreachable,
prohibited, reset, or timeout (never answers; takes no duration). The
addresses of each family form that family's DNS answer, in the order given.
A family with no --attempt gets an empty (NODATA) answer.

Without --src the source addresses come from the kernel, as for dsprobe order.

Exit code 1 when the client would not connect, or would take longer than
--max-connect-time although an address connects.

Examples:
  dsprobe simulate --profile go --attempt 2001:db8::1=timeout --attempt 192.0.2.1=connected:2ms
  dsprobe simulate --profile node --attempt 2001:db8::1=timeout --attempt 192.0.2.1=connected:300ms
  dsprobe simulate --profile python,attempt-timeout=1s --attempt 2001:db8::1=timeout --attempt 192.0.2.1=connected`

func runSimulate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("simulate", simulateSynopsis, simulateHelp, e.stdout)
	out := addOutputFlag(fs)
	profile := fs.String("profile", "", "client profile (see dsprobe profiles), optionally with KEY=VALUE overrides")
	var srcs addrList
	fs.Var(&srcs, "src", "a local source `address` (repeatable); default: ask the kernel")
	aDelay := fs.Duration("a-delay", 0, "time the A query takes to be answered")
	aaaaDelay := fs.Duration("aaaa-delay", 0, "time the AAAA query takes to be answered")
	var attempts stringList
	fs.Var(&attempts, "attempt", "how one resolved address answers, as `ADDR=OUTCOME[:DUR]` (repeatable)")
	maxConnect := fs.Duration("max-connect-time", time.Second, "a client slower than this fails with LAYER_CLIENT")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return argsErrorf(fs, "--profile NAME --attempt ADDR=OUTCOME[:DUR]... [flags]", "unexpected argument %q (addresses go in --attempt)", positional[0])
	}
	if *profile == "" {
		return usagef("--profile is required (one of: %s)", strings.Join(he.ProfileNames(), ", "))
	}
	p, err := he.ParseProfile(*profile)
	if err != nil {
		return usageError{err}
	}
	if len(attempts) == 0 {
		return usagef("at least one --attempt ADDR=OUTCOME[:DUR] is required")
	}
	if *maxConnect <= 0 {
		return usagef("--max-connect-time must be positive")
	}
	sc := he.Scenario{ADelay: *aDelay, AAAADelay: *aaaaDelay}
	for _, a := range attempts {
		path, err := parseAttempt(a)
		if err != nil {
			return usageError{err}
		}
		sc.Paths = append(sc.Paths, path)
	}
	var dsts []netip.Addr
	for _, path := range sc.Paths {
		dsts = append(dsts, path.Address)
	}
	sc.SourceFor = sourceResolver(srcs, dsts, p.Sort.Policy)
	res, err := he.Simulate(p.Strategy, sc)
	if err != nil {
		return usageError{err}
	}
	pred := predictionOf(p.Name, res, sc.Paths, *maxConnect)
	if *out == "json" {
		if err := writeProto(e.stdout, apiconv.ClientPrediction(pred)); err != nil {
			return err
		}
	} else {
		writeSimulationTable(e, p, res, pred)
	}
	if pred.FailingLayer != layer.None {
		return errFailed
	}
	return nil
}

// parseAttempt parses ADDR=OUTCOME[:DUR].
func parseAttempt(s string) (he.Path, error) {
	addrText, rest, ok := strings.Cut(s, "=")
	if !ok {
		return he.Path{}, fmt.Errorf("--attempt %q: want ADDR=OUTCOME[:DUR]", s)
	}
	addr, err := parseAddr(addrText)
	if err != nil {
		return he.Path{}, fmt.Errorf("--attempt %q: %w", s, err)
	}
	outcomeText, durText, hasDur := strings.Cut(rest, ":")
	outcome, err := dualstack.ParseOutcome(outcomeText)
	switch {
	case err != nil, outcome == dualstack.OutcomeCanceled, outcome == dualstack.OutcomeNotAttempted, outcome == dualstack.OutcomeAppFailed:
		return he.Path{}, fmt.Errorf("--attempt %q: unknown outcome %q (want connected, refused, unreachable, prohibited, reset or timeout)", s, outcomeText)
	}
	path := he.Path{Address: addr, Outcome: outcome}
	if hasDur {
		if outcome == dualstack.OutcomeTimeout {
			return he.Path{}, fmt.Errorf("--attempt %q: timeout takes no duration (it never answers)", s)
		}
		d, err := time.ParseDuration(durText)
		if err != nil || d < 0 {
			return he.Path{}, fmt.Errorf("--attempt %q: %q is not a duration (e.g. 2ms, 1.5s)", s, durText)
		}
		path.After = d
	}
	return path, nil
}

// predictionOf judges a simulated race with the rule a probe uses
// (diagnose.JudgeClient), over family verdicts judged from the given paths
// as diagnose judges measured connects.
func predictionOf(profile string, res he.Result, paths []he.Path, maxConnect time.Duration) probe.Prediction {
	var families []dualstack.Family
	obs := make([]listener.Observation, len(paths))
	for i, path := range paths {
		obs[i] = listener.Observation{Family: dualstack.FamilyOf(path.Address), Outcome: path.Outcome}
		if f := obs[i].Family; !slices.Contains(families, f) {
			families = append(families, f)
		}
	}
	inferred := listener.Infer(obs)
	var verdicts []diagnose.Verdict
	for _, f := range families {
		ev := diagnose.FamilyEvidence{Family: f, Name: "the path", Listener: inferred}
		for _, path := range paths {
			if dualstack.FamilyOf(path.Address) == f {
				ev.Addresses = append(ev.Addresses, diagnose.AddressEvidence{
					Address: netip.AddrPortFrom(path.Address, 0), Outcome: path.Outcome, Connect: path.After,
					AppOK: path.Outcome == dualstack.OutcomeConnected,
				})
			}
		}
		verdicts = append(verdicts, diagnose.Judge(ev))
	}
	return probe.Prediction{
		Profile:       profile,
		Family:        res.Family,
		Address:       res.Address,
		Outcome:       res.Outcome,
		TimeToConnect: res.TimeToConnect,
		FallbackDelay: res.FallbackDelay,
		Attempts:      res.Attempts,
		FailingLayer:  diagnose.JudgeClient(diagnose.ClientEvidence{Connected: res.Connected(), Family: res.Family, TimeToConnect: res.TimeToConnect}, verdicts, maxConnect),
	}
}

func writeSimulationTable(e *env, p he.Profile, res he.Result, pred probe.Prediction) {
	w := e.stdout
	fmt.Fprintf(w, "profile   %s — %s\n", p.Name, p.Client)
	for _, a := range res.Answers {
		fmt.Fprintf(w, "dns       %-4s answered at %s with %d address(es)\n", a.Family.QueryType(), formatMs(a.At), len(a.Addresses))
	}
	fmt.Fprintf(w, "order     %s\n", joinAddrs(res.Order))
	if res.Connected() {
		fmt.Fprintf(w, "result    connected over %s to %s in %s (fallback delay %s)\n",
			res.Family.Label(), res.Address, formatMs(res.TimeToConnect), formatMs(res.FallbackDelay))
	} else {
		fmt.Fprintf(w, "result    no connection: %s after %s\n", res.Outcome, formatMs(res.TimeToConnect))
	}
	fmt.Fprintf(w, "verdict   %s\n\n", pred.FailingLayer)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tADDRESS\tFAMILY\tSTART\tEND\tOUTCOME")
	for i, a := range res.Attempts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, a.Address, a.Family.Label(), formatMs(a.Start), formatMs(a.End), a.Outcome)
	}
	tw.Flush()
}

func joinAddrs(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "(none)"
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
