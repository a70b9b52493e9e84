package cli

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/prober"
)

// ladderMesh is a coordinator on loopback whose probers each resolve the
// target with their own hosts file, as client groups behind different DNS
// views would: in namespace published the name has A and AAAA, in withheld
// A alone, in early A and AAAA (AAAA published too early, for a rung that
// expects none).
func ladderMesh(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	policy, err := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*.ladder.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var probers coordinator.Static
	for namespace, hosts := range map[string]string{
		"published": "127.0.0.1 web.ladder.test v4only.ladder.test\n::1 web.ladder.test v4only.ladder.test\n",
		"withheld":  "127.0.0.1 web.ladder.test v4only.ladder.test\n",
		"early":     "127.0.0.1 web.ladder.test\n::1 web.ladder.test\n",
	} {
		hostsFile := filepath.Join(dir, namespace+".hosts")
		if err := os.WriteFile(hostsFile, []byte(hosts), 0o600); err != nil {
			t.Fatal(err)
		}
		svc := &prober.Service{Allow: &policy, Defaults: apiconv.Defaults{ResolvConf: os.DevNull, Hosts: hostsFile}}
		addr := serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) })
		probers = append(probers, &dsprobev1.ProberInfo{Name: "prober-" + namespace, Namespace: namespace, Address: addr, Ready: true})
	}
	return startCoordinator(t, probers, nil)
}

// listenIPv4Only listens on 127.0.0.1 on a port nothing uses on ::1 (the
// IPv6 listener fault: connects to [::1]:port are refused) and returns
// the port.
func listenIPv4Only(t *testing.T) int {
	t.Helper()
	for range 10 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if probe6, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port)); err != nil {
			ln.Close()
			continue // taken on ::1: it would not refuse
		} else {
			probe6.Close()
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return port
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1")
	return 0
}

// writeLadderFile writes a ladder of two rungs — internal (AAAA
// expected) from namespace published, broad (AAAA withheld) from
// broadNamespace — probing target.
func writeLadderFile(t *testing.T, target, broadNamespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ladder.yaml")
	doc := fmt.Sprintf(`apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata:
  name: web
  namespace: shop
spec:
  target:
    address: %s
    timeout: 10s
  clients:
    - profile: node
      maxTimeToConnect: 5s
  rungs:
    - name: internal
      vantage: {namespaces: [published]}
      aaaaExpected: true
      gates: {clients: [node], consecutivePasses: 2}
    - name: broad
      vantage: {namespaces: [%s]}
      aaaaExpected: false
`, target, broadNamespace)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dsprobe ladder run through a real coordinator and real probers on
// loopback: a ladder whose publication matches passes; AAAA visible to the
// broad rung is a publication mismatch; an IPv6 listener fault holds the
// internal rung failing at LAYER_LISTENER and the broad rung waiting.
func TestLadderRun(t *testing.T) {
	coord := ladderMesh(t)
	dualPort := listenBoth(t)
	v4Port := listenIPv4Only(t)
	web := "web.ladder.test:" + strconv.Itoa(int(dualPort))
	tests := []struct {
		name           string
		target, broad  string
		code           int
		states         []ladder.RungState
		internalLayer  string
		reasonsContain []string
	}{
		{name: "publication matches", target: web, broad: "withheld", code: ExitOK, states: []ladder.RungState{ladder.Passing, ladder.Passing}},
		{
			name: "AAAA published too early", target: web, broad: "early", code: ExitFailed,
			states:         []ladder.RungState{ladder.Passing, ladder.PublicationMismatch},
			reasonsContain: []string{"", "from prober-early (early): AAAA published too early: ::1"},
		},
		{
			name: "IPv6 listener fault", target: "v4only.ladder.test:" + strconv.Itoa(v4Port), broad: "withheld", code: ExitFailed,
			states: []ladder.RungState{ladder.Failing, ladder.Waiting}, internalLayer: "LAYER_LISTENER",
			reasonsContain: []string{"from prober-published (published): IPv6: ", "waiting for rung internal, which did not pass"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeLadderFile(t, tt.target, tt.broad)
			stdout, stderr, code := run(t, "ladder", "run", "-f", file, "--coordinator", coord, "-o", "json")
			if code != tt.code {
				t.Fatalf("got exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			var l ladder.DNSLadder
			if err := json.Unmarshal([]byte(stdout), &l); err != nil {
				t.Fatalf("the JSON output: %v\n%s", err, stdout)
			}
			for i, want := range tt.states {
				rs := l.Status.Rungs[i]
				if rs.State != want {
					t.Errorf("rung %s: got %s (%s), want %s", rs.Name, rs.State, rs.Reason, want)
				}
				if i < len(tt.reasonsContain) && !strings.Contains(rs.Reason, tt.reasonsContain[i]) {
					t.Errorf("rung %s: got reason %q, want it to contain %q", rs.Name, rs.Reason, tt.reasonsContain[i])
				}
			}
			if got := l.Status.Rungs[0].FailingLayer; got != tt.internalLayer {
				t.Errorf("rung internal: got failing layer %q, want %q", got, tt.internalLayer)
			}
			// What the judgement rests on is in the status: the answers,
			// the destinations attempted, the job.
			last := l.Status.Rungs[0].LastRuns[0]
			v := last.Vantages[0]
			if last.JobID == "" || v.Prober != "prober-published" || v.AAAA.Status != "DNS_STATUS_POSITIVE" || len(v.AAAA.Addresses) != 1 || len(v.Attempted) == 0 {
				t.Errorf("rung internal's run: got job %q, vantage %+v, want the job, prober-published's AAAA ::1 and its attempts", last.JobID, v)
			}
		})
	}

	t.Run("table", func(t *testing.T) {
		file := writeLadderFile(t, web, "early")
		stdout, _, code := run(t, "ladder", "run", "-f", file, "--coordinator", coord)
		for _, want := range []string{
			"ladder shop/web  target " + web,
			"internal  expected  Passing",
			"broad     withheld  PublicationMismatch",
			"rung broad: PublicationMismatch: from prober-early (early): AAAA published too early",
			"prober-published (published): A 127.0.0.1 from /",
			"published.hosts  AAAA ::1 from /",
			"chose IPv6",
			// internal passed once of the two its soak needs.
			"highest rung cleared: none (0 of 2 rungs)",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the table lacks %q:\n%s", want, stdout)
			}
		}
		if code != ExitFailed {
			t.Errorf("got exit %d, want %d", code, ExitFailed)
		}
	})

	t.Run("junit", func(t *testing.T) {
		file := writeLadderFile(t, "v4only.ladder.test:"+strconv.Itoa(v4Port), "withheld")
		stdout, _, code := run(t, "ladder", "run", "-f", file, "--coordinator", coord, "-o", "junit")
		suite := readJUnit(t, stdout)
		if code != ExitFailed || suite.Tests != 2 || suite.Failures != 1 || suite.Skipped != 1 {
			t.Fatalf("got exit %d and %d tests, %d failures, %d skipped, want 1 and 2, 1, 1:\n%s", code, suite.Tests, suite.Failures, suite.Skipped, stdout)
		}
		if f := suite.Cases[0].Failure; suite.Cases[0].Name != "internal" || f == nil || f.Type != "LAYER_LISTENER" {
			t.Errorf("got first case %+v, want internal failing with type LAYER_LISTENER", suite.Cases[0])
		}
	})
}

// A coordinator that cannot be reached is exit 3, and the JUnit report is
// written all the same: every rung an error saying why it did not run.
func TestLadderRunCoordinatorUnreachable(t *testing.T) {
	file := writeLadderFile(t, "web.ladder.test:80", "withheld")
	stdout, stderr, code := run(t, "ladder", "run", "-f", file, "--coordinator", closedPort(t), "-o", "junit")
	if code != ExitInternal || !strings.Contains(stderr, "rung internal: the coordinator at") || !strings.Contains(stderr, "unreachable") {
		t.Errorf("got exit %d, stderr %q, want 3 saying the coordinator is unreachable", code, stderr)
	}
	suite := readJUnit(t, stdout)
	if suite.Tests != 2 || suite.Errors != 2 {
		t.Fatalf("got %d tests, %d errors, want 2 and 2:\n%s", suite.Tests, suite.Errors, stdout)
	}
	if e := suite.Cases[0].Error; e == nil || !strings.Contains(e.Message, "not run: the ladder run ended early: rung internal: the coordinator at") {
		t.Errorf("got case %+v, want an error saying the run ended early and why", suite.Cases[0])
	}
}

func TestLadderRunBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: dsprobe.io/v1alpha1\nkind: DNSLadder\nmetadata: {name: web}\nspec:\n  target: {address: web.example}\n  rungs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"no file", []string{"--coordinator", "127.0.0.1:1"}, []string{"-f is required"}},
		{"no coordinator", []string{"-f", bad}, []string{"--coordinator is required"}},
		{"a bad file, every problem", []string{"-f", bad, "--coordinator", "127.0.0.1:1"}, []string{
			bad + ": spec.target.address: target \"web.example\": the port is missing",
			bad + ": spec.rungs: want at least one rung",
		}},
		{"no such file", []string{"-f", bad + ".missing", "--coordinator", "127.0.0.1:1"}, []string{"bad.yaml.missing"}},
		{"a bad output format", []string{"-f", bad, "--coordinator", "127.0.0.1:1", "-o", "xml"}, []string{`unknown output format "xml" (want table, json or junit)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"ladder", "run"}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("got exit %d, want %d (stderr %q)", code, ExitUsage, stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("got stderr %q, want it to contain %q", stderr, want)
				}
			}
		})
	}
	if _, stderr, code := run(t, "ladder", "climb"); code != ExitUsage || !strings.Contains(stderr, `unknown ladder command "climb" (known: run, status, check)`) {
		t.Errorf("dsprobe ladder climb: got exit %d, stderr %q, want 2 naming the command", code, stderr)
	}
}

func readJUnit(t *testing.T, doc string) junitSuite {
	t.Helper()
	var suites junitSuites
	if err := xml.Unmarshal([]byte(doc), &suites); err != nil || len(suites.Suites) != 1 {
		t.Fatalf("the JUnit output (%v, %d suites):\n%s", err, len(suites.Suites), doc)
	}
	return suites.Suites[0]
}
