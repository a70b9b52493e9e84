package resolve

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func servers(s ...string) []netip.AddrPort {
	out := make([]netip.AddrPort, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddrPort(a)
	}
	return out
}

// Expected values follow glibc's res_init.c (res_vinit_1, res_setoptions);
// see ParseResolvConf.
func TestLoadResolvConf(t *testing.T) {
	defaults := DefaultConfig()
	tests := []struct {
		file string
		want Config
	}{
		{"empty.conf", defaults},
		{"full.conf", Config{
			// Three servers (MAXNS); an indented line is not a
			// nameserver line.
			Servers:        servers("10.96.0.10:53", "[fd00:10:96::a]:53", "[fe80::1%eth0]:53"),
			IgnoredServers: servers("192.0.2.53:53", "192.0.2.54:53"),
			Search:         []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"},
			Ndots:          5,
			Timeout:        2 * time.Second,
			Attempts:       3,
			Rotate:         true,
			EDNS0:          true,
			SingleRequest:  true,
			UseTCP:         true,
			NoTLDQuery:     true,
			NoAAAA:         true,
		}},
		{"domain-last.conf", Config{
			Servers: servers("[::1]:53"), Search: []string{"corp.example"},
			Ndots: 1, Timeout: 5 * time.Second, Attempts: 2,
		}},
		{"search-last.conf", Config{
			// A search line without a value changes nothing.
			Servers: servers("127.0.0.53:53"), Search: []string{"a.example", "b.example"},
			Ndots: 1, Timeout: 5 * time.Second, Attempts: 2,
		}},
		{"caps.conf", Config{
			// RES_MAXNDOTS, RES_MAXRETRANS, RES_MAXRETRY.
			Servers: servers("192.0.2.1:53"), Ndots: 15, Timeout: 30 * time.Second, Attempts: 5,
		}},
		{"zeroes.conf", Config{
			// ndots:0 is meaningful; timeout 0 is send_dg's floor of one
			// second; attempts 0 would send nothing and counts as 1.
			Servers: servers("192.0.2.1:53"), Ndots: 0, Timeout: time.Second, Attempts: 1,
		}},
		{"junk-numbers.conf", Config{
			// atoi: "7s" is 7, "two" is 0, a negative ndots is 0.
			Servers: servers("192.0.2.1:53"), Ndots: 0, Timeout: 7 * time.Second, Attempts: 1,
		}},
		{"inet-aton.conf", Config{
			// inet_aton forms: a.d, hex, octal.
			Servers: servers("127.0.0.1:53", "127.0.0.2:53", "127.0.0.3:53"),
			Ndots:   1, Timeout: 5 * time.Second, Attempts: 2,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadResolvConf(filepath.Join("testdata", "resolvconf", tt.file))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadResolvConfInvalid(t *testing.T) {
	path := filepath.Join("testdata", "resolvconf", "invalid.conf")
	cfg, err := LoadResolvConf(path)
	if err == nil {
		t.Fatal("got no error, want one per malformed nameserver line")
	}
	// Every problem at once, each with its line.
	want := []string{
		path + `:2: nameserver "10.0.0.300": not an IPv4 or IPv6 address`,
		path + `:4: nameserver "dns.example.com": not an IPv4 or IPv6 address`,
		path + `:5: nameserver "192.0.2.2\r": not an IPv4 or IPv6 address`,
		path + `:6: nameserver "": no address after the keyword`,
		path + `:7: nameserver "2001:db8::zz": not an IPv4 or IPv6 address`,
		path + `:8: nameserver "[2001:db8::1]": not an IPv4 or IPv6 address`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Path != path {
		t.Errorf("got first *ParseError %+v, want line 2 of %s", pe, path)
	}
	// The rest of the file is still read.
	if want := servers("192.0.2.1:53", "192.0.2.3:53"); !reflect.DeepEqual(cfg.Servers, want) {
		t.Errorf("got servers %v, want %v", cfg.Servers, want)
	}
	if want := []string{"example.com"}; !reflect.DeepEqual(cfg.Search, want) {
		t.Errorf("got search %v, want %v", cfg.Search, want)
	}
}

func TestParseResolvConfOneError(t *testing.T) {
	_, err := ParseResolvConf(strings.NewReader("nameserver 192.0.2.1\nnameserver localhost\n"))
	pe, ok := err.(*ParseError)
	if !ok {
		t.Fatalf("got %T %v, want a *ParseError", err, err)
	}
	if got, want := pe.Error(), `line 2: nameserver "localhost": not an IPv4 or IPv6 address`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// glibc ignores a missing resolv.conf (and some other file system errors)
// and uses its defaults.
func TestLoadResolvConfMissing(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "absent.conf"),
		t.TempDir(), // a directory: EISDIR when read
	} {
		got, err := LoadResolvConf(path)
		if err != nil {
			t.Errorf("%s: got error %v, want the defaults", path, err)
		}
		if !reflect.DeepEqual(got, DefaultConfig()) {
			t.Errorf("%s: got %+v, want %+v", path, got, DefaultConfig())
		}
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "192.0.2.53", want: "192.0.2.53:53"},
		{in: "192.0.2.53:5353", want: "192.0.2.53:5353"},
		{in: "2001:db8::53", want: "[2001:db8::53]:53"},
		{in: "[2001:db8::53]:5353", want: "[2001:db8::53]:5353"},
		{in: "[2001:db8::53]", want: "[2001:db8::53]:53"},
		{in: "fe80::53%eth0", want: "[fe80::53%eth0]:53"},
		{in: "::ffff:192.0.2.53", want: "[::ffff:192.0.2.53]:53"},
		{in: "", wantErr: "empty"},
		{in: "dns.example.com", wantErr: "not an IP address"},
		{in: "dns.example.com:53", wantErr: "not an IP address"},
		{in: "192.0.2.53:0", wantErr: "port"},
		{in: "192.0.2.53:65536", wantErr: "port"},
		{in: "192.0.2.53:dns", wantErr: "port"},
		{in: "2001:db8::53:5353x", wantErr: "[2001:db8::53]:5353"},
		{in: "[2001:db8::53", wantErr: "missing ']'"},
		{in: "[192.0.2.53]:53", wantErr: "not an IPv6 address"},
		{in: "[2001:db8::53]5353", wantErr: "want :PORT"},
	}
	for _, tt := range tests {
		got, err := ParseServer(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseServer(%q): got %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseServer(%q): got %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestInetAton(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means rejected
	}{
		{"192.0.2.1", "192.0.2.1"},
		{"127.1", "127.0.0.1"},
		{"10.1.2", "10.1.0.2"},
		{"3221225985", "192.0.2.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"4294967296", ""},
		{"1.2.3.4.5", ""},
		{"1..2", ""},
		{"08.0.0.1", ""},
		{"0x", ""},
		{"::1", ""},
		{"1.2.3.4 ", ""},
	}
	for _, tt := range tests {
		got, ok := inetAton(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("inetAton(%q): got %v, want it rejected", tt.in, got)
			}
			continue
		}
		if !ok || got.String() != tt.want {
			t.Errorf("inetAton(%q): got %v %v, want %s", tt.in, got, ok, tt.want)
		}
	}
}
