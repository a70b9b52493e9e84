package allowlist

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// No target slips past the policy: whatever host and port a caller sends,
// CheckTarget allows it only if the port is allowed and the host is an
// address inside the CIDRs (an IPv4-mapped IPv6 address counting as the
// IPv4 address it reaches) or a name, without empty labels, equal to an
// allowed name or below an allowed suffix.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{
		"web.shop.svc.cluster.local", "svc.cluster.local", "evil.com", "svc.cluster.local.evil.com",
		"WEB.SVC.CLUSTER.LOCAL.", "api.example.com", "x.api.example.com", "10.96.0.1", "::ffff:10.96.0.1",
		"::ffff:8.8.8.8", "fd00:10:96::1", "fd00:10:96::1%eth0", "10.97.0.1", "0x0a.96.0.1", "*.svc.cluster.local",
	} {
		f.Add(s, uint16(80))
	}
	p, err := Parse([]string{"10.96.0.0/16", "fd00:10:96::/112"}, []string{"*.svc.cluster.local", "api.example.com"}, []string{"80", "8000-8999"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string, port uint16) {
		if p.CheckTarget(host, port) != nil {
			return
		}
		if port != 80 && (port < 8000 || port > 8999) {
			t.Fatalf("port %d allowed", port)
		}
		if addr, err := netip.ParseAddr(host); err == nil {
			a := addr.Unmap()
			if a.Zone() != "" || !(netip.MustParsePrefix("10.96.0.0/16").Contains(a) || netip.MustParsePrefix("fd00:10:96::/112").Contains(a)) {
				t.Fatalf("address %q allowed", host)
			}
			return
		}
		name := strings.ToLower(strings.TrimSuffix(host, "."))
		if slices.Contains(strings.Split(name, "."), "") {
			t.Fatalf("name %q with an empty label allowed", host)
		}
		if name != "api.example.com" && !strings.HasSuffix(name, ".svc.cluster.local") {
			t.Fatalf("name %q allowed", host)
		}
	})
}
