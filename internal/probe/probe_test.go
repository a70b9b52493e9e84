package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/target"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// loopbackService serves HTTP on 127.0.0.1 and, unless v4only, on [::1] with
// the same port; it returns the port.
func loopbackService(t testing.TB, v4only bool) uint16 {
	t.Helper()
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln4.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln4)
	t.Cleanup(func() { srv.Close() })
	if !v4only {
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		if err != nil {
			t.Skipf("no IPv6 loopback on port %d: %v", port, err)
		}
		go srv.Serve(ln6)
	}
	return uint16(port)
}

func loopbackRequest(t testing.TB, name string, port uint16) Request {
	t.Helper()
	server := dnstest.Start(t)
	server.Set(name, dns.TypeA, faultdns.Response{Addrs: []netip.Addr{lo4}})
	server.Set(name, dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{lo6}})
	tgt, err := target.Parse(fmt.Sprintf("http://%s:%d/", name, port))
	if err != nil {
		t.Fatal(err)
	}
	return Request{
		Target:   tgt,
		Check:    appcheck.Spec{Kind: appcheck.HTTP},
		Resolver: &resolve.Resolver{Config: resolve.Config{Servers: []netip.AddrPort{server.Addr()}, Timeout: time.Second, Attempts: 1}},
	}
}

func TestRunLoopback(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		req := loopbackRequest(t, "svc.dsprobe.test", loopbackService(t, false))
		res, err := Run(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Passed() {
			t.Fatalf("got verdicts %+v, want both families to pass", res.Families)
		}
		if res.Listener.Accepts != listener.Dual {
			t.Errorf("got listener %v, want dual", res.Listener.Accepts)
		}
		if len(res.Attempts) != 2 || len(res.Clients) != len(he.BuiltinProfiles()) {
			t.Errorf("got %d attempts and %d clients, want 2 and %d", len(res.Attempts), len(res.Clients), len(he.BuiltinProfiles()))
		}
		if res.HappyEyeballs.Family == dualstack.FamilyUnspecified || res.HappyEyeballs.FailingLayer != layer.None {
			t.Errorf("got own race %+v, want a connection and LAYER_NONE", res.HappyEyeballs)
		}
	})
	t.Run("listener bound to IPv4 only", func(t *testing.T) {
		req := loopbackRequest(t, "v4only.dsprobe.test", loopbackService(t, true))
		res, err := Run(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Families {
			want := layer.None
			if v.Family == dualstack.FamilyIPv6 {
				want = layer.Listener
			}
			if v.Layer != want {
				t.Errorf("%v: got %v (%s), want %v", v.Family, v.Layer, v.Detail, want)
			}
		}
		// Clients that fall back connect over IPv4 after the refusal.
		// Two never try IPv4 although it works, so they fail as clients:
		// Java with preferIPv6Addresses tries only its first address,
		// Envoy's AUTO uses only AAAA when there is one.
		for _, c := range res.Clients {
			wantFamily, wantLayer := dualstack.FamilyIPv4, layer.None
			if c.Profile == "java-prefer-ipv6" || c.Profile == "envoy" {
				wantFamily, wantLayer = dualstack.FamilyUnspecified, layer.Client
			}
			if c.Family != wantFamily || c.FailingLayer != wantLayer {
				t.Errorf("%s: got %v %v, want %v %v", c.Profile, c.Family, c.FailingLayer, wantFamily, wantLayer)
			}
		}
	})
	t.Run("literal for the wrong family is bad input", func(t *testing.T) {
		tgt, _ := target.Parse("127.0.0.1:80")
		_, err := Run(context.Background(), Request{Target: tgt, Families: []dualstack.Family{dualstack.FamilyIPv6}})
		if err == nil {
			t.Fatal("got no error, want one")
		}
	})
	t.Run("allow-list refuses a name that rebinds outside its CIDRs", func(t *testing.T) {
		req := loopbackRequest(t, "svc.dsprobe.test", loopbackService(t, false))
		policy, err := allowlist.Parse([]string{"127.0.0.0/8"}, []string{"*.dsprobe.test"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Allow = &policy
		_, err = Run(context.Background(), req)
		var denied *allowlist.Denied
		if !errors.As(err, &denied) || !strings.Contains(err.Error(), "::1") {
			t.Fatalf("got %v, want a *allowlist.Denied naming ::1", err)
		}
		req.Allow = &allowlist.Policy{CIDRs: policy.CIDRs}
		if _, err := Run(context.Background(), req); !errors.As(err, &denied) || !strings.Contains(err.Error(), "svc.dsprobe.test") {
			t.Fatalf("got %v, want the name refused", err)
		}
	})
	t.Run("canceled context returns no partial result", func(t *testing.T) {
		req := loopbackRequest(t, "svc.dsprobe.test", loopbackService(t, false))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Run(ctx, req); err == nil {
			t.Fatal("got no error for a canceled probe")
		}
	})
}

// The check's Host is the target's host and port, so a virtual host routed
// by name:port sees it (appcheck leaves out the scheme's default port).
// Issue 8: the port was dropped.
func TestValidateCheckHost(t *testing.T) {
	tests := []struct {
		target, checkHost string
		want              string
	}{
		{"http://svc.example:8080/", "", "svc.example:8080"},
		{"http://svc.example/", "", "svc.example:80"},
		{"https://svc.example/", "", "svc.example:443"},
		{"grpc://svc.example:50051", "", "svc.example:50051"},
		{"svc.example:8443", "", "svc.example:8443"},
		{"192.0.2.1:8080", "", "192.0.2.1:8080"},
		{"[2001:db8::1]:8080", "", "[2001:db8::1]:8080"},
		{"http://[2001:db8::1]/", "", "[2001:db8::1]:80"},
		{"http://svc.example:8080/", "other.example", "other.example"}, // the caller's own Host wins
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			tgt, err := target.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Target: tgt, Check: appcheck.Spec{Host: tt.checkHost}}
			if err := req.Validate(); err != nil {
				t.Fatal(err)
			}
			if req.Check.Host != tt.want {
				t.Errorf("got check Host %q, want %q", req.Check.Host, tt.want)
			}
		})
	}
}

// ipv4FirstRFC8305 is rfc8305 with a gai.conf that ranks IPv4 above every
// IPv6 address, loopback's ::1 included, so an order that starts with IPv6
// shows a rule other than RFC 6724 at work.
func ipv4FirstRFC8305(t *testing.T) he.Profile {
	t.Helper()
	gaiconf := filepath.Join(t.TempDir(), "gai.conf")
	if err := os.WriteFile(gaiconf, []byte("precedence ::ffff:0:0/96 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile, err := he.ParseProfile("rfc8305,policy=" + gaiconf)
	if err != nil {
		t.Fatal(err)
	}
	return profile
}

// A name the hosts file lists is answered for both families at once, so the
// prober's own race holds both answers from its start and sorts them into
// one list (RFC 8305 §4) instead of starting IPv6 on the AAAA answer alone
// (§3). A gai.conf ranking IPv4 first makes that visible on loopback, where
// RFC 6724's table would put ::1 first anyway.
func TestRunRaceSortsAnswersInHandTogether(t *testing.T) {
	profile := ipv4FirstRFC8305(t)
	const name = "svc.dsprobe.test"
	hosts, err := resolve.ParseHosts(strings.NewReader("::1 "+name+"\n127.0.0.1 "+name+"\n"), "hosts")
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := target.Parse(fmt.Sprintf("http://%s:%d/", name, loopbackService(t, false)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), Request{
		Target: tgt, Check: appcheck.Spec{Kind: appcheck.HTTP},
		Resolver: &resolve.Resolver{Hosts: hosts},
		Profile:  profile, ExtraProfiles: []he.Profile{profile},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Order) == 0 || res.Order[0] != lo4 {
		t.Fatalf("got order %v, want %v first", res.Order, lo4)
	}
	race := res.HappyEyeballs
	if len(race.Attempts) == 0 || race.Attempts[0].Address != lo4 {
		t.Errorf("got the race's attempts %+v, want the first to %v", race.Attempts, lo4)
	}
	// The prediction for the same profile replays the same answers.
	predicted := res.Clients[len(res.Clients)-1]
	if len(predicted.Attempts) == 0 || predicted.Attempts[0].Address != lo4 {
		t.Errorf("got %s's predicted attempts %+v, want the first to %v", predicted.Profile, predicted.Attempts, lo4)
	}
}

// When AAAA is answered first, RFC 8305 section 3 tries IPv6 at once even
// where RFC 6724 ranks IPv4 first: the order the probe reports is the race's,
// so it starts with the race's first attempt.
func TestRunOrderIsTheRacesWhenAAAAComesFirst(t *testing.T) {
	profile := ipv4FirstRFC8305(t)
	const name = "svc.dsprobe.test"
	req := loopbackRequest(t, name, loopbackService(t, false))
	server := dnstest.Start(t)
	server.Set(name, dns.TypeA, faultdns.Response{Addrs: []netip.Addr{lo4}, Delay: 200 * time.Millisecond})
	server.Set(name, dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{lo6}})
	req.Resolver.Config.Servers = []netip.AddrPort{server.Addr()}
	req.Profile = profile
	res, err := Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	race := res.HappyEyeballs
	if len(race.Attempts) == 0 || race.Attempts[0].Address != lo6 {
		t.Fatalf("got the race's attempts %+v, want the first to %v (AAAA came first)", race.Attempts, lo6)
	}
	if len(res.Order) != 2 || res.Order[0] != lo6 {
		t.Errorf("got order %v, want the race's first attempt %v first", res.Order, lo6)
	}
}

// BenchmarkProbe measures whole probes of a healthy dual-stack target on
// loopback: DNS over UDP, two direct connects with HTTP checks, the real
// race and 17 client predictions. The DNS and HTTP servers run in the same
// process, so their allocations count too.
func BenchmarkProbe(b *testing.B) {
	benchmarkProbe(b, loopbackRequest(b, "svc.dsprobe.test", loopbackService(b, false)))
}

// BenchmarkProbeTCP is BenchmarkProbe with the plain TCP check, the probe
// a prober answers for check tcp: no application check on the connections.
func BenchmarkProbeTCP(b *testing.B) {
	req := loopbackRequest(b, "svc.dsprobe.test", loopbackService(b, false))
	req.Check = appcheck.Spec{}
	benchmarkProbe(b, req)
}

func benchmarkProbe(b *testing.B, req Request) {
	b.ReportAllocs()
	for b.Loop() {
		res, err := Run(context.Background(), req)
		if err != nil || !res.Passed() {
			b.Fatalf("probe failed: %v %+v", err, res.Families)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}
