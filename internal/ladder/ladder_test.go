package ladder

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// threeRungs is a ladder with AAAA published to the internal rung and the
// synthetic clients, not yet to the broad group.
func threeRungs() DNSLadder {
	return DNSLadder{
		APIVersion: APIVersion, Kind: Kind,
		Metadata: Metadata{Name: "web", Namespace: "shop"},
		Spec: Spec{
			Target:  Target{Address: "http://web.shop.example:8080/healthz"},
			Clients: []Client{{Profile: "node", MaxTimeToConnect: Duration(500 * time.Millisecond), MaxFallbackDelay: Duration(300 * time.Millisecond)}, {Profile: "curl"}},
			Rungs: []Rung{
				{Name: "internal", Vantage: Vantage{Namespaces: []string{"internal"}}, AAAAExpected: true, Gates: Gates{Clients: []string{"node"}, ConsecutivePasses: 2}},
				{Name: "synthetic", Vantage: Vantage{Namespaces: []string{"synthetic"}}, AAAAExpected: true},
				{Name: "broad", Vantage: Vantage{Namespaces: []string{"broad-a", "broad-b"}}},
			},
		},
	}
}

// dualStack is a vantage point where the target has both records and
// both families pass, with node connecting quickly over IPv6.
func dualStack(prober string) VantageRun {
	return VantageRun{
		Prober: prober, Namespace: "internal",
		A:            DNSAnswer{Status: dnsPositive, Rcode: "NOERROR", Addresses: []string{"10.0.0.8"}, Server: "10.96.0.10:53"},
		AAAA:         DNSAnswer{Status: dnsPositive, Rcode: "NOERROR", Addresses: []string{"fd00::8"}, Server: "10.96.0.10:53"},
		Attempted:    []string{"[fd00::8]:8080", "10.0.0.8:8080"},
		ChosenFamily: familyIPv6,
		Families: []FamilyVerdict{
			{Family: familyIPv4, OK: true, FailingLayer: "LAYER_NONE"},
			{Family: familyIPv6, OK: true, FailingLayer: "LAYER_NONE"},
		},
		Clients: []ClientRun{{Profile: "node", Family: familyIPv6, Outcome: outcomeConnected, TimeToConnectMs: 2.5, FailingLayer: "LAYER_NONE"}},
	}
}

// withheld is a vantage point where AAAA is withheld (NODATA) and IPv4
// passes; IPv6 fails at DNS, as it must.
func withheld(prober string) VantageRun {
	v := dualStack(prober)
	v.AAAA = DNSAnswer{Status: dnsNoData, Rcode: "NOERROR", Server: "10.96.0.10:53"}
	v.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_DNS", Detail: "the AAAA query answered NODATA"}
	v.ChosenFamily = familyIPv4
	return v
}

func TestJudge(t *testing.T) {
	l := threeRungs()
	tests := []struct {
		name      string
		rung      int
		vantages  []VantageRun
		state     RungState
		layer     string
		reasonHas []string
		// gateClients, if set, replace the rung's gates' clients.
		gateClients []string
	}{
		{name: "both families pass", rung: 0, vantages: []VantageRun{dualStack("p1"), dualStack("p2")}, state: Passing},
		{name: "AAAA withheld as the rung expects", rung: 2, vantages: []VantageRun{withheld("p1")}, state: Passing},
		{
			name: "AAAA published too early", rung: 2, vantages: []VantageRun{withheld("p1"), dualStack("p2")},
			state: PublicationMismatch, reasonHas: []string{"from p2 (internal): AAAA published too early: fd00::8 (NOERROR) from 10.96.0.10:53"},
		},
		{
			name: "AAAA missing where expected", rung: 1, vantages: []VantageRun{withheld("p1")},
			state: PublicationMismatch, reasonHas: []string{"AAAA missing where the rung expects it: NODATA (NOERROR) from 10.96.0.10:53"},
		},
		{
			name: "AAAA NXDOMAIN while A answers is missing", rung: 1,
			vantages: []VantageRun{func() VantageRun {
				v := withheld("p1")
				v.AAAA = DNSAnswer{Status: "DNS_STATUS_NXDOMAIN", Rcode: "NXDOMAIN", Server: "10.96.0.10:53"}
				return v
			}()},
			state: PublicationMismatch, reasonHas: []string{"AAAA missing where the rung expects it: NXDOMAIN (NXDOMAIN)"},
		},
		{
			name: "a name that does not exist is a DNS failure, not a publication", rung: 1,
			vantages: []VantageRun{func() VantageRun {
				v := withheld("p1")
				v.A = DNSAnswer{Status: "DNS_STATUS_NXDOMAIN", Rcode: "NXDOMAIN"}
				v.AAAA = v.A
				v.Families[0] = FamilyVerdict{Family: familyIPv4, FailingLayer: "LAYER_DNS", Detail: "web.shop.example does not exist (NXDOMAIN)"}
				v.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_DNS", Detail: "web.shop.example does not exist (NXDOMAIN)"}
				return v
			}()},
			state: Failing, layer: "LAYER_DNS", reasonHas: []string{"IPv4: web.shop.example does not exist"},
		},
		{
			name: "mismatch outranks a family failure, which follows in the reason", rung: 1,
			vantages: []VantageRun{withheld("p1"), func() VantageRun {
				v := dualStack("p2")
				v.Families[0] = FamilyVerdict{Family: familyIPv4, FailingLayer: "LAYER_ROUTE", Detail: "dropped"}
				return v
			}()},
			state: PublicationMismatch, reasonHas: []string{"from p1 (internal): AAAA missing where the rung expects it: NODATA (NOERROR) from 10.96.0.10:53; from p2 (internal): IPv4: dropped"},
		},
		{
			name: "IPv6 listener fault", rung: 1,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_LISTENER", Detail: "[fd00::8]:8080 refused while 10.0.0.8:8080 connected"}
				return v
			}()},
			state: Failing, layer: "LAYER_LISTENER", reasonHas: []string{"from p1 (internal): IPv6: [fd00::8]:8080 refused while 10.0.0.8:8080 connected"},
		},
		{
			name: "the most fundamental layer across vantage points", rung: 1,
			vantages: []VantageRun{
				func() VantageRun {
					v := dualStack("p1")
					v.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_APPLICATION", Detail: "HTTP 503"}
					return v
				}(),
				func() VantageRun {
					v := dualStack("p2")
					v.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_ROUTE", Detail: "no route"}
					return v
				}(),
			},
			state: Failing, layer: "LAYER_ROUTE", reasonHas: []string{"p2 (internal): IPv6: no route; from p1 (internal): IPv6: HTTP 503"},
		},
		{
			name: "an IPv6 failure on a rung without AAAA is expected", rung: 2, vantages: []VantageRun{withheld("p1")}, state: Passing,
		},
		{
			name: "withholding with SERVFAIL fails DNS", rung: 2,
			vantages: []VantageRun{func() VantageRun {
				v := withheld("p1")
				v.AAAA = DNSAnswer{Status: "DNS_STATUS_SERVFAIL", Rcode: "SERVFAIL", Server: "10.96.0.10:53"}
				return v
			}()},
			state: Failing, layer: "LAYER_DNS", reasonHas: []string{"must answer NODATA, got SERVFAIL (SERVFAIL) from 10.96.0.10:53"},
		},
		{
			name: "a client slower than its bound", rung: 0,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Clients[0].TimeToConnectMs = 750
				return v
			}()},
			state: Failing, layer: "LAYER_CLIENT", reasonHas: []string{"client node would take 750ms to connect, above the rung's bound of 500ms"},
		},
		{
			name: "a client falling back later than its bound", rung: 0,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Clients[0].TimeToConnectMs, v.Clients[0].FallbackDelayMs = 400, 350
				return v
			}()},
			state: Failing, layer: "LAYER_CLIENT", reasonHas: []string{"client node would fall back after 350ms, above the rung's bound of 300ms"},
		},
		{
			name: "a client that never connects", rung: 0,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Clients[0].Outcome = "OUTCOME_TIMEOUT"
				return v
			}()},
			state: Failing, layer: "LAYER_CLIENT", reasonHas: []string{"client node would not connect (OUTCOME_TIMEOUT)"},
		},
		{
			name: "a client the rung does not list is not judged", rung: 1,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Clients[0].TimeToConnectMs = 5000
				return v
			}()},
			state: Passing,
		},
		{
			name: "a prober without a result", rung: 0,
			vantages: []VantageRun{dualStack("p1"), {Prober: "p2", Namespace: "internal", Error: "UNAVAILABLE: connection refused"}},
			state:    Failing, reasonHas: []string{"from p2 (internal): no result: UNAVAILABLE: connection refused"},
		},
		{name: "no prober at all", rung: 0, state: Failing, reasonHas: []string{"no prober"}},
		{
			// Validate refuses it; judged anyway, it gets the defaults.
			name: "a gate's client the spec does not list", rung: 0,
			vantages: []VantageRun{func() VantageRun {
				v := dualStack("p1")
				v.Clients = append(v.Clients, ClientRun{Profile: "chrome", Outcome: outcomeConnected, TimeToConnectMs: 1500})
				return v
			}()},
			gateClients: []string{"node", "chrome"},
			state:       Failing, layer: "LAYER_CLIENT", reasonHas: []string{"client chrome would take 1.5s to connect, above the rung's bound of 1s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := l.Spec
			if tt.gateClients != nil {
				spec.Rungs = append([]Rung(nil), spec.Rungs...)
				spec.Rungs[tt.rung].Gates.Clients = tt.gateClients
			}
			got := spec.Judge(tt.rung, RungRun{Vantages: tt.vantages})
			if got.State != tt.state || got.FailingLayer != tt.layer {
				t.Errorf("got %s %q (%s), want %s %q", got.State, got.FailingLayer, got.Reason, tt.state, tt.layer)
			}
			if (got.Reason == "") != (tt.state == Passing) {
				t.Errorf("got reason %q for state %s", got.Reason, got.State)
			}
			for _, want := range tt.reasonHas {
				if !strings.Contains(got.Reason, want) {
					t.Errorf("got reason %q, want it to contain %q", got.Reason, want)
				}
			}
		})
	}
}

// fakeJobs answers each rung's job with the vantage points given for it,
// counting the jobs run.
type fakeJobs struct {
	vantages map[string][]VantageRun
	fail     map[string]error
	ran      []string
}

func (f *fakeJobs) run(_ context.Context, rung Rung) (RungRun, error) {
	f.ran = append(f.ran, rung.Name)
	if err := f.fail[rung.Name]; err != nil {
		return RungRun{}, err
	}
	return RungRun{JobID: "job-" + rung.Name, TraceID: "trace-" + rung.Name, Vantages: f.vantages[rung.Name]}, nil
}

// clock is a fake clock that moves a second each time it is read.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestClimbBlocksTheRungsAboveAFailure(t *testing.T) {
	l := threeRungs()
	listenerFault := dualStack("p1")
	listenerFault.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_LISTENER", Detail: "refused"}
	jobs := &fakeJobs{vantages: map[string][]VantageRun{"internal": {listenerFault}}}
	runs, err := l.Spec.Climb(context.Background(), (&clock{start}).now, jobs.run)
	if err != nil {
		t.Fatal(err)
	}
	var states []RungState
	for _, r := range runs {
		states = append(states, r.State)
	}
	if want := []RungState{Failing, Waiting, Waiting}; !reflect.DeepEqual(states, want) {
		t.Errorf("got states %v, want %v", states, want)
	}
	if want := []string{"internal"}; !reflect.DeepEqual(jobs.ran, want) {
		t.Errorf("got jobs for %v, want %v", jobs.ran, want)
	}
	if want := "waiting for rung internal, which did not pass"; runs[1].Reason != want {
		t.Errorf("got reason %q, want %q", runs[1].Reason, want)
	}
	if runs[0].JobID != "job-internal" || !runs[0].Time.Equal(start.Add(time.Second)) {
		t.Errorf("got job %q at %s, want job-internal at %s", runs[0].JobID, runs[0].Time, start.Add(time.Second))
	}
}

func TestClimbEndsEarlyWhenAJobCannotRun(t *testing.T) {
	l := threeRungs()
	unreachable := errors.New("the coordinator is unreachable")
	jobs := &fakeJobs{
		vantages: map[string][]VantageRun{"internal": {dualStack("p1")}},
		fail:     map[string]error{"synthetic": unreachable},
	}
	runs, err := l.Spec.Climb(context.Background(), (&clock{start}).now, jobs.run)
	if !errors.Is(err, unreachable) || !strings.Contains(err.Error(), "rung synthetic") {
		t.Errorf("got error %v, want it to name rung synthetic and wrap %v", err, unreachable)
	}
	if len(runs) != 1 || runs[0].State != Passing {
		t.Errorf("got runs %+v, want the one passing run of rung internal", runs)
	}
}

// climb runs the ladder once with the vantage points given per rung and
// records it.
func climb(t *testing.T, l *DNSLadder, c *clock, vantages map[string][]VantageRun) {
	t.Helper()
	if l.Status == nil {
		l.Status = &Status{}
	}
	runs, err := l.Spec.Climb(context.Background(), c.now, (&fakeJobs{vantages: vantages}).run)
	if err != nil {
		t.Fatal(err)
	}
	l.Status.Record(&l.Spec, runs, c.now())
}

func TestStatusSoaksAndKeepsHistory(t *testing.T) {
	l := threeRungs()
	c := &clock{start}
	healthy := map[string][]VantageRun{
		"internal":  {dualStack("p1")},
		"synthetic": {dualStack("p2")},
		"broad":     {withheld("p3"), withheld("p4")},
	}
	climb(t, &l, c, healthy)
	st := l.Status
	// internal needs two passes: one run is not enough to clear it, and
	// the rungs above it count only once it is cleared.
	if st.State != LadderSoaking || st.RungsCleared != 0 || st.HighestRungCleared != "" {
		t.Errorf("after one run got %s, %d cleared (%q), want Soaking, 0 cleared", st.State, st.RungsCleared, st.HighestRungCleared)
	}
	if r := st.Rungs[0]; r.State != Passing || r.Cleared || r.ConsecutivePasses != 1 {
		t.Errorf("got rung internal %s cleared=%t passes=%d, want Passing, not cleared, 1 pass", r.State, r.Cleared, r.ConsecutivePasses)
	}
	firstTransition := *st.Rungs[0].LastTransitionTime

	climb(t, &l, c, healthy)
	// The rungs with AAAA published count; broad passes, but AAAA is not
	// proven there until it is published.
	if st.State != LadderPassing || st.RungsCleared != 2 || st.HighestRungCleared != "synthetic" {
		t.Errorf("after two runs got %s, %d cleared (%q), want Passing, 2 cleared (synthetic)", st.State, st.RungsCleared, st.HighestRungCleared)
	}
	if got := *st.Rungs[0].LastTransitionTime; !got.Equal(firstTransition) {
		t.Errorf("rung internal's transition moved to %s though it stayed Passing since %s", got, firstTransition)
	}
	if cond := findCondition(st, ConditionCleared); cond.Status != "True" {
		t.Errorf("got condition %+v, want Cleared True", cond)
	}

	// AAAA published to the broad group before its rung expects it.
	early := map[string][]VantageRun{"internal": healthy["internal"], "synthetic": healthy["synthetic"], "broad": {withheld("p3"), dualStack("p4")}}
	climb(t, &l, c, early)
	if st.State != LadderPublicationMismatch || st.Rungs[2].State != PublicationMismatch || st.Rungs[2].ConsecutivePasses != 0 {
		t.Errorf("got %s, rung broad %s with %d passes, want PublicationMismatch and 0 passes", st.State, st.Rungs[2].State, st.Rungs[2].ConsecutivePasses)
	}
	if cond := findCondition(st, ConditionPublicationMatches); cond.Status != "False" || !strings.Contains(cond.Message, "published too early") {
		t.Errorf("got condition %+v, want PublicationMatches False saying AAAA was published too early", cond)
	}
	if st.RungsCleared != 2 {
		t.Errorf("got %d rungs cleared, want the 2 below the mismatch", st.RungsCleared)
	}

	// The listener fault on internal holds it failing and blocks the rest.
	fault := dualStack("p1")
	fault.Families[1] = FamilyVerdict{Family: familyIPv6, FailingLayer: "LAYER_LISTENER", Detail: "refused"}
	for range HistoryLimit + 1 {
		climb(t, &l, c, map[string][]VantageRun{"internal": {fault}})
	}
	if st.State != LadderFailing || st.RungsCleared != 0 || st.Rungs[0].FailingLayer != "LAYER_LISTENER" || st.Rungs[1].State != Waiting {
		t.Errorf("got %s, %d cleared, internal failing at %q, synthetic %s; want Failing, 0, LAYER_LISTENER, Waiting",
			st.State, st.RungsCleared, st.Rungs[0].FailingLayer, st.Rungs[1].State)
	}
	if n := len(st.Rungs[0].LastRuns); n != HistoryLimit {
		t.Errorf("got %d runs kept, want %d", n, HistoryLimit)
	}
	if cond := findCondition(st, ConditionPublicationMatches); cond.Status != "True" {
		t.Errorf("got condition %+v, want PublicationMatches True: the broad rung waits and sees nothing", cond)
	}
}

func findCondition(st *Status, kind string) Condition {
	for _, c := range st.Conditions {
		if c.Type == kind {
			return c
		}
	}
	return Condition{}
}

// The status is data: written out and read back (a coordinator that
// restarts reading the CRD's status), the next run carries on from it.
func TestStatusSurvivesARoundTrip(t *testing.T) {
	l := threeRungs()
	c := &clock{start}
	healthy := map[string][]VantageRun{"internal": {dualStack("p1")}, "synthetic": {dualStack("p2")}, "broad": {withheld("p3")}}
	climb(t, &l, c, healthy)
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var restored DNSLadder
	if err := json.Unmarshal(b, &restored); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, l) {
		t.Fatalf("the ladder changed in a round trip through JSON:\n got %+v\nwant %+v", restored, l)
	}
	climb(t, &restored, c, healthy)
	if got := restored.Status.Rungs[0]; !got.Cleared || got.ConsecutivePasses != 2 || len(got.LastRuns) != 2 {
		t.Errorf("after a restart got rung internal cleared=%t passes=%d runs=%d, want cleared, 2, 2", got.Cleared, got.ConsecutivePasses, len(got.LastRuns))
	}
}

// A rung renamed or added keeps no history of another: history follows
// names, not positions.
func TestStatusFollowsRungsByName(t *testing.T) {
	l := threeRungs()
	c := &clock{start}
	climb(t, &l, c, map[string][]VantageRun{"internal": {dualStack("p1")}, "synthetic": {dualStack("p2")}, "broad": {withheld("p3")}})
	l.Spec.Rungs = append([]Rung{{Name: "canary", Vantage: Vantage{Namespaces: []string{"canary"}}, AAAAExpected: true}}, l.Spec.Rungs...)
	l.Status.Record(&l.Spec, nil, c.now())
	if got := l.Status.Rungs[0]; got.Name != "canary" || got.State != Pending {
		t.Errorf("got new rung %+v, want canary Pending", got)
	}
	if got := l.Status.Rungs[1]; got.Name != "internal" || got.ConsecutivePasses != 1 {
		t.Errorf("got %+v, want internal with its 1 pass", got)
	}
	if l.Status.State != LadderPending {
		t.Errorf("got state %s, want Pending while a rung has not run", l.Status.State)
	}

	// Of reads a status against a spec without changing it.
	l.Spec.Rungs = append(l.Spec.Rungs, Rung{Name: "everyone"})
	of := l.Status.Of(&l.Spec)
	if len(of) != 5 || of[1].Name != "internal" || of[1].ConsecutivePasses != 1 || !reflect.DeepEqual(of[4], RungStatus{Name: "everyone", State: Pending}) {
		t.Errorf("got %+v, want the 4 rungs' status and everyone Pending", of)
	}
	if got := (*Status)(nil).Of(&l.Spec); got[0].State != Pending || got[4].Name != "everyone" {
		t.Errorf("a ladder that never ran: got %+v, want every rung Pending", got)
	}
}

func TestNextRun(t *testing.T) {
	every := Schedule{Every: Duration(time.Minute)}
	tests := []struct {
		name      string
		schedule  Schedule
		last, now time.Time
		want      time.Time
	}{
		{"never ran: now", every, time.Time{}, start, start},
		{"one interval after the last", every, start, start.Add(10 * time.Second), start.Add(time.Minute)},
		{"missed intervals run once, now", every, start, start.Add(time.Hour), start.Add(time.Hour)},
		{"the default interval", Schedule{}, start, start, start.Add(DefaultInterval)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.schedule.NextRun(tt.last, tt.now); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
