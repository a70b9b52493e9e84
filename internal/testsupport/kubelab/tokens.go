package kubelab

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClientFor is a client that authenticates with token (a ServiceAccount's,
// from TokenRequest), so a test runs as that account, with its RBAC, and
// not as the administrator.
func (c *Cluster) ClientFor(t testing.TB, token string) kubernetes.Interface {
	t.Helper()
	cfg := rest.AnonymousClientConfig(c.config)
	cfg.BearerToken = token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// SignToken signs claims as a JWT with the cluster's ServiceAccount
// signing key (ES256): a token the API server cannot be asked to mint,
// such as one already expired, but whose signature it trusts.
func (c *Cluster) SignToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(c.saKey)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("kubelab: %s holds no PEM key", c.saKey)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(j)
	}
	signed := encode(map[string]string{"alg": "ES256", "typ": "JWT"}) + "." + encode(claims)
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	// JWS ES256: R and S, 32 bytes each, big-endian.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// RESTConfig is the administrator's client configuration (Client's,
// dialing the API server inside the node namespace), for clients other
// than a clientset: dynamic, or a package that builds its own.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// API is the API server's URL and an HTTP client that trusts its CA and
// reaches it in the node namespace, presenting no credentials: for a
// client that speaks the API without client-go.
func (c *Cluster) API(t testing.TB) (string, *http.Client) {
	t.Helper()
	client, err := rest.HTTPClientFor(rest.AnonymousClientConfig(c.config))
	if err != nil {
		t.Fatal(err)
	}
	return c.config.Host, client
}
