package happyeyeballs

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Attempt is one connection attempt in a race's timeline. Times are offsets
// from the start of the race, which is the start of resolution.
type Attempt struct {
	Address netip.Addr
	Family  dualstack.Family
	Start   time.Duration
	End     time.Duration
	Outcome dualstack.Outcome
	// Err is the dialer's error for a failed attempt. The simulator has
	// none; an attempt the client abandoned has none either.
	Err error
}

// Answer is one DNS answer as the race saw it.
type Answer struct {
	Family    dualstack.Family
	At        time.Duration
	Addresses []netip.Addr
	// Err is the lookup's error (the simulator has none): a negative
	// answer with an error and an empty one both leave the family without
	// addresses.
	Err error
}

// Result is what a race (real or simulated) did: who won, when, and the
// whole timeline.
type Result struct {
	// Winner indexes Attempts; -1 when the client never connected.
	Winner int
	// Family is the family the client ended up connected over;
	// FamilyUnspecified if it never connected.
	Family dualstack.Family
	// Address is the winning address (the zero Addr if none).
	Address netip.Addr
	// Outcome is OutcomeConnected for a winner. Otherwise it is the
	// outcome of the attempt whose failure ended the client's try, or
	// OutcomeNotAttempted when DNS gave no address at all.
	Outcome dualstack.Outcome
	// TimeToConnect runs from the start of resolution to the end of the
	// winning handshake; when the client never connects, to the moment it
	// gave up.
	TimeToConnect time.Duration
	// FallbackDelay is the start of the winning attempt minus the start of
	// the first attempt when the winner's family differs from the first
	// attempted family, else 0.
	FallbackDelay time.Duration
	// ConnectStart is when the client began connecting: the end of
	// resolution as the client's strategy sees it.
	ConnectStart time.Duration
	// Order is every address the client learnt, in the order it tried or
	// would try them (after sorting, family preference and interleaving).
	// Addresses that arrived after the first attempt are sorted among the
	// untried ones, behind those already tried, so the first attempt is
	// always the first address.
	Order    []netip.Addr
	Answers  []Answer
	Attempts []Attempt
}

// Connected reports whether the client ended with a connection.
func (r *Result) Connected() bool { return r.Winner >= 0 }

type actionKind uint8

const (
	actQuery actionKind = iota // send a DNS query for family
	actDial                    // start attempt with the given deadline
	actAbort                   // abandon a running attempt
)

// action is a request from the engine to its driver. The engine has already
// updated its own state; the driver performs the I/O (or schedules its
// virtual completion).
type action struct {
	kind     actionKind
	family   dualstack.Family
	attempt  int
	addr     netip.Addr
	deadline time.Duration
}

// run is what the engine keeps of an attempt besides its timeline.
type run struct {
	running  bool
	deadline time.Duration
	lane     int
}

type timer struct {
	at  time.Duration
	set bool
}

func (t *timer) due(now time.Duration) bool { return t.set && t.at <= now }
func (t *timer) arm(at time.Duration)       { *t = timer{at: at, set: true} }
func (t *timer) stop()                      { t.set = false }

// lane is one family lane of ConnectFamilyLanes, or the whole list when the
// strategy has a single one.
type lane struct {
	family  dualstack.Family // FamilyUnspecified: every family
	running int              // attempt index, -1 when idle
	started bool
}

// engine is the race as a state machine. It owns no goroutine and does no
// I/O: a driver feeds it events (answers, attempt ends, the passing of time)
// and performs the actions it emits. All times are offsets from the start.
//
// A driver hands over every event that is already there before it ticks the
// timers due at that moment. The engine relies on it: an answer that would
// start connecting arms a timer due now instead, so the answers of one
// instant (on a real clock: those in hand when the driver looks) are sorted
// into one list before the first attempt (RFC 8305 §3 and §4).
type engine struct {
	s         Strategy // a copy, which spares the caller's a move to the heap
	sourceFor func(netip.Addr) Source

	now      time.Duration
	queried  [3]bool // indexed by Family
	answered [3]bool
	known    []netip.Addr
	answers  []Answer

	connecting   bool
	connectStart time.Duration
	order        []netip.Addr
	tried        []bool        // tried[i]: order[i] has had an attempt
	destinations []Destination // sortKnown's working memory

	attempts []Attempt
	runs     []run // runs[id] is attempt id's state in the race

	lanes      []lane
	laneSpace  [2]lane // lanes' backing array: one lane or two
	resolution timer
	next       timer // ConnectInterleave's attempt delay
	fallback   timer // ConnectFamilyLanes' fallback delay
	total      timer
	lastStart  time.Duration
	actions    []action
	done       bool
	result     Result
}

func newEngine(s *Strategy, sourceFor func(netip.Addr) Source) *engine {
	e := new(engine)
	e.reset(s, sourceFor)
	return e
}

// reset readies the engine for a new race with strategy s. The memory only
// the engine sees (runs, tried, actions, the sort's destinations) is kept
// for reuse; what a Result holds (answers, known, order, attempts) starts
// afresh, so results of earlier races stay as they were.
func (e *engine) reset(s *Strategy, sourceFor func(netip.Addr) Source) {
	if sourceFor == nil {
		sourceFor = func(a netip.Addr) Source { return Source{Addr: a} }
	}
	actions := e.actions[:0]
	if actions == nil {
		actions = make([]action, 0, 2) // two queries, or a dial and an abort
	}
	*e = engine{
		s:            *s,
		sourceFor:    sourceFor,
		answers:      make([]Answer, 0, 2), // one per family
		runs:         e.runs[:0],
		tried:        e.tried[:0],
		actions:      actions,
		destinations: e.destinations[:0],
	}
}

// begin starts the race at time 0: it sends the queries.
func (e *engine) begin() {
	if e.s.TotalTimeout > 0 {
		e.total.arm(e.s.TotalTimeout)
	}
	switch e.s.Resolve {
	case ResolvePreferIPv6:
		e.query(dualstack.FamilyIPv6)
	case ResolvePreferIPv4:
		e.query(dualstack.FamilyIPv4)
	default:
		// RFC 8305 §3: "the client SHOULD send out queries for AAAA
		// records first, immediately followed by A records".
		e.query(dualstack.FamilyIPv6)
		e.query(dualstack.FamilyIPv4)
	}
}

func (e *engine) query(f dualstack.Family) {
	e.queried[f] = true
	e.actions = append(e.actions, action{kind: actQuery, family: f})
}

func (e *engine) pendingQueries() bool {
	return (e.queried[dualstack.FamilyIPv4] && !e.answered[dualstack.FamilyIPv4]) || (e.queried[dualstack.FamilyIPv6] && !e.answered[dualstack.FamilyIPv6])
}

// answer records the DNS answer for family f.
func (e *engine) answer(now time.Duration, f dualstack.Family, addrs []netip.Addr, err error) {
	e.now = now
	if e.done || !e.queried[f] || e.answered[f] {
		return
	}
	e.answered[f] = true
	// The answer's new addresses are appended to known, which holds each
	// address once (tried is kept by position in the order); kept is their
	// part of it, capped so that later appends never show through.
	first := len(e.known)
	for _, a := range addrs {
		a = a.Unmap()
		// A resolver may answer an A query with nothing of the other
		// family; anything else is not this answer's to give.
		if dualstack.FamilyOf(a) != f || slices.Contains(e.known, a) {
			continue
		}
		e.known = append(e.known, a)
	}
	kept := e.known[first:len(e.known):len(e.known)]
	if len(kept) == 0 {
		kept = nil
	}
	e.answers = append(e.answers, Answer{Family: f, At: now, Addresses: kept, Err: err})

	if e.connecting {
		e.addLate()
		return
	}
	switch e.s.Resolve {
	case ResolveWaitBoth:
		if !e.pendingQueries() {
			e.startConnecting()
		}
	case ResolveResolutionDelay:
		switch {
		case !e.pendingQueries():
			// Every answer is in: §4 sorts them all into one list.
			e.startConnecting()
		case f == dualstack.FamilyIPv6 && len(kept) > 0:
			// "If a positive AAAA response (a response with at least one
			// valid AAAA record) is received first, the first IPv6
			// connection attempt is immediately started." Received
			// first, not together: the start waits for the end of this
			// instant, so an A answer of the same instant is sorted in.
			e.startBy(now)
		case f == dualstack.FamilyIPv4 && len(kept) > 0:
			// "If a positive A response is received first due to
			// reordering, the client SHOULD wait a short time for the AAAA
			// response to ensure that preference is given to IPv6." A
			// delay already over (or none) still waits for the end of
			// this instant.
			at := now + e.s.resolutionDelay()
			if e.s.ResolutionDelayFromStart {
				at = e.s.resolutionDelay()
			}
			e.startBy(max(at, now))
		}
	case ResolvePreferIPv6, ResolvePreferIPv4:
		if len(kept) > 0 {
			e.startConnecting()
		} else if !e.queried[f.Other()] {
			e.query(f.Other())
		} else {
			e.startConnecting()
		}
	}
}

// startBy ends the resolution phase at the latest at the given time, through
// the resolution timer. A timer due now, rather than a start on the spot, is
// what lets the answers of one instant arrive together: drivers hand over
// every event of an instant before they tick.
func (e *engine) startBy(at time.Duration) {
	if !e.resolution.set || at < e.resolution.at {
		e.resolution.arm(at)
	}
}

// startConnecting ends the resolution phase.
func (e *engine) startConnecting() {
	e.connecting = true
	e.connectStart = e.now
	e.resolution.stop()
	e.order = e.sortKnown()
	e.clearTried()
	if len(e.order) == 0 {
		if !e.pendingQueries() {
			e.finish(-1)
		}
		return
	}
	if e.s.Connect == ConnectFamilyLanes {
		e.startLanes()
		return
	}
	e.lanes = append(e.laneSpace[:0], lane{running: -1, started: true})
	e.startNext(0)
}

// clearTried marks every address of the order as not tried yet.
func (e *engine) clearTried() {
	e.tried = slices.Grow(e.tried[:0], len(e.order))[:len(e.order)]
	clear(e.tried)
}

// sortKnown orders every known address as the client would.
func (e *engine) sortKnown() []netip.Addr {
	out := slices.Clone(e.known)
	if e.s.Order == OrderRFC6724 {
		dsts := e.destinations[:0]
		for _, a := range out {
			dsts = append(dsts, Destination{Addr: a, Source: e.sourceFor(a)})
		}
		SortDestinations(dsts, e.s.Sort)
		for i := range dsts {
			out[i] = dsts[i].Addr
		}
		e.destinations = dsts
	}
	if e.s.FamilyFirst != dualstack.FamilyUnspecified {
		slices.SortStableFunc(out, func(a, b netip.Addr) int {
			return boolRank(dualstack.FamilyOf(a) != e.s.FamilyFirst) - boolRank(dualstack.FamilyOf(b) != e.s.FamilyFirst)
		})
	}
	if e.s.Connect == ConnectInterleave {
		out = Interleave(out, e.s.firstFamilyCount())
	}
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Interleave reorders addrs as RFC 8305 §4 describes: firstFamilyCount
// addresses of the first address's family, then one of the other family,
// then alternating, each family keeping its own order. A firstFamilyCount
// below 1 counts as 1.
func Interleave(addrs []netip.Addr, firstFamilyCount int) []netip.Addr {
	if len(addrs) == 0 {
		return nil
	}
	firstFamilyCount = max(firstFamilyCount, 1)
	first := dualstack.FamilyOf(addrs[0])
	var primary, secondary []netip.Addr
	for _, a := range addrs {
		if dualstack.FamilyOf(a) == first {
			primary = append(primary, a)
		} else {
			secondary = append(secondary, a)
		}
	}
	out := make([]netip.Addr, 0, len(addrs))
	n := min(firstFamilyCount, len(primary))
	out = append(out, primary[:n]...)
	primary = primary[n:]
	for len(primary) > 0 || len(secondary) > 0 {
		if len(secondary) > 0 {
			out = append(out, secondary[0])
			secondary = secondary[1:]
		}
		if len(primary) > 0 {
			out = append(out, primary[0])
			primary = primary[1:]
		}
	}
	return out
}

func (e *engine) startLanes() {
	primary := dualstack.FamilyOf(e.order[0])
	if e.s.FallbackOnlyFromIPv6 && primary == dualstack.FamilyIPv4 {
		e.lanes = append(e.laneSpace[:0], lane{running: -1})
	} else {
		e.lanes = append(e.laneSpace[:0], lane{family: primary, running: -1}, lane{family: primary.Other(), running: -1})
	}
	e.lanes[0].started = true
	e.startNext(0)
	e.armFallback()
}

// armFallback schedules the fallback lane once it has addresses.
func (e *engine) armFallback() {
	if len(e.lanes) < 2 || e.lanes[1].started || e.fallback.set || e.untried(1) == 0 {
		return
	}
	delay, ok := e.s.attemptDelay()
	if !ok {
		return // started only when the primary lane fails
	}
	at := e.connectStart + delay
	if at <= e.now {
		e.startLane(1)
		return
	}
	e.fallback.arm(at)
}

func (e *engine) startLane(i int) {
	e.fallback.stop()
	e.lanes[i].started = true
	e.startNext(i)
}

func (e *engine) inLane(i int, a netip.Addr) bool {
	return e.lanes[i].family == dualstack.FamilyUnspecified || dualstack.FamilyOf(a) == e.lanes[i].family
}

// untried counts the addresses lane i has not started, within MaxAttempts.
func (e *engine) untried(i int) int {
	n := 0
	for j, a := range e.order {
		if !e.tried[j] && e.inLane(i, a) {
			n++
		}
	}
	if e.s.MaxAttempts > 0 {
		n = min(n, max(e.s.MaxAttempts-len(e.attempts), 0))
	}
	return n
}

// startNext starts lane i's next untried address, if any.
func (e *engine) startNext(i int) bool {
	left := e.untried(i)
	if left == 0 {
		return false
	}
	next := 0 // lane i's first untried address, which untried has counted
	for e.tried[next] || !e.inLane(i, e.order[next]) {
		next++
	}
	addr := e.order[next]
	id := len(e.attempts)
	e.tried[next] = true
	e.attempts = append(e.attempts, Attempt{Address: addr, Family: dualstack.FamilyOf(addr), Start: e.now, Outcome: dualstack.OutcomeUnspecified})
	deadline := e.attemptDeadline(left)
	e.runs = append(e.runs, run{running: true, deadline: deadline, lane: i})
	e.lanes[i].running = id
	e.lastStart = e.now
	e.actions = append(e.actions, action{kind: actDial, attempt: id, addr: addr, deadline: deadline})
	if e.s.Connect == ConnectInterleave {
		e.armNext()
	}
	return true
}

// armNext schedules ConnectInterleave's next attempt one attempt delay after
// the latest start, if an address is waiting.
func (e *engine) armNext() {
	e.next.stop()
	delay, ok := e.s.attemptDelay()
	if !ok || e.untried(0) == 0 {
		return
	}
	at := e.lastStart + delay
	if at <= e.now {
		e.startNext(0)
		return
	}
	e.next.arm(at)
}

func (e *engine) attemptDeadline(addrsLeft int) time.Duration {
	budget := e.s.attemptTimeout()
	if e.s.TotalTimeout > 0 {
		left := e.s.TotalTimeout - e.now
		share := left
		switch e.s.Split {
		case SplitEvenly:
			// Go's partialDeadline.
			const saneMinimum = 2 * time.Second
			share = left / time.Duration(addrsLeft)
			if share < saneMinimum {
				share = min(left, saneMinimum)
			}
		case SplitHalf:
			if addrsLeft > 1 {
				share = left / 2
			}
		}
		budget = min(budget, share)
	}
	return e.now + budget
}

// attemptEnded records the end of attempt id. It reports whether the engine
// keeps the connection: false for an attempt it had already abandoned, whose
// late connection the driver must close.
func (e *engine) attemptEnded(now time.Duration, id int, outcome dualstack.Outcome, err error) bool {
	e.now = now
	if id < 0 || id >= len(e.runs) || !e.runs[id].running || e.done {
		return false
	}
	e.end(id, outcome, err)
	if outcome == dualstack.OutcomeConnected {
		e.finish(id)
		return true
	}
	e.afterFailure(e.runs[id].lane)
	return false
}

func (e *engine) end(id int, outcome dualstack.Outcome, err error) {
	a := &e.attempts[id]
	a.End, a.Outcome, a.Err = e.now, outcome, err
	e.runs[id].running = false
	if i := e.runs[id].lane; e.lanes[i].running == id {
		e.lanes[i].running = -1
	}
}

// anyRunning reports whether an attempt is still running.
func (e *engine) anyRunning() bool {
	return slices.ContainsFunc(e.runs, func(r run) bool { return r.running })
}

// abort abandons a running attempt.
func (e *engine) abort(id int, outcome dualstack.Outcome) {
	e.end(id, outcome, nil)
	e.actions = append(e.actions, action{kind: actAbort, attempt: id})
}

func (e *engine) afterFailure(i int) {
	if e.s.Connect == ConnectInterleave {
		// A failure starts the next attempt at once rather than waiting
		// out the attempt delay (RFC 8305 §5 paces attempts to spare the
		// network; a failed one costs nothing more).
		if e.startNext(0) {
			return
		}
	} else if e.lanes[i].running < 0 && !e.startNext(i) && i == 0 && len(e.lanes) > 1 && !e.lanes[1].started && e.untried(1) > 0 {
		// Go's dialParallel: a failed primary lane starts the fallback
		// lane at once instead of waiting out the fallback delay.
		e.startLane(1)
	}
	e.maybeGiveUp()
}

// maybeGiveUp ends the race when nothing runs and nothing can start.
func (e *engine) maybeGiveUp() {
	if e.done || e.anyRunning() || e.pendingQueries() {
		return
	}
	for i := range e.lanes {
		if e.untried(i) > 0 && (e.lanes[i].started || e.fallback.set || e.next.set) {
			return
		}
	}
	e.finish(-1)
}

// addLate sorts addresses that arrived after connecting began into the
// untried ones (RFC 8305 §3 and §6). The addresses already tried keep their
// place at the head of the order, in the order they were tried: the order is
// the one the client went through, not a list its first attempt disagrees
// with.
func (e *engine) addLate() {
	order := make([]netip.Addr, 0, len(e.known))
	for _, a := range e.attempts {
		order = append(order, a.Address)
	}
	for _, a := range e.sortKnown() {
		if !slices.Contains(order[:len(e.attempts)], a) {
			order = append(order, a)
		}
	}
	e.order = order
	e.clearTried()
	for i := range e.attempts {
		e.tried[i] = true
	}
	if len(e.lanes) == 0 {
		// Resolution had ended with no address while a query was still
		// out; this answer is the first with any.
		e.startConnecting()
		return
	}
	if e.s.Connect == ConnectFamilyLanes {
		for i := range e.lanes {
			if e.lanes[i].started && e.lanes[i].running < 0 {
				e.startNext(i)
			}
		}
		e.armFallback()
	} else if e.lanes[0].running < 0 && !e.anyRunning() {
		e.startNext(0)
	} else if !e.next.set {
		e.armNext()
	}
	e.maybeGiveUp()
}

// wake returns the next moment the engine needs to be ticked.
func (e *engine) wake() (time.Duration, bool) {
	if e.done {
		return 0, false
	}
	var at time.Duration
	found := false
	consider := func(t time.Duration) {
		if !found || t < at {
			at, found = t, true
		}
	}
	for _, t := range []timer{e.resolution, e.next, e.fallback, e.total} {
		if t.set {
			consider(t.at)
		}
	}
	for _, r := range e.runs {
		if r.running {
			consider(r.deadline)
		}
	}
	return at, found
}

// tick fires every timer due at now.
func (e *engine) tick(now time.Duration) {
	e.now = now
	for !e.done {
		switch {
		case e.total.due(now):
			e.total.stop()
			e.abortRunning(dualstack.OutcomeTimeout)
			e.finish(-1)
		case e.dueAttempt() >= 0:
			id := e.dueAttempt()
			i := e.runs[id].lane
			e.abort(id, dualstack.OutcomeTimeout)
			e.afterFailure(i)
		case e.resolution.due(now):
			e.resolution.stop()
			e.startConnecting()
		case e.next.due(now):
			e.next.stop()
			if e.s.AbortOnAttemptDelay && e.lanes[0].running >= 0 {
				id := e.lanes[0].running
				e.abort(id, dualstack.OutcomeTimeout)
			}
			e.startNext(0)
		case e.fallback.due(now):
			e.startLane(1)
		default:
			return
		}
	}
}

// dueAttempt returns the lowest-numbered running attempt whose deadline has
// passed, or -1; lowest-numbered keeps ticks deterministic.
func (e *engine) dueAttempt() int {
	return slices.IndexFunc(e.runs, func(r run) bool { return r.running && r.deadline <= e.now })
}

// abortRunning abandons every running attempt, lowest-numbered first.
func (e *engine) abortRunning(outcome dualstack.Outcome) {
	for id, r := range e.runs {
		if r.running {
			e.abort(id, outcome)
		}
	}
}

// stop ends the race from outside (the caller's context ended).
func (e *engine) stop(now time.Duration, outcome dualstack.Outcome) {
	e.now = now
	if e.done {
		return
	}
	e.abortRunning(outcome)
	e.finish(-1)
}

func (e *engine) finish(winner int) {
	e.abortRunning(dualstack.OutcomeCanceled)
	e.done = true
	e.resolution.stop()
	e.next.stop()
	e.fallback.stop()
	e.total.stop()
	if len(e.order) == 0 && !e.connecting {
		e.order = e.sortKnown()
	}
	r := Result{
		Winner:        winner,
		Outcome:       dualstack.OutcomeNotAttempted,
		TimeToConnect: e.now,
		ConnectStart:  e.connectStart,
		Order:         e.order,
		Answers:       e.answers,
		Attempts:      e.attempts,
	}
	if !e.connecting {
		r.ConnectStart = e.now
	}
	if winner >= 0 {
		w := e.attempts[winner]
		r.Family, r.Address, r.Outcome = w.Family, w.Address, dualstack.OutcomeConnected
		if first := e.attempts[0]; w.Family != first.Family {
			r.FallbackDelay = w.Start - first.Start
		}
	} else if last := e.lastEnded(); last >= 0 {
		r.Outcome = e.attempts[last].Outcome
	}
	e.result = r
}

// lastEnded returns the attempt whose failure ended the client's try: the
// one that ended last (the lowest-numbered among equals), preferring attempts
// that failed on their own over those the client abandoned.
func (e *engine) lastEnded() int {
	best := -1
	for _, ownFailure := range []bool{true, false} {
		for id, a := range e.attempts {
			if ownFailure && a.Outcome == dualstack.OutcomeCanceled {
				continue
			}
			if best < 0 || a.End > e.attempts[best].End {
				best = id
			}
		}
		if best >= 0 {
			return best
		}
	}
	return best
}

// takeActions returns the actions emitted since the last call. The slice is
// the engine's own, reused for the next actions: it is valid until the next
// call into the engine, so a driver performs them all before it hands the
// engine the next event.
func (e *engine) takeActions() []action {
	a := e.actions
	e.actions = e.actions[:0]
	return a
}
