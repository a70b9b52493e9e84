package kube

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// objectReader reads the objects behind a Service's evidence, wherever
// they come from: the API server, with one-shot requests (clientReader,
// the CLI's), or the caches of shared informers (EvidenceCache, the
// coordinator's). ReadServiceObjects and ServiceObjects.Prober read
// through it, so the reading logic is one whichever reads. The objects it
// returns may be shared with a cache: never modify them.
type objectReader interface {
	// service returns the Service, or an error IsNotFound recognises.
	service(ctx context.Context, namespace, name string) (*corev1.Service, error)
	nodes(ctx context.Context) ([]*corev1.Node, error)
	pods(ctx context.Context, namespace string, selector labels.Selector) ([]*corev1.Pod, error)
	// endpointSlices are those labelled kubernetes.io/service-name=service.
	endpointSlices(ctx context.Context, namespace, service string) ([]*discoveryv1.EndpointSlice, error)
	networkPolicies(ctx context.Context, namespace string) ([]*networkingv1.NetworkPolicy, error)
	configMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	// podByIP returns a Pod with ip among its status.podIPs (the primary
	// for clientReader, which the API can select by), nil when none.
	podByIP(ctx context.Context, ip netip.Addr) (*corev1.Pod, error)
	namespace(ctx context.Context, name string) (*corev1.Namespace, error)
}

// clientReader asks the API server each time: Gets and one-shot Lists.
type clientReader struct{ cs kubernetes.Interface }

func (r clientReader) service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	return r.cs.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (r clientReader) nodes(ctx context.Context) ([]*corev1.Node, error) {
	l, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return pointers(l.Items), nil
}

func (r clientReader) pods(ctx context.Context, namespace string, selector labels.Selector) ([]*corev1.Pod, error) {
	l, err := r.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, err
	}
	return pointers(l.Items), nil
}

func (r clientReader) endpointSlices(ctx context.Context, namespace, service string) ([]*discoveryv1.EndpointSlice, error) {
	l, err := r.cs.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return nil, err
	}
	return pointers(l.Items), nil
}

func (r clientReader) networkPolicies(ctx context.Context, namespace string) ([]*networkingv1.NetworkPolicy, error) {
	l, err := r.cs.NetworkingV1().NetworkPolicies(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return pointers(l.Items), nil
}

func (r clientReader) configMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return r.cs.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (r clientReader) podByIP(ctx context.Context, ip netip.Addr) (*corev1.Pod, error) {
	// status.podIP is the primary address; a Pod is found by it.
	l, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=" + ip.String()})
	if err != nil || len(l.Items) == 0 {
		return nil, err
	}
	return &l.Items[0], nil
}

func (r clientReader) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	return r.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}

// pointers points at each item of a List.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
