package ladder

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore keeps ladders as JSON, as the API server keeps the CRD: what a
// scheduler reads back is what survived serialisation.
type memStore struct {
	mu      sync.Mutex
	ladders map[string][]byte
	listErr error
	writes  int
}

func newMemStore(t *testing.T, ladders ...DNSLadder) *memStore {
	s := &memStore{ladders: map[string][]byte{}}
	for i := range ladders {
		if err := s.WriteStatus(context.Background(), &ladders[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.writes = 0
	return s
}

func (s *memStore) List(context.Context) ([]DNSLadder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []DNSLadder
	for _, b := range s.ladders {
		var l DNSLadder
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *memStore) WriteStatus(_ context.Context, l *DNSLadder) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ladders[l.Metadata.Name] = b
	s.writes++
	return nil
}

func (s *memStore) get(t *testing.T, name string) DNSLadder {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var l DNSLadder
	if err := json.Unmarshal(s.ladders[name], &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeClock is a clock that moves only when the test advances it; a
// scheduler waiting on After says so on sleeping.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	timers   []fakeTimer
	sleeping chan time.Duration
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: start, sleeping: make(chan time.Duration, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	c.mu.Unlock()
	c.sleeping <- d
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.c <- c.now
	}
	c.timers = kept
}

// ladderEvery is threeRungs named name, on a schedule of every.
func ladderEvery(name string, every time.Duration) DNSLadder {
	l := threeRungs()
	l.Metadata.Name = name
	l.Spec.Schedule.Every = Duration(every)
	return l
}

// healthyJobs answers every rung's job with vantage points that hold its
// gates, counting jobs per ladder target.
type healthyJobs struct {
	mu   sync.Mutex
	jobs int
	err  error
}

func (h *healthyJobs) run(_ context.Context, rung Rung) (RungRun, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.jobs++
	if h.err != nil {
		return RungRun{}, h.err
	}
	v := dualStack("p-" + rung.Name)
	if !rung.AAAAExpected {
		v = withheld("p-" + rung.Name)
	}
	return RungRun{JobID: "job", Vantages: []VantageRun{v}}, nil
}

func TestSchedulerRunsDueLaddersOnTheirSchedule(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore(t, ladderEvery("fast", time.Minute), ladderEvery("slow", 5*time.Minute))
	jobs := &healthyJobs{}
	// Resync above every interval: the waits are the schedules'.
	s := &Scheduler{Store: store, RunRung: EveryLadder(jobs.run), Clock: clock, Resync: time.Hour}

	// Neither ever ran: both climb now, three jobs each.
	if wait := s.RunDue(context.Background()); wait != time.Minute {
		t.Errorf("got wait %s, want 1m (fast's interval)", wait)
	}
	if jobs.jobs != 6 || store.writes != 2 {
		t.Errorf("got %d jobs and %d writes, want 6 and 2", jobs.jobs, store.writes)
	}
	// A minute later only fast is due; slow is due in four.
	clock.advance(time.Minute)
	if wait := s.RunDue(context.Background()); wait != time.Minute || jobs.jobs != 9 {
		t.Errorf("got wait %s after %d jobs, want 1m after 9", wait, jobs.jobs)
	}
	clock.advance(30 * time.Second)
	if wait := s.RunDue(context.Background()); wait != 30*time.Second || jobs.jobs != 9 {
		t.Errorf("got wait %s after %d jobs, want 30s after 9 (nothing due)", wait, jobs.jobs)
	}
	// Resync bounds the wait, so a ladder created meanwhile is found.
	s.Resync = 10 * time.Second
	if wait := s.RunDue(context.Background()); wait != 10*time.Second {
		t.Errorf("got wait %s, want the resync of 10s", wait)
	}
	fast := store.get(t, "fast")
	if r := fast.Status.Rungs[0]; r.ConsecutivePasses != 2 || !r.Cleared {
		t.Errorf("fast's internal rung: got %d passes, cleared %t, want 2 and cleared", r.ConsecutivePasses, r.Cleared)
	}
	if got := *fast.Status.LastRunTime; !got.Equal(start.Add(time.Minute)) {
		t.Errorf("fast last ran at %s, want %s", got, start.Add(time.Minute))
	}
}

// A scheduler that restarts (or another replica taking over) carries on
// from the status: the schedule and the soak continue.
func TestSchedulerCarriesOnAfterARestart(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore(t, ladderEvery("web", time.Minute))
	jobs := &healthyJobs{}
	(&Scheduler{Store: store, RunRung: EveryLadder(jobs.run), Clock: clock}).RunDue(context.Background())

	clock.advance(20 * time.Second)
	next := &Scheduler{Store: store, RunRung: EveryLadder(jobs.run), Clock: clock, Resync: time.Hour}
	if wait := next.RunDue(context.Background()); wait != 40*time.Second || jobs.jobs != 3 {
		t.Errorf("the new scheduler: got wait %s after %d jobs, want 40s after 3 (not due yet)", wait, jobs.jobs)
	}
	clock.advance(40 * time.Second)
	next.RunDue(context.Background())
	if r := store.get(t, "web").Status.Rungs[0]; r.ConsecutivePasses != 2 || !r.Cleared || len(r.LastRuns) != 2 {
		t.Errorf("after the restart got %d passes, cleared %t, %d runs, want 2, cleared, 2", r.ConsecutivePasses, r.Cleared, len(r.LastRuns))
	}
}

// A job that cannot run is recorded: the rung failing with why, the rungs
// above it waiting. A Store that does not answer and a ladder that does not
// validate are reported, and the scheduler goes on.
func TestSchedulerRecordsWhatWentWrong(t *testing.T) {
	clock := newFakeClock()
	invalid := ladderEvery("invalid", time.Minute)
	invalid.Spec.Rungs = nil
	store := newMemStore(t, ladderEvery("web", time.Minute), invalid)
	jobs := &healthyJobs{err: errors.New("no prober in namespace internal")}
	var reported []string
	s := &Scheduler{Store: store, RunRung: EveryLadder(jobs.run), Clock: clock, OnError: func(err error) { reported = append(reported, err.Error()) }}
	s.RunDue(context.Background())

	st := store.get(t, "web").Status
	if st.State != LadderFailing || st.Rungs[0].State != Failing || st.Rungs[1].State != Waiting || st.Rungs[2].State != Waiting {
		t.Fatalf("got %s with rungs %+v, want Failing: internal Failing, the rest Waiting", st.State, st.Rungs)
	}
	if want := "the rung's job could not run: rung internal: no prober in namespace internal"; st.Rungs[0].Reason != want {
		t.Errorf("got reason %q, want %q", st.Rungs[0].Reason, want)
	}
	if len(reported) != 1 || !strings.Contains(reported[0], "DNSLadder shop/invalid is skipped: spec.rungs: want at least one rung") {
		t.Errorf("got reports %q, want the invalid ladder's", reported)
	}

	store.listErr = errors.New("connection refused")
	if wait := s.RunDue(context.Background()); wait != DefaultResync || len(reported) != 2 || !strings.Contains(reported[1], "listing the DNS ladders: connection refused") {
		t.Errorf("got wait %s and reports %q, want %s and the listing error", wait, reported, DefaultResync)
	}
}

// Run sleeps on the clock until the next ladder is due, and returns when
// its context ends.
func TestSchedulerRunSleepsOnTheClock(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore(t, ladderEvery("web", time.Minute))
	jobs := &healthyJobs{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- (&Scheduler{Store: store, RunRung: EveryLadder(jobs.run), Clock: clock, Resync: time.Hour}).Run(ctx)
	}()

	if d := <-clock.sleeping; d != time.Minute {
		t.Errorf("first sleep: got %s, want 1m", d)
	}
	clock.advance(time.Minute)
	if d := <-clock.sleeping; d != time.Minute {
		t.Errorf("second sleep: got %s, want 1m", d)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if jobs.jobs != 6 {
		t.Errorf("got %d jobs, want 6: two climbs of three rungs", jobs.jobs)
	}
}

// A climb the context ends half-way is no run: nothing is written.
func TestSchedulerWritesNoHalfClimb(t *testing.T) {
	store := newMemStore(t, ladderEvery("web", time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	stopping := func(ctx context.Context, rung Rung) (RungRun, error) {
		cancel() // the coordinator stops during the first job
		return RungRun{}, ctx.Err()
	}
	if wait := (&Scheduler{Store: store, RunRung: EveryLadder(stopping), Clock: newFakeClock()}).RunDue(ctx); wait != 0 {
		t.Errorf("got wait %s, want 0: stopped", wait)
	}
	if store.writes != 0 || store.get(t, "web").Status != nil {
		t.Errorf("got %d writes and status %+v, want none", store.writes, store.get(t, "web").Status)
	}
}
