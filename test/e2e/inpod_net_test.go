package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// apiServer is where Pods reach the API server: the kubernetes Service.
var apiServer = netip.AddrPortFrom(kubelab.ServiceCIDR4.Addr().Next(), 443)

// applyShippedRBAC applies the ServiceAccounts, roles and bindings of
// deploy/overlays/kind, rendered by the pinned kustomize as users apply
// them: the coordinator's (deploy/base/coordinator-rbac.yaml), a prober's
// in team-a, team-b and team-c (deploy/vantage/rbac.yaml bound to
// deploy/base/prober-role.yaml's ClusterRole), dsprobe-cli's in the three
// (deploy/overlays/kind/cli.yaml), and the dsprobe-user ClusterRole. The
// Namespaces and workloads stay out: the lab's Pods stand for them, and
// the overlay's namespaces enforce a Pod Security level those Pods do not
// claim. The namespaces must exist.
func applyShippedRBAC(t *testing.T, c *kubelab.Cluster) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), testhost.Tool(t, "kustomize"), "build", "../../deploy/overlays/kind")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build deploy/overlays/kind: %v\n%s", err, stderr.Bytes())
	}
	rbac := map[string]bool{"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true}
	var keep [][]byte
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		if rbac[meta.Kind] {
			keep = append(keep, doc)
		}
	}
	for _, w := range c.Apply(t, bytes.Join(keep, []byte("\n---\n")), kubelab.ApplyOptions{FieldManager: "dsprobe-e2e"}) {
		t.Errorf("applying the shipped RBAC, the API server warned: %s", w)
	}
}

// requestToken is a token of the ServiceAccount namespace/name from the
// TokenRequest API, for audiences (the API server's own when none), as
// the kubelet projects one into a Pod.
func requestToken(t *testing.T, c *kubelab.Cluster, namespace, name string, audiences ...string) string {
	t.Helper()
	req, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", namespace, name, err)
	}
	return req.Status.Token
}

// writeToken writes token to a file of its own, as a projected volume
// holds it, and returns its path.
func writeToken(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterCA is the cluster's CA as Pods are given it: the kube-root-ca.crt
// ConfigMap the controller-manager publishes in every namespace.
func clusterCA(t *testing.T, c *kubelab.Cluster, namespace string) string {
	t.Helper()
	var ca string
	poll(t, "kube-root-ca.crt in "+namespace, func() bool {
		cm, err := c.Client.CoreV1().ConfigMaps(namespace).Get(t.Context(), "kube-root-ca.crt", metav1.GetOptions{})
		if err == nil {
			ca = cm.Data["ca.crt"]
		}
		return ca != ""
	})
	return ca
}

// waitAllowed waits until the API server's authorizer lets the
// ServiceAccount serviceAccount ("NAMESPACE:NAME") do what attrs say,
// asked with a SubjectAccessReview: RBAC objects reach the authorizer
// through a watch, a moment after they are applied.
func waitAllowed(t *testing.T, c *kubelab.Cluster, serviceAccount string, attrs authorizationv1.ResourceAttributes) {
	t.Helper()
	namespace, _, _ := strings.Cut(serviceAccount, ":")
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + serviceAccount,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	poll(t, fmt.Sprintf("%s to be allowed %+v", serviceAccount, attrs), func() bool {
		got, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status.Allowed
	})
}

// podFiles are the files a container finds under /var/run/secrets, by
// path below it: what the Pod's projected volumes hold, such as
// "kubernetes.io/serviceaccount/token".
type podFiles map[string]string

// startInPod runs name with args in pod until the test ends, as its
// container would run: with the Pod's files under /var/run/secrets (bind
// mounted in the process's own mount namespace, which `ip netns exec`
// makes private, so the test machine's stays as it is) and, like every
// container, the kubernetes Service's address in $KUBERNETES_SERVICE_HOST
// and _PORT; env adds variables (POD_NAME...). Nothing else of the test's
// environment reaches it: no $KUBECONFIG, and a HOME with no
// ~/.kube/config, so a client finds the API as in a Pod. The test must
// have made the mount point first (ensureMountpoint).
func startInPod(t *testing.T, pod *testhost.Host, files podFiles, env []string, name string, args ...string) {
	t.Helper()
	secrets := t.TempDir()
	for path, content := range files {
		full := filepath.Join(secrets, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := pod.Command(context.Background(), "sh", append([]string{"-c", `mount --bind "$0" /var/run/secrets && exec "$@"`, secrets, name}, args...)...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"KUBERNETES_SERVICE_HOST=" + apiServer.Addr().String(),
		"KUBERNETES_SERVICE_PORT=" + strconv.Itoa(int(apiServer.Port())),
	}, env...)
	pod.StartCommand(t, cmd)
}

// serviceAccountFiles are what the kubelet projects for a ServiceAccount
// (deploy/vantage/prober.yaml's kube-api-access volume): its token for the
// API server, the cluster's CA, the Pod's namespace.
func serviceAccountFiles(t *testing.T, c *kubelab.Cluster, namespace, name string) podFiles {
	t.Helper()
	return podFiles{
		"kubernetes.io/serviceaccount/token":     requestToken(t, c, namespace, name),
		"kubernetes.io/serviceaccount/ca.crt":    clusterCA(t, c, namespace),
		"kubernetes.io/serviceaccount/namespace": namespace,
	}
}

// ensureMountpoint makes the directory dir for bind mounts (a machine that
// is no Kubernetes node has no /var/run/secrets) and removes it when the
// test ends if it made it: call it before starting the processes that
// mount over it, so that they are gone by then.
func ensureMountpoint(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		return
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
}

// repoPath is the absolute path of path, relative to the repository.
func repoPath(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
