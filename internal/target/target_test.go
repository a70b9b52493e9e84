package target

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Target
	}{
		{"svc.example:80", Target{Host: "svc.example", Port: 80}},
		{"svc.example.:80", Target{Host: "svc.example.", Port: 80}},
		{"192.0.2.1:443", Target{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Port: 443}},
		{"[2001:db8::1]:8080", Target{Host: "2001:db8::1", Addr: netip.MustParseAddr("2001:db8::1"), Port: 8080}},
		{"[::ffff:192.0.2.1]:80", Target{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}},
		{"http://svc.example", Target{Host: "svc.example", Port: 80, Scheme: "http", Path: "/"}},
		{"https://svc.example/healthz?full=1", Target{Host: "svc.example", Port: 443, Scheme: "https", Path: "/healthz?full=1"}},
		{"HTTPS://[2001:db8::1]:8443/", Target{Host: "2001:db8::1", Addr: netip.MustParseAddr("2001:db8::1"), Port: 8443, Scheme: "https", Path: "/"}},
		{"grpc://svc.example:50051", Target{Host: "svc.example", Port: 50051, Scheme: "grpc"}},
		{"_grpc._tcp.svc.example:1", Target{Host: "_grpc._tcp.svc.example", Port: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty target"},
		{"svc.example", "want host:port"},
		{"2001:db8::1:80", "needs brackets"},
		// An IPv6 literal alone is a whole address: what it lacks is the
		// port, and the last group may be meant as one.
		{"2001:db8::1", `target "2001:db8::1": the port is missing; an IPv6 address with a port needs brackets, e.g. [2001:db8::1]:443`},
		{"2001:db8::1:80", "e.g. [2001:db8::1:80]:443, or [2001:db8::1]:80 if 80 is the port"},
		{"[2001:db8::1]", `target "[2001:db8::1]": the port is missing, e.g. [2001:db8::1]:443`},
		{"svc.example", `target "svc.example": the port is missing, e.g. svc.example:443 (want host:port, [v6]:port or a URL)`},
		{"192.0.2.1", `target "192.0.2.1": the port is missing, e.g. 192.0.2.1:443`},
		{"svc.example:0", "port"},
		{"svc.example:70000", "port"},
		{"svc.example:http", "port"},
		{"ftp://svc.example", `unsupported scheme "ftp"`},
		{"grpc://svc.example", "needs a port"},
		{"http://user:pw@svc.example", "credentials"},
		{"[fe80::1%eth0]:80", "zoned"},
		{"bad_host!:80", "not allowed"},
		{"a..b:80", "empty label"},
		{"-a.b:80", "hyphen"},
		{strings.Repeat("a", 64) + ".b:80", "over 63"},
		{":80", "missing host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, in := range []string{"svc.example:80", "[2001:db8::1]:443", "https://svc.example:443/x", "grpc://svc.example:50051"} {
		tg, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.String(); got != in {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, in)
		}
	}
}
