package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

// ladderKubeFlags are how ladder status and check reach the cluster, as
// kubectl's flags say it.
type ladderKubeFlags struct {
	namespace, kubeContext, kubeconfig string
	timeout                            time.Duration
}

func (k *ladderKubeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.namespace, "n", "", "the ladder's namespace (default: the context's, else default)")
	fs.StringVar(&k.kubeContext, "context", "", "the kubeconfig context to use (default: the current context)")
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "the kubeconfig `file` (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
	fs.DurationVar(&k.timeout, "timeout", 30*time.Second, "budget of reading the API")
}

// read reads the ladder called name (every ladder of the namespace when
// name is empty), sorting a failure into exit codes: a ladder or CRD that
// does not exist, or RBAC forbidding the read, is the user's (exit 2); no
// cluster or an API server not answering is exit 3.
func (k *ladderKubeFlags) read(ctx context.Context, name string) ([]ladder.DNSLadder, string, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	ladders, ns, err := kube.ReadDNSLadders(ctx, kube.Target{Kubeconfig: k.kubeconfig, Context: k.kubeContext, Namespace: k.namespace}, name)
	var api *kube.APIError
	switch {
	case err == nil:
		return ladders, ns, nil
	case kube.IsDNSLadderInput(err):
		return nil, ns, usageError{err}
	case errors.As(err, &api), errors.Is(err, kube.ErrNoCluster), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, ns, err
	}
	return nil, ns, usageError{err} // a kubeconfig or context that does not resolve
}

const ladderStatusSynopsis = "[-n NS] [--context CTX] [--kubeconfig FILE] [NAME] [-o table|json|junit]"

const ladderStatusHelp = `Print what the runs of the DNSLadder NAME found, read from the cluster (the
CRD dnsladders.dsprobe.io's status): each rung's state, consecutive passes,
failing layer and last run — per vantage point the A and AAAA answers, the
destinations attempted, the family chosen — and the highest rung cleared.
Without NAME, every ladder of the namespace, one line each.

-o json writes the DNSLadder (without NAME: {"items": [...]}); -o junit one
test suite per ladder, one test case per rung, from its last run.

Exit codes: 0 no rung shown is failing or sees a publication mismatch; 1 one
is; 2 no such ladder, no DNSLadder CRD in the cluster, RBAC forbidding the
read, or a bad kubeconfig or context; 3 the API server cannot be reached.`

func runLadderStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ladder status", ladderStatusSynopsis, ladderStatusHelp, e.stdout)
	out := ladderFormat("table")
	fs.Var(&out, "o", "output format: table (for humans), json (the DNSLadder with its status) or junit (one test case per rung)")
	var k ladderKubeFlags
	k.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 {
		return argsErrorf(fs, "[flags] [NAME]", "want at most one ladder NAME, got %d", len(positional))
	}
	name := ""
	if len(positional) == 1 {
		name = positional[0]
	}
	ladders, ns, err := k.read(ctx, name)
	if err != nil {
		return err
	}
	switch {
	case name != "":
		if err := writeLadder(e.stdout, out, &ladders[0], nil); err != nil {
			return err
		}
	case out == "json":
		if err := writeJSON(e.stdout, struct {
			Items []ladder.DNSLadder `json:"items"`
		}{ladders}); err != nil {
			return err
		}
	case out == "junit":
		var suites []junitSuite
		for i := range ladders {
			suites = append(suites, ladderSuite(&ladders[i], nil))
		}
		if err := writeJUnit(e.stdout, suites...); err != nil {
			return err
		}
	default:
		writeLadderList(e.stdout, ns, ladders)
	}
	for _, l := range ladders {
		if slices.ContainsFunc(l.Status.Of(&l.Spec), func(rs ladder.RungStatus) bool {
			return rs.State == ladder.Failing || rs.State == ladder.PublicationMismatch
		}) {
			return errFailed
		}
	}
	return nil
}

// writeLadderList prints one line per ladder, as kubectl get dnsladders.
func writeLadderList(w io.Writer, namespace string, ladders []ladder.DNSLadder) {
	if len(ladders) == 0 {
		fmt.Fprintf(w, "no DNSLadder in namespace %s\n", namespace)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTARGET\tCLEARED\tRUNGS\tSTATE\tLAST RUN")
	for _, l := range ladders {
		st := l.Status
		if st == nil {
			st = &ladder.Status{State: ladder.LadderPending}
		}
		lastRun := "never"
		if st.LastRunTime != nil {
			lastRun = st.LastRunTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", l.Metadata.Name, l.Spec.Target.Address, cmp.Or(st.HighestRungCleared, "-"),
			st.RungsCleared, len(l.Spec.Rungs), st.State, lastRun)
	}
	tw.Flush()
}

const ladderCheckSynopsis = "[-n NS] [--context CTX] [--kubeconfig FILE] NAME --rung RUNG [-o table|json]"

const ladderCheckHelp = `Check, before the next publication step, that rung RUNG of the DNSLadder
NAME and every rung below it are cleared: each passed its last
consecutivePasses runs, as the ladder's status in the cluster records them.
RUNG is a rung's name, or its index in spec.rungs (0 is the lowest).

-o json writes {"ladder", "rung", "cleared", "rungs": [{"name", "state",
"cleared", "consecutivePasses", "reason"}]} for the rungs checked.

Exit codes: 0 cleared; 1 not (the first rung that is not cleared is named,
with its state and why); 2 no such ladder or rung, no DNSLadder CRD, RBAC
forbidding the read, or a bad kubeconfig or context; 3 the API server
cannot be reached.

Example:
  dsprobe ladder check -n shop web --rung synthetic && publish-aaaa --group small-real`

// ladderCheck is ladder check's JSON.
type ladderCheck struct {
	Ladder  string            `json:"ladder"`
	Rung    string            `json:"rung"`
	Cleared bool              `json:"cleared"`
	Rungs   []ladderCheckRung `json:"rungs"`
}

type ladderCheckRung struct {
	Name              string           `json:"name"`
	State             ladder.RungState `json:"state"`
	Cleared           bool             `json:"cleared"`
	ConsecutivePasses int              `json:"consecutivePasses"`
	Reason            string           `json:"reason,omitempty"`
}

func runLadderCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ladder check", ladderCheckSynopsis, ladderCheckHelp, e.stdout)
	out := addOutputFlag(fs)
	var k ladderKubeFlags
	k.register(fs)
	rungFlag := fs.String("rung", "", "the rung that must be cleared, with every rung below it: its `name` or index")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) != 1:
		return argsErrorf(fs, "[flags] NAME --rung RUNG", "want exactly one ladder NAME, got %d", len(positional))
	case *rungFlag == "":
		return argsErrorf(fs, "[flags] NAME --rung RUNG", "--rung is required: the rung that must be cleared")
	}
	ladders, _, err := k.read(ctx, positional[0])
	if err != nil {
		return err
	}
	l := &ladders[0]
	top, err := rungIndex(&l.Spec, *rungFlag)
	if err != nil {
		return usageError{fmt.Errorf("DNSLadder %s: %w", ladderName(l.Metadata), err)}
	}
	check := ladderCheck{Ladder: ladderName(l.Metadata), Rung: l.Spec.Rungs[top].Name}
	blocked := -1 // the lowest rung not cleared
	for i, rs := range l.Status.Of(&l.Spec)[:top+1] {
		check.Rungs = append(check.Rungs, ladderCheckRung{Name: rs.Name, State: rs.State, Cleared: rs.Cleared, ConsecutivePasses: rs.ConsecutivePasses, Reason: rs.Reason})
		if !rs.Cleared && blocked < 0 {
			blocked = i
		}
	}
	check.Cleared = blocked < 0
	switch {
	case *out == "json":
		if err := writeJSON(e.stdout, check); err != nil {
			return err
		}
	case check.Cleared:
		fmt.Fprintf(e.stdout, "ladder %s: rung %s and every rung below it are cleared\n", check.Ladder, check.Rung)
	default:
		b := check.Rungs[blocked]
		fmt.Fprintf(e.stdout, "ladder %s: rung %s is not cleared: rung %s is %s with %d of %d consecutive passes", check.Ladder, check.Rung,
			b.Name, b.State, b.ConsecutivePasses, max(l.Spec.Rungs[blocked].Gates.ConsecutivePasses, 1))
		if b.Reason != "" {
			fmt.Fprintf(e.stdout, ": %s", b.Reason)
		}
		fmt.Fprintln(e.stdout)
	}
	if !check.Cleared {
		return errFailed
	}
	return nil
}

// rungIndex is the index of the rung named, or of the index given.
func rungIndex(s *ladder.Spec, rung string) (int, error) {
	if i := slices.IndexFunc(s.Rungs, func(r ladder.Rung) bool { return r.Name == rung }); i >= 0 {
		return i, nil
	}
	if i, err := strconv.Atoi(rung); err == nil && i >= 0 && i < len(s.Rungs) {
		return i, nil
	}
	var names []string
	for _, r := range s.Rungs {
		names = append(names, r.Name)
	}
	return 0, fmt.Errorf("no rung %q (its rungs: %q, or an index from 0 to %d)", rung, names, len(s.Rungs)-1)
}
