package deploy_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// The overlays applied with server-side apply to a real API server, which
// runs the PodSecurity admission: every object is accepted without a
// warning (the namespaces warn at restricted too, so a Pod template that
// breaks it would say so), and the controllers' Pods of every Deployment
// are admitted under enforce=restricted. The lab has no kubelet, so the Pods
// stay Pending; what runs them is the real-node tier's to show. A Pod that
// is not restricted is refused in the same namespaces, so the admission is
// known to be on. Then the roles applied are asked what they allow.
func TestOverlaysOnARealAPIServer(t *testing.T) {
	c := kubelab.Start(t)
	for _, overlay := range []string{"deploy/overlays/kind", "deploy/overlays/observability"} {
		o := render(t, overlay)
		warnings := c.Apply(t, o.yaml, kubelab.ApplyOptions{FieldManager: "dsprobe-deploy-test"})
		for _, w := range warnings {
			t.Errorf("%s: the API server warned: %s", overlay, w)
		}
		for _, d := range o.deployments {
			waitPodsAdmitted(t, c, d.Namespace, d.Spec.Selector.MatchLabels, int(*d.Spec.Replicas))
		}
	}

	// The coordinator's Service has both families on a dual-stack cluster.
	svc, err := c.Client.CoreV1().Services("dsprobe").Get(t.Context(), "dsprobe-coordinator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ips := svc.Spec.ClusterIPs; len(ips) != 2 || !netip.MustParseAddr(ips[0]).Is4() || !netip.MustParseAddr(ips[1]).Is6() {
		t.Errorf("the coordinator's Service has ClusterIPs %v, want an IPv4 and an IPv6 one", ips)
	}

	for _, ns := range []string{"dsprobe", "team-a", "observability"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "not-restricted"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "dsprobe.test/not-restricted"}}},
		}
		_, err := c.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Errorf("a Pod without a restricted securityContext in %s: got %v, want a PodSecurity refusal", ns, err)
		}
	}
	t.Run("roles authorise exactly", func(t *testing.T) { checkAuthorised(t, c) })
}

// checkAuthorised asks the API server (SubjectAccessReview) whether the
// roles applied allow what deploy/base/coordinator-rbac.yaml says, and
// nothing near it.
func checkAuthorised(t *testing.T, c *kubelab.Cluster) {
	type ask struct {
		namespace, verb, group, resource, name string
		allowed                                bool
	}
	for _, tt := range []struct {
		serviceAccount string // NAMESPACE/NAME
		asks           []ask
	}{
		{"dsprobe/dsprobe-coordinator", []ask{
			{"", "list", "", "pods", "", true},
			{"", "watch", "", "namespaces", "", true},
			{"team-a", "list", "", "services", "", true},
			{"", "list", "discovery.k8s.io", "endpointslices", "", true},
			{"team-b", "list", "networking.k8s.io", "networkpolicies", "", true},
			{"", "watch", "", "nodes", "", true},
			{"kube-system", "get", "", "configmaps", "kube-proxy", true},
			{"kube-system", "get", "", "configmaps", "cilium-config", true},
			{"", "create", "authentication.k8s.io", "tokenreviews", "", true},
			{"", "create", "authorization.k8s.io", "subjectaccessreviews", "", true},
			{"dsprobe", "update", "coordination.k8s.io", "leases", "", true},
			{"team-a", "get", "", "services", "", false},
			{"", "get", "", "nodes", "", false},
			{"kube-system", "get", "", "configmaps", "coredns", false},
			{"kube-system", "list", "", "configmaps", "", false},
			{"dsprobe", "get", "", "secrets", "", false},
			{"team-a", "create", "", "pods", "", false},
			{"team-a", "delete", "", "pods", "", false},
			{"kube-system", "update", "coordination.k8s.io", "leases", "", false},
			{"team-a", "create", "dsprobe.io", "probes", "", false},
		}},
		{"team-a/dsprobe-prober", []ask{
			{"", "create", "authentication.k8s.io", "tokenreviews", "", true},
			{"team-a", "list", "", "pods", "", false},
			{"team-a", "get", "", "configmaps", "", false},
			{"", "create", "authorization.k8s.io", "subjectaccessreviews", "", false},
		}},
		{"dsprobe/dsprobe-cli", []ask{
			{"team-a", "create", "dsprobe.io", "probes", "", true},
			{"team-c", "create", "dsprobe.io", "probes", "", true},
			{"dsprobe", "create", "dsprobe.io", "probes", "", false},
			{"kube-system", "create", "dsprobe.io", "probes", "", false},
			{"team-a", "list", "", "pods", "", false},
		}},
	} {
		namespace, saName, _ := strings.Cut(tt.serviceAccount, "/")
		for _, a := range tt.asks {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   fmt.Sprintf("system:serviceaccount:%s:%s", namespace, saName),
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: a.namespace, Verb: a.verb, Group: a.group, Resource: a.resource, Name: a.name,
				},
			}}
			got, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), review, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Allowed != a.allowed {
				t.Errorf("%s may %s %s.%s %q in %q: got %v, want %v", tt.serviceAccount, a.verb, a.resource, a.group, a.name, a.namespace, got.Status.Allowed, a.allowed)
			}
		}
	}
}

// waitPodsAdmitted waits until the ReplicaSet controller has made replicas
// Pods matching selector in namespace, which the API server admitted, and
// fails at once with the controller's reason when it could not (a
// PodSecurity refusal names every violation).
func waitPodsAdmitted(t *testing.T, c *kubelab.Cluster, namespace string, selector map[string]string, replicas int) {
	t.Helper()
	sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: selector})
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods, err := c.Client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) >= replicas {
			return
		}
		sets, err := c.Client.AppsV1().ReplicaSets(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range sets.Items {
			for _, cond := range rs.Status.Conditions {
				if cond.Type == "ReplicaFailure" && cond.Status == corev1.ConditionTrue {
					t.Fatalf("ReplicaSet %s/%s cannot make its Pods: %s", namespace, rs.Name, cond.Message)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d Pods of %s after a minute, want %d", namespace, len(pods.Items), sel, replicas)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
