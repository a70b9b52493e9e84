package happyeyeballs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Path is what was measured (or is assumed) for one address: how a connect
// to it ends and how long after the attempt starts it ends.
type Path struct {
	Address netip.Addr
	// Outcome is one of OutcomeConnected, OutcomeRefused,
	// OutcomeUnreachable, OutcomeProhibited, OutcomeReset or
	// OutcomeTimeout. OutcomeTimeout means the address never answers: the
	// attempt ends only when the client's budget for it runs out.
	Outcome dualstack.Outcome
	// After is how long after its start the attempt ends; ignored for
	// OutcomeTimeout.
	After time.Duration
}

// Scenario is the input of a simulation: DNS answer timings and the
// per-address behaviour of the path.
type Scenario struct {
	// ADelay and AAAADelay are how long each query takes to be answered,
	// counted from when the client sends it. The answer holds the Paths
	// of that family, in the order they are listed (the resolver's
	// order); a family with no Path gets an empty (NODATA) answer.
	ADelay, AAAADelay time.Duration
	Paths             []Path
	// SourceFor gives the local source address the client would use for
	// each destination, for RFC 6724 sorting. Nil means each destination
	// is taken as its own source: every label and scope matches, so
	// precedence decides.
	SourceFor func(netip.Addr) Source
}

// Validate reports every problem with the scenario at once.
func (sc *Scenario) Validate() error {
	var errs []error
	if sc.ADelay < 0 || sc.AAAADelay < 0 {
		errs = append(errs, errors.New("DNS answer delays must not be negative"))
	}
	seen := map[netip.Addr]bool{}
	for _, p := range sc.Paths {
		switch {
		case !p.Address.IsValid():
			errs = append(errs, errors.New("path without an address"))
		case seen[p.Address.Unmap()]:
			errs = append(errs, fmt.Errorf("address %v listed twice", p.Address))
		}
		seen[p.Address.Unmap()] = true
		switch p.Outcome {
		case dualstack.OutcomeConnected, dualstack.OutcomeRefused, dualstack.OutcomeUnreachable, dualstack.OutcomeProhibited, dualstack.OutcomeReset, dualstack.OutcomeTimeout:
		default:
			errs = append(errs, fmt.Errorf("address %v: outcome %v cannot be simulated", p.Address, p.Outcome))
		}
		if p.After < 0 {
			errs = append(errs, fmt.Errorf("address %v: negative duration %v", p.Address, p.After))
		}
	}
	return errors.Join(errs...)
}

// Simulate replays strategy s over the scenario on a virtual clock and
// returns what the client would do. It is exact and instant: no goroutine,
// no sleep, no real time.
func Simulate(s Strategy, sc Scenario) (Result, error) {
	if err := errors.Join(s.Validate(), sc.Validate()); err != nil {
		return Result{}, err
	}
	return newSimulator(sc).simulate(&s)
}

// Simulator replays strategies over one scenario, as Simulate does, for a
// caller with many strategies (a probe predicts every client profile): the
// scenario is checked and indexed once, and the working memory of one
// replay is reused by the next. It is not safe for concurrent use.
type Simulator struct {
	sourceFor func(netip.Addr) Source
	paths     map[netip.Addr]Path
	answers   [3][]netip.Addr // indexed by Family, in the resolver's order
	delays    [3]time.Duration
	engine    engine
	events    eventQueue
}

// NewSimulator checks the scenario and prepares its replays.
func NewSimulator(sc Scenario) (*Simulator, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return newSimulator(sc), nil
}

func newSimulator(sc Scenario) *Simulator {
	sim := &Simulator{
		sourceFor: sc.SourceFor,
		paths:     make(map[netip.Addr]Path, len(sc.Paths)),
		delays:    [3]time.Duration{dualstack.FamilyIPv4: sc.ADelay, dualstack.FamilyIPv6: sc.AAAADelay},
		events:    eventQueue{events: make([]simEvent, 0, 4)}, // room for most races
	}
	for _, p := range sc.Paths {
		a := p.Address.Unmap()
		sim.paths[a] = p
		sim.answers[dualstack.FamilyOf(a)] = append(sim.answers[dualstack.FamilyOf(a)], a)
	}
	return sim
}

// Simulate replays strategy s over the simulator's scenario (see the
// function Simulate).
func (sim *Simulator) Simulate(s Strategy) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	return sim.simulate(&s)
}

func (sim *Simulator) simulate(s *Strategy) (Result, error) {
	e, q := &sim.engine, &sim.events
	e.reset(s, sim.sourceFor)
	q.events = q.events[:0]
	e.begin()
	for {
		for _, act := range e.takeActions() {
			switch act.kind {
			case actQuery:
				q.push(simEvent{at: e.now + sim.delays[act.family], kind: simAnswer, family: act.family})
			case actDial:
				if p := sim.paths[act.addr]; p.Outcome != dualstack.OutcomeTimeout {
					q.push(simEvent{at: e.now + p.After, kind: simAttemptEnd, attempt: act.attempt, outcome: p.Outcome})
				}
			case actAbort:
				// The engine has already ended the attempt; its scheduled
				// end, if any, is ignored when it comes.
			}
		}
		if e.done {
			return e.result, nil
		}
		wake, hasWake := e.wake()
		if q.Len() == 0 && !hasWake {
			// Every attempt has a deadline, so this cannot happen unless
			// the engine lost track of one: say so rather than hang.
			return Result{}, errors.New("simulation stalled: no event and no timer pending")
		}
		// External events at the same instant as a timer come first: a
		// client that sees a connection does not start another attempt.
		if q.Len() > 0 && (!hasWake || q.peek().at <= wake) {
			ev := q.pop()
			switch ev.kind {
			case simAnswer:
				e.answer(ev.at, ev.family, sim.answers[ev.family], nil)
			case simAttemptEnd:
				e.attemptEnded(ev.at, ev.attempt, ev.outcome, nil)
			}
			continue
		}
		e.tick(wake)
	}
}

type simEventKind uint8

const (
	// simAttemptEnd sorts before simAnswer at the same instant, so the
	// outcome of a race never depends on how events were queued.
	simAttemptEnd simEventKind = iota
	simAnswer
)

type simEvent struct {
	at      time.Duration
	kind    simEventKind
	family  dualstack.Family
	attempt int
	outcome dualstack.Outcome
}

// before reports whether a happens before b: by time, then kind.
func (a *simEvent) before(b *simEvent) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.kind < b.kind
}

// eventQueue holds the pending events in the order they happen — by time,
// then kind, then insertion — stored from the last to the next, so that pop
// takes from the end. A sorted slice rather than a heap: a race has a
// handful of events pending.
type eventQueue struct {
	events []simEvent
}

func (q *eventQueue) Len() int { return len(q.events) }

// push queues ev to happen after the events that happen before it and
// after those it ties with, which were queued first.
func (q *eventQueue) push(ev simEvent) {
	i := sort.Search(len(q.events), func(i int) bool { return !ev.before(&q.events[i]) })
	q.events = slices.Insert(q.events, i, ev)
}

func (q *eventQueue) pop() simEvent {
	ev := q.events[len(q.events)-1]
	q.events = q.events[:len(q.events)-1]
	return ev
}

func (q *eventQueue) peek() simEvent { return q.events[len(q.events)-1] }
