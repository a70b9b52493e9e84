package resolve

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A resolv.conf of any content gives a usable Config (with or without an
// error naming its bad lines), within glibc's bounds; never a panic.
func FuzzParseResolvConf(f *testing.F) {
	for _, s := range []string{
		"nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
		"nameserver fe80::1%eth0\nnameserver 2001:db8::53\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n",
		"options timeout:0 attempts:99 ndots:-1 rotate edns0 single-request-reopen\n",
		"domain example.com\nsearch a b c d e f g\n", "nameserver\n", "options ndots:99999999999999999999\n",
		"nameserver 1.2.3.4 # comment\n;x\n", "search " + strings.Repeat("a.", 200) + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, _ := ParseResolvConf(strings.NewReader(s))
		if len(cfg.Servers) > MaxServers {
			t.Errorf("%d servers, want at most %d", len(cfg.Servers), MaxServers)
		}
		for _, srv := range cfg.Servers {
			if !srv.IsValid() || srv.Port() == 0 {
				t.Errorf("server %v is not usable", srv)
			}
		}
		if cfg.Ndots < 0 || cfg.Ndots > maxNdots {
			t.Errorf("ndots %d outside 0..%d", cfg.Ndots, maxNdots)
		}
		if cfg.Timeout < time.Second || cfg.Timeout > maxTimeout*time.Second {
			t.Errorf("timeout %v outside 1s..%ds", cfg.Timeout, maxTimeout)
		}
		if cfg.Attempts < 1 || cfg.Attempts > maxAttempt {
			t.Errorf("attempts %d outside 1..%d", cfg.Attempts, maxAttempt)
		}
	})
}

// A hosts file of any content parses (skipping what glibc skips); every
// name it answers for maps to valid addresses.
func FuzzParseHosts(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1 localhost\n::1 localhost ip6-localhost\n", "10.0.0.1 a.example. A.EXAMPLE alias # c\n",
		"::ffff:10.0.0.2 mapped\n", "fe80::1%eth0 zoned\n", "bad line\n", "1.2.3.4\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHosts(strings.NewReader(s), "/etc/hosts")
		if err != nil {
			return
		}
		for name, addrs := range h.byName {
			for _, a := range h.Lookup(name) {
				if !a.IsValid() {
					t.Errorf("name %q maps to an invalid address among %v", name, addrs)
				}
			}
		}
	})
}

// Whatever a server replies, the Answer made of it is consistent: addresses
// only of the asked family with a TTL each, a bounded CNAME chain (a loop
// ends), Positive exactly when NOERROR brought addresses, and an error
// saying why whenever the status is StatusError.
func FuzzFinalResult(f *testing.F) {
	seed := func(qtype uint16, rrs ...string) {
		m := new(dns.Msg)
		m.SetQuestion("svc.example.", qtype)
		m.Response, m.RecursionAvailable = true, true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, qtype == dns.TypeAAAA)
	}
	seed(dns.TypeA, "svc.example. 30 IN A 192.0.2.1")
	seed(dns.TypeAAAA, "svc.example. 30 IN CNAME a.example.", "a.example. 30 IN CNAME svc.example.", "a.example. 5 IN AAAA 2001:db8::1")
	seed(dns.TypeAAAA, "svc.example. 30 IN AAAA ::ffff:192.0.2.1", "svc.example. 30 CH AAAA 2001:db8::2")
	seed(dns.TypeA, "other.example. 30 IN A 192.0.2.9", "svc.example. 30 IN TXT \"x\"")
	f.Fuzz(func(t *testing.T, b []byte, aaaa bool) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return // the exchange drops what does not parse
		}
		qtype := dns.TypeA
		if aaaa {
			qtype = dns.TypeAAAA
		}
		a := finalResult("svc.example.", qtype, reply{msg: m}).answer
		if len(a.Addresses) != len(a.TTLs) {
			t.Errorf("%d addresses, %d TTLs", len(a.Addresses), len(a.TTLs))
		}
		for _, addr := range a.Addresses {
			if !addr.IsValid() || addr.Is4() == aaaa {
				t.Errorf("address %v in an answer to %s", addr, dns.TypeToString[qtype])
			}
		}
		if len(a.CNAMEs) > 16 {
			t.Errorf("a CNAME chain of %d", len(a.CNAMEs))
		}
		if (a.Status == StatusPositive) != (m.Rcode == dns.RcodeSuccess && len(a.Addresses) > 0) {
			t.Errorf("status %v with rcode %d and %d addresses", a.Status, m.Rcode, len(a.Addresses))
		}
		if a.Status == StatusError && a.Err == nil {
			t.Errorf("StatusError without a reason")
		}
	})
}
