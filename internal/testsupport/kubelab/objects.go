package kubelab

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AddNamespace creates a namespace with labels, for tests that select
// namespaces by label; AddPod makes the namespaces it needs without any.
func (c *Cluster) AddNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := c.Client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubelab: creating namespace %s: %v", name, err)
	}
}

// SetPodNotReady turns a Pod's Ready and ContainersReady conditions False
// with reason ContainersNotReady, as a kubelet does when a container's
// readiness probe fails.
func (c *Cluster) SetPodNotReady(t testing.TB, namespace, name string) {
	t.Helper()
	pod, err := c.Client.CoreV1().Pods(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kubelab: %v", err)
	}
	for i, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status, pod.Status.Conditions[i].Reason = corev1.ConditionFalse, "ContainersNotReady"
		}
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = false
	}
	if _, err := c.Client.CoreV1().Pods(namespace).UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubelab: marking Pod %s/%s not ready: %v", namespace, name, err)
	}
}
