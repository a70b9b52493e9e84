package kubelab

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAccountToken creates the ServiceAccount namespace/name (and the
// namespace if missing) and returns a token for it from the TokenRequest
// API, valid for an hour. ClientFor(token) is then a client with the
// rights Grant gives the ServiceAccount and no others: how a test runs a
// component with least privilege instead of as an administrator.
func (c *Cluster) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	c.ensureNamespace(t, namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().ServiceAccounts(namespace).Create(t.Context(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubelab: creating ServiceAccount %s/%s: %v", namespace, name, err)
	}
	hour := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}
	tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name, tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubelab: requesting a token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// Grant gives the ServiceAccount namespace/name exactly rules, through a
// ClusterRole bound cluster-wide when in is empty, else bound by a
// RoleBinding in namespace in alone.
func (c *Cluster) Grant(t testing.TB, namespace, name, in string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	roleName := "kubelab:" + namespace + ":" + name + ":in:" + in // a role per grant
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: roleName}, Rules: rules}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubelab: creating ClusterRole %s: %v", roleName, err)
	}
	meta := metav1.ObjectMeta{Name: roleName, Namespace: in}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}}
	var err error
	if in == "" {
		_, err = c.Client.RbacV1().ClusterRoleBindings().Create(t.Context(),
			&rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	} else {
		_, err = c.Client.RbacV1().RoleBindings(in).Create(t.Context(),
			&rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("kubelab: binding ClusterRole %s in %q: %v", roleName, in, err)
	}
}
