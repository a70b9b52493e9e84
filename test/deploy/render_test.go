package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/testsupport/modroot"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The kustomizations of deploy/, as users apply them.
var kustomizations = []string{"deploy/base", "deploy/vantage", "deploy/overlays/kind", "deploy/overlays/observability"}

// objects are a kustomization's objects as `kustomize build` writes them,
// each decoded strictly into its API type, so a misspelt field
// (readinesProbe) fails here rather than being dropped by the API server.
type objects struct {
	yaml []byte
	all  []any

	namespaces          []*corev1.Namespace
	serviceAccounts     []*corev1.ServiceAccount
	configMaps          []*corev1.ConfigMap
	services            []*corev1.Service
	deployments         []*appsv1.Deployment
	disruptionBudgets   []*policyv1.PodDisruptionBudget
	networkPolicies     []*networkingv1.NetworkPolicy
	clusterRoles        []*rbacv1.ClusterRole
	roles               []*rbacv1.Role
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	roleBindings        []*rbacv1.RoleBinding
	// crds are read as plain data: crd_test.go holds their schema to
	// the Go types, and the API server checks the rest.
	crds []*map[string]any
}

// render runs the pinned kustomize on dir (relative to the repository) and
// decodes what it writes.
func render(t *testing.T, dir string) *objects {
	t.Helper()
	kustomize := testhost.Tool(t, "kustomize")
	cmd := exec.CommandContext(t.Context(), kustomize, "build", filepath.Join(modroot.Dir(t), dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.Bytes())
	}
	o := &objects{yaml: out}
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: document %d: %v", dir, i+1, err)
		}
		var obj any
		switch meta.Kind {
		case "Namespace":
			obj = decode(t, dir, doc, &o.namespaces)
		case "ServiceAccount":
			obj = decode(t, dir, doc, &o.serviceAccounts)
		case "ConfigMap":
			obj = decode(t, dir, doc, &o.configMaps)
		case "Service":
			obj = decode(t, dir, doc, &o.services)
		case "Deployment":
			obj = decode(t, dir, doc, &o.deployments)
		case "PodDisruptionBudget":
			obj = decode(t, dir, doc, &o.disruptionBudgets)
		case "NetworkPolicy":
			obj = decode(t, dir, doc, &o.networkPolicies)
		case "ClusterRole":
			obj = decode(t, dir, doc, &o.clusterRoles)
		case "Role":
			obj = decode(t, dir, doc, &o.roles)
		case "ClusterRoleBinding":
			obj = decode(t, dir, doc, &o.clusterRoleBindings)
		case "RoleBinding":
			obj = decode(t, dir, doc, &o.roleBindings)
		case "CustomResourceDefinition":
			obj = decode(t, dir, doc, &o.crds)
		default:
			t.Fatalf("%s: document %d is a %q, which this test does not read: teach render its type", dir, i+1, meta.Kind)
		}
		o.all = append(o.all, obj)
	}
	return o
}

// decode decodes doc strictly into a new T and appends it to list.
func decode[T any](t *testing.T, dir string, doc []byte, list *[]*T) *T {
	t.Helper()
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: %v in\n%s", dir, err, doc)
	}
	*list = append(*list, obj)
	return obj
}

// deployment is the Deployment namespace/name; the test fails without it.
func (o *objects) deployment(t *testing.T, namespace, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range o.deployments {
		if d.Namespace == namespace && d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s/%s", namespace, name)
	return nil
}

// configFile is the file key of the ConfigMap in namespace that kustomize
// generated from name (NAME-HASH).
func (o *objects) configFile(t *testing.T, namespace, name, key string) string {
	t.Helper()
	for _, cm := range o.configMaps {
		if cm.Namespace == namespace && strings.HasPrefix(cm.Name, name+"-") {
			if data, ok := cm.Data[key]; ok {
				return data
			}
		}
	}
	t.Fatalf("no ConfigMap %s/%s-HASH with %s", namespace, name, key)
	return ""
}

// Every kustomization renders, and every object in it is one the test
// reads and decodes strictly.
func TestEveryKustomizationRenders(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			o := render(t, dir)
			if len(o.all) == 0 {
				t.Errorf("%s renders no object", dir)
			}
		})
	}
}

func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modroot.Dir(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// name is how a message names an object.
func name(namespace, n string) string {
	if namespace == "" {
		return n
	}
	return fmt.Sprintf("%s/%s", namespace, n)
}
