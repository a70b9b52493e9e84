package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A DNS ladder climbed through the deployed mesh: the probers in team-a
// (the internal rung) and team-b (the broad rung) ask one DNS server,
// which answers each group from its own view, as CoreDNS view or acl
// does. AAAA published to team-a alone passes both rungs; AAAA visible to
// team-b too early is a publication mismatch; published as the ladder
// says, both rungs pass and the broad rung is the highest cleared; an
// IPv4-only listener holds the internal rung failing at LAYER_LISTENER
// and the broad rung waiting, and the JUnit report says so.
func TestLadderThroughTheMesh(t *testing.T) {
	lab := testhost.New(t)
	web := lab.AddHost("web")
	webServer(t, web, "tcp", "[::]:8080")
	webServer(t, web, "tcp4", "0.0.0.0:8081")

	dnsAddr := netip.AddrPortFrom(web.Addr4(), 53)
	pc, err := web.ListenPacket("udp", dnsAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := web.Listen("tcp", dnsAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	names := dnstest.StartOn(t, pc, ln)
	// Everyone gets A; AAAA is withheld (NODATA) but where a view
	// publishes it.
	names.Set("web.e2e.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{web.Addr4()}})
	names.Set("web.e2e.test", dns.TypeAAAA, faultdns.Response{})
	publishTo := func(h *testhost.Host) {
		names.SetFor(netip.PrefixFrom(h.Addr4(), 32), "web.e2e.test", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{web.Addr6()}})
	}

	hosts := map[string]*testhost.Host{}
	m := startMesh(t, lab, meshOptions{
		proberArgs: []string{"--allow-name", "*.e2e.test"},
		proberEtc:  map[string]string{"resolv.conf": fmt.Sprintf("nameserver %s\noptions timeout:1 attempts:1\n", dnsAddr.Addr())},
		addHost: func(name, _ string) *testhost.Host {
			hosts[name] = lab.AddHost(name)
			return hosts[name]
		},
	})
	publishTo(hosts["prober-a"])

	dir := t.TempDir()
	ladderFile := func(port int, broadExpectsAAAA bool) string {
		path := filepath.Join(dir, fmt.Sprintf("ladder-%d-%t.yaml", port, broadExpectsAAAA))
		doc := fmt.Sprintf(`apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: web, namespace: shop}
spec:
  target: {address: "http://web.e2e.test:%d/", timeout: 20s}
  clients:
    - {profile: chrome, maxTimeToConnect: 2s}
  rungs:
    - name: internal
      vantage: {namespaces: [team-a]}
      aaaaExpected: true
      gates: {clients: [chrome]}
    - name: broad
      vantage: {namespaces: [team-b]}
      aaaaExpected: %t
`, port, broadExpectsAAAA)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	climb := func(t *testing.T, file, format string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"ladder", "run", "-f", file, "--coordinator", m.coordAddr.String(), "-o", format}, m.withCert...)
		stdout, stderr, code := testhost.RunExit(t, m.client.Command(ctx, bins["dsprobe"], args...))
		t.Logf("dsprobe ladder run -f %s: exit %d\n%s%s", filepath.Base(file), code, stdout, stderr)
		return stdout, code
	}
	status := func(t *testing.T, stdout string) *ladder.Status {
		t.Helper()
		var l ladder.DNSLadder
		if err := json.Unmarshal([]byte(stdout), &l); err != nil || l.Status == nil {
			t.Fatalf("the JSON output (%v):\n%s", err, stdout)
		}
		return l.Status
	}
	wantStates := func(t *testing.T, st *ladder.Status, want ...ladder.RungState) {
		t.Helper()
		for i, w := range want {
			if got := st.Rungs[i]; got.State != w {
				t.Errorf("rung %s: got %s (%s), want %s", got.Name, got.State, got.Reason, w)
			}
		}
	}

	t.Run("AAAA published to the internal rung alone", func(t *testing.T) {
		stdout, code := climb(t, ladderFile(8080, false), "json")
		st := status(t, stdout)
		wantStates(t, st, ladder.Passing, ladder.Passing)
		if code != 0 || st.HighestRungCleared != "internal" {
			t.Errorf("got exit %d, highest rung cleared %q, want 0 and internal", code, st.HighestRungCleared)
		}
		// The evidence: each group's answer from the one server, and
		// where each prober connected.
		internal, broad := st.Rungs[0].LastRuns[0].Vantages[0], st.Rungs[1].LastRuns[0].Vantages[0]
		server := dnsAddr.String()
		if internal.AAAA.Server != server || len(internal.AAAA.Addresses) != 1 || internal.AAAA.Addresses[0] != web.Addr6().String() {
			t.Errorf("internal rung's AAAA: got %+v, want %s from %s", internal.AAAA, web.Addr6(), server)
		}
		if broad.AAAA.Status != "DNS_STATUS_NODATA" || broad.AAAA.Server != server || broad.ChosenFamily != "FAMILY_IPV4" {
			t.Errorf("broad rung: got AAAA %+v, chosen %s, want NODATA from %s and IPv4", broad.AAAA, broad.ChosenFamily, server)
		}
		if want := fmt.Sprintf("[%s]:8080", web.Addr6()); !strings.Contains(strings.Join(internal.Attempted, " "), want) {
			t.Errorf("internal rung attempted %q, want %s among them", internal.Attempted, want)
		}
	})

	publishTo(hosts["prober-b"])
	t.Run("AAAA visible to the broad rung too early", func(t *testing.T) {
		stdout, code := climb(t, ladderFile(8080, false), "json")
		st := status(t, stdout)
		wantStates(t, st, ladder.Passing, ladder.PublicationMismatch)
		if code != 1 || !strings.Contains(st.Rungs[1].Reason, "AAAA published too early: "+web.Addr6().String()) {
			t.Errorf("got exit %d, broad reason %q, want 1 and AAAA published too early", code, st.Rungs[1].Reason)
		}
	})

	t.Run("published as the ladder says", func(t *testing.T) {
		stdout, code := climb(t, ladderFile(8080, true), "json")
		st := status(t, stdout)
		wantStates(t, st, ladder.Passing, ladder.Passing)
		if code != 0 || st.RungsCleared != 2 || st.HighestRungCleared != "broad" {
			t.Errorf("got exit %d, %d cleared up to %q, want 0 and 2 up to broad", code, st.RungsCleared, st.HighestRungCleared)
		}
	})

	t.Run("an IPv6 listener fault holds the internal rung", func(t *testing.T) {
		stdout, code := climb(t, ladderFile(8081, true), "json")
		st := status(t, stdout)
		wantStates(t, st, ladder.Failing, ladder.Waiting)
		if code != 1 || st.Rungs[0].FailingLayer != "LAYER_LISTENER" || st.RungsCleared != 0 {
			t.Errorf("got exit %d, internal failing at %q, %d cleared, want 1, LAYER_LISTENER, 0", code, st.Rungs[0].FailingLayer, st.RungsCleared)
		}
		if len(st.Rungs[1].LastRuns) != 1 || st.Rungs[1].LastRuns[0].JobID != "" {
			t.Errorf("the broad rung ran %+v, want no job while it waits", st.Rungs[1].LastRuns)
		}

		stdout, _ = climb(t, ladderFile(8081, true), "junit")
		var report struct {
			Suites []struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Skipped  int `xml:"skipped,attr"`
				Cases    []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Type string `xml:"type,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(stdout), &report); err != nil || len(report.Suites) != 1 {
			t.Fatalf("the JUnit output (%v):\n%s", err, stdout)
		}
		s := report.Suites[0]
		if s.Tests != 2 || s.Failures != 1 || s.Skipped != 1 || s.Cases[0].Failure == nil || s.Cases[0].Failure.Type != "LAYER_LISTENER" {
			t.Errorf("got %+v, want 2 cases: internal failing with LAYER_LISTENER, broad skipped", s)
		}
	})
}
