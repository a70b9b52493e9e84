package happyeyeballs

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

const ms = time.Millisecond

var (
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8::2")
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("192.0.2.2")
)

func mustProfile(t *testing.T, spec string) Strategy {
	t.Helper()
	p, err := ParseProfile(spec)
	if err != nil {
		t.Fatalf("ParseProfile(%q): %v", spec, err)
	}
	return p.Strategy
}

func connected(a netip.Addr, after time.Duration) Path {
	return Path{Address: a, Outcome: dualstack.OutcomeConnected, After: after}
}
func refused(a netip.Addr, after time.Duration) Path {
	return Path{Address: a, Outcome: dualstack.OutcomeRefused, After: after}
}
func blackhole(a netip.Addr) Path { return Path{Address: a, Outcome: dualstack.OutcomeTimeout} }

// attemptSummary is the part of the timeline the cases assert:
// "address outcome start-end".
func attemptSummary(r Result) []string {
	var s []string
	for _, a := range r.Attempts {
		s = append(s, a.Address.String()+" "+a.Outcome.String()+" "+a.Start.String()+"-"+a.End.String())
	}
	return s
}

func TestSimulate(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		sc      Scenario
		// want
		family        dualstack.Family
		outcome       dualstack.Outcome
		timeToConnect time.Duration
		fallback      time.Duration
		attempts      []string
	}{
		{
			name:    "rfc8305 IPv6 blackholed: IPv4 after the 250 ms attempt delay",
			profile: "rfc8305",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 2*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 252 * ms, fallback: 250 * ms,
			attempts: []string{"2001:db8::1 canceled 0s-252ms", "192.0.2.1 connected 250ms-252ms"},
		},
		{
			name:    "rfc8305 IPv6 refused: IPv4 starts at once",
			profile: "rfc8305",
			sc:      Scenario{Paths: []Path{refused(v6a, 1*ms), connected(v4a, 2*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 3 * ms, fallback: 1 * ms,
			attempts: []string{"2001:db8::1 refused 0s-1ms", "192.0.2.1 connected 1ms-3ms"},
		},
		{
			name:    "rfc8305 healthy: IPv6 wins, no fallback",
			profile: "rfc8305",
			sc:      Scenario{Paths: []Path{connected(v6a, 5*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 5 * ms,
			attempts: []string{"2001:db8::1 connected 0s-5ms"},
		},
		{
			// RFC 8305 §3: A first, AAAA within the Resolution Delay.
			name:    "rfc8305 AAAA 30 ms after A: waits and starts IPv6",
			profile: "rfc8305",
			sc:      Scenario{AAAADelay: 30 * ms, Paths: []Path{connected(v6a, 1*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 31 * ms,
			attempts: []string{"2001:db8::1 connected 30ms-31ms"},
		},
		{
			name:    "rfc8305 AAAA 400 ms late: IPv4 at the 50 ms resolution delay",
			profile: "rfc8305",
			sc:      Scenario{AAAADelay: 400 * ms, Paths: []Path{connected(v6a, 1*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 51 * ms,
			attempts: []string{"192.0.2.1 connected 50ms-51ms"},
		},
		{
			// RFC 8305 §3: "If ... the AAAA response arrives after
			// attempts started, the addresses are added" and tried next.
			name:    "rfc8305 late AAAA joins a blackholed IPv4 race",
			profile: "rfc8305",
			sc:      Scenario{AAAADelay: 100 * ms, Paths: []Path{connected(v6a, 1*ms), blackhole(v4a)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 301 * ms, fallback: 250 * ms,
			attempts: []string{"192.0.2.1 canceled 50ms-301ms", "2001:db8::1 connected 300ms-301ms"},
		},
		{
			name:    "go waits for both answers",
			profile: "go",
			sc:      Scenario{ADelay: 10 * ms, AAAADelay: 100 * ms, Paths: []Path{connected(v6a, 1*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 101 * ms,
			attempts: []string{"2001:db8::1 connected 100ms-101ms"},
		},
		{
			name:    "go IPv6 blackholed: fallback lane at 300 ms",
			profile: "go",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 301 * ms, fallback: 300 * ms,
			attempts: []string{"2001:db8::1 canceled 0s-301ms", "192.0.2.1 connected 300ms-301ms"},
		},
		{
			name:    "go IPv6 refused: fallback lane at once",
			profile: "go",
			sc:      Scenario{Paths: []Path{refused(v6a, 1*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 2 * ms, fallback: 1 * ms,
			attempts: []string{"2001:db8::1 refused 0s-1ms", "192.0.2.1 connected 1ms-2ms"},
		},
		{
			// Each lane is serial: the second IPv6 address waits for the
			// first, and the IPv4 lane still starts at 300 ms.
			name:    "go lanes are serial within a family",
			profile: "go",
			sc:      Scenario{Paths: []Path{refused(v6a, 100*ms), blackhole(v6b), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 301 * ms, fallback: 300 * ms,
			attempts: []string{"2001:db8::1 refused 0s-100ms", "2001:db8::2 canceled 100ms-301ms", "192.0.2.1 connected 300ms-301ms"},
		},
		{
			name:    "go everything blackholed: gives up at the 30 s dial timeout",
			profile: "go",
			sc:      Scenario{Paths: []Path{blackhole(v6a), blackhole(v4a)}},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeTimeout, timeToConnect: 30 * time.Second,
			attempts: []string{"2001:db8::1 timeout 0s-30s", "192.0.2.1 timeout 300ms-30s"},
		},
		{
			name:    "curl IPv6 blackholed: IPv4 at 200 ms",
			profile: "curl",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 201 * ms, fallback: 200 * ms,
			attempts: []string{"2001:db8::1 canceled 0s-201ms", "192.0.2.1 connected 200ms-201ms"},
		},
		{
			name:    "python IPv6 blackholed: waits out the OS SYN timeout",
			profile: "python",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 127*time.Second + 1*ms, fallback: 127 * time.Second,
			attempts: []string{"2001:db8::1 timeout 0s-2m7s", "192.0.2.1 connected 2m7s-2m7.001s"},
		},
		{
			name:    "python with a 1 s timeout per address",
			profile: "python,attempt-timeout=1s",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 1001 * ms, fallback: 1000 * ms,
			attempts: []string{"2001:db8::1 timeout 0s-1s", "192.0.2.1 connected 1s-1.001s"},
		},
		{
			// nodejs/node#54359: the attempt is closed at 250 ms; the last
			// address has no Node timer, only the OS's.
			name:    "node aborts IPv6 at 250 ms, IPv4 is last and may take its time",
			profile: "node",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 300*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 550 * ms, fallback: 250 * ms,
			attempts: []string{"2001:db8::1 timeout 0s-250ms", "192.0.2.1 connected 250ms-550ms"},
		},
		{
			name:    "node fails when a slow first address is aborted and the last is blackholed",
			profile: "node",
			sc:      Scenario{Paths: []Path{connected(v6a, 300*ms), blackhole(v4a)}},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeTimeout, timeToConnect: 250*ms + 127*time.Second,
			attempts: []string{"2001:db8::1 timeout 0s-250ms", "192.0.2.1 timeout 250ms-2m7.25s"},
		},
		{
			name:    "node with the 500 ms timeout of newer releases keeps the slow IPv6",
			profile: "node,attempt-delay=500ms",
			sc:      Scenario{Paths: []Path{connected(v6a, 300*ms), blackhole(v4a)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 300 * ms,
			attempts: []string{"2001:db8::1 connected 0s-300ms"},
		},
		{
			name:    "java tries only the first address, IPv4 first",
			profile: "java",
			sc:      Scenario{Paths: []Path{connected(v6a, 1*ms), refused(v4a, 1*ms)}},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeRefused, timeToConnect: 1 * ms,
			attempts: []string{"192.0.2.1 refused 0s-1ms"},
		},
		{
			name:    "java-prefer-ipv6 tries IPv6 only",
			profile: "java-prefer-ipv6",
			sc:      Scenario{Paths: []Path{connected(v6a, 1*ms), refused(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 1 * ms,
			attempts: []string{"2001:db8::1 connected 0s-1ms"},
		},
		{
			name:    "envoy AUTO never tries IPv4 when AAAA exists",
			profile: "envoy",
			sc:      Scenario{Paths: []Path{blackhole(v6a), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeTimeout, timeToConnect: 5 * time.Second,
			attempts: []string{"2001:db8::1 timeout 0s-5s"},
		},
		{
			name:    "envoy AUTO asks A only after an empty AAAA",
			profile: "envoy",
			sc:      Scenario{ADelay: 10 * ms, AAAADelay: 20 * ms, Paths: []Path{connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 31 * ms,
			attempts: []string{"192.0.2.1 connected 30ms-31ms"},
		},
		{
			name:    "rfc8305 interleaves families",
			profile: "rfc8305",
			sc:      Scenario{Paths: []Path{blackhole(v6a), blackhole(v6b), blackhole(v4a), connected(v4b, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 751 * ms, fallback: 750 * ms,
			attempts: []string{
				"2001:db8::1 canceled 0s-751ms", "192.0.2.1 canceled 250ms-751ms",
				"2001:db8::2 canceled 500ms-751ms", "192.0.2.2 connected 750ms-751ms",
			},
		},
		{
			name:    "first address family count 2",
			profile: "rfc8305,first-family-count=2",
			sc:      Scenario{Paths: []Path{blackhole(v6a), blackhole(v6b), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyIPv4, outcome: dualstack.OutcomeConnected, timeToConnect: 501 * ms, fallback: 500 * ms,
			attempts: []string{"2001:db8::1 canceled 0s-501ms", "2001:db8::2 canceled 250ms-501ms", "192.0.2.1 connected 500ms-501ms"},
		},
		{
			name:    "no address at all",
			profile: "rfc8305",
			sc:      Scenario{ADelay: 20 * ms, AAAADelay: 40 * ms},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeNotAttempted, timeToConnect: 40 * ms,
		},
		{
			name:    "max-attempts stops early",
			profile: "rfc8305,max-attempts=1",
			sc:      Scenario{Paths: []Path{refused(v6a, 1*ms), connected(v4a, 1*ms)}},
			family:  dualstack.FamilyUnspecified, outcome: dualstack.OutcomeRefused, timeToConnect: 1 * ms,
			attempts: []string{"2001:db8::1 refused 0s-1ms"},
		},
		{
			// Chrome's fallback is IPv4-only: with IPv4 first there is a
			// single serial lane.
			name:    "chrome with IPv4 first has no parallel fallback",
			profile: "chrome,family-first=ipv4",
			sc:      Scenario{Paths: []Path{connected(v6a, 1*ms), blackhole(v4a)}},
			family:  dualstack.FamilyIPv6, outcome: dualstack.OutcomeConnected, timeToConnect: 127*time.Second + 1*ms, fallback: 127 * time.Second,
			attempts: []string{"192.0.2.1 timeout 0s-2m7s", "2001:db8::1 connected 2m7s-2m7.001s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Simulate(mustProfile(t, tt.profile), tt.sc)
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			if r.Family != tt.family || r.Outcome != tt.outcome {
				t.Errorf("got family %v outcome %v, want %v %v", r.Family, r.Outcome, tt.family, tt.outcome)
			}
			if r.TimeToConnect != tt.timeToConnect {
				t.Errorf("got time to connect %v, want %v", r.TimeToConnect, tt.timeToConnect)
			}
			if r.FallbackDelay != tt.fallback {
				t.Errorf("got fallback delay %v, want %v", r.FallbackDelay, tt.fallback)
			}
			if got := attemptSummary(r); !reflect.DeepEqual(got, tt.attempts) {
				t.Errorf("got attempts\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.attempts, "\n\t"))
			}
			// Replaying is exact: a second run gives the same timeline.
			again, _ := Simulate(mustProfile(t, tt.profile), tt.sc)
			if !reflect.DeepEqual(attemptSummary(again), attemptSummary(r)) || again.TimeToConnect != r.TimeToConnect {
				t.Errorf("second run differs: got %v, want %v", attemptSummary(again), attemptSummary(r))
			}
		})
	}
}

// The RFC 6724 table puts IPv4 above ULA; glibc's RFC 3484 table puts the
// ULA first. Go and getaddrinfo-based clients diverge on such a Service.
func TestSimulateULADivergence(t *testing.T) {
	ula := netip.MustParseAddr("fd00::1")
	v4 := netip.MustParseAddr("10.0.0.1")
	sources := map[netip.Addr]Source{
		ula: {Addr: netip.MustParseAddr("fd00::2")},
		v4:  {Addr: netip.MustParseAddr("10.0.0.2")},
	}
	for _, tt := range []struct {
		profile           string
		aDelay, aaaaDelay time.Duration
		want              dualstack.Family
	}{
		{"go", 0, 0, dualstack.FamilyIPv4},
		{"chrome", 0, 0, dualstack.FamilyIPv4},
		{"go-cgo", 0, 0, dualstack.FamilyIPv6},
		{"curl", 0, 0, dualstack.FamilyIPv6},
		{"python", 0, 0, dualstack.FamilyIPv6},
		// RFC 8305 §3 starts IPv6 as soon as a positive AAAA arrives
		// first, before any sorting ...
		{"rfc8305", 5 * ms, 0, dualstack.FamilyIPv6},
		// ... but answers that arrive together are sorted (§4), and the
		// RFC 6724 table puts IPv4 first ...
		{"rfc8305", 0, 0, dualstack.FamilyIPv4},
		// ... as it does when A leads and AAAA lands within the
		// resolution delay.
		{"rfc8305", 0, 10 * ms, dualstack.FamilyIPv4},
	} {
		sc := Scenario{
			ADelay:    tt.aDelay,
			AAAADelay: tt.aaaaDelay,
			Paths:     []Path{connected(ula, 1*ms), connected(v4, 1*ms)},
			SourceFor: func(a netip.Addr) Source { return sources[a] },
		}
		r, err := Simulate(mustProfile(t, tt.profile), sc)
		if err != nil {
			t.Fatal(err)
		}
		if r.Family != tt.want {
			t.Errorf("%s with A after %v, AAAA after %v: got %v, want %v (order %v)", tt.profile, tt.aDelay, tt.aaaaDelay, r.Family, tt.want, r.Order)
		}
	}
}

// Strategy{} is what its doc comment says: it waits for both answers,
// sorts with RFC 6724 (global IPv6 above IPv4) and interleaves the families
// with a 250 ms attempt delay.
func TestSimulateZeroStrategy(t *testing.T) {
	r, err := Simulate(Strategy{}, Scenario{AAAADelay: 100 * ms, Paths: []Path{connected(v4a, 1*ms), blackhole(v6a)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2001:db8::1 canceled 100ms-351ms", "192.0.2.1 connected 350ms-351ms"}
	if got := attemptSummary(r); !reflect.DeepEqual(got, want) {
		t.Errorf("got attempts %v, want %v", got, want)
	}
}

func TestSimulateRejectsBadScenarios(t *testing.T) {
	tests := []struct {
		name string
		sc   Scenario
		want string
	}{
		{"duplicate", Scenario{Paths: []Path{connected(v4a, 0), refused(v4a, 0)}}, "listed twice"},
		{"negative delay", Scenario{ADelay: -1, Paths: []Path{connected(v4a, 0)}}, "negative"},
		{"bad outcome", Scenario{Paths: []Path{{Address: v4a, Outcome: dualstack.OutcomeCanceled}}}, "cannot be simulated"},
		{"no address", Scenario{Paths: []Path{{Outcome: dualstack.OutcomeConnected}}}, "without an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Simulate(Strategy{}, tt.sc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
			if _, err := NewSimulator(tt.sc); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSimulator: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A Simulator replays each strategy as Simulate does, however many it has
// replayed before, and a replay leaves the results of earlier ones as they
// were.
func TestSimulatorReplaysAsSimulate(t *testing.T) {
	scenarios := map[string]Scenario{
		"healthy":                 {Paths: []Path{connected(v6a, 1*ms), connected(v4a, 1*ms)}},
		"IPv6 blackholed":         {Paths: []Path{blackhole(v6a), blackhole(v6b), connected(v4a, 1*ms), refused(v4b, 1*ms)}},
		"AAAA late":               {AAAADelay: 400 * ms, Paths: []Path{connected(v6a, 1*ms), connected(v4a, 300*ms)}},
		"A late, IPv4 blackholed": {ADelay: 100 * ms, Paths: []Path{refused(v6a, 5*ms), blackhole(v4a)}},
		"no address":              {ADelay: 20 * ms, AAAADelay: 40 * ms},
	}
	var strategies []Profile
	for _, spec := range []string{"python,attempt-timeout=1s", "node,attempt-delay=500ms", "go,policy=glibc"} {
		p, err := ParseProfile(spec)
		if err != nil {
			t.Fatal(err)
		}
		strategies = append(strategies, p)
	}
	strategies = append(BuiltinProfiles(), strategies...)
	for name, sc := range scenarios {
		t.Run(name, func(t *testing.T) {
			sim, err := NewSimulator(sc)
			if err != nil {
				t.Fatal(err)
			}
			replayed := make([]Result, len(strategies))
			for i, p := range strategies {
				if replayed[i], err = sim.Simulate(p.Strategy); err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
			}
			for i, p := range strategies {
				want, err := Simulate(p.Strategy, sc)
				if err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				if !reflect.DeepEqual(replayed[i], want) {
					t.Errorf("%s: got\n\t%+v\nwant\n\t%+v", p.Name, replayed[i], want)
				}
			}
		})
	}
	sim, err := NewSimulator(scenarios["healthy"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Simulate(Strategy{AttemptDelay: -time.Hour, MaxAttempts: -1}); err == nil {
		t.Error("got no error for an invalid strategy, want one")
	}
}

func TestInterleave(t *testing.T) {
	tests := []struct {
		in    []netip.Addr
		count int
		want  []netip.Addr
	}{
		{[]netip.Addr{v6a, v6b, v4a, v4b}, 1, []netip.Addr{v6a, v4a, v6b, v4b}},
		{[]netip.Addr{v6a, v6b, v4a, v4b}, 2, []netip.Addr{v6a, v6b, v4a, v4b}},
		{[]netip.Addr{v4a, v4b, v6a}, 1, []netip.Addr{v4a, v6a, v4b}},
		{[]netip.Addr{v6a, v6b}, 1, []netip.Addr{v6a, v6b}},
		{[]netip.Addr{v6a, v4a}, 0, []netip.Addr{v6a, v4a}},
		{nil, 1, nil},
	}
	for _, tt := range tests {
		if got := Interleave(tt.in, tt.count); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Interleave(%v, %d) = %v, want %v", tt.in, tt.count, got, tt.want)
		}
	}
}

func BenchmarkSimulate(b *testing.B) {
	s := mustProfileB(b, "rfc8305")
	sc := Scenario{AAAADelay: 20 * ms, Paths: []Path{blackhole(v6a), blackhole(v6b), refused(v4a, 1*ms), connected(v4b, 2*ms)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Simulate(s, sc); err != nil {
			b.Fatal(err)
		}
	}
}

func mustProfileB(b *testing.B, spec string) Strategy {
	p, err := ParseProfile(spec)
	if err != nil {
		b.Fatal(err)
	}
	return p.Strategy
}

// sourcesAmong predicts each destination's source from the host's addresses,
// as dsprobe simulate --src does; a destination of a family the host has no
// address of gets none (RFC 6724 rule 1: unusable).
func sourcesAmong(addrs ...string) func(netip.Addr) Source {
	var candidates []Source
	for _, a := range addrs {
		candidates = append(candidates, Source{Addr: netip.MustParseAddr(a)})
	}
	return func(dst netip.Addr) Source {
		s, _ := SelectSource(dst, candidates, nil)
		return s
	}
}

// RFC 8305 §3 starts IPv6 at once only when a positive AAAA answer arrives
// *first*; answers the client holds together form one list that §4 sorts with
// RFC 6724 before the first attempt. On a ULA + private IPv4 cluster RFC
// 6724's default table ranks IPv4 (precedence 35) above fc00::/7 (3), so the
// instant the answers arrive in decides which family goes first.
func TestSimulateAnswersTogether(t *testing.T) {
	ula, ula2 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::3")
	private4 := netip.MustParseAddr("10.0.0.1")
	ulaHost := sourcesAmong("fd00::2", "10.0.0.2")
	guaHost := sourcesAmong("2001:db8::9", "192.0.2.9")
	tests := []struct {
		name         string
		profile      string
		sc           Scenario
		wantAttempts []string
		wantOrder    []netip.Addr
	}{
		{
			// The example: both answers at 0 ms, IPv6 blackholed.
			name:         "rfc8305 ULA, both at once: sorted, IPv4 first (§4)",
			profile:      "rfc8305",
			sc:           Scenario{Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			name:         "rfc8305 ULA, both at 20 ms: sorted, IPv4 first (§4)",
			profile:      "rfc8305",
			sc:           Scenario{ADelay: 20 * ms, AAAADelay: 20 * ms, Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 20ms-22ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			// Two AAAA records do not make the answer arrive first.
			name:         "rfc8305 two ULAs and IPv4 at once: interleaved from IPv4 (§4)",
			profile:      "rfc8305",
			sc:           Scenario{Paths: []Path{blackhole(ula), blackhole(ula2), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{private4, ula, ula2},
		},
		{
			// "If a positive AAAA response ... is received first, the
			// first IPv6 connection attempt is immediately started."
			name:    "rfc8305 ULA, AAAA 5 ms before A: IPv6 at once (§3)",
			profile: "rfc8305",
			sc:      Scenario{ADelay: 5 * ms, Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{
				"fd00::1 canceled 0s-252ms", "10.0.0.1 connected 250ms-252ms",
			},
			wantOrder: []netip.Addr{ula, private4},
		},
		{
			// §3: a late answer's addresses are "incorporated into the
			// list of available candidate addresses"; the one already
			// tried keeps its place at the head.
			name:    "rfc8305 two ULAs, AAAA 5 ms before A: IPv4 sorted among the untried",
			profile: "rfc8305",
			sc:      Scenario{ADelay: 5 * ms, Paths: []Path{blackhole(ula), blackhole(ula2), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{
				"fd00::1 canceled 0s-252ms", "10.0.0.1 connected 250ms-252ms",
			},
			wantOrder: []netip.Addr{ula, private4, ula2},
		},
		{
			name:         "rfc8305 ULA, AAAA within the resolution delay: sorted, IPv4 first (§3, §4)",
			profile:      "rfc8305",
			sc:           Scenario{AAAADelay: 30 * ms, Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 30ms-32ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			// At the end of the delay the AAAA answer is in hand too.
			name:         "rfc8305 ULA, AAAA at the end of the resolution delay: sorted, IPv4 first",
			profile:      "rfc8305",
			sc:           Scenario{AAAADelay: 50 * ms, Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 50ms-52ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			name:         "rfc8305 ULA, AAAA after the resolution delay: IPv4 alone at 50 ms",
			profile:      "rfc8305",
			sc:           Scenario{AAAADelay: 80 * ms, Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 50ms-52ms"},
			wantOrder:    []netip.Addr{private4},
		},
		{
			name:         "rfc8305 without a resolution delay, ULA at once: sorted, IPv4 first (§4)",
			profile:      "rfc8305,resolution-delay=-1ms",
			sc:           Scenario{Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: ulaHost},
			wantAttempts: []string{"10.0.0.1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			name:         "rfc8305 GUA at once: sorted, IPv6 first (precedence 40 over 35)",
			profile:      "rfc8305",
			sc:           Scenario{Paths: []Path{connected(v6a, 2*ms), connected(v4a, 2*ms)}, SourceFor: guaHost},
			wantAttempts: []string{"2001:db8::1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{v6a, v4a},
		},
		{
			// glibc's table puts the ULA first, but a host without an
			// IPv6 address has no source for it: rule 1 sorts it last.
			name:         "safari, no IPv6 source, both at once: sorted, IPv4 first (rule 1)",
			profile:      "safari",
			sc:           Scenario{Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: sourcesAmong("10.0.0.2")},
			wantAttempts: []string{"10.0.0.1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
		{
			name:         "curl-8.20, no IPv6 source, both at once: sorted, IPv4 first (rule 1)",
			profile:      "curl-8.20",
			sc:           Scenario{Paths: []Path{blackhole(ula), connected(private4, 2*ms)}, SourceFor: sourcesAmong("10.0.0.2")},
			wantAttempts: []string{"10.0.0.1 connected 0s-2ms"},
			wantOrder:    []netip.Addr{private4, ula},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Simulate(mustProfile(t, tt.profile), tt.sc)
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			if got := attemptSummary(r); !reflect.DeepEqual(got, tt.wantAttempts) {
				t.Errorf("got attempts\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.wantAttempts, "\n\t"))
			}
			if !reflect.DeepEqual(r.Order, tt.wantOrder) {
				t.Errorf("got order %v, want %v", r.Order, tt.wantOrder)
			}
		})
	}
}

// Events pop by time, then kind (an attempt's end before an answer of the
// same instant), then in the order they were queued.
func TestEventQueueOrder(t *testing.T) {
	var q eventQueue
	for i, ev := range []simEvent{
		{at: 10, kind: simAnswer},
		{at: 5, kind: simAttemptEnd},
		{at: 10, kind: simAttemptEnd},
		{at: 10, kind: simAnswer},
		{at: 5, kind: simAttemptEnd},
		{at: 0, kind: simAnswer},
	} {
		ev.attempt = i // tells the events apart
		q.push(ev)
	}
	var got []int
	for q.Len() > 0 {
		next := q.peek()
		ev := q.pop()
		if ev != next {
			t.Fatalf("peek gave %+v, then pop %+v", next, ev)
		}
		got = append(got, ev.attempt)
	}
	if want := []int{5, 1, 4, 2, 0, 3}; !slices.Equal(got, want) {
		t.Errorf("got events popped in order %v, want %v", got, want)
	}
}
