package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

// cannedProber answers every probe with the same result: a vantage point
// whose IPv6 path drops packets, where clients fall back after their own
// delays. No loopback path without root drops packets, and how a table
// shows a result does not depend on how it was measured.
type cannedProber struct {
	dsprobev1.UnimplementedProberServer
	result *dsprobev1.ProbeResult
}

func (c *cannedProber) Probe(context.Context, *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	return &dsprobev1.ProbeResponse{Result: c.result}, nil
}

var droppedIPv6 = &dsprobev1.ProbeResult{
	Listener: &dsprobev1.ListenerInference{Accepts: dsprobev1.ListenerAccepts_LISTENER_ACCEPTS_UNKNOWN},
	Families: []*dsprobev1.FamilyVerdict{
		{Family: dsprobev1.Family_FAMILY_IPV4, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE, Detail: "all 1 IPv4 address(es) connect"},
		{Family: dsprobev1.Family_FAMILY_IPV6, FailingLayer: dsprobev1.Layer_LAYER_ROUTE, Detail: "connects to [fd00::1]:80 had no answer"},
	},
	HappyEyeballs: &dsprobev1.ClientPrediction{Profile: "rfc8305", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED,
		TimeToConnectMs: 251, FallbackDelayMs: 250, FailingLayer: dsprobev1.Layer_LAYER_NONE},
	Clients: []*dsprobev1.ClientPrediction{
		{Profile: "python", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED,
			TimeToConnectMs: 127001, FallbackDelayMs: 127000, FailingLayer: dsprobev1.Layer_LAYER_CLIENT},
		{Profile: "go", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED,
			TimeToConnectMs: 301, FallbackDelayMs: 300, FailingLayer: dsprobev1.Layer_LAYER_NONE},
		{Profile: "java", Family: dsprobev1.Family_FAMILY_IPV4, Outcome: dsprobev1.Outcome_OUTCOME_CONNECTED,
			TimeToConnectMs: 1, FailingLayer: dsprobev1.Layer_LAYER_NONE},
	},
}

// ipv4OnlyTarget is an HTTP server on 127.0.0.1 whose name has A and AAAA
// records: IPv6 connects are refused, the classic 0.0.0.0 listener. It
// returns the URL and the DNS server to name.
func ipv4OnlyTarget(t *testing.T) (url, dnsServer string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	names := dnstest.Start(t, "127.0.0.1:0")
	names.Set("v4only.cli.test", dns.TypeA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	names.Set("v4only.cli.test", dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{netip.MustParseAddr("::1")}})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://v4only.cli.test:" + port + "/", names.Addr().String()
}

// jobSections splits the table of dsprobe probe --coordinator into what
// comes before the first prober's details and each prober's details, by
// prober.
func jobSections(out string) (head string, details map[string]string) {
	details = map[string]string{}
	parts := strings.Split(out, "\nfrom prober ")
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, ":\n")
		details[name] = body
	}
	return parts[0], details
}

// lineWith is the first line of s that starts with prefix (after
// indentation), or "".
func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}

// dsprobe probe --coordinator shows what a local probe shows, per prober:
// each family's verdict and sentence, and every client that fails, is too
// slow or falls back, with its fallback delay. A prober that did not answer
// gets a line of its own, and the merged verdicts are still printed.
func TestProbeThroughCoordinatorShowsEachProber(t *testing.T) {
	url, dnsServer := ipv4OnlyTarget(t)
	canned := serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, &cannedProber{result: droppedIPv6}) })
	coord := startCoordinator(t, coordinator.Static{
		startProber(t, "real", "team-a"),
		{Name: "dropping", Namespace: "team-b", Address: canned, Ready: true},
		{Name: "dead", Namespace: "team-c", Address: closedPort(t), Ready: true},
	}, nil)

	stdout, stderr, code := run(t, "probe", "--coordinator", coord, "--dns-server", dnsServer, url)
	if code != ExitFailed {
		t.Fatalf("got exit %d (%s), want 1", code, stderr)
	}
	head, details := jobSections(stdout)

	if row := lineWith(head, "dead "); row != "" {
		t.Errorf("got the dead prober in the verdict table (%q), want it on a line of its own", row)
	}
	if line := lineWith(stdout, "no answer from dead (team-c) after "); !strings.Contains(line, ": UNAVAILABLE: ") {
		t.Errorf("got %q, want a line saying dead (team-c) gave no answer, with its code\n%s", line, stdout)
	}
	for _, want := range []string{
		"2 of 3 prober(s) answered in ",
		"IPv4: ok — passed on all 2 prober(s) that answered",
		"IPv6: FAIL LAYER_ROUTE — failed on 2 of 2 prober(s): dropping, real",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks the summary line %q:\n%s", want, stdout)
		}
	}

	real := details["real"]
	if l := lineWith(real, "IPv6: FAIL LAYER_LISTENER — "); !strings.Contains(l, "listens on IPv4 only") {
		t.Errorf("prober real: got IPv6 line %q, want the verdict and its sentence:\n%s", l, real)
	}
	if l := lineWith(real, "IPv4: ok — "); l == "" {
		t.Errorf("prober real: no IPv4 verdict line:\n%s", real)
	}
	for _, client := range []string{"java-prefer-ipv6 ", "envoy "} {
		if l := lineWith(real, client); !strings.Contains(l, "no connection (refused)") || !strings.HasSuffix(l, "LAYER_CLIENT") {
			t.Errorf("prober real: got %q, want %s failing with LAYER_CLIENT:\n%s", l, client, real)
		}
	}
	if l := lineWith(real, "rfc8305 (the prober's real race) "); !strings.HasSuffix(l, "LAYER_NONE") {
		t.Errorf("prober real: got race row %q, want it labelled as the prober's real race:\n%s", l, real)
	}

	dropping := details["dropping"]
	for _, want := range []struct{ prefix, fallback, verdict string }{
		{"rfc8305 (the prober's real race) ", " 250ms ", "LAYER_NONE"},
		{"python ", " 127s ", "LAYER_CLIENT"},
		{"go ", " 300ms ", "LAYER_NONE"},
	} {
		if l := lineWith(dropping, want.prefix); !strings.Contains(l, want.fallback) || !strings.HasSuffix(l, want.verdict) {
			t.Errorf("prober dropping: got %q, want fallback delay%s and %s:\n%s", l, want.fallback, want.verdict, dropping)
		}
	}
	if l := lineWith(dropping, "java "); l != "" {
		t.Errorf("prober dropping: got %q, want java, in time without a fallback, only counted", l)
	}
	if !strings.Contains(dropping, "1 other client(s) connect in time without falling back") {
		t.Errorf("prober dropping: want the count of the clients left out:\n%s", dropping)
	}
	if _, ok := details["dead"]; ok {
		t.Errorf("got details for the dead prober, want none:\n%s", stdout)
	}
}

// A job no prober answered still ends with what it checked: nothing.
func TestProbeThroughCoordinatorNoAnswer(t *testing.T) {
	coord := startCoordinator(t, coordinator.Static{{Name: "dead", Namespace: "team-c", Address: closedPort(t), Ready: true}}, nil)
	stdout, stderr, code := run(t, "probe", "--coordinator", coord, "127.0.0.1:1")
	if code != ExitFailed {
		t.Fatalf("got exit %d (%s), want 1: a prober that does not answer fails the job", code, stderr)
	}
	for _, want := range []string{"no answer from dead (team-c) after ", "0 of 1 prober(s) answered in ", "no prober answered: no family was checked"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "PROBER") {
		t.Errorf("got a verdict table with no prober in it:\n%s", stdout)
	}
}

// A job's details come from the same prober on every run: the first in the
// table's order (namespace, then name) that answered, not whichever
// answered first.
func TestJobDetailsProber(t *testing.T) {
	answered := func(ns, name string) *dsprobev1.ProberResult {
		return &dsprobev1.ProberResult{Prober: name, Namespace: ns, Outcome: &dsprobev1.ProberResult_Result{Result: &dsprobev1.ProbeResult{}}}
	}
	silent := func(ns, name string) *dsprobev1.ProberResult {
		return &dsprobev1.ProberResult{Prober: name, Namespace: ns, Outcome: &dsprobev1.ProberResult_Error{Error: &dsprobev1.ProberError{Code: "DEADLINE_EXCEEDED"}}}
	}
	a, b, c := answered("team-a", "prober-a"), answered("team-b", "prober-b"), answered("team-c", "prober-c")
	tests := []struct {
		name    string
		arrived []*dsprobev1.ProberResult
		want    string
	}{
		{"in order", []*dsprobev1.ProberResult{a, b, c}, "prober-a"},
		{"the last by name first", []*dsprobev1.ProberResult{c, b, a}, "prober-a"},
		{"the middle one first", []*dsprobev1.ProberResult{b, c, a}, "prober-a"},
		{"the first by name did not answer", []*dsprobev1.ProberResult{c, silent("team-a", "prober-a"), b}, "prober-b"},
		{"namespace before name", []*dsprobev1.ProberResult{answered("team-b", "prober-a"), answered("team-a", "prober-z")}, "prober-z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			writeJobDetails(&out, &coordinator.JobRun{Results: tt.arrived})
			if got, want := strings.Count(out.String(), "from prober "), 1; got != want {
				t.Fatalf("got %d detail blocks, want %d:\n%s", got, want, out.String())
			}
			if !strings.Contains(out.String(), "from prober "+tt.want+":") {
				t.Errorf("got\n%s\nwant the details of %s", out.String(), tt.want)
			}
		})
	}
}
