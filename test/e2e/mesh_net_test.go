package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
	"github.com/dsprobe/dsprobe/internal/testsupport/testpki"
)

var bins = map[string]string{}

func TestMain(m *testing.M) {
	testhost.MainWithBinaries(m, bins, "../../cmd/dsprobe", "../../cmd/prober", "../../cmd/coordinator")
}

type jobJSON struct {
	Probers []struct {
		Prober, Namespace string
		Result            *struct {
			Families []struct {
				Family, FailingLayer string
				OK                   bool
			}
			DNS struct {
				A, AAAA struct{ Addresses []string }
			}
		}
		Error *struct{ Code, Message string }
	}
	Summary struct{ Passed bool }
}

// mesh is the mesh as deployed: two prober processes, each in its own host
// (network namespace), a coordinator in another, and a client host for the
// CLI, all over mutual TLS with certificates from one CA.
type mesh struct {
	client      *testhost.Host
	ca          *testpki.CA
	coordAddr   netip.AddrPort
	proberAddrs []netip.AddrPort
	// withCert are the CLI's flags for an authorised caller.
	withCert []string
}

// meshOptions adjust the processes of a mesh.
type meshOptions struct {
	proberArgs, coordArgs []string
	// proberEnv and coordEnv are added to the processes' environment.
	proberEnv, coordEnv []string
	// proberEtc and coordEtc are files the processes see under /etc
	// ("resolv.conf", "hosts"; see testhost.Host.WriteEtc).
	proberEtc, coordEtc map[string]string
	// addHost places a process of the mesh: "coord", "client", or a prober
	// with its namespace. By default each gets a host on the lab's bridge.
	addHost func(name, namespace string) *testhost.Host
	// allow is the probers' allow-list (--allow-cidr, --allow-name
	// flags); by default the lab's prefixes.
	allow []string
}

// probers names the mesh's probers and their namespaces.
var probers = []struct{ name, namespace string }{{"prober-a", "team-a"}, {"prober-b", "team-b"}}

// startMesh starts the mesh in lab (unless o places it elsewhere); the
// probers may probe the lab's addresses.
func startMesh(t *testing.T, lab *testhost.Lab, o meshOptions) *mesh {
	t.Helper()
	addHost, allow := o.addHost, o.allow
	if addHost == nil {
		addHost = func(name, _ string) *testhost.Host { return lab.AddHost(name) }
	}
	if allow == nil {
		allow = []string{"--allow-cidr", lab.Prefix4().String(), "--allow-cidr", lab.Prefix6().String()}
	}
	coord, client := addHost("coord", ""), addHost("client", "")
	m := &mesh{client: client, ca: testpki.NewCA(t, "mesh")}
	var proberFlags []string
	var proberAddrs []netip.AddrPort
	writeEtc(t, coord, o.coordEtc)
	for _, p := range probers {
		host := addHost(p.name, p.namespace)
		writeEtc(t, host, o.proberEtc)
		cert := m.ca.Issue(t, p.name, host.Addr4())
		addr := netip.AddrPortFrom(host.Addr4(), 9443)
		cmd := host.Command(context.Background(), bins["prober"], slices.Concat([]string{"--listen", addr.String(), "--name", p.name, "--namespace", p.namespace,
			"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--tls-ca", m.ca.File}, allow, o.proberArgs)...)
		cmd.Env = append(os.Environ(), o.proberEnv...)
		host.StartCommand(t, cmd)
		proberFlags = append(proberFlags, "--prober", fmt.Sprintf("%s/%s=%s", p.name, p.namespace, addr))
		proberAddrs = append(proberAddrs, addr)
	}
	coordCert := m.ca.Issue(t, "coordinator", coord.Addr4())
	m.coordAddr = netip.AddrPortFrom(coord.Addr4(), 9444)
	cmd := coord.Command(context.Background(), bins["coordinator"], slices.Concat([]string{"--listen", m.coordAddr.String(),
		"--tls-cert", coordCert.CertFile, "--tls-key", coordCert.KeyFile, "--tls-ca", m.ca.File,
		"--prober-tls-cert", coordCert.CertFile, "--prober-tls-key", coordCert.KeyFile, "--prober-tls-ca", m.ca.File}, proberFlags, o.coordArgs)...)
	cmd.Env = append(os.Environ(), o.coordEnv...)
	coord.StartCommand(t, cmd)
	m.proberAddrs = proberAddrs
	for _, addr := range append(proberAddrs, m.coordAddr) {
		client.WaitConnect(t, addr)
	}
	cli := m.ca.Issue(t, "operator")
	m.withCert = []string{"--tls-cert", cli.CertFile, "--tls-key", cli.KeyFile, "--tls-ca", m.ca.File}
	return m
}

// probe runs `dsprobe probe --coordinator` in the client host with args
// (and env added to its environment) and returns its output and exit code.
func (m *mesh) probe(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := m.client.Command(ctx, bins["dsprobe"], append([]string{"probe", "--coordinator", m.coordAddr.String()}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return testhost.RunExit(t, cmd)
}

func writeEtc(t *testing.T, host *testhost.Host, files map[string]string) {
	t.Helper()
	for file, content := range files {
		if err := host.WriteEtc(file, content); err != nil {
			t.Fatal(err)
		}
	}
}

// webServer serves HTTP on addr in the host until the test ends.
func webServer(t *testing.T, host *testhost.Host, network, addr string) {
	t.Helper()
	ln, err := host.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// serveName answers DNS queries for name with host's IPv4 and IPv6
// addresses, from a server on host's port 53 (UDP and TCP), until the test
// ends; it returns the server's address.
func serveName(t *testing.T, host *testhost.Host, name string) netip.AddrPort {
	t.Helper()
	addr := netip.AddrPortFrom(host.Addr4(), 53)
	pc, err := host.ListenPacket("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := host.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	names := dnstest.StartOn(t, pc, ln)
	names.Set(name, dns.TypeA, faultdns.Response{Addrs: []netip.Addr{host.Addr4()}})
	names.Set(name, dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{host.Addr6()}})
	return addr
}

// The mesh over mutual TLS: per-prober verdicts with namespace labels,
// refused callers, refused targets.
func TestMeshOverMutualTLS(t *testing.T) {
	lab := testhost.New(t)
	web := lab.AddHost("web")
	// The target: dual-stack on :8080, IPv4 only on :8081.
	webServer(t, web, "tcp", "[::]:8080")
	webServer(t, web, "tcp4", "0.0.0.0:8081")
	metrics := []string{"--metrics-listen", ":9090"}
	m := startMesh(t, lab, meshOptions{proberArgs: metrics, coordArgs: metrics})
	run := func(args ...string) (string, string, int) { return m.probe(t, nil, args...) }
	withCert, ca := m.withCert, m.ca

	t.Run("both probers answer over mTLS", func(t *testing.T) {
		target := fmt.Sprintf("http://[%s]:8081/", web.Addr6()) // IPv4-only listener, probed over IPv6
		stdout, stderr, code := run(append(withCert, "-o", "json", target)...)
		if code != 1 {
			t.Fatalf("got exit %d (%s), want 1: IPv6 is refused", code, stderr)
		}
		var job jobJSON
		if err := json.Unmarshal([]byte(stdout), &job); err != nil {
			t.Fatalf("bad JSON %q: %v", stdout, err)
		}
		seen := map[string]string{}
		for _, p := range job.Probers {
			if p.Result == nil {
				t.Fatalf("prober %s gave no result: %+v", p.Prober, p.Error)
			}
			f := p.Result.Families[0]
			if f.Family != "FAMILY_IPV6" || f.OK || f.FailingLayer != "LAYER_LISTENER" {
				t.Errorf("prober %s: got %+v, want IPv6 failing at LAYER_LISTENER", p.Prober, f)
			}
			seen[p.Prober] = p.Namespace
		}
		if seen["prober-a"] != "team-a" || seen["prober-b"] != "team-b" || job.Summary.Passed {
			t.Errorf("got probers %v and summary %+v, want prober-a/team-a and prober-b/team-b, not passed", seen, job.Summary)
		}
	})
	t.Run("healthy target passes from every namespace", func(t *testing.T) {
		stdout, stderr, code := run(append(withCert, fmt.Sprintf("http://%s:8080/", web.Addr4()))...)
		if code != 0 || !strings.Contains(stdout, "team-a") || !strings.Contains(stdout, "team-b") || !strings.Contains(stdout, "2 of 2 prober(s) answered") {
			t.Errorf("got exit %d, %q (stderr %q), want both probers passing", code, stdout, stderr)
		}
	})
	t.Run("a caller without a client certificate is refused", func(t *testing.T) {
		_, stderr, code := run("--tls-ca", ca.File, fmt.Sprintf("http://%s:8080/", web.Addr4()))
		if code != 2 || !strings.Contains(stderr, "requires a client certificate") {
			t.Errorf("got exit %d and %q, want exit 2 explaining the client certificate", code, stderr)
		}
		t.Logf("refused: %s", stderr)
	})
	t.Run("a caller signed by another CA is refused", func(t *testing.T) {
		rogue := testpki.NewCA(t, "rogue").Issue(t, "intruder")
		_, stderr, code := run("--tls-cert", rogue.CertFile, "--tls-key", rogue.KeyFile, "--tls-ca", ca.File, fmt.Sprintf("http://%s:8080/", web.Addr4()))
		if code != 2 || !strings.Contains(stderr, "requires a client certificate") {
			t.Errorf("got exit %d and %q, want exit 2 explaining the client certificate", code, stderr)
		}
		t.Logf("refused: %s", stderr)
	})
	t.Run("a target outside the probers' allow-list is refused by each", func(t *testing.T) {
		stdout, _, code := run(append(withCert, "-o", "json", "10.96.0.1:443")...)
		var job jobJSON
		if code != 1 || json.Unmarshal([]byte(stdout), &job) != nil || len(job.Probers) != 2 {
			t.Fatalf("got exit %d and %q, want both probers' refusals", code, stdout)
		}
		for _, p := range job.Probers {
			if p.Error == nil || p.Error.Code != "PERMISSION_DENIED" {
				t.Errorf("prober %s: got %+v, want PERMISSION_DENIED", p.Prober, p.Error)
			}
		}
	})
	t.Run("metrics count verdicts without addresses", func(t *testing.T) {
		coordMetrics := scrape(t, m.client, netip.AddrPortFrom(m.coordAddr.Addr(), 9090))
		proberMetrics := scrape(t, m.client, netip.AddrPortFrom(m.proberAddrs[0].Addr(), 9090))
		for _, want := range []string{
			// The first subtest's IPv6 refusal, from each namespace.
			`dsprobe_coordinator_family_results_total{family="ipv6",layer="listener",namespace="team-a",result="fail"} 1`,
			`dsprobe_coordinator_family_results_total{family="ipv6",layer="listener",namespace="team-b",result="fail"} 1`,
			`dsprobe_coordinator_prober_answers_total{code="PERMISSION_DENIED"} 2`,
			`dsprobe_coordinator_jobs_total{result="fail"} 2`,
		} {
			if !strings.Contains(coordMetrics, want+"\n") {
				t.Errorf("the coordinator's /metrics lack %s", want)
			}
		}
		for _, want := range []string{
			`dsprobe_family_results_total{family="ipv6",layer="listener",result="fail"} 1`,
			`dsprobe_family_results_total{family="ipv4",layer="none",result="pass"} 1`,
		} {
			if !strings.Contains(proberMetrics, want+"\n") {
				t.Errorf("prober-a's /metrics lack %s", want)
			}
		}
		for _, text := range []string{coordMetrics, proberMetrics} {
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "dsprobe_") && (strings.Contains(line, "192.0.2.") || strings.Contains(line, "2001:db8")) {
					t.Errorf("a metric label holds an address: %s", line)
				}
			}
		}
	})
}

// scrape fetches /metrics at addr from host.
func scrape(t *testing.T, host *testhost.Host, addr netip.AddrPort) string {
	t.Helper()
	resp, err := host.HTTPClient(5 * time.Second).Get(fmt.Sprintf("http://%s/metrics", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics from %s: %s %v", addr, resp.Status, err)
	}
	return string(body)
}
