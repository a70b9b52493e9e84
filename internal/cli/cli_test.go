package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/demo"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, func(*env) {}, args...)
}

// runIn runs dsprobe in an environment that adjust changed (files read in
// place of the system's).
func runIn(t *testing.T, adjust func(*env), args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := newEnv(&out, &errOut)
	adjust(e)
	code = runCommand(context.Background(), e, args)
	return out.String(), errOut.String(), code
}

func TestOrderJSON(t *testing.T) {
	gaiconf := filepath.Join(t.TempDir(), "gai.conf")
	if err := os.WriteFile(gaiconf, []byte("precedence ::ffff:0:0/96 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{
			name: "RFC 6724 table ranks IPv4 above ULA",
			args: []string{"order", "-o", "json", "--src", "fd00::2", "--src", "10.0.0.2", "fd00::1", "10.0.0.1"},
			want: []string{"10.0.0.1", "fd00::1"},
		},
		{
			name: "glibc table ranks ULA above IPv4",
			args: []string{"order", "-o", "json", "--policy", "glibc", "--src", "fd00::2", "--src", "10.0.0.2", "fd00::1", "10.0.0.1"},
			want: []string{"fd00::1", "10.0.0.1"},
		},
		{
			name: "gai.conf preferring IPv4, flags after the addresses",
			args: []string{"order", "2001:db8::1", "192.0.2.1", "--policy", gaiconf, "--src", "2001:db8::2", "--src", "192.0.2.2", "-o", "json"},
			want: []string{"192.0.2.1", "2001:db8::1"},
		},
		{
			name: "global IPv6 first with the RFC table",
			args: []string{"order", "-o", "json", "--src", "2001:db8::2", "--src", "192.0.2.2", "192.0.2.1", "[2001:db8::1]"},
			want: []string{"2001:db8::1", "192.0.2.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != ExitOK {
				t.Fatalf("got exit %d (%s), want 0", code, stderr)
			}
			var got struct{ Addresses []string }
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("bad JSON %q: %v", stdout, err)
			}
			if !reflect.DeepEqual(got.Addresses, tt.want) {
				t.Errorf("got %v, want %v", got.Addresses, tt.want)
			}
		})
	}
}

func TestOrderTable(t *testing.T) {
	stdout, _, code := run(t, "order", "--src", "fd00::2", "--src", "10.0.0.2", "fd00::1", "10.0.0.1")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0", code)
	}
	first := strings.Index(stdout, "10.0.0.1")
	second := strings.Index(stdout, "fd00::1 ")
	if first < 0 || second < 0 || first > second {
		t.Errorf("got table\n%s\nwant 10.0.0.1 listed before fd00::1", stdout)
	}
	if !strings.Contains(stdout, "PRECEDENCE") || !strings.Contains(stdout, "policy rfc6724") {
		t.Errorf("got table\n%s\nwant the policy and a PRECEDENCE column", stdout)
	}
}

func TestSimulateJSON(t *testing.T) {
	stdout, stderr, code := run(t, "simulate", "--profile", "go", "-o", "json",
		"--src", "2001:db8::2", "--src", "192.0.2.2",
		"--attempt", "2001:db8::1=timeout", "--attempt", "192.0.2.1=connected:2ms")
	if code != ExitOK {
		t.Fatalf("got exit %d (%s), want 0", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("bad JSON %q: %v", stdout, err)
	}
	want := map[string]any{
		"profile":         "go",
		"family":          "FAMILY_IPV4",
		"address":         "192.0.2.1",
		"outcome":         "OUTCOME_CONNECTED",
		"timeToConnectMs": 302.0,
		"fallbackDelayMs": 300.0,
		"failingLayer":    "LAYER_NONE",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	attempts, _ := got["attempts"].([]any)
	if len(attempts) != 2 {
		t.Fatalf("got %d attempts, want 2", len(attempts))
	}
	if a := attempts[0].(map[string]any); a["outcome"] != "OUTCOME_CANCELED" || a["durationMs"] != 302.0 {
		t.Errorf("got first attempt %v, want the IPv6 attempt canceled after 302 ms", a)
	}
}

func TestSimulateExitCodes(t *testing.T) {
	src := []string{"--src", "2001:db8::2", "--src", "192.0.2.2"}
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string // substring expected on stdout
		stderr    string // substring expected on stderr
		layerJSON string
	}{
		{
			name: "java fails on broken IPv4 though IPv6 works: LAYER_CLIENT, exit 1",
			args: append([]string{"simulate", "--profile", "java", "-o", "json", "--attempt", "2001:db8::1=connected:1ms", "--attempt", "192.0.2.1=refused"}, src...),
			code: ExitFailed, layerJSON: "LAYER_CLIENT",
		},
		{
			name: "python waits 127 s: slower than --max-connect-time",
			args: append([]string{"simulate", "--profile", "python", "-o", "json", "--attempt", "2001:db8::1=timeout", "--attempt", "192.0.2.1=connected"}, src...),
			code: ExitFailed, layerJSON: "LAYER_CLIENT",
		},
		{
			name: "python within a generous --max-connect-time",
			args: append([]string{"simulate", "--profile", "python", "--max-connect-time", "3m", "-o", "json", "--attempt", "2001:db8::1=timeout", "--attempt", "192.0.2.1=connected"}, src...),
			code: ExitOK, layerJSON: "LAYER_NONE",
		},
		{
			name: "everything refused is the path's failure, not the client's",
			args: append([]string{"simulate", "--profile", "go", "-o", "json", "--attempt", "2001:db8::1=refused", "--attempt", "192.0.2.1=refused"}, src...),
			code: ExitFailed, layerJSON: "LAYER_LISTENER",
		},
		{
			name:   "table output names the verdict",
			args:   append([]string{"simulate", "--profile", "curl", "--attempt", "2001:db8::1=timeout", "--attempt", "192.0.2.1=connected:1ms"}, src...),
			code:   ExitOK,
			stdout: "connected over IPv4 to 192.0.2.1 in 201ms (fallback delay 200ms)",
		},
		{name: "missing profile", args: []string{"simulate", "--attempt", "192.0.2.1=connected"}, code: ExitUsage, stderr: "--profile is required"},
		{name: "unknown profile", args: []string{"simulate", "--profile", "lynx", "--attempt", "192.0.2.1=connected"}, code: ExitUsage, stderr: `unknown profile "lynx"`},
		{name: "no attempts", args: []string{"simulate", "--profile", "go"}, code: ExitUsage, stderr: "at least one --attempt"},
		{name: "bad address", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.300=connected"}, code: ExitUsage, stderr: "is not an IP address"},
		{name: "bad outcome", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.1=maybe"}, code: ExitUsage, stderr: `unknown outcome "maybe"`},
		{name: "timeout with a duration", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.1=timeout:3s"}, code: ExitUsage, stderr: "takes no duration"},
		{name: "bad duration", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.1=connected:soon"}, code: ExitUsage, stderr: "is not a duration"},
		{name: "missing =", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.1"}, code: ExitUsage, stderr: "want ADDR=OUTCOME"},
		{name: "duplicate address", args: []string{"simulate", "--profile", "go", "--attempt", "192.0.2.1=connected", "--attempt", "192.0.2.1=refused"}, code: ExitUsage, stderr: "listed twice"},
		{name: "bad --a-delay", args: []string{"simulate", "--profile", "go", "--a-delay", "x", "--attempt", "192.0.2.1=connected"}, code: ExitUsage, stderr: "a-delay"},
		{name: "stray argument", args: []string{"simulate", "--profile", "go", "192.0.2.1"}, code: ExitUsage, stderr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.stdout != "" && !strings.Contains(stdout, tt.stdout) {
				t.Errorf("got stdout\n%s\nwant it to contain %q", stdout, tt.stdout)
			}
			if tt.stderr != "" {
				if !strings.Contains(stderr, tt.stderr) {
					t.Errorf("got stderr %q, want it to contain %q", stderr, tt.stderr)
				}
				if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
					t.Errorf("got a multi-line error %q, want one line", stderr)
				}
			}
			if tt.layerJSON != "" {
				var got struct{ FailingLayer string }
				if err := json.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatalf("bad JSON %q: %v", stdout, err)
				}
				if got.FailingLayer != tt.layerJSON {
					t.Errorf("got failingLayer %s, want %s", got.FailingLayer, tt.layerJSON)
				}
			}
		})
	}
}

func TestOrderErrors(t *testing.T) {
	badConf := filepath.Join(t.TempDir(), "gai.conf")
	if err := os.WriteFile(badConf, []byte("# ok\nprecedence ::ffff:0:0/96 100\nlabel nonsense 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no addresses", []string{"order"}, "no addresses"},
		{"bad address", []string{"order", "not-an-ip"}, `"not-an-ip" is not an IP address`},
		{"bad source", []string{"order", "--src", "x", "192.0.2.1"}, `"x" is not an IP address`},
		{"unknown policy", []string{"order", "--policy", "bsd", "192.0.2.1"}, "bsd"},
		{"malformed gai.conf names the line", []string{"order", "--policy", badConf, "192.0.2.1"}, "line 3"},
		{"endless gai.conf", []string{"order", "--policy", "/dev/urandom", "192.0.2.1"}, "/dev/urandom is larger than 1 MiB"},
		{"bad output format", []string{"order", "-o", "yaml", "192.0.2.1"}, `unknown output format "yaml"`},
		{"unknown flag", []string{"order", "--sauce", "192.0.2.1"}, "sauce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != ExitUsage {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("got stderr %q, want one line containing %q", stderr, tt.stderr)
			}
		})
	}
}

func TestProfilesCommand(t *testing.T) {
	stdout, _, code := run(t, "profiles")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0", code)
	}
	for _, name := range []string{"rfc8305", "go", "curl", "chrome", "firefox", "safari", "node", "python", "java", "okhttp", "dotnet", "envoy", "wget"} {
		if !strings.Contains(stdout, "\n"+name+" ") {
			t.Errorf("profile %s missing from\n%s", name, stdout)
		}
	}

	stdout, _, code = run(t, "profiles", "-o", "json")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0", code)
	}
	var list struct{ Profiles []profileJSON }
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Profiles {
		if p.Name == "node" && p.Parameters["attempt-delay"] != "250ms" {
			t.Errorf("got node attempt-delay %q, want 250ms", p.Parameters["attempt-delay"])
		}
		if len(p.Sources) == 0 {
			t.Errorf("profile %s has no sources in JSON", p.Name)
		}
	}

	stdout, _, code = run(t, "profiles", "node,attempt-delay=500ms")
	if code != ExitOK || !strings.Contains(stdout, "attempt-delay") || !strings.Contains(stdout, "500ms") || !strings.Contains(stdout, "Sources:") {
		t.Errorf("got exit %d and\n%s\nwant node's parameters with attempt-delay 500ms and its sources", code, stdout)
	}

	if _, stderr, code := run(t, "profiles", "lynx"); code != ExitUsage || !strings.Contains(stderr, "unknown profile") {
		t.Errorf("got exit %d stderr %q, want 2 and unknown profile", code, stderr)
	}
}

func TestTopLevel(t *testing.T) {
	if stdout, _, code := run(t, "help"); code != ExitOK || !strings.Contains(stdout, "simulate") {
		t.Errorf("help: got exit %d and %q", code, stdout)
	}
	if _, stderr, code := run(t); code != ExitUsage || !strings.Contains(stderr, "Usage") {
		t.Errorf("no args: got exit %d and %q, want 2 and the usage", code, stderr)
	}
	if _, stderr, code := run(t, "frobnicate"); code != ExitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: got exit %d and %q", code, stderr)
	}
	if stdout, _, code := run(t, "simulate", "--help"); code != ExitOK || !strings.Contains(stdout, "timeToConnect") && !strings.Contains(stdout, "time to connect") {
		t.Errorf("simulate --help: got exit %d and %q", code, stdout)
	}
	for _, cmd := range []string{"probe", "order", "simulate", "profiles", "demo"} {
		if stdout, _, code := run(t, cmd, "--help"); code != ExitOK || strings.Count(stdout, "Usage: dsprobe "+cmd) != 1 {
			t.Errorf("%s --help: got exit %d and %d usage texts, want 0 and one:\n%s", cmd, code, strings.Count(stdout, "Usage: dsprobe "+cmd), stdout)
		}
	}
	if stdout, _, code := run(t, "help", "order"); code != ExitOK || !strings.Contains(stdout, "--policy") && !strings.Contains(stdout, "-policy") {
		t.Errorf("help order: got exit %d and %q", code, stdout)
	}
}

func TestProbeBadInput(t *testing.T) {
	brokenConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(brokenConf, []byte("nameserver 192.0.2.1\nnameserver not-an-address\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		conf   string
		stderr string
	}{
		{"no target", []string{"probe"}, "", "exactly one TARGET"},
		{"two targets", []string{"probe", "a.example:80", "b.example:80"}, "", "exactly one TARGET"},
		{"unparsable target", []string{"probe", "a.example"}, "", "want host:port"},
		{"IPv6 without brackets", []string{"probe", "2001:db8::1:80"}, "", "needs brackets"},
		{"unknown check", []string{"probe", "--check", "ftp", "192.0.2.1:80"}, "", `unknown check "ftp"`},
		{"unknown family", []string{"probe", "--family", "ipv5", "192.0.2.1:80"}, "", `--family "ipv5"`},
		{"literal of the other family", []string{"probe", "--family", "ipv6", "192.0.2.1:80"}, "", "no ipv6 address"},
		{"bad --dns-server", []string{"probe", "--dns-server", "dns.example", "svc.example:80"}, "", `DNS server "dns.example"`},
		{"bad profile", []string{"probe", "--profile", "lynx", "192.0.2.1:80"}, "", `unknown profile "lynx"`},
		{"several problems at once", []string{"probe", "--check", "ftp", "--family", "x", "192.0.2.1:80"}, "", `--family "x": want ipv4, ipv6 or both; --check: unknown check "ftp"`},
		{"broken resolv.conf names the line", []string{"probe", "svc.example:80"}, brokenConf, ":2:"},
		{"missing --ca file", []string{"probe", "--ca", "/nonexistent/ca.pem", "https://192.0.2.1/"}, "", "--ca"},
		{"endless --ca file", []string{"probe", "--ca", "/dev/zero", "https://192.0.2.1/"}, "", "/dev/zero is larger than 1 MiB"},
		{"endless resolv.conf", []string{"probe", "svc.example:80"}, "/dev/zero", "/dev/zero is larger than 1 MiB"},
		{"bad --otlp-endpoint", []string{"probe", "--otlp-endpoint", "collector", "192.0.2.1:80"}, "", `--otlp-endpoint "collector": want host:port`},
		// dualstack.ParseFamily's names, so "inet" is IPv4 here as everywhere.
		{"--family inet is IPv4", []string{"probe", "--family", "inet", "[2001:db8::1]:80"}, "", "no ipv4 address"},
		// The API counts whole milliseconds: below 1 ms a budget would be
		// rounded to "unset" or up to 1 ms, neither what was asked. (A
		// closed loopback port as the target, in case the probe ran.)
		{"sub-millisecond --timeout", []string{"probe", "--timeout", "1ns", "127.0.0.1:1"}, "", "--timeout 1ns: want at least 1ms"},
		{"zero --attempt-timeout", []string{"probe", "--attempt-timeout", "0s", "127.0.0.1:1"}, "", "--attempt-timeout 0s: want at least 1ms"},
		{"sub-millisecond --max-connect-time", []string{"probe", "--max-connect-time", "500us", "127.0.0.1:1"}, "", "--max-connect-time 500µs: want at least 1ms"},
		{"--timeout beyond the API", []string{"probe", "--timeout", "2000h", "127.0.0.1:1"}, "", "--timeout 2000h0m0s: want at most"},
		{"negative --max-status", []string{"probe", "--max-status", "-5", "127.0.0.1:1"}, "", "--max-status -5: want an HTTP status from 100 to 599"},
		{"flag and request problems at once", []string{"probe", "--timeout", "0s", "--profile", "lynx", "127.0.0.1:1"}, "", `--timeout 0s: want at least 1ms (the API counts whole milliseconds); invalid probe request: profile: unknown profile "lynx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runIn(t, func(e *env) {
				if tt.conf != "" {
					e.resolvConf = tt.conf
				}
			}, tt.args...)
			if code != ExitUsage {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("got stderr %q, want one line containing %q", stderr, tt.stderr)
			}
		})
	}
}

// The demo runs the whole mesh in-process and shows each classic fault.
func TestDemo(t *testing.T) {
	stdout, stderr, code := run(t, "demo")
	if code != ExitOK {
		t.Fatalf("got exit %d (%s), want 0", code, stderr)
	}
	for _, want := range []string{
		"healthy dual-stack", "FAIL LAYER_LISTENER", "FAIL LAYER_DNS", "FAIL LAYER_APPLICATION", "FAIL LAYER_ROUTE",
		"team-a", "team-b", "team-c", "3 of 3 prober(s) answered", "rfc8305 (the prober's real race)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	// The details come from the same prober every run: the first by name.
	if got, want := strings.Count(stdout, "from prober prober-a:"), strings.Count(stdout, "from prober "); got != want || got != 5 {
		t.Errorf("got the details of prober-a %d times in %d detail blocks, want all 5 jobs':\n%s", got, want, stdout)
	}
	stdout, _, code = run(t, "demo", "-o", "json")
	var out struct {
		Jobs []struct {
			State   string
			Probers []struct{ Prober, Namespace string }
			Summary struct{ Passed bool }
		}
	}
	if code != ExitOK || json.Unmarshal([]byte(stdout), &out) != nil || len(out.Jobs) != 5 {
		t.Fatalf("got exit %d and %q, want 5 jobs as JSON", code, stdout)
	}
	for i, j := range out.Jobs {
		if j.State != "JOB_STATE_FINISHED" || len(j.Probers) != 3 || j.Summary.Passed != (i == 0) {
			t.Errorf("job %d: got %+v, want finished, 3 probers, passed only for the healthy target", i, j)
		}
	}
}

func TestProbeThroughCoordinator(t *testing.T) {
	mesh, err := demo.Start(context.Background(), demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Close()
	target := mesh.Targets[1].URL // listens on 0.0.0.0 only
	stdout, stderr, code := run(t, "probe", "--coordinator", mesh.CoordinatorAddress, "--dns-server", mesh.DNSServer, target)
	if code != ExitFailed {
		t.Fatalf("got exit %d (%s), want 1: IPv6 fails at the listener", code, stderr)
	}
	for _, want := range []string{"prober-a", "team-a", "team-b", "team-c", "FAIL LAYER_LISTENER", "3 of 3 prober(s) answered",
		"from prober prober-b:", "listens on IPv4 only", "rfc8305 (the prober's real race)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = run(t, "probe", "-o", "json", "--coordinator", mesh.CoordinatorAddress, "--namespace", "team-b", "--dns-server", mesh.DNSServer, mesh.Targets[0].URL)
	var job struct {
		State   string
		Probers []struct{ Prober, Namespace string }
	}
	if code != ExitOK || json.Unmarshal([]byte(stdout), &job) != nil || len(job.Probers) != 1 || job.Probers[0].Namespace != "team-b" {
		t.Errorf("got exit %d and %s, want the job of team-b's prober only", code, stdout)
	}
	if _, stderr, code := run(t, "probe", "--coordinator", mesh.CoordinatorAddress, "--prober", "nobody", target); code != ExitUsage || !strings.Contains(stderr, `unknown prober "nobody"`) {
		t.Errorf("unknown prober: got exit %d and %q, want 2", code, stderr)
	}
	// A closed loopback port: tests send nothing beyond loopback.
	if _, stderr, code := run(t, "probe", "--coordinator", "127.0.0.1:1", target); code != ExitInternal || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("unreachable coordinator: got exit %d and %q, want 3 naming it", code, stderr)
	}
}

// Without --dns-server a probe resolves as the system's clients do: a name
// /etc/hosts lists is taken from the file, and DNS is not asked.
func TestProbeReadsHostsFile(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	// If DNS were asked, the AAAA query would time out at a server that is
	// not there instead of coming back NODATA from the file.
	dir := t.TempDir()
	conf, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 app.hosts.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	stdout, stderr, code := runIn(t, func(e *env) { e.resolvConf, e.hosts = conf, hosts },
		"probe", "-o", "json", fmt.Sprintf("http://app.hosts.test:%d/", port))
	if code != ExitFailed {
		t.Fatalf("got exit %d (%s), want 1: the file gives no IPv6 address", code, stderr)
	}
	var res struct {
		DNS struct {
			A, Aaaa struct{ Status, Server string }
		}
		Families []struct {
			Family, FailingLayer, Detail string
			OK                           bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.DNS.A.Status != "DNS_STATUS_POSITIVE" || res.DNS.A.Server != hosts || res.DNS.Aaaa.Status != "DNS_STATUS_NODATA" || res.DNS.Aaaa.Server != hosts {
		t.Errorf("got DNS %+v, want A positive and AAAA NODATA, both from %s", res.DNS, hosts)
	}
	for _, f := range res.Families {
		switch f.Family {
		case "FAMILY_IPV4":
			if !f.OK {
				t.Errorf("IPv4: got %+v, want ok", f)
			}
		case "FAMILY_IPV6":
			if f.OK || f.FailingLayer != "LAYER_DNS" || !strings.Contains(f.Detail, hosts+" lists app.hosts.test with no IPv6 address") {
				t.Errorf("IPv6: got %+v, want LAYER_DNS explaining the hosts file", f)
			}
		}
	}
}

// A flag error is one line on stderr: the error, then where the help is.
// The help itself (dozens of lines) would bury the error.
func TestFlagErrorPointsAtHelp(t *testing.T) {
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			stdout, stderr, code := run(t, cmd.name, "--bogus")
			want := "dsprobe " + cmd.name + ": flag provided but not defined: -bogus (see dsprobe " + cmd.name + " --help)\n"
			if code != ExitUsage || stderr != want || stdout != "" {
				t.Errorf("got exit %d, stderr %q and stdout %q, want %d, %q and nothing", code, stderr, stdout, ExitUsage, want)
			}
		})
	}
}

// An error about the arguments quotes the command's short usage line, not
// its whole synopsis folded into one line.
func TestUsageLineInErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "dsprobe probe: want exactly one TARGET, got 0 (usage: dsprobe probe [flags] TARGET; see dsprobe probe --help)\n"},
		{[]string{"order"}, "dsprobe order: no addresses to order (usage: dsprobe order [flags] ADDR...; see dsprobe order --help)\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != ExitUsage || stderr != tt.want {
				t.Errorf("got exit %d and %q, want %d and %q", code, stderr, ExitUsage, tt.want)
			}
		})
	}
}
