package cli

import (
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
