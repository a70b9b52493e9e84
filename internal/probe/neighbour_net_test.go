package probe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// neighbourJSON adds to probeJSON what this test compares with the verdict:
// the direct connects and the prober's own race.
type neighbourJSON struct {
	probeJSON
	Attempts      []attemptJSON
	HappyEyeballs struct {
		Outcome, FailingLayer string
		Attempts              []attemptJSON
	}
}

type attemptJSON struct{ Address, Outcome, Error string }

// An address inside the link's subnet that no host holds, and a route
// through a gateway no host holds: nobody answers neighbour discovery (ARP,
// NDP) for the next hop, so the SYN never leaves the client, and Linux fails
// the connect with EHOSTUNREACH once its solicitations go unanswered
// (mcast_solicit x retrans_time, 3 x 1 s by default). An attempt timeout
// below that give-up time stops the direct connect first; one above it lets
// the kernel give up first. Either way the verdict, the connect rows and the
// prober's own race (whose budget outlasts the kernel's) must tell the same
// story: unreachable, LAYER_ROUTE, nobody answers neighbour discovery.
func TestProbeUnansweredNeighbour(t *testing.T) {
	lab := testhost.New(t)
	client := lab.AddHost("client")

	// Each case has next hops of its own, so none finds a neighbour entry
	// another left behind.
	behindGateway := map[bool]netip.Addr{true: netip.MustParseAddr("198.51.100.0"), false: netip.MustParseAddr("2001:db8:1::")}
	type probeCase struct {
		name            string
		target, nextHop netip.Addr
		protocol        string // ARP or NDP
		timeout, giveUp time.Duration
		table           bool // also check the table output
	}
	var cases []probeCase
	vacant := 0
	for _, v4 := range []bool{true, false} {
		prefix, fam, protocol := lab.Prefix6(), "IPv6", "NDP"
		if v4 {
			prefix, fam, protocol = lab.Prefix4(), "IPv4", "ARP"
		}
		giveUp, err := client.NeighbourGiveUp(prefix.Addr())
		must(t, err)
		for _, timeout := range []time.Duration{giveUp / 3, giveUp * 3} {
			when := fmt.Sprintf("attempt timeout %v (the kernel gives up after %v)", timeout, giveUp)
			onLink, err := lab.Vacant(prefix, vacant)
			must(t, err)
			gateway, err := lab.Vacant(prefix, vacant+1)
			must(t, err)
			vacant += 2
			behindGateway[v4] = behindGateway[v4].Next()
			behind := behindGateway[v4]
			must(t, client.AddRoute(netip.PrefixFrom(behind, behind.BitLen()), gateway))
			cases = append(cases,
				probeCase{
					name:   fam + " on-link, " + when,
					target: onLink, nextHop: onLink, protocol: protocol, timeout: timeout, giveUp: giveUp, table: timeout < giveUp,
				},
				probeCase{
					name:   fam + " through an unanswered gateway, " + when,
					target: behind, nextHop: gateway, protocol: protocol, timeout: timeout, giveUp: giveUp,
				})
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := netip.AddrPortFrom(tc.target, 80).String()
			args := []string{"--attempt-timeout", tc.timeout.String(), target}
			var res neighbourJSON
			stdout, code := runProbe(t, client, append([]string{"-o", "json"}, args...)...)
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("exit %d, bad JSON %q: %v", code, stdout, err)
			}
			if code != 1 {
				t.Errorf("got exit %d, want 1", code)
			}
			words := fmt.Sprintf("no host answers neighbour discovery (%s) for %s", tc.protocol, tc.nextHop)
			if len(res.Families) != 1 {
				t.Fatalf("got verdicts %+v, want one", res.Families)
			}
			v := res.Families[0]
			t.Logf("verdict %s: %s", v.FailingLayer, v.Detail)
			if v.OK || v.FailingLayer != "LAYER_ROUTE" || !strings.Contains(v.Detail, words) || !strings.Contains(v.Detail, "on the link") {
				t.Errorf("got verdict ok=%v %s %q, want LAYER_ROUTE saying %q on the link", v.OK, v.FailingLayer, v.Detail, words)
			}
			for _, wrong := range []string{"silently dropped", "time out", "no IPv4 route", "no IPv6 route"} {
				if strings.Contains(v.Detail, wrong) {
					t.Errorf("got verdict %q, want no %q: the evidence says nobody answers neighbour discovery", v.Detail, wrong)
				}
			}
			if tc.nextHop != tc.target && !strings.Contains(v.Detail, "gateway") {
				t.Errorf("got verdict %q, want it to name %v as the gateway", v.Detail, tc.nextHop)
			}

			// The connect rows and the race say what the verdict says.
			race := res.HappyEyeballs
			rows := append([]attemptJSON{}, res.Attempts...)
			rows = append(rows, race.Attempts...)
			if len(res.Attempts) != 1 || len(race.Attempts) != 1 {
				t.Fatalf("got attempts %+v and race attempts %+v, want one each", res.Attempts, race.Attempts)
			}
			for _, a := range rows {
				t.Logf("attempt %s %s: %s", a.Address, a.Outcome, a.Error)
				if a.Outcome != "OUTCOME_UNREACHABLE" || !strings.Contains(a.Error, fmt.Sprintf("no host answers %s for %s", tc.protocol, tc.nextHop)) {
					t.Errorf("got attempt %s %s (%s), want OUTCOME_UNREACHABLE saying no host answers %s for %s", a.Address, a.Outcome, a.Error, tc.protocol, tc.nextHop)
				}
			}
			if race.Outcome != "OUTCOME_UNREACHABLE" || race.FailingLayer != "LAYER_ROUTE" {
				t.Errorf("got race %s %s, want OUTCOME_UNREACHABLE LAYER_ROUTE", race.Outcome, race.FailingLayer)
			}
			// A client's own connect fails when the kernel gives up, even
			// when the attempt timeout cut the direct connect short:
			// Python, which waits out the OS connect timeout, is predicted
			// to fail no sooner.
			if fam, ms := res.client("python"); fam != "FAMILY_UNSPECIFIED" || ms < float64(tc.giveUp.Milliseconds()) {
				t.Errorf("got python on %s after %v ms, want no connection after at least %v", fam, ms, tc.giveUp)
			}

			if !tc.table {
				return
			}
			table, code := runProbe(t, client, args...)
			if code != 1 {
				t.Errorf("table: got exit %d, want 1", code)
			}
			raceRow := ""
			for _, line := range strings.Split(table, "\n") {
				if strings.Contains(line, "(the prober's real race)") {
					raceRow = line
				}
			}
			if !strings.Contains(table, tc.target.String()+" unreachable") || !strings.Contains(table, words) ||
				!strings.Contains(raceRow, "no connection (unreachable)") || !strings.Contains(raceRow, "LAYER_ROUTE") {
				t.Errorf("got table\n%s\nwant the connect row %q, the race row no connection (unreachable) LAYER_ROUTE, and the verdict %q",
					table, tc.target.String()+" unreachable", words)
			}
		})
	}
}

// runProbe runs `dsprobe probe ARGS...` inside host and returns its standard
// output and exit code.
func runProbe(t *testing.T, host *testhost.Host, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stdout, stderr, code := testhost.RunExit(t, host.Command(ctx, bins["dsprobe"], append([]string{"probe"}, args...)...))
	if code > 1 {
		t.Fatalf("dsprobe probe %v: exit %d: %s", args, code, stderr)
	}
	return stdout, code
}
