package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
)

const hostsFile = `# The usual head of /etc/hosts.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
192.0.2.10   app.hosts.test app   # the canonical name and an alias
2001:db8::10 App.Hosts.Test.
not-an-address   broken.hosts.test
192.0.2.11
192.0.2.12 v4only.hosts.test
::ffff:192.0.2.13 mapped.hosts.test
`

func TestParseHosts(t *testing.T) {
	h, err := ParseHosts(strings.NewReader(hostsFile), "/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		{"localhost", []string{"127.0.0.1", "::1"}},
		{"LOCALHOST.", []string{"127.0.0.1", "::1"}},
		{"app.hosts.test", []string{"192.0.2.10", "2001:db8::10"}}, // case and trailing dot ignored, file order
		{"app", []string{"192.0.2.10"}},                            // an alias
		{"ip6-loopback", []string{"::1"}},
		{"broken.hosts.test", nil}, // the line's address is unparsable: skipped, as glibc skips it
		{"192.0.2.11", nil},        // an address without names lists nothing
		{"v4only.hosts.test", []string{"192.0.2.12"}},
		{"missing.hosts.test", nil},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range h.Lookup(tt.name) {
			got = append(got, a.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	var none *Hosts
	if got := none.Lookup("localhost"); got != nil {
		t.Errorf("a nil Hosts listed %v", got)
	}
}

func TestLoadHosts(t *testing.T) {
	missing, err := LoadHosts(filepath.Join(t.TempDir(), "no-such-file"))
	if err != nil || missing.Lookup("localhost") != nil {
		t.Errorf("a missing file: got %v, %v; want an empty file, as glibc reads it", missing, err)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(hostsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := LoadHosts(path)
	if err != nil || len(h.Lookup("app")) != 1 || h.Path != path {
		t.Errorf("got %+v, %v; want the file parsed", h, err)
	}
	if _, err := LoadHosts(t.TempDir()); err == nil { // a directory cannot be read as a file
		t.Error("reading a directory as the hosts file: want an error")
	}
}

// A name the hosts file lists is answered from the file alone, for both
// families, without a single DNS query; other names go to DNS.
func TestResolverConsultsHostsFirst(t *testing.T) {
	s := dnstest.Start(t)
	// DNS would answer differently: the file must win.
	s.Set("app.hosts.test", dns.TypeA, faultdns.Response{Addrs: addrs("198.51.100.1")})
	s.Set("v4only.hosts.test", dns.TypeAAAA, faultdns.Response{Addrs: addrs("2001:db8::99")})
	s.Set("dns.hosts.test", dns.TypeAAAA, faultdns.Response{Addrs: addrs("2001:db8::53")})
	hosts, err := ParseHosts(strings.NewReader(hostsFile), "/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(TransportUDP, s.Addr())
	r.Hosts = hosts

	tests := []struct {
		name   string
		family dualstack.Family
		status Status
		want   []string
	}{
		{"app.hosts.test", dualstack.FamilyIPv4, StatusPositive, []string{"192.0.2.10"}},
		{"app.hosts.test", dualstack.FamilyIPv6, StatusPositive, []string{"2001:db8::10"}},
		// Listed with IPv4 only: no IPv6 for a client, whatever DNS says.
		{"v4only.hosts.test", dualstack.FamilyIPv6, StatusNoData, nil},
		{"mapped.hosts.test", dualstack.FamilyIPv4, StatusPositive, []string{"192.0.2.13"}},
	}
	for _, tt := range tests {
		a := r.Lookup(context.Background(), tt.name, tt.family)
		var got []string
		for _, addr := range a.Addresses {
			got = append(got, addr.String())
		}
		if a.Status != tt.status || !slices.Equal(got, tt.want) || a.Transport != TransportFiles || a.HostsFile != "/etc/hosts" || a.Rcode != -1 || a.Tries != nil {
			t.Errorf("%s %v: got %v %v via %q from %q (rcode %d, %d tries), want %v %v from the file", tt.name, tt.family, a.Status, got, a.Transport, a.HostsFile, a.Rcode, len(a.Tries), tt.status, tt.want)
		}
	}
	if q := s.Queries(); len(q) > 0 {
		t.Errorf("names the file lists reached DNS: %v", q)
	}

	a := r.Lookup(context.Background(), "dns.hosts.test", dualstack.FamilyIPv6)
	if a.Status != StatusPositive || a.HostsFile != "" || a.Transport != TransportUDP || len(s.Queries()) == 0 {
		t.Errorf("an unlisted name: got %v via %q from %q, want DNS's answer", a.Status, a.Transport, a.HostsFile)
	}
}

// BenchmarkLoadSystem reads a Pod's resolv.conf and hosts file, as a
// prober does for every probe that names no DNS server.
func BenchmarkLoadSystem(b *testing.B) {
	dir := b.TempDir()
	resolvConf, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	// What the kubelet writes for a Pod with dnsPolicy ClusterFirst.
	if err := os.WriteFile(resolvConf, []byte("search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver fd00:10:96::a\noptions ndots:5\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.244.1.7\tweb-7d9c-x2x4q\nfd00:10:244:1::7\tweb-7d9c-x2x4q\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadSystem(resolvConf, hosts); err != nil {
			b.Fatal(err)
		}
	}
}

// Lines longer than the parsers' first buffer are read whole.
func TestParseLinesLongerThanTheBuffer(t *testing.T) {
	var aliases, domains []string
	for i := range lineBufferBytes / 8 {
		aliases = append(aliases, fmt.Sprintf("alias%d.example", i))
		domains = append(domains, fmt.Sprintf("d%d.example", i))
	}
	h, err := ParseHosts(strings.NewReader("192.0.2.7 "+strings.Join(aliases, " ")+"\n"), "hosts")
	if err != nil {
		t.Fatal(err)
	}
	last := aliases[len(aliases)-1]
	if got := h.Lookup(last); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.7")}) {
		t.Errorf("hosts: got %v for %s, the last name of a %d-byte line, want 192.0.2.7", got, last, len(strings.Join(aliases, " ")))
	}
	cfg, err := ParseResolvConf(strings.NewReader("search " + strings.Join(domains, " ") + "\nnameserver 192.0.2.53\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Search, domains) || len(cfg.Servers) != 1 {
		t.Errorf("resolv.conf: got search %v and servers %v, want the %d domains and one server", cfg.Search, cfg.Servers, len(domains))
	}
}
