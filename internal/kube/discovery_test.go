package kube

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// proberPod is a Running, Ready dual-stack Pod serving gRPC on a port
// named grpc.
func proberPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "prober", Image: "dsprobe/prober", Env: []corev1.EnvVar{{Name: "POD_NAME", Value: name}},
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}, {Name: "grpc", ContainerPort: 8443}},
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.244.0.5",
			PodIPs:     []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00:10:244::5"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

func TestProberOf(t *testing.T) {
	prober := map[string]string{"app": "prober"}
	tests := []struct {
		name   string
		change func(*corev1.Pod)
		reason string
	}{
		{"ready", func(*corev1.Pod) {}, ""},
		{"terminating", func(p *corev1.Pod) { p.DeletionTimestamp = new(metav1.Now()) }, "terminating"},
		{"not ready", func(p *corev1.Pod) {
			p.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}
		}, "condition Ready is False (ContainersNotReady)"},
		{"no Ready condition", func(p *corev1.Pod) { p.Status.Conditions = nil }, "no Ready condition yet"},
		{"pending", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }, "phase Pending"},
		{"no podIP", func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }, "no podIP yet"},
		{"no grpc port", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = p.Spec.Containers[0].Ports[:1] }, `no container port named "grpc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := proberPod("team-a", "p", prober)
			tt.change(pod)
			got := proberOf(pod, "grpc")
			if got.GetNotReadyReason() != tt.reason || got.GetReady() != (tt.reason == "") {
				t.Errorf("got ready %v, reason %q; want reason %q", got.GetReady(), got.GetNotReadyReason(), tt.reason)
			}
			// The caches keep a trimmed Pod: the same prober, every field.
			trimmed, _ := trim(pod)
			if fromCache := proberOf(trimmed.(*corev1.Pod), "grpc"); !proto.Equal(fromCache, got) {
				t.Errorf("from the trimmed Pod: got %v, want %v", fromCache, got)
			}
		})
	}

	t.Run("addresses", func(t *testing.T) {
		got := proberOf(proberPod("team-a", "p", prober), "grpc")
		if got.GetAddress() != "10.244.0.5:8443" || strings.Join(got.GetPodIps(), ",") != "10.244.0.5,fd00:10:244::5" ||
			len(got.GetFamilies()) != 2 || got.GetFamilies()[1] != dsprobev1.Family_FAMILY_IPV6 || got.GetNode() != "node-1" {
			t.Errorf("got %v, want 10.244.0.5:8443, both podIPs and families, node-1", got)
		}
		v6first := proberPod("team-a", "p", prober)
		v6first.Status.PodIP = "fd00:10:244::5"
		if got := proberOf(v6first, "grpc").GetAddress(); got != "[fd00:10:244::5]:8443" {
			t.Errorf("IPv6 primary podIP: got address %q, want [fd00:10:244::5]:8443", got)
		}
	})
}

func TestDiscoveryOptions(t *testing.T) {
	tests := []struct {
		name string
		opts DiscoveryOptions
		errs []string // each in the error
	}{
		{"selector only", DiscoveryOptions{LabelSelector: "app=prober"}, nil},
		{"namespaces", DiscoveryOptions{LabelSelector: "app in (prober)", Namespaces: []string{"a", "b"}}, nil},
		{"namespace selector", DiscoveryOptions{LabelSelector: "app=prober", NamespaceSelector: "probe=yes"}, nil},
		{"no selector", DiscoveryOptions{}, []string{"label selector for the prober Pods is required"}},
		{"every problem at once", DiscoveryOptions{LabelSelector: "app==(", Namespaces: []string{"a", ""}, NamespaceSelector: "x in"},
			[]string{`label selector "app==("`, "exclude each other", `namespace selector "x in"`, "empty namespace name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDiscovery(fake.NewClientset(), tt.opts)
			if len(tt.errs) == 0 && err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if len(tt.errs) > 0 && err == nil {
				t.Fatalf("got no error, want one saying %q", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to say %q", err, want)
				}
			}
		})
	}
}

// Pure selection logic over a fake clientset: which Pods are probers, in
// which namespaces. The cluster tier (discovery_net_test.go) proves the
// same against a real API server, watches and RBAC.
func TestDiscoverySelection(t *testing.T) {
	prober, other := map[string]string{"app": "prober"}, map[string]string{"app": "web"}
	objects := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"probe": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"probe": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "c"}},
		proberPod("a", "p1", prober), proberPod("b", "p2", prober), proberPod("c", "p3", prober),
		proberPod("a", "web", other),
	}
	tests := []struct {
		name string
		opts DiscoveryOptions
		want string
	}{
		{"every namespace", DiscoveryOptions{LabelSelector: "app=prober"}, "a/p1 b/p2 c/p3"},
		{"listed namespaces, one twice", DiscoveryOptions{LabelSelector: "app=prober", Namespaces: []string{"c", "a", "c"}}, "a/p1 c/p3"},
		{"namespace selector", DiscoveryOptions{LabelSelector: "app=prober", NamespaceSelector: "probe=yes"}, "a/p1 b/p2"},
		{"set-based selector", DiscoveryOptions{LabelSelector: "app in (web)"}, "a/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDiscovery(fake.NewClientset(objects...), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			probers, err := d.Probers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range probers {
				got = append(got, p.GetNamespace()+"/"+p.GetName())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

// The caches hold trimmed Pods (what proberOf reads, tested above), not
// what else a Pod carries; trimming twice changes nothing, as an
// informer's transform must allow.
func TestTrim(t *testing.T) {
	pod := proberPod("team-a", "p", map[string]string{"app": "prober"})
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	once, _ := trim(pod)
	trimmed := once.(*corev1.Pod)
	if trimmed.Annotations != nil || trimmed.ManagedFields != nil || trimmed.Spec.Containers[0].Env != nil || trimmed.Spec.Containers[0].Image != "" {
		t.Errorf("got %+v, want no annotations, managedFields, env or image", trimmed)
	}
	twice, _ := trim(trimmed)
	if !equality.Semantic.DeepEqual(twice, trimmed) {
		t.Errorf("trimmed twice: got %+v, want %+v", twice, trimmed)
	}
}
