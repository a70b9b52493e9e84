package coordinator

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/restgw"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// Kubernetes authentication end to end, on a real API server: the
// coordinator presents a projected token (audience dsprobe-prober) to a
// prober, which reviews it; people and CI present theirs to the
// coordinator, which reviews it and authorises each job in the namespaces
// of its probers. The reviews run as a ServiceAccount that may create
// TokenReviews and SubjectAccessReviews and nothing else.
func TestKubernetesTokens(t *testing.T) {
	c := kubelab.Start(t)
	admin := c.Client
	for _, ns := range []string{"dsprobe", "ci", "team-a", "team-b", "elsewhere"} {
		create(t, admin.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	reviewerSA := serviceAccount(t, admin, "dsprobe", "token-reviewer")
	coordinatorSA := serviceAccount(t, admin, "dsprobe", "coordinator")
	intruderSA := serviceAccount(t, admin, "elsewhere", "coordinator")
	deployerSA := serviceAccount(t, admin, "ci", "deployer")

	// Least privilege: the reviews and nothing else.
	create(t, admin.RbacV1().ClusterRoles().Create, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "dsprobe-token-reviewer"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		},
	})
	create(t, admin.RbacV1().ClusterRoleBindings().Create, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "dsprobe-token-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "dsprobe-token-reviewer"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "dsprobe", Name: reviewerSA.Name}},
	})
	// CI may probe from team-a's probers, not from team-b's.
	create(t, admin.RbacV1().Roles("team-a").Create, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "dsprobe-prober-user"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kube.ProbeGroup}, Resources: []string{kube.ProbeResource}, Verbs: []string{kube.ProbeVerb}}},
	})
	create(t, admin.RbacV1().RoleBindings("team-a").Create, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ci-probes"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "dsprobe-prober-user"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "ci", Name: deployerSA.Name}},
	})

	reviewer := c.ClientFor(t, mint(t, admin, reviewerSA))
	if _, err := reviewer.CoreV1().Pods("dsprobe").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the reviewer's ServiceAccount lists Pods: got %v, want Forbidden (least privilege)", err)
	}

	// A prober reviews with the API's plain HTTP (its binary carries no
	// client-go), the coordinator with client-go: both must judge alike.
	reviewerToken := filepath.Join(t.TempDir(), "reviewer-token")
	if err := os.WriteFile(reviewerToken, []byte(mint(t, admin, reviewerSA)), 0o600); err != nil {
		t.Fatal(err)
	}
	url, httpClient := c.API(t)
	tokenFile, err := authn.NewTokenFile(reviewerToken, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name   string
		tokens authn.TokenReviewer
	}{
		{"HTTP", authn.NewAPITokenReviewer(authn.APIServer{URL: url, Client: httpClient, Token: tokenFile}, authn.ProberAudience)},
		{"client-go", kube.NewTokenReviewer(reviewer, authn.ProberAudience)},
	} {
		t.Run("coordinator to prober, "+r.name, func(t *testing.T) {
			prober := startAuthenticatedProber(t, &authn.Authenticator{
				Tokens:       r.tokens,
				AllowedUsers: []string{"system:serviceaccount:dsprobe:coordinator"},
			})
			probe := func(token string) error {
				file := filepath.Join(t.TempDir(), "token")
				if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
					t.Fatal(err)
				}
				// The coordinator's own way to a prober: the token file,
				// read as the projected volume's.
				opts, err := authn.DialOptions(authn.TLSFiles{}, false, "", file)
				if err != nil {
					t.Fatal(err)
				}
				conn := &GRPCConnector{Options: opts}
				defer conn.Close()
				client, err := conn.Prober(&dsprobev1.ProberInfo{Name: "p", Address: prober})
				if err != nil {
					t.Fatal(err)
				}
				_, err = client.Probe(t.Context(), &dsprobev1.ProbeRequest{Target: "192.0.2.1:80"})
				return err
			}
			// RBAC reaches the reviewer's binding shortly after it is made.
			eventually(t, "the coordinator's token accepted", func() error {
				return probe(mint(t, admin, coordinatorSA, authn.ProberAudience))
			})

			now := time.Now()
			claims := func(exp time.Time) map[string]any {
				return map[string]any{
					"iss": "https://kubernetes.default.svc.cluster.local", "sub": "system:serviceaccount:dsprobe:coordinator",
					"aud": []string{authn.ProberAudience}, "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix(),
					"kubernetes.io": map[string]any{"namespace": "dsprobe", "serviceaccount": map[string]any{"name": "coordinator", "uid": string(coordinatorSA.UID)}},
				}
			}
			// The expired token differs from an accepted one in its expiry
			// alone: this one proves the signature and claims are right.
			if err := probe(c.SignToken(t, claims(now.Add(time.Hour)))); err != nil {
				t.Fatalf("a signed token that has not expired: got %v, want it accepted", err)
			}
			for _, tt := range []struct{ name, token string }{
				{"another audience", mint(t, admin, coordinatorSA, "dsprobe-elsewhere")},
				{"the API server's audience", mint(t, admin, coordinatorSA)},
				{"a ServiceAccount not allowed", mint(t, admin, intruderSA, authn.ProberAudience)},
				{"expired", c.SignToken(t, claims(now.Add(-time.Hour)))},
				{"garbage", "not-a-token"},
			} {
				if err := probe(tt.token); status.Code(err) != codes.Unauthenticated {
					t.Errorf("%s: got %v, want Unauthenticated", tt.name, err)
				}
			}
		})
	}

	// A reviewer whose ServiceAccount may not create TokenReviews cannot
	// say: the caller is told the check is unavailable, not refused.
	t.Run("a reviewer without RBAC", func(t *testing.T) {
		unbound := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(unbound, []byte(mint(t, admin, intruderSA)), 0o600); err != nil {
			t.Fatal(err)
		}
		tokenFile, err := authn.NewTokenFile(unbound, false)
		if err != nil {
			t.Fatal(err)
		}
		auth := &authn.Authenticator{Tokens: authn.NewAPITokenReviewer(authn.APIServer{URL: url, Client: httpClient, Token: tokenFile}, authn.ProberAudience)}
		ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+mint(t, admin, coordinatorSA, authn.ProberAudience)))
		if _, err := auth.Authenticate(ctx); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "tokenreviews") {
			t.Errorf("got %v, want Unavailable saying the reviewer may not create tokenreviews", err)
		}
	})

	t.Run("people and CI to the coordinator", func(t *testing.T) {
		auth := &authn.Authenticator{Tokens: kube.NewTokenReviewer(reviewer, "")}
		healthy := startProber(t, &stubProber{ipv6OK: true})
		svc := &Service{
			Authorizer: authn.NamespaceAuthorizer{Authorizer: kube.NewAuthorizer(reviewer)},
			Discovery: Static{
				{Name: "prober-a", Namespace: "team-a", Address: healthy},
				{Name: "prober-b", Namespace: "team-b", Address: healthy},
			},
			Connector: &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}},
		}
		t.Cleanup(func() { svc.Connector.(*GRPCConnector).Close() })
		srv := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()), grpc.ChainStreamInterceptor(auth.StreamInterceptor()))
		dsprobev1.RegisterCoordinatorServer(srv, svc)
		addr := serveOnLoopback(t, srv)
		token := mint(t, admin, deployerSA)
		ci := coordinatorClient(t, addr, grpc.WithPerRPCCredentials(authn.BearerToken{Token: token, Insecure: true}))
		anonymous := coordinatorClient(t, addr)
		probe := &dsprobev1.ProbeRequest{Target: "192.0.2.1:80"}

		eventually(t, "CI's job on team-a's probers", func() error {
			_, err := RunJob(t.Context(), ci, &dsprobev1.RunProbeRequest{Probe: probe, Namespaces: []string{"team-a"}})
			return err
		})
		_, err := RunJob(t.Context(), ci, &dsprobev1.RunProbeRequest{Probe: probe})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "namespace team-b:") {
			t.Errorf("a job on every prober: got %v, want PermissionDenied naming team-b alone", err)
		}
		if _, err := RunJob(t.Context(), anonymous, &dsprobev1.RunProbeRequest{Probe: probe}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("no token: got %v, want Unauthenticated", err)
		}

		// The REST mapping authorises the same way.
		handler, stop, err := restgw.Handler(t.Context(), func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) },
			dsprobev1.RegisterCoordinatorHandler, auth)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		rest := httptest.NewServer(handler)
		defer rest.Close()
		post := func(body string) (int, string) {
			req, _ := http.NewRequest("POST", rest.URL+"/v1/jobs", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := post(`{"probe": {"target": "192.0.2.1:80"}, "namespaces": ["team-a"]}`); code != http.StatusOK || !strings.Contains(body, `"summary"`) {
			t.Errorf("REST job on team-a: got %d %s", code, body)
		}
		if code, body := post(`{"probe": {"target": "192.0.2.1:80"}}`); code != http.StatusForbidden || !strings.Contains(body, "namespace team-b:") {
			t.Errorf("REST job on every prober: got %d %s, want 403 naming team-b", code, body)
		}
	})
}

// startAuthenticatedProber serves a healthy stub prober behind auth.
func startAuthenticatedProber(t *testing.T, auth *authn.Authenticator) string {
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()))
	dsprobev1.RegisterProberServer(srv, &stubProber{ipv6OK: true})
	return serveOnLoopback(t, srv)
}

// coordinatorClient is a coordinator client of addr, in plaintext, with opts.
func coordinatorClient(t *testing.T, addr string, opts ...grpc.DialOption) dsprobev1.CoordinatorClient {
	cc, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return dsprobev1.NewCoordinatorClient(cc)
}

func serveOnLoopback(t *testing.T, srv *grpc.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// create creates obj as the administrator.
func create[T any](t *testing.T, f func(context.Context, T, metav1.CreateOptions) (T, error), obj T) T {
	t.Helper()
	got, err := f(t.Context(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %T: %v", obj, err)
	}
	return got
}

func serviceAccount(t *testing.T, admin kubernetes.Interface, ns, name string) *corev1.ServiceAccount {
	t.Helper()
	return create(t, admin.CoreV1().ServiceAccounts(ns).Create, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// mint is a token of sa from TokenRequest, for audiences (the API
// server's own when none), as the kubelet projects one into a Pod.
func mint(t *testing.T, admin kubernetes.Interface, sa *corev1.ServiceAccount, audiences ...string) string {
	t.Helper()
	req, err := admin.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(t.Context(), sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", sa.Namespace, sa.Name, err)
	}
	return req.Status.Token
}

// eventually retries f, for what the API server makes true shortly after
// it is asked (RBAC bindings reach the authorizer through a watch), and
// fails with f's last error after a minute.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, fmt.Errorf("still failing after a minute: %w", err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
