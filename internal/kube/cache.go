package kube

import (
	"context"
	"errors"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// EvidenceCache holds, for the coordinator, the objects behind any
// Service's evidence, watched with shared informers (one List, then a
// Watch, each kind once for the whole cluster): Services, EndpointSlices,
// Pods, Nodes, Namespaces and NetworkPolicies, each trimmed to what the
// evidence reads (trim). ReadService reads the caches and asks the API
// server only for the two ConfigMaps of the proxy mode
// (kube-system/kube-proxy and kube-system/cilium-config), a Get each, so
// their RBAC can name them. Start it, then Stop it.
type EvidenceCache struct {
	informerSet
	reader cacheReader
}

// podIPIndex indexes the cached Pods by each of their status.podIPs.
const podIPIndex = "podIP"

// NewEvidenceCache prepares the informers of client; nothing is asked of
// the API server until Start.
func NewEvidenceCache(client kubernetes.Interface) (*EvidenceCache, error) {
	f := informers.NewSharedInformerFactory(client, 0)
	c := &EvidenceCache{informerSet: informerSet{
		what: "kubernetes evidence", objects: "Services, EndpointSlices, Pods, Nodes, Namespaces and NetworkPolicies",
		factories: []informers.SharedInformerFactory{f},
	}}
	services, nodes, pods := f.Core().V1().Services(), f.Core().V1().Nodes(), f.Core().V1().Pods()
	namespaces, slices, policies := f.Core().V1().Namespaces(), f.Discovery().V1().EndpointSlices(), f.Networking().V1().NetworkPolicies()
	if err := pods.Informer().AddIndexers(cache.Indexers{podIPIndex: podIPsOf}); err != nil {
		return nil, err
	}
	for _, inf := range []cache.SharedIndexInformer{services.Informer(), nodes.Informer(), pods.Informer(),
		namespaces.Informer(), slices.Informer(), policies.Informer()} {
		if err := c.prepare(inf, trim); err != nil {
			return nil, err
		}
	}
	c.reader = cacheReader{
		client: client, serviceLister: services.Lister(), nodeLister: nodes.Lister(), podLister: pods.Lister(), podIndex: pods.Informer().GetIndexer(),
		namespaceLister: namespaces.Lister(), sliceLister: slices.Lister(), policyLister: policies.Lister(),
	}
	return c, nil
}

// ReadService reads the Service's objects from the caches, as
// ReadServiceObjects reads them from the API server (the same errors).
func (c *EvidenceCache) ReadService(ctx context.Context, q ServiceQuery) (*ServiceObjects, error) {
	if !c.hasSynced() {
		return nil, errors.New("kubernetes evidence has not listed the cluster's objects yet")
	}
	return readServiceObjects(ctx, c.reader, q)
}

func podIPsOf(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			ips = append(ips, a.String())
		}
	}
	return ips, nil
}

// cacheReader reads the informers' caches; only the ConfigMaps are asked
// of the API server.
type cacheReader struct {
	client          kubernetes.Interface
	serviceLister   corelisters.ServiceLister
	nodeLister      corelisters.NodeLister
	podLister       corelisters.PodLister
	podIndex        cache.Indexer
	namespaceLister corelisters.NamespaceLister
	sliceLister     discoverylisters.EndpointSliceLister
	policyLister    networkinglisters.NetworkPolicyLister
}

func (r cacheReader) service(_ context.Context, namespace, name string) (*corev1.Service, error) {
	return r.serviceLister.Services(namespace).Get(name)
}

func (r cacheReader) nodes(context.Context) ([]*corev1.Node, error) {
	return r.nodeLister.List(labels.Everything())
}

func (r cacheReader) pods(_ context.Context, namespace string, selector labels.Selector) ([]*corev1.Pod, error) {
	return r.podLister.Pods(namespace).List(selector)
}

func (r cacheReader) endpointSlices(_ context.Context, namespace, service string) ([]*discoveryv1.EndpointSlice, error) {
	return r.sliceLister.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service}))
}

func (r cacheReader) networkPolicies(_ context.Context, namespace string) ([]*networkingv1.NetworkPolicy, error) {
	return r.policyLister.NetworkPolicies(namespace).List(labels.Everything())
}

func (r cacheReader) configMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return r.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

// podByIP prefers a Pod of its own network: hostNetwork Pods share their
// Node's addresses.
func (r cacheReader) podByIP(_ context.Context, ip netip.Addr) (*corev1.Pod, error) {
	objs, err := r.podIndex.ByIndex(podIPIndex, ip.String())
	if err != nil {
		return nil, err
	}
	var found *corev1.Pod
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok && (found == nil || found.Spec.HostNetwork && !pod.Spec.HostNetwork) {
			found = pod
		}
	}
	return found, nil
}

func (r cacheReader) namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return r.namespaceLister.Get(name)
}

// trim is what the caches keep of an object: what the prober discovery
// (proberOf) and the evidence (ReadServiceObjects) read of it, and never
// managedFields, annotations, volumes, environments, container statuses
// or an EndpointSlice's topology hints, which are most of the objects'
// size. It is idempotent, as an informer's transform must be.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		pod := &corev1.Pod{
			ObjectMeta: trimMeta(o.ObjectMeta),
			Spec:       corev1.PodSpec{NodeName: o.Spec.NodeName, HostNetwork: o.Spec.HostNetwork},
			Status:     corev1.PodStatus{Phase: o.Status.Phase, PodIP: o.Status.PodIP, PodIPs: o.Status.PodIPs},
		}
		pod.DeletionTimestamp = o.DeletionTimestamp
		for _, c := range o.Spec.Containers {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.PodReady {
				pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason})
			}
		}
		return pod, nil
	case *corev1.Namespace:
		return &corev1.Namespace{ObjectMeta: trimMeta(o.ObjectMeta)}, nil
	case *corev1.Service:
		s := o.Spec
		return &corev1.Service{ObjectMeta: trimMeta(o.ObjectMeta), Spec: corev1.ServiceSpec{
			Selector: s.Selector, Ports: s.Ports, ClusterIP: s.ClusterIP, ClusterIPs: s.ClusterIPs,
			IPFamilies: s.IPFamilies, IPFamilyPolicy: s.IPFamilyPolicy, Type: s.Type,
		}}, nil
	case *corev1.Node:
		node := &corev1.Node{ObjectMeta: trimMeta(o.ObjectMeta), Spec: corev1.NodeSpec{PodCIDR: o.Spec.PodCIDR, PodCIDRs: o.Spec.PodCIDRs}}
		for _, a := range o.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				node.Status.Addresses = append(node.Status.Addresses, a)
			}
		}
		return node, nil
	case *discoveryv1.EndpointSlice:
		s := &discoveryv1.EndpointSlice{ObjectMeta: trimMeta(o.ObjectMeta), AddressType: o.AddressType, Ports: o.Ports}
		for _, e := range o.Endpoints {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: e.Conditions})
		}
		return s, nil
	case *networkingv1.NetworkPolicy:
		return &networkingv1.NetworkPolicy{ObjectMeta: trimMeta(o.ObjectMeta), Spec: o.Spec}, nil
	}
	return obj, nil
}

// trimMeta keeps of an object's metadata its identity and labels.
func trimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, Labels: m.Labels}
}
