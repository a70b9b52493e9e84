package ladder

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Store is where the scheduler finds ladders and keeps their status: the
// CRD in a cluster (internal/kube), a file or memory elsewhere.
type Store interface {
	// List returns every ladder to run, with its status as last written.
	List(ctx context.Context) ([]DNSLadder, error)
	// WriteStatus writes l.Status (in a cluster, the status
	// subresource).
	WriteStatus(ctx context.Context, l *DNSLadder) error
}

// Clock is the scheduler's time, injected so tests need not sleep.
type Clock interface {
	Now() time.Time
	// After delivers once d has passed, as time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the machine's clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultResync is how often a scheduler with no ladder due looks for new
// or changed ladders.
const DefaultResync = 30 * time.Second

// Scheduler runs every ladder of its Store on the ladder's schedule, one
// climb at a time, and writes each climb into the ladder's status. The
// status read from the Store is where it carries on from, so a restart
// (or another replica taking over) keeps the history and the schedule.
// Only one scheduler should run against a Store at a time: in a cluster,
// the replica holding the coordinator's Lease.
type Scheduler struct {
	Store Store
	// RunRung runs one rung's job of ladder l, as Climb's RunRung: the
	// ladder says whose permissions the job runs with.
	RunRung func(ctx context.Context, l *DNSLadder, rung Rung) (RungRun, error)
	// Clock is the time; nil means SystemClock.
	Clock Clock
	// Resync bounds how long the scheduler waits without looking at the
	// Store; zero means DefaultResync.
	Resync time.Duration
	// OnError, if set, is told of every failure that does not stop the
	// scheduler: the Store not answering, a status not written, a ladder
	// that does not validate (it is skipped).
	OnError func(error)
	// OnClimb, if set, is told of every climb written, for metrics.
	OnClimb func(l *DNSLadder)
}

// Run runs the ladders until ctx ends, then returns ctx's error.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		wait := s.RunDue(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.clock().After(wait):
		}
	}
}

// RunDue climbs every ladder that is due now, writes their status, and
// returns how long to wait until the next is due (at most Resync).
func (s *Scheduler) RunDue(ctx context.Context) time.Duration {
	resync := cmp.Or(s.Resync, DefaultResync)
	ladders, err := s.Store.List(ctx)
	if err != nil {
		s.report(fmt.Errorf("listing the DNS ladders: %w", err))
		return resync
	}
	slices.SortFunc(ladders, func(a, b DNSLadder) int {
		return cmp.Or(cmp.Compare(a.Metadata.Namespace, b.Metadata.Namespace), cmp.Compare(a.Metadata.Name, b.Metadata.Name))
	})
	wait := resync
	for i := range ladders {
		if ctx.Err() != nil {
			return 0
		}
		l := &ladders[i]
		if err := l.Validate(); err != nil {
			s.report(fmt.Errorf("DNSLadder %s/%s is skipped: %w", l.Metadata.Namespace, l.Metadata.Name, err))
			continue
		}
		var last time.Time
		if l.Status != nil && l.Status.LastRunTime != nil {
			last = *l.Status.LastRunTime
		}
		now := s.clock().Now()
		if next := l.Spec.Schedule.NextRun(last, now); next.After(now) {
			wait = min(wait, next.Sub(now))
			continue
		}
		if !s.climb(ctx, l) {
			return 0 // stopped
		}
		now = s.clock().Now()
		wait = min(wait, l.Spec.Schedule.NextRun(*l.Status.LastRunTime, now).Sub(now))
	}
	return wait
}

// climb runs the ladder once and writes its status; false when ctx ended
// first (a half climb is no run, and nothing is written). A rung whose job
// cannot run is recorded as failing with why, and the rungs above it as
// waiting: the status says what happened, not only a log line.
func (s *Scheduler) climb(ctx context.Context, l *DNSLadder) bool {
	clock := s.clock()
	runs, err := l.Spec.Climb(ctx, clock.Now, func(ctx context.Context, rung Rung) (RungRun, error) {
		return s.RunRung(ctx, l, rung)
	})
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		runs = l.Spec.EndClimb(runs, err, clock.Now())
	}
	if l.Status == nil {
		l.Status = &Status{}
	}
	l.Status.Record(&l.Spec, runs, clock.Now())
	if err := s.Store.WriteStatus(ctx, l); err != nil {
		s.report(fmt.Errorf("writing the status of DNSLadder %s/%s: %w", l.Metadata.Namespace, l.Metadata.Name, err))
		return true
	}
	if s.OnClimb != nil {
		s.OnClimb(l)
	}
	return true
}

func (s *Scheduler) clock() Clock {
	if s.Clock == nil {
		return SystemClock{}
	}
	return s.Clock
}

func (s *Scheduler) report(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}

// EveryLadder is a Scheduler's RunRung that runs every ladder's rungs
// alike, with run.
func EveryLadder(run RunRung) func(context.Context, *DNSLadder, Rung) (RungRun, error) {
	return func(ctx context.Context, _ *DNSLadder, rung Rung) (RungRun, error) { return run(ctx, rung) }
}

// EndClimb completes the runs of a climb that ended early (Climb's runs
// and error, at now): the rung whose job could not run is Failing, without
// a layer, saying why, and every rung above it Waiting.
func (s *Spec) EndClimb(runs []RungRun, err error, now time.Time) []RungRun {
	if len(runs) >= len(s.Rungs) {
		return runs
	}
	failed := s.Rungs[len(runs)].Name
	runs = append(runs, RungRun{Time: now, State: Failing, Reason: fmt.Sprintf("the rung's job could not run: %v", err)})
	for len(runs) < len(s.Rungs) {
		runs = append(runs, RungRun{Time: now, State: Waiting, Reason: fmt.Sprintf("waiting for rung %s, which did not pass", failed)})
	}
	return runs
}
