package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseServiceTarget(t *testing.T) {
	tests := []struct {
		arg, name, port, err string
	}{
		{arg: "svc/web", name: "web"},
		{arg: "svc/web:80", name: "web", port: "80"},
		{arg: "service/web:http", name: "web", port: "http"},
		{arg: "services/web-2:metrics-v2", name: "web-2", port: "metrics-v2"},
		{arg: "svc/web:", err: `"svc/web:": "" is not a Service port`},
		{arg: "svc/web:80:81", err: `"80:81" is not a Service port`},
		{arg: "svc/web:HTTP", err: `"HTTP" is not a Service port`},
		{arg: "svc/", err: `"" is not a Service name`},
		{arg: "svc/Web_1:80", err: `"Web_1" is not a Service name`},
		{arg: "svc/shop/web", err: `"shop/web" is not a Service name`},
		{arg: "pod/web:80", err: `"pod/web" is not svc/NAME`},
	}
	for _, tt := range tests {
		name, port, err := parseServiceTarget(tt.arg)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: got %q, %q, %v; want an error with %q", tt.arg, name, port, err, tt.err)
		case tt.err == "" && (err != nil || name != tt.name || port != tt.port):
			t.Errorf("%s: got %q, %q, %v; want %q, %q", tt.arg, name, port, err, tt.name, tt.port)
		}
	}
}

// svc/... is a Service, however it is spelt; a host or URL is not.
func TestIsServiceTarget(t *testing.T) {
	for arg, want := range map[string]bool{
		"svc/web": true, "service/web:80": true, "services/web": true, "svc/": true,
		"svc.example:80": false, "http://svc/web": false, "[2001:db8::1]:80": false, "pod/web": false,
	} {
		if got := isServiceTarget(arg); got != want {
			t.Errorf("isServiceTarget(%q) = %v, want %v", arg, got, want)
		}
	}
}

// Bad input is exit 2 before the API is asked; an API server that does
// not answer is exit 3, naming it.
func TestProbeServiceExitCodes(t *testing.T) {
	server := "https://" + closedPort(t)
	kubeconfig := writeKubeconfig(t, server)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a bad port", []string{"probe", "--kubeconfig", kubeconfig, "svc/web:HTTP"}, ExitUsage, `"HTTP" is not a Service port`},
		{"a bad name", []string{"probe", "--kubeconfig", kubeconfig, "svc/Web_1"}, ExitUsage, `"Web_1" is not a Service name`},
		{"a bad family", []string{"probe", "--kubeconfig", kubeconfig, "--family", "ipv5", "svc/web"}, ExitUsage, `--family "ipv5"`},
		{"the coordinator unreachable", []string{"probe", "--coordinator", closedPort(t), "-n", "shop", "svc/web"}, ExitInternal, "is unreachable"},
		{"with --dns-server", []string{"probe", "--dns-server", "192.0.2.53", "svc/web"}, ExitUsage, "not supported with a Service yet"},
		{"an unknown context", []string{"probe", "--kubeconfig", kubeconfig, "--context", "prod", "svc/web"}, ExitUsage, `context "prod" does not exist`},
		{"the API server down", []string{"probe", "--kubeconfig", kubeconfig, "-n", "shop", "svc/web:80"}, ExitInternal, "dsprobe probe: could not run the check: the Kubernetes API server " + server + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("got exit %d and %q, want %d and one line with %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// NAME.NS.svc.DOMAIN[:PORT] is the Service svc/NAME[:PORT] of NS, for a
// local probe that asks for nothing a Service's probe does not take.
func TestServiceByName(t *testing.T) {
	tests := []struct {
		arg, namespace, domain string
		remote, dnsServer      bool
		svcArg, wantNS, err    string
	}{
		{arg: "web.shop.svc.cluster.local:80", svcArg: "svc/web:80", wantNS: "shop"},
		{arg: "web.shop.svc.cluster.local.:http", svcArg: "svc/web:http", wantNS: "shop"},
		{arg: "web.shop.svc.cluster.local", svcArg: "svc/web", wantNS: "shop"},
		{arg: "web.shop.svc.corp.example:443", domain: "corp.example", svcArg: "svc/web:443", wantNS: "shop"},
		{arg: "web.shop.svc.cluster.local:80", namespace: "shop", svcArg: "svc/web:80", wantNS: "shop"},
		{arg: "web.shop.svc.cluster.local:80", namespace: "other", err: "-n says other"},
		{arg: "web.shop.svc.cluster.local:80", remote: true},
		{arg: "web.shop.svc.cluster.local:80", dnsServer: true},
		{arg: "web.shop.svc.corp.example:80"},
		{arg: "a.web.shop.svc.cluster.local:80"},
		{arg: "web.svc.cluster.local:80"},
		{arg: "Web.shop.svc.cluster.local:80"},
		{arg: "svc.example:80"},
		{arg: "http://web.shop.svc.cluster.local/"},
		{arg: "[2001:db8::1]:80"},
	}
	for _, tt := range tests {
		p := &probeFlags{kube: serviceTargetFlags{namespace: tt.namespace, clusterDomain: "cluster.local"}}
		if tt.domain != "" {
			p.kube.clusterDomain = tt.domain
		}
		if tt.remote {
			p.remote.address = "127.0.0.1:9444"
		}
		if tt.dnsServer {
			p.dnsServers = stringList{"192.0.2.53"}
		}
		svcArg, ok, err := p.serviceByName(tt.arg)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %q, %v, %v; want an error with %q", tt.arg, svcArg, ok, err, tt.err)
			}
		case err != nil || ok != (tt.svcArg != "") || svcArg != tt.svcArg || (ok && p.kube.namespace != tt.wantNS):
			t.Errorf("%s: got %q, %v, -n %q, %v; want %q in %q", tt.arg, svcArg, ok, p.kube.namespace, err, tt.svcArg, tt.wantNS)
		}
	}
}

// A Service's name probed with a Kubernetes API that does not answer is
// probed as a host name, saying why; with no API configured at all, it is
// silently a host name, as it always was.
func TestServiceNameWithoutTheAPI(t *testing.T) {
	port := listenBoth(t)
	dir := t.TempDir()
	hosts, resolvConf := filepath.Join(dir, "hosts"), filepath.Join(dir, "resolv.conf")
	for path, content := range map[string]string{hosts: "127.0.0.1 web.shop.svc.cluster.local\n", resolvConf: "nameserver 127.0.0.1\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	adjust := func(e *env) { e.hosts, e.resolvConf = hosts, resolvConf }
	name := fmt.Sprintf("web.shop.svc.cluster.local:%d", port)
	// probedHost: stdout is a probe of the host, a ProbeResult of name.
	probedHost := func(stdout string) bool {
		var res struct{ Target string }
		return json.Unmarshal([]byte(stdout), &res) == nil && res.Target == name
	}

	server := "https://" + closedPort(t)
	stdout, stderr, code := runIn(t, adjust, "probe", "--kubeconfig", writeKubeconfig(t, server), "--family", "ipv4", "-o", "json", name)
	if code != ExitOK || !strings.Contains(stderr, name+" is probed as a host name, not as svc/web:") || !strings.Contains(stderr, server) ||
		!probedHost(stdout) {
		t.Errorf("the API down: got exit %d, stderr %q, stdout %.300s; want a probe of the host, saying why", code, stderr, stdout)
	}

	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	stdout, stderr, code = runIn(t, adjust, "probe", "--family", "ipv4", "-o", "json", name)
	if code != ExitOK || stderr != "" || !probedHost(stdout) {
		t.Errorf("no API: got exit %d, stderr %q, stdout %.300s; want a probe of the host and nothing on stderr", code, stderr, stdout)
	}
}
