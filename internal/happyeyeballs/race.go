package happyeyeballs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Clock is the time source of a real race. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer a race uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Dialer opens a connection to a literal address ("[2001:db8::1]:443").
// *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// LookupFunc answers the DNS query for one family. It is called at most once
// per family and concurrently for the two families.
type LookupFunc func(ctx context.Context, family dualstack.Family) ([]netip.Addr, error)

// KnownAnswer is a DNS answer already in hand, for Racer.Replay.
type KnownAnswer struct {
	Family dualstack.Family
	// Delay is how long the query took: Replay hands the answer to the
	// race this long after the race sends the query, on the racer's clock.
	Delay     time.Duration
	Addresses []netip.Addr
	// Err is the lookup's error, kept in the Result's Answers.
	Err error
}

// InstantAnswers splits addrs by family into answers in hand from the start
// (Delay 0), for a race over addresses already known. Both answers reach the
// race together, so RFC 8305 §4 sorts them into one list before the first
// attempt; a family without an address gets an empty answer.
func InstantAnswers(addrs ...netip.Addr) []KnownAnswer {
	answers := []KnownAnswer{{Family: dualstack.FamilyIPv6}, {Family: dualstack.FamilyIPv4}}
	for _, a := range addrs {
		for i := range answers {
			if dualstack.FamilyOf(a) == answers[i].Family {
				answers[i].Addresses = append(answers[i].Addresses, a)
			}
		}
	}
	return answers
}

// Racer connects to a service over real sockets the way Strategy says: the
// same engine the simulator runs, fed by real DNS answers, real connects and
// a real (or injected) clock.
type Racer struct {
	Strategy Strategy
	// Dialer makes each attempt. If nil, a zero net.Dialer is used.
	Dialer Dialer
	// Clock drives the attempt delays and deadlines. If nil, the system
	// clock is used.
	Clock Clock
	// SourceFor gives the source address the kernel would use for a
	// destination, for RFC 6724 sorting (internal/localaddr asks the
	// kernel). If nil, each destination is taken as its own source.
	SourceFor func(netip.Addr) Source
}

// Race resolves with lookup and connects to port on the addresses. It returns
// the winning connection (nil if none) and the full timeline. The error is
// non-nil only when the race could not run (bad strategy) or ctx ended it;
// a client that failed to connect is a Result with no winner, not an error.
// Race returns only after every attempt and query it started has returned,
// and it closes every connection but the winner's.
//
// Answers that have arrived by the time the race looks reach it together
// (RFC 8305 §4 sorts them into one list); an answer still on its way when
// the race has started connecting is sorted among the untried addresses.
func (r *Racer) Race(ctx context.Context, lookup LookupFunc, port uint16) (net.Conn, Result, error) {
	return r.race(ctx, lookup, [3]*KnownAnswer{}, port)
}

// Replay is Race over DNS answers already in hand. The race gets each answer
// its Delay after it sends the query, on the racer's clock; the answers due
// by the time it looks reach it together, so answers with the same Delay
// always do. A family without an answer gets an empty one at once. Replay
// serves a race over measured answers (the prober's own race) and over known
// addresses (InstantAnswers); unlike lookups on goroutines of their own, it
// decides which answers are together deterministically.
func (r *Racer) Replay(ctx context.Context, answers []KnownAnswer, port uint16) (net.Conn, Result, error) {
	var byFamily [3]*KnownAnswer
	var errs []error
	for i := range answers {
		a := &answers[i]
		switch {
		case a.Family != dualstack.FamilyIPv4 && a.Family != dualstack.FamilyIPv6:
			errs = append(errs, fmt.Errorf("answer %d: family %v is neither IPv4 nor IPv6", i, a.Family))
		case byFamily[a.Family] != nil:
			errs = append(errs, fmt.Errorf("answer %d: a second %s answer", i, a.Family.QueryType()))
		default:
			byFamily[a.Family] = a
		}
		if a.Delay < 0 {
			errs = append(errs, fmt.Errorf("answer %d: negative delay %v", i, a.Delay))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, Result{}, err
	}
	return r.race(ctx, nil, byFamily, port)
}

// race drives the engine. Its answers come from lookup, one goroutine per
// query, or, when lookup is nil, from replay on the clock.
func (r *Racer) race(ctx context.Context, lookup LookupFunc, replay [3]*KnownAnswer, port uint16) (net.Conn, Result, error) {
	if err := r.Strategy.Validate(); err != nil {
		return nil, Result{}, err
	}
	dialer, clock := r.Dialer, r.Clock
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	if clock == nil {
		clock = systemClock{}
	}
	start := clock.Now()
	since := func() time.Duration { return clock.Now().Sub(start) }

	// Queries outlive the race only until it ends: an unanswered AAAA
	// query is of no more use once a connection won.
	queryCtx, cancelQueries := context.WithCancel(ctx)
	defer cancelQueries()

	type event struct {
		query   bool
		family  dualstack.Family
		addrs   []netip.Addr
		attempt int
		conn    net.Conn
		err     error
	}
	// Unbuffered: every goroutine below sends exactly one event, and the
	// loop keeps receiving until all of them have.
	events := make(chan event)
	outstanding := 0
	cancels := map[int]context.CancelFunc{}
	var winner net.Conn
	// replaying are the replayed answers the engine asked for and has not
	// got yet, with when each is due.
	type replayed struct {
		due    time.Duration
		answer KnownAnswer
	}
	var replaying []replayed

	e := newEngine(&r.Strategy, r.SourceFor)
	var ctxErr error
	receive := func(ev event) {
		outstanding--
		if ctxErr == nil && ctx.Err() != nil {
			// The caller gave up. This attempt's error may be that very
			// cancellation arriving before ctx.Done is noticed: stop the
			// race first, so it is not taken for a failure that starts
			// the next attempt.
			ctxErr = ctx.Err()
			e.stop(since(), stopOutcome(ctxErr))
		}
		if ev.query {
			e.answer(since(), ev.family, ev.addrs, ev.err)
			return
		}
		cancels[ev.attempt]()
		delete(cancels, ev.attempt)
		outcome := dualstack.ClassifyDialError(ev.err)
		if ev.err != nil && (outcome == dualstack.OutcomeConnected || outcome == dualstack.OutcomeCanceled) {
			// An error the classifier cannot place is still a failure of
			// this attempt, not a success or an abandonment.
			outcome = dualstack.OutcomeUnspecified
		}
		if e.attemptEnded(since(), ev.attempt, outcome, ev.err) && ev.conn != nil {
			winner = ev.conn
		} else if ev.conn != nil {
			ev.conn.Close() // a loser that connected late
		}
	}

	e.begin()
	for {
		for _, act := range e.takeActions() {
			switch act.kind {
			case actQuery:
				if lookup == nil {
					answer := KnownAnswer{Family: act.family}
					if a := replay[act.family]; a != nil {
						answer = *a
					}
					replaying = append(replaying, replayed{due: e.now + answer.Delay, answer: answer})
					continue
				}
				outstanding++
				go func(f dualstack.Family) {
					addrs, err := lookup(queryCtx, f)
					events <- event{query: true, family: f, addrs: addrs, err: err}
				}(act.family)
			case actDial:
				outstanding++
				// The attempt's deadline is the engine's timer on the
				// injected clock, which aborts it through this cancel; a
				// context deadline would run on the system clock.
				actx, cancel := context.WithCancel(ctx)
				cancels[act.attempt] = cancel
				address := net.JoinHostPort(act.addr.String(), strconv.Itoa(int(port)))
				go func(id int) {
					conn, err := dialer.DialContext(actx, "tcp", address)
					events <- event{attempt: id, conn: conn, err: err}
				}(act.attempt)
			case actAbort:
				// The attempt may have returned in the same step that
				// aborted it; then there is nothing left to cancel.
				if cancel, ok := cancels[act.attempt]; ok {
					cancel()
				}
			}
		}
		if e.done {
			cancelQueries()
			if outstanding == 0 {
				break
			}
		}

		// Everything already there reaches the engine before a timer
		// fires: answers in hand together are sorted together (see
		// engine).
		select {
		case ev := <-events:
			receive(ev)
			continue
		default:
		}
		now := since()
		if i := slices.IndexFunc(replaying, func(a replayed) bool { return a.due <= now }); i >= 0 && !e.done {
			a := replaying[i].answer
			replaying = slices.Delete(replaying, i, i+1)
			e.answer(now, a.Family, a.Addresses, a.Err)
			continue
		}
		wake, hasWake := e.wake()
		if hasWake && wake <= now {
			e.tick(now)
			continue
		}

		if !e.done {
			for _, a := range replaying {
				if !hasWake || a.due < wake {
					wake, hasWake = a.due, true
				}
			}
		}
		var timerC <-chan time.Time
		var t Timer
		if hasWake {
			t = clock.NewTimer(wake - now)
			timerC = t.C()
		}
		ctxDone := ctx.Done()
		if e.done || ctxErr != nil {
			ctxDone = nil
		}
		select {
		case ev := <-events:
			receive(ev)
		case <-timerC:
			// What is due is handed over at the top of the loop.
		case <-ctxDone:
			ctxErr = ctx.Err()
			e.stop(since(), stopOutcome(ctxErr))
		}
		if t != nil {
			t.Stop()
		}
	}
	if ctxErr != nil && winner == nil {
		return nil, e.result, ctxErr
	}
	return winner, e.result, nil
}

// stopOutcome is the outcome of attempts the caller's context ended: a
// deadline is a timeout, a cancellation a cancellation.
func stopOutcome(err error) dualstack.Outcome {
	if errors.Is(err, context.DeadlineExceeded) {
		return dualstack.OutcomeTimeout
	}
	return dualstack.OutcomeCanceled
}

type systemClock struct{}

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time { return s.t.C }
func (s sysTimer) Stop() bool          { return s.t.Stop() }
