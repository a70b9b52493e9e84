package kube

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://[2001:db8::1]:6443"}
- name: b
  cluster: {server: "https://192.0.2.1:6443"}
users:
- name: u
  user: {token: t0ken}
contexts:
- name: ctx-a
  context: {cluster: a, user: u, namespace: shop}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

// Resolved as kubectl resolves it: the current context unless --context
// names another, its namespace unless -n, else "default".
func TestConfig(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(file, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		target     Target
		env        string
		server, ns string
	}{
		{"explicit file, current context", Target{Kubeconfig: file}, "", "https://[2001:db8::1]:6443", "shop"},
		{"--context", Target{Kubeconfig: file, Context: "ctx-b"}, "", "https://192.0.2.1:6443", "default"},
		{"-n overrides the context's namespace", Target{Kubeconfig: file, Namespace: "team-a"}, "", "https://[2001:db8::1]:6443", "team-a"},
		{"$KUBECONFIG", Target{}, file, "https://[2001:db8::1]:6443", "shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			cfg, ns, err := Config(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.server || ns != tt.ns || cfg.BearerToken != "t0ken" {
				t.Errorf("got %s, namespace %q, token %q; want %s, %q, t0ken", cfg.Host, ns, cfg.BearerToken, tt.server, tt.ns)
			}
		})
	}

	t.Run("an unknown context is an error naming it", func(t *testing.T) {
		if _, _, err := Config(Target{Kubeconfig: file, Context: "nope"}); err == nil {
			t.Error("got no error, want one")
		}
	})
	t.Run("nothing configured", func(t *testing.T) {
		t.Setenv("KUBECONFIG", "")
		if _, _, err := Config(Target{}); !errors.Is(err, ErrNoCluster) {
			t.Errorf("got %v, want ErrNoCluster", err)
		}
	})
}
