package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// simulationTable is what the table output of dsprobe simulate says about
// the race: when each answer arrived, the order line and the attempts.
type simulationTable struct {
	answeredAt map[string]time.Duration // by query type
	order      []string
	attempts   []attemptRow
}

type attemptRow struct {
	address string
	start   time.Duration
}

func parseSimulationTable(t *testing.T, out string) simulationTable {
	t.Helper()
	st := simulationTable{answeredAt: map[string]time.Duration{}}
	inAttempts := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "dns" && len(f) >= 4 && f[2] == "answered":
			st.answeredAt[f[1]] = mustDuration(t, f[4])
		case f[0] == "order":
			st.order = f[1:]
		case f[0] == "#":
			inAttempts = true
		case inAttempts && len(f) >= 4:
			st.attempts = append(st.attempts, attemptRow{address: f[1], start: mustDuration(t, f[3])})
		}
	}
	if len(st.order) == 0 || len(st.attempts) == 0 {
		t.Fatalf("no order line or no attempt in\n%s", out)
	}
	return st
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q in the table: %v", s, err)
	}
	return d
}

// The order line of dsprobe simulate is the order the client goes through,
// so its first address is always the first attempt. When both answers were
// in hand before that attempt, RFC 8305 §4 sorts them into one list with RFC
// 6724 — whichever came first, even when they came in the same instant — so
// the first attempt is the head of what dsprobe order gives under the
// profile's policy. Only an AAAA answer received first (§3) starts IPv6
// alone.
func TestSimulateOrderLineStartsWithFirstAttempt(t *testing.T) {
	hosts := []struct {
		name   string
		srcs   []string
		v6, v4 string
	}{
		// RFC 6724's table ranks IPv4 (35) above fc00::/7 (3); glibc's
		// ranks the ULA first.
		{"ULA host", []string{"fd00::2", "10.0.0.2"}, "fd00::1", "10.0.0.1"},
		{"GUA host", []string{"2001:db8::2", "192.0.2.2"}, "2001:db8::1", "192.0.2.1"},
		// No IPv6 source: RFC 6724 rule 1 sorts the IPv6 address last.
		{"IPv4-only host", []string{"10.0.0.2"}, "fd00::1", "10.0.0.1"},
	}
	profiles := []struct {
		name   string
		policy string // the policy table dsprobe order sorts the same two addresses with
		// resolutionDelay: RFC 8305 §3's resolution (rfc8305 50 ms,
		// safari 25 ms, curl-8.20 50 ms from the start); the others
		// wait for both answers.
		resolutionDelay bool
	}{
		{"rfc8305", "rfc6724", true},
		{"safari", "glibc", true},
		{"curl-8.20", "glibc", true},
		{"go", "rfc6724", false},
		{"chrome", "rfc6724", false},
		{"curl", "glibc", false},
	}
	timings := []struct {
		name              string
		aDelay, aaaaDelay time.Duration
	}{
		{"together at once", 0, 0},
		{"together at 20 ms", 20 * time.Millisecond, 20 * time.Millisecond},
		{"AAAA 5 ms first", 5 * time.Millisecond, 0},
		{"AAAA 400 ms first", 400 * time.Millisecond, 0},
		{"A first, AAAA 20 ms later", 0, 20 * time.Millisecond},
		{"A first, AAAA 30 ms later", 0, 30 * time.Millisecond},
		{"A first, AAAA at 50 ms", 0, 50 * time.Millisecond},
		{"A first, AAAA 80 ms later", 0, 80 * time.Millisecond},
		{"A first, AAAA 400 ms later", 0, 400 * time.Millisecond},
	}
	for _, h := range hosts {
		var srcFlags []string
		for _, s := range h.srcs {
			srcFlags = append(srcFlags, "--src", s)
		}
		for _, p := range profiles {
			sortedFirst := orderHead(t, p.policy, srcFlags, h.v6, h.v4)
			for _, tm := range timings {
				t.Run(fmt.Sprintf("%s/%s/%s", h.name, p.name, tm.name), func(t *testing.T) {
					args := append([]string{"simulate", "--profile", p.name, "--max-connect-time", "10m",
						"--a-delay", tm.aDelay.String(), "--aaaa-delay", tm.aaaaDelay.String(),
						"--attempt", h.v6 + "=timeout", "--attempt", h.v4 + "=connected:2ms"}, srcFlags...)
					stdout, stderr, code := run(t, args...)
					if code != ExitOK {
						t.Fatalf("got exit %d (%s), want 0", code, stderr)
					}
					st := parseSimulationTable(t, stdout)
					first := st.attempts[0]
					if first.address != st.order[0] {
						t.Errorf("got first attempt %s, want the order line's first address %s\n%s", first.address, st.order[0], stdout)
					}
					aAt, aOK := st.answeredAt["A"]
					aaaaAt, aaaaOK := st.answeredAt["AAAA"]
					bothInHand := aOK && aaaaOK && aAt <= first.start && aaaaAt <= first.start
					switch {
					case bothInHand && first.address != sortedFirst:
						t.Errorf("both answers in hand before the first attempt: got it to %s, want %s, the head of dsprobe order --policy %s\n%s",
							first.address, sortedFirst, p.policy, stdout)
					case p.resolutionDelay && aaaaAt < aAt && first.address != h.v6:
						t.Errorf("AAAA received first: got the first attempt to %s, want %s at once (RFC 8305 §3)\n%s", first.address, h.v6, stdout)
					}
				})
			}
		}
	}
}

// orderHead is the first address dsprobe order gives for the two addresses.
func orderHead(t *testing.T, policy string, srcFlags []string, addrs ...string) string {
	t.Helper()
	args := append(append([]string{"order", "-o", "json", "--policy", policy}, srcFlags...), addrs...)
	stdout, stderr, code := run(t, args...)
	if code != ExitOK {
		t.Fatalf("dsprobe %s: got exit %d (%s), want 0", strings.Join(args, " "), code, stderr)
	}
	var got struct{ Addresses []string }
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Addresses) == 0 {
		t.Fatalf("dsprobe order: bad JSON %q: %v", stdout, err)
	}
	return got.Addresses[0]
}
