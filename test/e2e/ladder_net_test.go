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
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
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

// dsprobe ladder status and check read a ladder's status from a real API
// server, from a Pod, as a ServiceAccount that may only read DNSLadders:
// the status as the coordinator writes it (the status subresource), with
// the internal rung cleared and the broad one failing at LAYER_LISTENER.
// Before the CRD exists, and for a ladder, a rung or credentials that do
// not fit, the commands exit 2 saying why.
func TestLadderStatusInCluster(t *testing.T) {
	c := kubelab.Start(t)
	client := c.AddPod(t, "dsprobe", "cli", nil)
	reader := evidenceKubeconfig(t, c, "ladder-reader", []rbacv1.PolicyRule{
		{APIGroups: []string{ladder.Group}, Resources: []string{"dnsladders"}, Verbs: []string{"get", "list"}},
	})
	nobody := evidenceKubeconfig(t, c, "ladder-nobody", nil)
	dsprobe := func(t *testing.T, kubeconfig string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		args = append([]string{"ladder", args[0], "--kubeconfig", kubeconfig, "-n", "shop"}, args[1:]...)
		return testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], args...))
	}

	if _, stderr, code := dsprobe(t, reader, "status", "web"); code != 2 || !strings.Contains(stderr, "no DNSLadder resource (CRD dnsladders.dsprobe.io): apply deploy/base") {
		t.Errorf("before the CRD: got exit %d, %q, want 2 saying to apply deploy/base", code, stderr)
	}

	crd, err := os.ReadFile("../../deploy/base/dnsladder-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(t, crd, kubelab.ApplyOptions{})
	poll(t, "dnsladders served", func() bool {
		_, err := c.Client.Discovery().ServerResourcesForGroupVersion(ladder.APIVersion)
		return err == nil
	})
	c.AddNamespace(t, "shop", nil)
	doc := `apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: web, namespace: shop}
spec:
  target: {address: "http://web.shop.example:8080/"}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true, gates: {consecutivePasses: 2}}
    - {name: broad, vantage: {namespaces: [team-b]}, aaaaExpected: true}
`
	c.Apply(t, []byte(doc), kubelab.ApplyOptions{})
	var l ladder.DNSLadder
	if err := yaml.UnmarshalStrict([]byte(doc), &l); err != nil {
		t.Fatal(err)
	}

	// Two runs: internal passes twice (cleared), broad's listener takes
	// IPv4 only.
	vantage := func(prober, namespace string, ipv6 ladder.FamilyVerdict) ladder.VantageRun {
		return ladder.VantageRun{
			Prober: prober, Namespace: namespace,
			A:         ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Rcode: "NOERROR", Addresses: []string{"192.0.2.8"}, Server: "10.96.0.10:53"},
			AAAA:      ladder.DNSAnswer{Status: "DNS_STATUS_POSITIVE", Rcode: "NOERROR", Addresses: []string{"2001:db8::8"}, Server: "10.96.0.10:53"},
			Attempted: []string{"[2001:db8::8]:8080", "192.0.2.8:8080"}, ChosenFamily: "FAMILY_IPV6",
			Families: []ladder.FamilyVerdict{{Family: "FAMILY_IPV4", OK: true, FailingLayer: "LAYER_NONE"}, ipv6},
		}
	}
	passing := ladder.FamilyVerdict{Family: "FAMILY_IPV6", OK: true, FailingLayer: "LAYER_NONE"}
	refused := ladder.FamilyVerdict{Family: "FAMILY_IPV6", FailingLayer: "LAYER_LISTENER", Detail: "connects to [2001:db8::8]:8080 are refused while IPv4 connects succeed"}
	status := &ladder.Status{}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		runs := []ladder.RungRun{
			l.Spec.Judge(0, ladder.RungRun{Time: at, JobID: fmt.Sprintf("job-internal-%d", i), Vantages: []ladder.VantageRun{vantage("prober-a", "team-a", passing)}}),
			l.Spec.Judge(1, ladder.RungRun{Time: at, JobID: fmt.Sprintf("job-broad-%d", i), Vantages: []ladder.VantageRun{vantage("prober-b", "team-b", refused)}}),
		}
		status.Record(&l.Spec, runs, at)
		at = at.Add(5 * time.Minute)
	}
	writeStatus(t, c, "shop", "web", status)

	t.Run("status of one ladder", func(t *testing.T) {
		stdout, stderr, code := dsprobe(t, reader, "status", "web")
		for _, want := range []string{
			"ladder shop/web  target http://web.shop.example:8080/  last run 2026-11-25T12:05:00Z",
			"internal  expected  Passing  2/2     -               job-internal-1",
			"broad     expected  Failing  0/1     LAYER_LISTENER  job-broad-1",
			"rung broad: Failing: from prober-b (team-b): IPv6: connects to [2001:db8::8]:8080 are refused",
			"prober-a (team-a): A 192.0.2.8 from 10.96.0.10:53  AAAA 2001:db8::8 from 10.96.0.10:53  attempted [2001:db8::8]:8080, 192.0.2.8:8080  chose IPv6",
			"highest rung cleared: internal (1 of 2 rungs)",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the status lacks %q:\n%s", want, stdout)
			}
		}
		if code != 1 {
			t.Errorf("got exit %d (%s), want 1: a rung is failing", code, stderr)
		}
	})
	t.Run("every ladder of the namespace", func(t *testing.T) {
		stdout, _, _ := dsprobe(t, reader, "status")
		if !strings.Contains(stdout, "web   http://web.shop.example:8080/  internal  1/2    Failing  2026-11-25T12:05:00Z") {
			t.Errorf("got\n%s\nwant web's line", stdout)
		}
		stdout, _, _ = dsprobe(t, reader, "status", "-o", "json")
		var list struct{ Items []ladder.DNSLadder }
		if err := json.Unmarshal([]byte(stdout), &list); err != nil || len(list.Items) != 1 || list.Items[0].Status.RungsCleared != 1 {
			t.Errorf("got %v and %+v, want one ladder with 1 rung cleared", err, list)
		}
	})
	t.Run("check before the next publication step", func(t *testing.T) {
		if stdout, stderr, code := dsprobe(t, reader, "check", "web", "--rung", "internal"); code != 0 || !strings.Contains(stdout, "rung internal and every rung below it are cleared") {
			t.Errorf("--rung internal: got exit %d, %q (%s), want 0", code, stdout, stderr)
		}
		stdout, _, code := dsprobe(t, reader, "check", "web", "--rung", "1")
		if code != 1 || !strings.Contains(stdout, "rung broad is not cleared: rung broad is Failing with 0 of 1 consecutive passes: from prober-b") {
			t.Errorf("--rung 1: got exit %d, %q, want 1 naming broad failing", code, stdout)
		}
		if _, stderr, code := dsprobe(t, reader, "check", "web", "--rung", "everyone"); code != 2 || !strings.Contains(stderr, `no rung "everyone"`) {
			t.Errorf("--rung everyone: got exit %d, %q, want 2", code, stderr)
		}
	})
	t.Run("input and credentials that do not fit", func(t *testing.T) {
		if _, stderr, code := dsprobe(t, reader, "status", "absent"); code != 2 || !strings.Contains(stderr, "DNSLadder shop/absent not found") {
			t.Errorf("an absent ladder: got exit %d, %q, want 2", code, stderr)
		}
		if _, stderr, code := dsprobe(t, nobody, "status", "web"); code != 2 || !strings.Contains(stderr, "forbidden") {
			t.Errorf("without RBAC: got exit %d, %q, want 2 saying it is forbidden", code, stderr)
		}
	})
}

// writeStatus writes a DNSLadder's status through the status subresource,
// as the coordinator does.
func writeStatus(t *testing.T, c *kubelab.Cluster, namespace, name string, status *ladder.Status) {
	t.Helper()
	rest := c.Client.Discovery().RESTClient()
	path := []string{"/apis", ladder.Group, ladder.Version, "namespaces", namespace, "dnsladders", name}
	raw, err := rest.Get().AbsPath(path...).DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	obj["status"] = status
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := rest.Put().AbsPath(append(path, "status")...).SetHeader("Content-Type", "application/json").Body(body).Do(t.Context()).Error(); err != nil {
		t.Fatalf("writing the status: %v", err)
	}
}
