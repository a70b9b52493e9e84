package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/config"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

const ladderHelp = `Check a DNS ladder: AAAA published step by step (internal Service DNS,
synthetic clients, a small real group, everyone), each rung gated by evidence
from its own vantage points. A ladder is a DNSLadder (the CRD
dnsladders.dsprobe.io, or the same document in a file).

Commands:
  run     run every rung of a ladder file once, in order, through a coordinator
  status  print a ladder's status in the cluster: each rung's state and last run
  check   exit 0 when a rung and every rung below it are cleared (for CI)

Run dsprobe ladder COMMAND --help for its flags.`

func runLadder(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ladder", "COMMAND [flags]", ladderHelp, e.stdout)
	// The flags before the command are ladder's own (only --help); the
	// rest are the command's.
	i := slices.IndexFunc(args, func(a string) bool { return !strings.HasPrefix(a, "-") })
	if i < 0 {
		i = len(args)
	}
	if _, err := parseInterspersed(fs, args[:i]); err != nil {
		return err
	}
	if i == len(args) {
		return argsErrorf(fs, "COMMAND [flags]", "want a command: run, status or check")
	}
	switch args[i] {
	case "run":
		return runLadderRun(ctx, e, args[i+1:])
	case "status":
		return runLadderStatus(ctx, e, args[i+1:])
	case "check":
		return runLadderCheck(ctx, e, args[i+1:])
	case "help":
		fs.Usage()
		return flag.ErrHelp
	}
	return argsErrorf(fs, "COMMAND [flags]", "unknown ladder command %q (known: run, status, check)", args[i])
}

const ladderRunSynopsis = "-f LADDER.yaml --coordinator ADDR [-o table|json|junit]"

const ladderRunHelp = `Run every rung of the ladder in LADDER.yaml once, from the lowest up, each as
an ordinary job of the coordinator: the target's probe from the probers of
the rung's vantage (its namespaces, narrowed to its probers). Each rung is
judged by its gates: with AAAA expected both families must pass, without it
IPv4 must pass and the AAAA query must answer NODATA; AAAA visible where the
rung expects none (published too early), or missing where it expects it, is
a publication mismatch; every client the gates list must connect within its
bounds. A rung that does not pass leaves the rungs above it waiting, unrun.
One run counts one pass towards a rung's consecutivePasses: the soak is
counted by the coordinator's scheduled runs.

-o json writes the DNSLadder with its status, the shape of the CRD's
(docs/contracts.md); -o junit writes one test case per rung, also when the
run ends early.

Exit codes: 0 every rung passed; 1 a rung did not (failing, waiting or a
publication mismatch); 2 a bad ladder file or flags (every problem is
listed), or a job the coordinator refuses; 3 the coordinator unreachable or
failing (the rungs run so far are written).

Examples:
  dsprobe ladder run -f web-ladder.yaml --coordinator coordinator.dsprobe:9444
  dsprobe ladder run -f web-ladder.yaml --coordinator 127.0.0.1:9444 --insecure -o junit > ladder.xml`

// ladderFormat is ladder run's -o flag: table and json as every command,
// and junit.
type ladderFormat string

func (o *ladderFormat) String() string { return string(*o) }
func (o *ladderFormat) Set(s string) error {
	switch s {
	case "table", "json", "junit":
		*o = ladderFormat(s)
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table, json or junit)", s)
}

func runLadderRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ladder run", ladderRunSynopsis, ladderRunHelp, e.stdout)
	out := ladderFormat("table")
	fs.Var(&out, "o", "output format: table (for humans), json (the DNSLadder with its status) or junit (one test case per rung)")
	file := fs.String("f", "", "the DNSLadder `file` to run")
	var remote coordinatorFlags
	remote.registerAddress(fs, "the coordinator (`host:port`) whose probers run the rungs")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) > 0:
		return argsErrorf(fs, ladderRunSynopsis, "want no arguments, got %q", positional)
	case *file == "":
		return argsErrorf(fs, ladderRunSynopsis, "-f is required: the ladder file to run")
	case remote.address == "":
		return argsErrorf(fs, ladderRunSynopsis, "--coordinator is required: a ladder's rungs run from the coordinator's probers")
	}
	l, err := config.ReadDNSLadder(*file)
	if err != nil {
		return usageError{err}
	}
	conn, err := remote.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := dsprobev1.NewCoordinatorClient(conn)
	runs, climbErr := l.Spec.Climb(ctx, time.Now, func(ctx context.Context, rung ladder.Rung) (ladder.RungRun, error) {
		job, err := coordinator.RunJob(ctx, client, apiconv.LadderJob(&l.Spec, rung))
		if err != nil {
			return ladder.RungRun{}, remote.callError(ctx, err)
		}
		return apiconv.LadderRun(job.ID, job.TraceID, job.Results, rung), nil
	})
	l.Status = &ladder.Status{}
	l.Status.Record(&l.Spec, runs, time.Now())
	if err := writeLadder(e.stdout, out, l, climbErr); err != nil {
		return errors.Join(climbErr, err)
	}
	if climbErr != nil {
		return climbErr
	}
	for _, r := range runs {
		if r.State != ladder.Passing {
			return errFailed
		}
	}
	return nil
}

// writeLadder writes a ladder with its status; climbErr, if set, is why
// a run ended before the rungs that have no run.
func writeLadder(w io.Writer, out ladderFormat, l *ladder.DNSLadder, climbErr error) error {
	switch out {
	case "json":
		return writeJSON(w, l)
	case "junit":
		return writeJUnit(w, ladderSuite(l, climbErr))
	}
	writeLadderTable(w, l, climbErr)
	return nil
}

// writeLadderTable prints a ladder's rungs, then each rung's last run:
// its verdict and what every vantage point saw.
func writeLadderTable(w io.Writer, l *ladder.DNSLadder, climbErr error) {
	fmt.Fprintf(w, "ladder %s  target %s", ladderName(l.Metadata), l.Spec.Target.Address)
	if l.Status != nil && l.Status.LastRunTime != nil {
		fmt.Fprintf(w, "  last run %s", l.Status.LastRunTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprint(w, "\n\n")
	rungs := l.Status.Of(&l.Spec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tAAAA\tSTATE\tPASSES\tFAILING LAYER\tJOB")
	for i, rung := range l.Spec.Rungs {
		rs, job := rungs[i], "-"
		if len(rs.LastRuns) > 0 {
			job = cmp.Or(rs.LastRuns[0].JobID, "-")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", rung.Name, aaaaColumn(rung), rs.State, rs.ConsecutivePasses,
			max(rung.Gates.ConsecutivePasses, 1), cmp.Or(rs.FailingLayer, "-"), job)
	}
	tw.Flush()
	for _, rs := range rungs {
		if len(rs.LastRuns) == 0 {
			continue
		}
		r := rs.LastRuns[0]
		fmt.Fprintf(w, "\nrung %s: %s", rs.Name, r.State)
		if r.Reason != "" {
			fmt.Fprintf(w, ": %s", r.Reason)
		}
		fmt.Fprintln(w)
		for _, v := range r.Vantages {
			fmt.Fprintf(w, "  %s\n", vantageLine(v))
		}
	}
	if climbErr != nil {
		fmt.Fprintf(w, "\nthe run ended early: %v\n", oneLine(climbErr))
	}
	highest, cleared := "none", 0
	if l.Status != nil {
		highest, cleared = cmp.Or(l.Status.HighestRungCleared, "none"), l.Status.RungsCleared
	}
	fmt.Fprintf(w, "\nhighest rung cleared: %s (%d of %d rungs)\n", highest, cleared, len(l.Spec.Rungs))
}

func aaaaColumn(r ladder.Rung) string {
	if r.AAAAExpected {
		return "expected"
	}
	return "withheld"
}

// vantageLine is what one prober saw: its answers, the destinations it
// attempted and the family its race chose.
func vantageLine(v ladder.VantageRun) string {
	who := v.Prober
	if v.Namespace != "" {
		who += " (" + v.Namespace + ")"
	}
	if v.Error != "" {
		return who + ": no result: " + v.Error
	}
	attempted := "none"
	if len(v.Attempted) > 0 {
		attempted = strings.Join(v.Attempted, ", ")
	}
	chose := map[string]string{"FAMILY_IPV4": "IPv4", "FAMILY_IPV6": "IPv6"}[v.ChosenFamily]
	return fmt.Sprintf("%s: A %s  AAAA %s  attempted %s  chose %s", who, answerText(v.A), answerText(v.AAAA), attempted, cmp.Or(chose, "none"))
}

func answerText(a ladder.DNSAnswer) string {
	got := strings.TrimPrefix(a.Status, "DNS_STATUS_")
	if len(a.Addresses) > 0 {
		got = strings.Join(a.Addresses, ",")
	}
	if a.Server != "" {
		got += " from " + a.Server
	}
	return got
}

func ladderName(m ladder.Metadata) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// ladderSuite is a ladder as a JUnit suite: one test case per rung, in
// order, from its last run: a rung that failed or saw a publication
// mismatch is a failure, a waiting one skipped; one without a run is an
// error when climbErr says why the run ended before it, else skipped.
func ladderSuite(l *ladder.DNSLadder, climbErr error) junitSuite {
	suite := junitSuite{Name: "dsprobe ladder " + ladderName(l.Metadata)}
	if l.Status != nil && l.Status.LastRunTime != nil {
		suite.Timestamp = l.Status.LastRunTime.UTC().Format(time.RFC3339)
	}
	for _, rs := range l.Status.Of(&l.Spec) {
		c := junitCase{ClassName: "dsprobe.ladder." + l.Metadata.Name, Name: rs.Name}
		if len(rs.LastRuns) == 0 {
			if climbErr != nil {
				c.Error = &junitProblem{Type: "NotRun", Message: "not run: the ladder run ended early: " + oneLine(climbErr)}
			} else {
				c.Skipped = &junitProblem{Message: "Pending: the rung has not run yet"}
			}
			suite.add(c)
			continue
		}
		r := rs.LastRuns[0]
		var out []string
		if r.JobID != "" {
			out = append(out, fmt.Sprintf("job %s  trace %s", r.JobID, cmp.Or(r.TraceID, "-")))
		}
		for _, v := range r.Vantages {
			out = append(out, vantageLine(v))
		}
		c.SystemOut = strings.Join(out, "\n")
		switch r.State {
		case ladder.Waiting:
			c.Skipped = &junitProblem{Message: r.Reason}
		case ladder.Failing, ladder.PublicationMismatch:
			c.Failure = &junitProblem{Type: cmp.Or(r.FailingLayer, string(r.State)), Message: string(r.State) + ": " + r.Reason, Text: c.SystemOut}
		}
		suite.add(c)
	}
	return suite
}
