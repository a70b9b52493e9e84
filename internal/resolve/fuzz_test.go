package resolve

import (
	"strings"
	"testing"
	"time"
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
