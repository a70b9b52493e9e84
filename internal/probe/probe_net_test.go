package probe_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
	"github.com/dsprobe/dsprobe/internal/testsupport/testpki"
)

// bins holds the dsprobe binary the tests run inside test hosts.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	testhost.MainWithBinaries(m, bins, "../../cmd/dsprobe")
}

// probeJSON is the part of `dsprobe probe -o json` the cases assert.
type probeJSON struct {
	Families []struct {
		Family, FailingLayer, Detail string
		OK                           bool
	}
	DNS map[string]struct {
		Status, Server string
		ElapsedMs      float64
		Addresses      []string
	}
	Listener      struct{ Accepts string }
	Clients       []prediction
	HappyEyeballs prediction
	Attempts      []struct{ Address, Family, Outcome, Error, AppDetail string }
}

type prediction struct {
	Profile, Family, FailingLayer string
	TimeToConnectMs               float64
}

func (p probeJSON) family(name string) (ok bool, layer, detail string) {
	for _, f := range p.Families {
		if f.Family == name {
			return f.OK, f.FailingLayer, f.Detail
		}
	}
	return false, "missing", ""
}

func (p probeJSON) client(profile string) (family string, ms float64) {
	for _, c := range p.Clients {
		if c.Profile == profile {
			return c.Family, c.TimeToConnectMs
		}
	}
	return "missing", 0
}

// lab is the network-tier topology: a client, an application server, the
// project's own fault-injecting DNS server and a third-party one (Debian's
// dnsmasq) in front of a third-party web server (Debian's nginx).
type lab struct {
	*testhost.Lab
	client, server, dns, dns3 *testhost.Host
	ownDNS                    *faultdns.Server
	caFile                    string
}

const (
	portHealthy  = 8080
	portV4Only   = 8081
	portV6Only   = 8082
	portHTTP500  = 8083
	portNginx    = 8090
	portVhost    = 8091 // nginx's virtual host on a port that is not HTTP's default
	portHTTP     = 80   // nginx's virtual host on HTTP's default port
	portTLS      = 8443
	dnsPort      = 53
	namePrefix   = ".dsprobe.test"
	healthyName  = "healthy" + namePrefix
	noAAAAName   = "noaaaa" + namePrefix
	servfailName = "servfail" + namePrefix
	lateName     = "late" + namePrefix
	webName      = "web" + namePrefix
)

func newLab(t *testing.T) *lab {
	l := &lab{Lab: testhost.New(t)}
	l.client, l.server, l.dns, l.dns3 = l.AddHost("client"), l.AddHost("server"), l.AddHost("dns"), l.AddHost("dns3")
	s4, s6 := l.server.Addr4(), l.server.Addr6()

	// The application: one dual-stack HTTP listener, and listeners that
	// each break one family.
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	l.serveHTTP(t, "tcp", fmt.Sprintf("[::]:%d", portHealthy), ok)
	l.serveHTTP(t, "tcp4", fmt.Sprintf("0.0.0.0:%d", portV4Only), ok)
	l.serveHTTP(t, "tcp6", fmt.Sprintf("[::]:%d", portV6Only), ok)
	l.serveHTTP(t, "tcp4", fmt.Sprintf("0.0.0.0:%d", portHTTP500), ok)
	l.serveHTTP(t, "tcp6", fmt.Sprintf("[::]:%d", portHTTP500), fail)
	l.serveTLS(t, ok)

	// The project's DNS server, on both families of its host.
	pc, err := l.dns.ListenPacket("udp", fmt.Sprintf("[::]:%d", dnsPort))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.dns.Listen("tcp", fmt.Sprintf("[::]:%d", dnsPort))
	if err != nil {
		t.Fatal(err)
	}
	l.ownDNS = dnstest.StartOn(t, pc, ln)
	both := []netip.Addr{s4, s6}
	l.ownDNS.Set(healthyName, dns.TypeA, faultdns.Response{Addrs: both[:1]})
	l.ownDNS.Set(healthyName, dns.TypeAAAA, faultdns.Response{Addrs: both[1:]})
	l.ownDNS.Set(noAAAAName, dns.TypeA, faultdns.Response{Addrs: both[:1]})
	l.ownDNS.Set(noAAAAName, dns.TypeAAAA, faultdns.Response{})
	l.ownDNS.Set(servfailName, dns.TypeA, faultdns.Response{Addrs: both[:1]})
	l.ownDNS.Set(servfailName, dns.TypeAAAA, faultdns.Response{Rcode: dns.RcodeServerFailure})
	l.ownDNS.Set(lateName, dns.TypeA, faultdns.Response{Addrs: both[:1]})
	l.ownDNS.Set(lateName, dns.TypeAAAA, faultdns.Response{Addrs: both[1:], Delay: 400 * time.Millisecond})

	l.startDnsmasq(t)
	l.startNginx(t)
	return l
}

func (l *lab) serveHTTP(t *testing.T, network, addr string, h http.Handler) {
	ln, err := l.server.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// serveTLS serves HTTPS on portTLS: over IPv4 with a certificate for the
// name, over IPv6 with one for another name, as when a family's address
// leads to a different (misconfigured) server.
func (l *lab) serveTLS(t *testing.T, h http.Handler) {
	ca := testpki.NewCA(t, "probe-net")
	l.caFile = ca.File
	for network, name := range map[string]string{"tcp4": healthyName, "tcp6": "other" + namePrefix} {
		ln, err := l.server.Listen(network, fmt.Sprintf(":%d", portTLS))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, name).TLS}}}
		go srv.ServeTLS(ln, "", "")
		t.Cleanup(func() { srv.Close() })
	}
}

// startDnsmasq runs Debian's dnsmasq as an authoritative-only server for
// web.dsprobe.test on the dns3 host.
func (l *lab) startDnsmasq(t *testing.T) {
	requireBinary(t, "dnsmasq")
	l.dns3.Start(t, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--port", fmt.Sprint(dnsPort), "--user=root",
		"--listen-address", l.dns3.Addr4().String(), "--listen-address", l.dns3.Addr6().String(),
		"--pid-file=", "--log-facility=-",
		fmt.Sprintf("--host-record=%s,%s,%s", webName, l.server.Addr4(), l.server.Addr6()))
	l.waitDNS(t, netip.AddrPortFrom(l.dns3.Addr4(), dnsPort), webName)
}

// startNginx runs Debian's nginx as the dual-stack web server on portNginx.
func (l *lab) startNginx(t *testing.T) {
	requireBinary(t, "nginx")
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  server {
    listen %[2]d;
    listen [::]:%[2]d;
    location / { return 200 "ok\n"; }
  }
%[3]s}
`, dir, portNginx, nginxVhost(portVhost, webName+":"+fmt.Sprint(portVhost))+nginxVhost(portHTTP, webName))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	l.server.Start(t, "nginx", "-c", path, "-p", dir, "-e", "stderr")
	l.client.WaitConnect(t, netip.AddrPortFrom(l.server.Addr4(), portNginx))
}

// nginxVhost is the configuration of a multi-tenant front on port: the
// default server answers 421 Misdirected Request to every name it does not
// serve, and the virtual host for webName serves only requests whose Host is
// exactly authority. nginx's server_name ignores the Host's port, so the
// virtual host compares $http_host itself, as a front that routes by the whole
// authority (Envoy's virtual host domains, for one) does: RFC 9110 §7.2 sends
// the port unless it is the scheme's default.
func nginxVhost(port int, authority string) string {
	return fmt.Sprintf(`  server {
    listen %[1]d default_server;
    listen [::]:%[1]d default_server;
    return 421;
  }
  server {
    listen %[1]d;
    listen [::]:%[1]d;
    server_name %[2]s;
    if ($http_host != "%[3]s") { return 421; }
    location / { return 200 "ok\n"; }
  }
`, port, webName, authority)
}

func requireBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (scripts/install-deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed (bash scripts/install-deps.sh installs it)", name)
	}
}

// waitDNS polls until the server answers, bounded: a daemon that never
// comes up fails the test instead of hanging it.
func (l *lab) waitDNS(t *testing.T, server netip.AddrPort, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := l.client.Do(func() error {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(name), dns.TypeA)
			c := &dns.Client{Timeout: 200 * time.Millisecond}
			_, _, err := c.Exchange(m, server.String())
			return err
		})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DNS server %v never answered: %v", server, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe runs `dsprobe probe -o json ARGS...` inside the client host.
func (l *lab) probe(t *testing.T, args ...string) (probeJSON, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stdout, stderr, code := testhost.RunExit(t, l.client.Command(ctx, bins["dsprobe"], append([]string{"probe", "-o", "json"}, args...)...))
	var res probeJSON
	if code <= 1 {
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("exit %d, bad JSON %q (stderr %s): %v", code, stdout, stderr, err)
		}
	}
	return res, code, stderr
}

func TestProbeOnTestHosts(t *testing.T) {
	l := newLab(t)
	ownDNS := netip.AddrPortFrom(l.dns.Addr4(), dnsPort).String()
	s6 := func(port int) netip.AddrPort { return netip.AddrPortFrom(l.server.Addr6(), uint16(port)) }
	s4 := func(port int) netip.AddrPort { return netip.AddrPortFrom(l.server.Addr4(), uint16(port)) }
	url := func(scheme, name string, port int) string { return fmt.Sprintf("%s://%s:%d/", scheme, name, port) }

	type want struct {
		ok     bool
		layer  string
		detail string // substring of the detail
	}
	tests := []struct {
		name   string
		setup  func(t *testing.T)
		args   []string
		code   int
		v4, v6 want
		check  func(t *testing.T, res probeJSON)
	}{
		{
			name: "healthy dual-stack",
			args: []string{"--dns-server", ownDNS, url("http", healthyName, portHealthy)},
			v4:   want{true, "LAYER_NONE", "pass the http check"}, v6: want{true, "LAYER_NONE", "pass the http check"},
			check: func(t *testing.T, res probeJSON) {
				if res.Listener.Accepts != "LISTENER_ACCEPTS_DUAL" {
					t.Errorf("got listener %q, want LISTENER_ACCEPTS_DUAL", res.Listener.Accepts)
				}
				if fam, _ := res.client("go"); fam != "FAMILY_IPV6" {
					t.Errorf("got go ending on %s, want FAMILY_IPV6", fam)
				}
			},
		},
		{
			name: "healthy via third-party DNS and web server (dnsmasq, nginx)",
			args: []string{"--dns-server", netip.AddrPortFrom(l.dns3.Addr6(), dnsPort).String(), url("http", webName, portNginx)},
			v4:   want{true, "LAYER_NONE", ""}, v6: want{true, "LAYER_NONE", ""},
		},
		{
			// Issue 8: the Host header lost the port, so the virtual host
			// answered 421 on both families of a healthy service.
			name: "virtual host routed by name:port (nginx)",
			args: []string{"--dns-server", netip.AddrPortFrom(l.dns3.Addr6(), dnsPort).String(), url("http", webName, portVhost)},
			v4:   want{true, "LAYER_NONE", ""}, v6: want{true, "LAYER_NONE", ""},
			check: wantAppDetails(fmt.Sprintf("GET http://%s:%d/ returned HTTP status 200", webName, portVhost)),
		},
		{
			// On the scheme's default port the Host is the name alone, as
			// curl sends it.
			name: "virtual host on HTTP's default port routed by name (nginx)",
			args: []string{"--dns-server", netip.AddrPortFrom(l.dns3.Addr6(), dnsPort).String(), url("http", webName, portHTTP)},
			v4:   want{true, "LAYER_NONE", ""}, v6: want{true, "LAYER_NONE", ""},
			check: wantAppDetails(fmt.Sprintf("GET http://%s/ returned HTTP status 200", webName)),
		},
		{
			name: "AAAA missing",
			args: []string{"--dns-server", ownDNS, url("http", noAAAAName, portHealthy)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_DNS", "NODATA"},
		},
		{
			name: "AAAA SERVFAIL",
			args: []string{"--dns-server", ownDNS, url("http", servfailName, portHealthy)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_DNS", "SERVFAIL"},
		},
		{
			name: "AAAA answered 400 ms late",
			args: []string{"--dns-server", ownDNS, url("http", lateName, portHealthy)},
			v4:   want{true, "LAYER_NONE", ""}, v6: want{true, "LAYER_NONE", ""},
			check: func(t *testing.T, res probeJSON) {
				if ms := res.DNS["aaaa"].ElapsedMs; ms < 400 {
					t.Errorf("got AAAA after %v ms, want at least 400", ms)
				}
				// RFC 8305 stops waiting for AAAA 50 ms after A; Go waits
				// for both answers.
				if fam, _ := res.client("rfc8305"); fam != "FAMILY_IPV4" {
					t.Errorf("got rfc8305 ending on %s, want FAMILY_IPV4", fam)
				}
				if fam, ms := res.client("go"); fam != "FAMILY_IPV6" || ms < 400 {
					t.Errorf("got go ending on %s after %v ms, want FAMILY_IPV6 after at least 400", fam, ms)
				}
			},
		},
		{
			name: "listener bound to IPv4 only",
			args: []string{"--dns-server", ownDNS, url("http", healthyName, portV4Only)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_LISTENER", "listens on IPv4 only"},
			check: func(t *testing.T, res probeJSON) {
				if res.Listener.Accepts != "LISTENER_ACCEPTS_IPV4_ONLY" {
					t.Errorf("got listener %q, want LISTENER_ACCEPTS_IPV4_ONLY", res.Listener.Accepts)
				}
			},
		},
		{
			name: "listener bound to IPv6 only",
			args: []string{"--dns-server", ownDNS, url("http", healthyName, portV6Only)},
			code: 1,
			v4:   want{false, "LAYER_LISTENER", "listens on IPv6 only"}, v6: want{true, "LAYER_NONE", ""},
		},
		{
			name:  "IPv6 silently dropped",
			setup: func(t *testing.T) { must(t, l.server.DropInbound(s6(portHealthy))) },
			args:  []string{"--dns-server", ownDNS, "--attempt-timeout", "1s", url("http", healthyName, portHealthy)},
			code:  1,
			v4:    want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_ROUTE", "silently dropped"},
			check: func(t *testing.T, res probeJSON) {
				// Go falls back after 300 ms; Python waits out the OS
				// SYN timeout, far over --max-connect-time.
				if fam, ms := res.client("go"); fam != "FAMILY_IPV4" || ms < 300 {
					t.Errorf("got go on %s after %v ms, want FAMILY_IPV4 after at least 300", fam, ms)
				}
				for _, c := range res.Clients {
					if c.Profile == "python" && c.FailingLayer != "LAYER_CLIENT" {
						t.Errorf("got python %s, want LAYER_CLIENT", c.FailingLayer)
					}
				}
			},
		},
		{
			// The user's budget ends while the IPv6 connect waits: that
			// wait is the evidence of the drop, not an internal error.
			name:  "IPv6 silently dropped, whole budget 2s",
			setup: func(t *testing.T) { must(t, l.server.DropInbound(s6(portHealthy))) },
			args:  []string{"--dns-server", ownDNS, "--timeout", "2s", url("http", healthyName, portHealthy)},
			code:  1,
			v4:    want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_ROUTE", "silently dropped"},
			check: func(t *testing.T, res probeJSON) { checkBudgetDrop(t, res, s6(portHealthy)) },
		},
		{
			name:  "IPv6 silently dropped, whole budget 1s",
			setup: func(t *testing.T) { must(t, l.server.DropInbound(s6(portHealthy))) },
			args:  []string{"--dns-server", ownDNS, "--timeout", "1s", "--attempt-timeout", "5s", url("http", healthyName, portHealthy)},
			code:  1,
			v4:    want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_ROUTE", "budget"},
			check: func(t *testing.T, res probeJSON) { checkBudgetDrop(t, res, s6(portHealthy)) },
		},
		{
			// Too small a budget to measure any connect: the queries that
			// went unanswered are still judged.
			name: "DNS unanswered within the whole budget",
			setup: func(t *testing.T) {
				must(t, l.dns.DropInbound(netip.AddrPortFrom(l.dns.Addr4(), dnsPort)))
			},
			args: []string{"--dns-server", ownDNS, "--timeout", "1s", url("http", healthyName, portHealthy)},
			code: 1,
			v4:   want{false, "LAYER_DNS", "budget"}, v6: want{false, "LAYER_DNS", "budget"},
		},
		{
			name:  "IPv6 rejected admin-prohibited",
			setup: func(t *testing.T) { must(t, l.server.RejectInbound(s6(portHealthy), testhost.RejectAdminProhibited)) },
			args:  []string{"--dns-server", ownDNS, url("http", healthyName, portHealthy)},
			code:  1,
			v4:    want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_POLICY", "administratively prohibited"},
		},
		{
			// Linux reports ICMPv4 admin-prohibited as EHOSTUNREACH; the
			// error queue still tells it apart from a routing failure.
			name:  "IPv4 rejected admin-prohibited",
			setup: func(t *testing.T) { must(t, l.server.RejectInbound(s4(portHealthy), testhost.RejectAdminProhibited)) },
			args:  []string{"--dns-server", netip.AddrPortFrom(l.dns.Addr6(), dnsPort).String(), url("http", healthyName, portHealthy)},
			code:  1,
			v4:    want{false, "LAYER_POLICY", "administratively prohibited"}, v6: want{true, "LAYER_NONE", ""},
		},
		{
			name: "IPv6 route removed",
			setup: func(t *testing.T) {
				must(t, l.client.DelRoute(l.Prefix6()))
				t.Cleanup(func() { must(t, l.client.AddRoute(l.Prefix6(), netip.Addr{})) })
			},
			args: []string{"--dns-server", ownDNS, url("http", healthyName, portHealthy)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_ROUTE", "unreachable"},
		},
		{
			name: "HTTP 500 over IPv6 only",
			args: []string{"--dns-server", ownDNS, url("http", healthyName, portHTTP500)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_APPLICATION", "500"},
		},
		{
			name: "TLS certificate valid for the name only on IPv4",
			args: []string{"--dns-server", ownDNS, "--ca", l.caFile, url("https", healthyName, portTLS)},
			code: 1,
			v4:   want{true, "LAYER_NONE", ""}, v6: want{false, "LAYER_APPLICATION", "certificate"},
		},
		{
			// The system resolver lists the IPv6 server first; it drops
			// everything, so each query moves on to the IPv4 server.
			name: "DNS server reachable over IPv4 only",
			setup: func(t *testing.T) {
				must(t, l.dns.DropInbound(netip.AddrPortFrom(l.dns.Addr6(), dnsPort)))
				must(t, l.client.WriteEtc("resolv.conf", fmt.Sprintf("nameserver %s\nnameserver %s\noptions timeout:1 attempts:1\n", l.dns.Addr6(), l.dns.Addr4())))
				t.Cleanup(func() { must(t, l.client.WriteEtc("resolv.conf", "")) })
			},
			args: []string{url("http", healthyName, portHealthy)},
			v4:   want{true, "LAYER_NONE", ""}, v6: want{true, "LAYER_NONE", ""},
			check: func(t *testing.T, res probeJSON) {
				for _, q := range []string{"a", "aaaa"} {
					if got, want := res.DNS[q].Server, netip.AddrPortFrom(l.dns.Addr4(), dnsPort).String(); got != want {
						t.Errorf("%s answered by %q, want the IPv4 server %s", q, got, want)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			t.Cleanup(func() {
				must(t, l.server.ClearFaults())
				must(t, l.dns.ClearFaults())
			})
			res, code, stderr := l.probe(t, tt.args...)
			if code != tt.code {
				t.Fatalf("got exit %d, want %d (stderr %q, result %+v)", code, tt.code, stderr, res.Families)
			}
			for fam, w := range map[string]want{"FAMILY_IPV4": tt.v4, "FAMILY_IPV6": tt.v6} {
				ok, layer, detail := res.family(fam)
				if ok != w.ok || layer != w.layer || !strings.Contains(detail, w.detail) {
					t.Errorf("%s: got ok=%v %s %q, want ok=%v %s with %q", fam, ok, layer, detail, w.ok, w.layer, w.detail)
				}
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}

	t.Run("bad input exits 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"not a target"},
			{"--check", "ftp", "svc.dsprobe.test:80"},
			// Nothing listens there: every query is refused by ICMP.
			{"--dns-server", netip.AddrPortFrom(l.server.Addr4(), 5353).String(), "--attempt-timeout", "1s", url("http", healthyName, portHealthy)},
		} {
			_, code, stderr := l.probe(t, args...)
			if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") > 0 || stderr == "" {
				t.Errorf("dsprobe probe %v: got exit %d and stderr %q, want exit 2 and one line", args, code, stderr)
			}
		}
	})
}

// checkBudgetDrop checks what a probe whose budget ended during a silent
// IPv6 drop still reports: the timed-out attempt, the prober's own race
// ending on IPv4, and client predictions from the measured outcomes.
func checkBudgetDrop(t *testing.T, res probeJSON, dropped netip.AddrPort) {
	t.Helper()
	found := false
	for _, a := range res.Attempts {
		if a.Address == dropped.String() {
			found = true
			if a.Outcome != "OUTCOME_TIMEOUT" {
				t.Errorf("got %s %s (%s), want OUTCOME_TIMEOUT", a.Address, a.Outcome, a.Error)
			}
		}
	}
	if !found {
		t.Errorf("got attempts %+v, want one to %s", res.Attempts, dropped)
	}
	if res.HappyEyeballs.Family != "FAMILY_IPV4" {
		t.Errorf("got the prober's race on %s (%+v), want FAMILY_IPV4", res.HappyEyeballs.Family, res.HappyEyeballs)
	}
	if fam, ms := res.client("go"); fam != "FAMILY_IPV4" || ms < 300 {
		t.Errorf("got go on %s after %v ms, want FAMILY_IPV4 after at least 300", fam, ms)
	}
	if len(res.Clients) < 10 {
		t.Errorf("got %d client predictions, want every built-in profile", len(res.Clients))
	}
}

// wantAppDetails checks that every direct connect ran the application check
// and that its detail says want.
func wantAppDetails(want string) func(t *testing.T, res probeJSON) {
	return func(t *testing.T, res probeJSON) {
		if len(res.Attempts) == 0 {
			t.Fatal("got no attempts, want one per address")
		}
		for _, a := range res.Attempts {
			if !strings.Contains(a.AppDetail, want) {
				t.Errorf("%s: got app detail %q, want it to contain %q", a.Address, a.AppDetail, want)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
