package allowlist

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustParse(t *testing.T, cidrs, names, ports []string) Policy {
	t.Helper()
	p, err := Parse(cidrs, names, ports)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckTarget(t *testing.T) {
	p := mustParse(t,
		[]string{"10.96.0.0/12", "fd00:10:96::/112", "192.0.2.7"},
		[]string{"*.svc.cluster.local", "api.example.com."},
		[]string{"80", "8000-8999"})
	tests := []struct {
		host    string
		port    uint16
		allowed bool
		reason  string
	}{
		{"web.default.svc.cluster.local", 80, true, ""},
		{"WEB.default.SVC.cluster.local.", 8080, true, ""},
		{"api.example.com", 80, true, ""},
		{"10.96.0.10", 80, true, ""},
		{"fd00:10:96::a", 8443, true, ""},
		{"192.0.2.7", 80, true, ""},
		{"::ffff:10.96.0.10", 80, true, ""},
		{"svc.cluster.local", 80, false, "matches no allowed name"}, // the suffix itself is not below it
		{"evilsvc.cluster.local", 80, false, "matches no allowed name"},
		{"metadata.google.internal", 80, false, "matches no allowed name"},
		{"169.254.169.254", 80, false, "outside the allowed CIDRs"},
		{"192.0.2.8", 80, false, "outside the allowed CIDRs"},
		{"web.default.svc.cluster.local", 22, false, "port 22"},
		{"10.96.0.10", 9000, false, "port 9000"},
	}
	for _, tt := range tests {
		err := p.CheckTarget(tt.host, tt.port)
		if tt.allowed != (err == nil) {
			t.Errorf("CheckTarget(%s, %d) = %v, want allowed=%v", tt.host, tt.port, err, tt.allowed)
			continue
		}
		var denied *Denied
		if err != nil && (!errors.As(err, &denied) || !strings.Contains(err.Error(), tt.reason)) {
			t.Errorf("CheckTarget(%s, %d) = %v, want a *Denied saying %q", tt.host, tt.port, err, tt.reason)
		}
	}
}

// DNS rebinding: an allowed name that resolves outside the CIDRs is refused,
// naming every offending address.
func TestCheckAddressesRebinding(t *testing.T) {
	p := mustParse(t, []string{"10.96.0.0/12"}, []string{"*.svc.cluster.local"}, nil)
	if err := p.CheckTarget("web.default.svc.cluster.local", 80); err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("::1")}
	err := p.CheckAddresses(addrs)
	if err == nil || !strings.Contains(err.Error(), "169.254.169.254, ::1") {
		t.Errorf("got %v, want both outside addresses named", err)
	}
	if err := p.CheckAddresses(addrs[:1]); err != nil {
		t.Errorf("got %v for an allowed address, want nil", err)
	}
}

func TestZeroPolicyAllowsNothing(t *testing.T) {
	var p Policy
	for _, host := range []string{"127.0.0.1", "::1", "svc.example"} {
		if err := p.CheckTarget(host, 80); err == nil {
			t.Errorf("zero policy allowed %s", host)
		}
	}
}

func TestAnyName(t *testing.T) {
	p := mustParse(t, []string{"192.0.2.0/24"}, []string{"*"}, nil)
	if err := p.CheckTarget("anything.example", 443); err != nil {
		t.Errorf("got %v, want any name allowed", err)
	}
	if err := p.CheckAddress(netip.MustParseAddr("198.51.100.1")); err == nil {
		t.Error("AnyName must still check addresses against the CIDRs")
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse([]string{"10.0.0.0/33", "nope"}, []string{"a b", "*.*.x"}, []string{"0", "90-80", "http"})
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{`"10.0.0.0/33"`, `"nope"`, `"a b"`, `"*.*.x"`, `"0"`, `"90-80"`, `"http"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to mention %s", err, want)
		}
	}
}
