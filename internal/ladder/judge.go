package ladder

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dsprobe/dsprobe/internal/layer"
)

// The API's names the judgement reads (proto/dsprobe/v1).
const (
	dnsPositive      = "DNS_STATUS_POSITIVE"
	dnsNoData        = "DNS_STATUS_NODATA"
	familyIPv4       = "FAMILY_IPV4"
	familyIPv6       = "FAMILY_IPV6"
	outcomeConnected = "OUTCOME_CONNECTED"
)

// problem is one thing a vantage point found wrong with a rung.
type problem struct {
	mismatch bool        // a publication mismatch, not a failure
	layer    layer.Layer // Unspecified when no layer is to blame
	sentence string
}

// Judge judges a run of the rung at index i: its State, FailingLayer and
// Reason, from what its vantage points measured. A publication mismatch
// comes before a failure, since it explains it (AAAA missing fails IPv6 at
// LAYER_DNS); a failure names the most fundamental layer among its
// vantage points, and the reason has every problem, each with its prober.
func (s *Spec) Judge(i int, run RungRun) RungRun {
	rung := s.Rungs[i]
	var problems []problem
	if len(run.Vantages) == 0 {
		problems = append(problems, problem{sentence: "no prober of the rung's vantage answered the job"})
	}
	for _, v := range run.Vantages {
		problems = append(problems, s.judgeVantage(rung, v)...)
	}
	run.State, run.FailingLayer, run.Reason = Passing, "", ""
	if slices.ContainsFunc(problems, func(p problem) bool { return p.mismatch }) {
		// The mismatches lead the reason; the other problems follow.
		slices.SortStableFunc(problems, func(a, b problem) int { return boolRank(a.mismatch) - boolRank(b.mismatch) })
		run.State = PublicationMismatch
	} else if len(problems) > 0 {
		run.State = Failing
		var layers []layer.Layer
		for _, p := range problems {
			layers = append(layers, p.layer)
		}
		// Root cause first: the most fundamental layer's problems lead.
		slices.SortStableFunc(problems, func(a, b problem) int { return a.layer.Rank() - b.layer.Rank() })
		if l := layer.MostFundamental(layers...); l != layer.None {
			run.FailingLayer = l.String()
		}
	}
	var sentences []string
	for _, p := range problems {
		sentences = append(sentences, p.sentence)
	}
	run.Reason = strings.Join(sentences, "; ")
	return run
}

// boolRank orders true before false.
func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

// judgeVantage is what one prober's results say is wrong with the rung.
func (s *Spec) judgeVantage(rung Rung, v VantageRun) []problem {
	from := "from " + v.Prober
	if v.Namespace != "" {
		from += " (" + v.Namespace + ")"
	}
	if v.Error != "" {
		return []problem{{sentence: fmt.Sprintf("%s: no result: %s", from, v.Error)}}
	}
	var problems []problem
	failed := func(l string, format string, args ...any) {
		parsed, _ := layer.Parse(l)
		problems = append(problems, problem{layer: parsed, sentence: from + ": " + fmt.Sprintf(format, args...)})
	}
	aaaa := v.AAAA
	// AAAA is missing when the name answers without it: NODATA, or
	// NXDOMAIN while A has records. A name that does not exist at all
	// fails both families at LAYER_DNS instead.
	missing := aaaa.Status == dnsNoData || aaaa.Status == "DNS_STATUS_NXDOMAIN" && v.A.Status == dnsPositive
	switch visible := aaaa.Status == dnsPositive; {
	case rung.AAAAExpected && missing:
		return []problem{{mismatch: true, sentence: fmt.Sprintf("%s: AAAA missing where the rung expects it: %s", from, describeAnswer(aaaa))}}
	case !rung.AAAAExpected && visible:
		return []problem{{mismatch: true, sentence: fmt.Sprintf("%s: AAAA published too early: %s, but the rung expects none yet", from, describeAnswer(aaaa))}}
	case !rung.AAAAExpected && aaaa.Status != dnsNoData:
		// Withholding AAAA must answer NODATA (NOERROR, no records):
		// an error or a timeout makes clients wait or give up on the
		// name, and NXDOMAIN would be cached against its A records too.
		failed(layer.DNS.String(), "the AAAA query, withheld on this rung, must answer NODATA, got %s", describeAnswer(aaaa))
	}
	required := []string{familyIPv4}
	if rung.AAAAExpected {
		required = append(required, familyIPv6)
	}
	for _, family := range required {
		i := slices.IndexFunc(v.Families, func(f FamilyVerdict) bool { return f.Family == family })
		switch {
		case i < 0:
			failed("", "%s was not probed", familyLabel(family))
		case !v.Families[i].OK:
			failed(v.Families[i].FailingLayer, "%s: %s", familyLabel(family), v.Families[i].Detail)
		}
	}
	for _, profile := range rung.Gates.Clients {
		bounds := s.client(profile)
		i := slices.IndexFunc(v.Clients, func(c ClientRun) bool { return c.Profile == profile })
		if i < 0 {
			failed(layer.Client.String(), "no prediction for client %s", profile)
			continue
		}
		c := v.Clients[i]
		ttc := millis(c.TimeToConnectMs)
		switch {
		case c.Outcome != outcomeConnected:
			failed(layer.Client.String(), "client %s would not connect (%s)", profile, c.Outcome)
		case ttc > time.Duration(bounds.MaxTimeToConnect):
			failed(layer.Client.String(), "client %s would take %s to connect, above the rung's bound of %s", profile, ttc, bounds.MaxTimeToConnect)
		case bounds.MaxFallbackDelay > 0 && millis(c.FallbackDelayMs) > time.Duration(bounds.MaxFallbackDelay):
			failed(layer.Client.String(), "client %s would fall back after %s, above the rung's bound of %s", profile, millis(c.FallbackDelayMs), bounds.MaxFallbackDelay)
		}
	}
	return problems
}

// describeAnswer says what a query got and from where.
func describeAnswer(a DNSAnswer) string {
	got := strings.TrimPrefix(a.Status, "DNS_STATUS_")
	if got == "" {
		got = "no answer"
	}
	if len(a.Addresses) > 0 {
		got = strings.Join(a.Addresses, ", ")
	}
	if a.Rcode != "" {
		got += " (" + a.Rcode + ")"
	}
	if a.Server != "" {
		got += " from " + a.Server
	}
	return got
}

func familyLabel(family string) string {
	switch family {
	case familyIPv4:
		return "IPv4"
	case familyIPv6:
		return "IPv6"
	}
	return family
}

// millis is a duration of the API's milliseconds, to the microsecond.
func millis(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond)
}

// RunRung runs one rung's job and returns what its vantage points
// measured (Time, JobID, TraceID, Vantages): the I/O of a climb, done by
// the caller. An error means the job could not run at all.
type RunRung func(ctx context.Context, rung Rung) (RungRun, error)

// Climb runs the rungs in order from the lowest, judging each: a rung
// that does not pass leaves every rung above it Waiting, unrun. It returns
// one judged run per rung; when a job cannot run, the runs before it and
// the error (the rungs from there on have no run).
func (s *Spec) Climb(ctx context.Context, now func() time.Time, run RunRung) ([]RungRun, error) {
	runs := make([]RungRun, 0, len(s.Rungs))
	blocker := ""
	for i, rung := range s.Rungs {
		if blocker != "" {
			runs = append(runs, RungRun{Time: now(), State: Waiting, Reason: fmt.Sprintf("waiting for rung %s, which did not pass", blocker)})
			continue
		}
		start := now()
		r, err := run(ctx, rung)
		if err != nil {
			return runs, fmt.Errorf("rung %s: %w", rung.Name, err)
		}
		r.Time = start
		r = s.Judge(i, r)
		if r.State != Passing {
			blocker = rung.Name
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Record adds the runs of one climb (one per rung from the lowest, as
// Climb returns them; rungs past the end keep their status) to the
// status, at now: states with their transition times, consecutive
// passes, the last runs, the rungs cleared and the conditions. The
// status is matched to the spec's rungs by name, so a rung added,
// removed or moved keeps its own history.
func (st *Status) Record(s *Spec, runs []RungRun, now time.Time) {
	previous := map[string]RungStatus{}
	for _, r := range st.Rungs {
		previous[r.Name] = r
	}
	st.Rungs = make([]RungStatus, len(s.Rungs))
	for i, rung := range s.Rungs {
		rs, ok := previous[rung.Name]
		if !ok {
			rs = RungStatus{Name: rung.Name, State: Pending}
		}
		if i < len(runs) {
			rs.record(rung, runs[i], now)
		}
		st.Rungs[i] = rs
	}
	if len(runs) > 0 {
		start := runs[0].Time
		st.LastRunTime = &start
	}
	st.summarise(s, now)
}

// Of is the status of each of the spec's rungs, in its order: the
// status's entry of the rung's name, else Pending (a rung added since the
// last run, or a ladder that never ran: st may be nil).
func (st *Status) Of(s *Spec) []RungStatus {
	out := make([]RungStatus, len(s.Rungs))
	for i, rung := range s.Rungs {
		out[i] = RungStatus{Name: rung.Name, State: Pending}
		if st == nil {
			continue
		}
		if j := slices.IndexFunc(st.Rungs, func(rs RungStatus) bool { return rs.Name == rung.Name }); j >= 0 {
			out[i] = st.Rungs[j]
		}
	}
	return out
}

// record adds one run to the rung's status.
func (rs *RungStatus) record(rung Rung, run RungRun, now time.Time) {
	if run.State != rs.State || rs.LastTransitionTime == nil {
		rs.LastTransitionTime = &now
	}
	rs.State, rs.FailingLayer, rs.Reason = run.State, run.FailingLayer, run.Reason
	if run.State == Passing {
		rs.ConsecutivePasses++
	} else {
		// A run the rung did not pass, or did not take (Waiting),
		// breaks the soak: its passes must be consecutive checks.
		rs.ConsecutivePasses = 0
	}
	rs.Cleared = rs.State == Passing && rs.ConsecutivePasses >= rung.Gates.requiredPasses()
	rs.LastRuns = append([]RungRun{run}, rs.LastRuns...)
	if len(rs.LastRuns) > HistoryLimit {
		rs.LastRuns = rs.LastRuns[:HistoryLimit]
	}
}

// summarise sets the ladder's state, the rungs cleared and the conditions
// from its rungs' statuses.
func (st *Status) summarise(s *Spec, now time.Time) {
	st.RungsCleared, st.HighestRungCleared = 0, ""
	for i, rs := range st.Rungs {
		// Only rungs with AAAA published count: the count says how far
		// up publication is proven.
		if !rs.Cleared || !s.Rungs[i].AAAAExpected {
			break
		}
		st.RungsCleared, st.HighestRungCleared = i+1, rs.Name
	}
	st.State = LadderPassing
	mismatch, failing, unsoaked := "", "", ""
	for _, rs := range st.Rungs {
		switch {
		case rs.State == PublicationMismatch && mismatch == "":
			mismatch = rs.Name
		case rs.State == Failing && failing == "":
			failing = rs.Name
		case !rs.Cleared && unsoaked == "":
			unsoaked = rs.Name
		}
	}
	cleared := condition{ConditionCleared, true, string(LadderPassing), "every rung is cleared"}
	switch {
	case mismatch != "":
		st.State = LadderPublicationMismatch
	case failing != "":
		st.State = LadderFailing
	case slices.ContainsFunc(st.Rungs, func(rs RungStatus) bool { return rs.State == Pending }):
		st.State = LadderPending
	case unsoaked != "":
		st.State = LadderSoaking
	}
	if st.State != LadderPassing {
		first := cmp.Or(mismatch, failing, unsoaked)
		cleared = condition{ConditionCleared, false, string(st.State), fmt.Sprintf("rung %s is not cleared", first)}
		if i := slices.IndexFunc(st.Rungs, func(rs RungStatus) bool { return rs.Name == first }); i >= 0 && st.Rungs[i].Reason != "" {
			cleared.message += ": " + st.Rungs[i].Reason
		}
	}
	matches := condition{ConditionPublicationMatches, true, "PublicationMatches", "every rung that ran sees the publication it expects"}
	if mismatch != "" {
		i := slices.IndexFunc(st.Rungs, func(rs RungStatus) bool { return rs.Name == mismatch })
		matches = condition{ConditionPublicationMatches, false, string(PublicationMismatch), fmt.Sprintf("rung %s: %s", mismatch, st.Rungs[i].Reason)}
	}
	st.setCondition(cleared, now)
	st.setCondition(matches, now)
}

type condition struct {
	kind            string
	status          bool
	reason, message string
}

// setCondition sets a condition, keeping its transition time unless its
// status changes.
func (st *Status) setCondition(c condition, now time.Time) {
	status := "False"
	if c.status {
		status = "True"
	}
	next := Condition{Type: c.kind, Status: status, Reason: c.reason, Message: c.message, LastTransitionTime: now}
	i := slices.IndexFunc(st.Conditions, func(old Condition) bool { return old.Type == c.kind })
	switch {
	case i < 0:
		st.Conditions = append(st.Conditions, next)
	case st.Conditions[i].Status == status:
		next.LastTransitionTime = st.Conditions[i].LastTransitionTime
		st.Conditions[i] = next
	default:
		st.Conditions[i] = next
	}
}
