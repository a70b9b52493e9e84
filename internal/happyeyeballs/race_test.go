package happyeyeballs

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a manual clock: time moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// waited gets a token when a timer that has not fired yet is made:
	// the race is waiting for the clock.
	waited chan struct{}
}

type fakeTimer struct {
	clock *fakeClock
	c     chan time.Time
	at    time.Time
	fired bool // guarded by clock.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	wasActive := !t.fired
	t.fired = true
	return wasActive
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), waited: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.fired = true
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
		select {
		case c.waited <- struct{}{}:
		default:
		}
	}
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.fired {
			continue
		}
		if !t.at.After(c.now) {
			t.fired = true
			t.c <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// scriptedDialer hands each dial to the test, which decides how it ends.
type scriptedDialer struct {
	dials chan *pendingDial
}

type pendingDial struct {
	address string
	ctx     context.Context
	result  chan error
}

func (d *scriptedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	p := &pendingDial{address: address, ctx: ctx, result: make(chan error, 1)}
	select {
	case d.dials <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-p.result:
		if err != nil {
			return nil, err
		}
		client, server := net.Pipe()
		server.Close()
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookupAtOnce answers every lookup with the addresses of its family at once,
// from the lookup's own goroutine: the real driver's path for live DNS.
func lookupAtOnce(addrs ...netip.Addr) LookupFunc {
	return func(_ context.Context, f dualstack.Family) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range addrs {
			if dualstack.FamilyOf(a) == f {
				out = append(out, a)
			}
		}
		return out, nil
	}
}

// The real driver replays answers in hand on its clock. Answers due at the
// same moment reach the engine together and are sorted into one list before
// the first attempt (RFC 8305 §4); only an AAAA answer due first starts IPv6
// alone (§3). On a ULA + private IPv4 host RFC 6724 puts IPv4 first.
func TestReplayAnswersTogether(t *testing.T) {
	ula, private4 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.1")
	ulaHost := sourcesAmong("fd00::2", "10.0.0.2")
	answers := func(aaaaDelay, aDelay time.Duration, v6, v4 netip.Addr) []KnownAnswer {
		return []KnownAnswer{
			{Family: dualstack.FamilyIPv6, Delay: aaaaDelay, Addresses: []netip.Addr{v6}},
			{Family: dualstack.FamilyIPv4, Delay: aDelay, Addresses: []netip.Addr{v4}},
		}
	}
	tests := []struct {
		name    string
		sources func(netip.Addr) Source
		answers []KnownAnswer
		// advance is how far the clock moves before the first attempt.
		advance   time.Duration
		wantFirst netip.Addr
	}{
		{"ULA, both in hand from the start: IPv4 first", ulaHost, InstantAnswers(ula, private4), 0, private4},
		{"ULA, both due at 30 ms: IPv4 first", ulaHost, answers(30*ms, 30*ms, ula, private4), 30 * ms, private4},
		{"ULA, AAAA due 10 ms before A: IPv6 at once", ulaHost, answers(0, 10*ms, ula, private4), 0, ula},
		{"ULA, AAAA 30 ms after A, within the resolution delay: IPv4 first", ulaHost, answers(30*ms, 0, ula, private4), 30 * ms, private4},
		{"GUA, both in hand from the start: IPv6 first", sourcesAmong("2001:db8::9", "192.0.2.9"), InstantAnswers(v6a, v4a), 0, v6a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			dialer := &scriptedDialer{dials: make(chan *pendingDial)}
			r := &Racer{Strategy: mustProfile(t, "rfc8305"), Dialer: dialer, Clock: clock, SourceFor: tt.sources}
			type raceResult struct {
				conn net.Conn
				res  Result
				err  error
			}
			done := make(chan raceResult, 1)
			go func() {
				conn, res, err := r.Replay(t.Context(), tt.answers, 443)
				done <- raceResult{conn, res, err}
			}()
			if tt.advance > 0 {
				<-clock.waited
				select {
				case d := <-dialer.dials:
					t.Fatalf("got a dial to %s before the answers were due", d.address)
				case <-time.After(20 * time.Millisecond):
				}
				clock.Advance(tt.advance)
			}
			first := <-dialer.dials
			first.result <- nil
			got := <-done
			if got.err != nil || got.conn == nil {
				t.Fatalf("got conn %v err %v, want a connection", got.conn, got.err)
			}
			got.conn.Close()
			if a := got.res.Attempts[0]; a.Address != tt.wantFirst || a.Start != tt.advance {
				t.Errorf("got the first attempt to %v at %v, want %v at %v", a.Address, a.Start, tt.wantFirst, tt.advance)
			}
			if got.res.Order[0] != tt.wantFirst {
				t.Errorf("got order %v, want %v first", got.res.Order, tt.wantFirst)
			}
		})
	}
}

func TestReplayRejectsBadAnswers(t *testing.T) {
	r := &Racer{Strategy: mustProfile(t, "rfc8305"), Dialer: &scriptedDialer{}, Clock: newFakeClock()}
	_, _, err := r.Replay(t.Context(), []KnownAnswer{
		{Family: dualstack.FamilyIPv4},
		{Family: dualstack.FamilyIPv4},
		{Family: dualstack.FamilyUnspecified},
		{Family: dualstack.FamilyIPv6, Delay: -ms},
	}, 443)
	for _, want := range []string{"answer 1: a second A answer", "answer 2: family", "answer 3: negative delay"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one saying %q", err, want)
		}
	}
}

// The real driver on a fake clock: IPv6 hangs, the attempt delay passes on
// the fake clock, IPv4 starts and wins, and the IPv6 attempt is canceled.
func TestRaceFakeClockBlackhole(t *testing.T) {
	clock := newFakeClock()
	dialer := &scriptedDialer{dials: make(chan *pendingDial)}
	r := &Racer{Strategy: mustProfile(t, "rfc8305"), Dialer: dialer, Clock: clock}

	type raceResult struct {
		conn net.Conn
		res  Result
		err  error
	}
	done := make(chan raceResult, 1)
	go func() {
		conn, res, err := r.Replay(context.Background(), InstantAnswers(v4a, v6a), 443)
		done <- raceResult{conn, res, err}
	}()

	first := <-dialer.dials
	if first.address != "[2001:db8::1]:443" {
		t.Fatalf("got first dial to %s, want [2001:db8::1]:443", first.address)
	}
	clock.Advance(249 * ms)
	select {
	case d := <-dialer.dials:
		t.Fatalf("got dial to %s at 249 ms, want none before the 250 ms attempt delay", d.address)
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(1 * ms)
	second := <-dialer.dials
	if second.address != "192.0.2.1:443" {
		t.Fatalf("got second dial to %s, want 192.0.2.1:443", second.address)
	}
	clock.Advance(2 * ms)
	second.result <- nil

	got := <-done
	if got.err != nil || got.conn == nil {
		t.Fatalf("got conn %v err %v, want a connection", got.conn, got.err)
	}
	got.conn.Close()
	if got.res.Family != dualstack.FamilyIPv4 || got.res.TimeToConnect != 252*ms || got.res.FallbackDelay != 250*ms {
		t.Errorf("got %v in %v (fallback %v), want ipv4 in 252ms (fallback 250ms)", got.res.Family, got.res.TimeToConnect, got.res.FallbackDelay)
	}
	if a := got.res.Attempts[0]; a.Outcome != dualstack.OutcomeCanceled {
		t.Errorf("got IPv6 attempt outcome %v, want canceled", a.Outcome)
	}
	if first.ctx.Err() == nil {
		t.Error("the losing attempt's context was not canceled")
	}
}

// A refused attempt starts the next one at once, without the clock moving.
func TestRaceFakeClockRefused(t *testing.T) {
	clock := newFakeClock()
	dialer := &scriptedDialer{dials: make(chan *pendingDial)}
	r := &Racer{Strategy: mustProfile(t, "go"), Dialer: dialer, Clock: clock}
	done := make(chan Result, 1)
	go func() {
		conn, res, _ := r.Race(context.Background(), lookupAtOnce(v6a, v4a), 80)
		if conn != nil {
			conn.Close()
		}
		done <- res
	}()
	first := <-dialer.dials
	first.result <- &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	second := <-dialer.dials
	if second.address != "192.0.2.1:80" {
		t.Fatalf("got second dial to %s, want 192.0.2.1:80", second.address)
	}
	second.result <- nil
	res := <-done
	if res.Family != dualstack.FamilyIPv4 || res.TimeToConnect != 0 {
		t.Errorf("got %v after %v, want ipv4 after 0s", res.Family, res.TimeToConnect)
	}
	if res.Attempts[0].Outcome != dualstack.OutcomeRefused {
		t.Errorf("got first outcome %v, want refused", res.Attempts[0].Outcome)
	}
}

// The caller's context ends the race; Race reports it and leaks nothing.
func TestRaceContextCanceled(t *testing.T) {
	dialer := &scriptedDialer{dials: make(chan *pendingDial)}
	r := &Racer{Strategy: mustProfile(t, "rfc8305,attempt-delay=-1ms"), Dialer: dialer, Clock: newFakeClock()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		_, res, err = r.Replay(ctx, InstantAnswers(v6a, v4a), 80)
		done <- err
	}()
	<-dialer.dials
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
	if res.Connected() || res.Attempts[0].Outcome != dualstack.OutcomeCanceled {
		t.Errorf("got %+v, want no winner and a canceled attempt", res)
	}
}

// Real sockets on loopback: nothing listens on the IPv6 port, so the refusal
// starts IPv4 at once.
func TestRaceLoopbackRefusedFallsBack(t *testing.T) {
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	go acceptAll(ln4)
	port := ln4.Addr().(*net.TCPAddr).Port
	if !haveIPv6Loopback(port) {
		t.Skip("no IPv6 loopback (or its port is taken)")
	}
	r := &Racer{Strategy: mustProfile(t, "rfc8305")}
	conn, res, err := r.Replay(context.Background(), InstantAnswers(netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")), uint16(port))
	if err != nil || conn == nil {
		t.Fatalf("got conn %v err %v, want a connection", conn, err)
	}
	conn.Close()
	if res.Family != dualstack.FamilyIPv4 || res.Attempts[0].Outcome != dualstack.OutcomeRefused {
		t.Errorf("got %v with first outcome %v, want ipv4 after a refused IPv6", res.Family, res.Attempts[0].Outcome)
	}
	// The refusal, not the 250 ms timer, started IPv4.
	if res.FallbackDelay >= DefaultAttemptDelay {
		t.Errorf("got fallback delay %v, want well under the attempt delay", res.FallbackDelay)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// haveIPv6Loopback reports whether [::1]:port refuses (IPv6 works and
// nothing listens there).
func haveIPv6Loopback(port int) bool {
	c, err := net.Dial("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// BenchmarkRaceLoopback compares one real race on loopback with a plain
// net.Dialer to the same address: the engine's overhead per connect.
func BenchmarkRaceLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go acceptAll(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	addr := netip.MustParseAddr("127.0.0.1")

	b.Run("racer", func(b *testing.B) {
		r := &Racer{Strategy: mustProfileB(b, "rfc8305")}
		answers := InstantAnswers(addr)
		b.ReportAllocs()
		for b.Loop() {
			conn, _, err := r.Replay(context.Background(), answers, uint16(port))
			if err != nil || conn == nil {
				b.Fatalf("race: %v", err)
			}
			conn.Close()
		}
	})
	b.Run("net.Dialer", func(b *testing.B) {
		var d net.Dialer
		target := netip.AddrPortFrom(addr, uint16(port)).String()
		b.ReportAllocs()
		for b.Loop() {
			conn, err := d.DialContext(context.Background(), "tcp", target)
			if err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
	})
}
