package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKubeconfig writes a kubeconfig whose one context, "lab", points at
// server, and returns its path.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t0ken}
contexts:
- name: lab
  context: {cluster: lab, user: u}
current-context: lab
`, server)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Bad input is exit 2 before the API is asked; an API server that does
// not answer is exit 3, naming it.
func TestEvidenceExitCodes(t *testing.T) {
	server := "https://" + closedPort(t)
	kubeconfig := writeKubeconfig(t, server)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no Service", []string{"evidence", "--kubeconfig", kubeconfig}, ExitUsage, "want exactly one svc/NAME, got 0"},
		{"not svc/NAME", []string{"evidence", "--kubeconfig", kubeconfig, "pod/web"}, ExitUsage, `"pod/web" is not svc/NAME`},
		{"a bad name", []string{"evidence", "--kubeconfig", kubeconfig, "svc/Web_1"}, ExitUsage, `"Web_1" is not a Service name`},
		{"a bad family", []string{"evidence", "--kubeconfig", kubeconfig, "--family", "ipv5", "svc/web"}, ExitUsage, `--family "ipv5"`},
		{"a bad format", []string{"evidence", "--kubeconfig", kubeconfig, "-o", "yaml", "svc/web"}, ExitUsage, `unknown output format "yaml" (want table, json or markdown)`},
		{"an unknown context", []string{"evidence", "--kubeconfig", kubeconfig, "--context", "prod", "svc/web"}, ExitUsage, `context "prod" does not exist`},
		{"the API server down", []string{"evidence", "--kubeconfig", kubeconfig, "svc/web"}, ExitInternal, "dsprobe evidence: could not run the check: the Kubernetes API server " + server + ": "},
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
