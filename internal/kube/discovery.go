package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// DefaultPortName is the container port a prober serves gRPC on when
// DiscoveryOptions.PortName is empty.
const DefaultPortName = "grpc"

// DiscoveryOptions say which Pods are probers.
type DiscoveryOptions struct {
	// LabelSelector selects the prober Pods (e.g. "app.kubernetes.io/name=dsprobe-prober").
	// It is required: an empty selector would watch every Pod of the
	// cluster.
	LabelSelector string
	// Namespaces are the namespaces to watch, each with its own informer;
	// empty means every namespace (or those NamespaceSelector selects).
	Namespaces []string
	// NamespaceSelector selects the namespaces by their labels; empty
	// means every namespace. It cannot be combined with Namespaces.
	NamespaceSelector string
	// PortName is the name of the container port a prober serves gRPC on;
	// empty means DefaultPortName.
	PortName string
}

// Discovery finds prober Pods with shared informers: one List, then a
// Watch, per watched namespace (one for all), each only of the Pods the
// label selector matches, plus the Namespaces a namespace selector
// matches. Probers reads the informers' caches and never asks the API
// server. Start it, then Stop it.
type Discovery struct {
	informerSet
	opts         DiscoveryOptions
	podSelector  labels.Selector
	podListers   []corelisters.PodLister
	nsLister     corelisters.NamespaceLister // nil without a NamespaceSelector
	nsSelector   labels.Selector
	podInformers []cache.SharedIndexInformer
}

// NewDiscovery checks opts and prepares the informers of client; nothing is
// asked of the API server until Start.
func NewDiscovery(client kubernetes.Interface, opts DiscoveryOptions) (*Discovery, error) {
	podSelector, nsSelector, err := opts.selectors()
	if err != nil {
		return nil, err
	}
	if opts.PortName == "" {
		opts.PortName = DefaultPortName
	}
	d := &Discovery{opts: opts, podSelector: podSelector, nsSelector: nsSelector,
		informerSet: informerSet{what: "kubernetes discovery", objects: "prober Pods"}}
	onlyProbers := informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = opts.LabelSelector })
	namespaces := slices.Compact(slices.Sorted(slices.Values(opts.Namespaces)))
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	// A factory per namespace: an informer of a factory watches one
	// namespace or all, and a Role in each listed namespace is enough
	// to list and watch its Pods.
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns), onlyProbers)
		pods := f.Core().V1().Pods()
		d.factories = append(d.factories, f)
		d.podListers = append(d.podListers, pods.Lister())
		d.podInformers = append(d.podInformers, pods.Informer())
		if err := d.prepare(pods.Informer(), trim); err != nil {
			return nil, err
		}
	}
	if opts.NamespaceSelector != "" {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = opts.NamespaceSelector }))
		ns := f.Core().V1().Namespaces()
		d.factories = append(d.factories, f)
		d.nsLister = ns.Lister()
		if err := d.prepare(ns.Informer(), trim); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// selectors parses the label selectors, reporting every problem at once.
func (o DiscoveryOptions) selectors() (pods, namespaces labels.Selector, err error) {
	var errs []error
	if strings.TrimSpace(o.LabelSelector) == "" {
		errs = append(errs, errors.New("kubernetes discovery: a label selector for the prober Pods is required (an empty one would watch every Pod)"))
	} else if pods, err = labels.Parse(o.LabelSelector); err != nil {
		errs = append(errs, fmt.Errorf("kubernetes discovery: label selector %q: %w", o.LabelSelector, err))
	}
	namespaces = labels.Everything()
	if o.NamespaceSelector != "" {
		if len(o.Namespaces) > 0 {
			errs = append(errs, errors.New("kubernetes discovery: namespaces and a namespace selector exclude each other"))
		}
		if namespaces, err = labels.Parse(o.NamespaceSelector); err != nil {
			errs = append(errs, fmt.Errorf("kubernetes discovery: namespace selector %q: %w", o.NamespaceSelector, err))
		}
	}
	for _, ns := range o.Namespaces {
		if ns == "" {
			errs = append(errs, errors.New("kubernetes discovery: an empty namespace name"))
		}
	}
	return pods, namespaces, errors.Join(errs...)
}

// OnChange calls f, on an informer's goroutine, whenever a prober Pod is
// added, changed or deleted in a cache, so a caller can wait for a change
// instead of polling. f must not block.
func (d *Discovery) OnChange(f func()) error {
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f() },
		UpdateFunc: func(any, any) { f() },
		DeleteFunc: func(any) { f() },
	}
	for _, inf := range d.podInformers {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("kubernetes discovery: %w", err)
		}
	}
	return nil
}

// Probers returns every prober Pod the caches hold, ready or not (with the
// reason), sorted by namespace and name. It reads the caches only.
func (d *Discovery) Probers(context.Context) ([]*dsprobev1.ProberInfo, error) {
	if !d.hasSynced() {
		return nil, errors.New("kubernetes discovery has not listed the prober Pods yet")
	}
	var out []*dsprobev1.ProberInfo
	for _, lister := range d.podListers {
		pods, err := lister.List(d.podSelector)
		if err != nil {
			return nil, fmt.Errorf("kubernetes discovery: %w", err)
		}
		for _, pod := range pods {
			if d.namespaceSelected(pod.Namespace) {
				out = append(out, proberOf(pod, d.opts.PortName))
			}
		}
	}
	slices.SortFunc(out, func(a, b *dsprobev1.ProberInfo) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// namespaceSelected reports whether the namespace selector, if any,
// selects the namespace: the namespace cache holds only those it matched.
func (d *Discovery) namespaceSelected(name string) bool {
	if d.nsLister == nil {
		return true
	}
	ns, err := d.nsLister.Get(name)
	return err == nil && d.nsSelector.Matches(labels.Set(ns.Labels))
}

// proberOf is the prober a Pod is: reached at its primary podIP on the
// container port named portName, ready when the Pod is Running, Ready, not
// terminating and has both of those; otherwise NotReadyReason says why.
func proberOf(pod *corev1.Pod, portName string) *dsprobev1.ProberInfo {
	p := &dsprobev1.ProberInfo{Name: pod.Name, Namespace: pod.Namespace, Node: pod.Spec.NodeName}
	for _, ip := range pod.Status.PodIPs {
		addr, err := netip.ParseAddr(ip.IP)
		if err != nil {
			continue
		}
		p.PodIps = append(p.PodIps, addr.String())
		family := dsprobev1.Family_FAMILY_IPV4
		if addr.Unmap().Is6() {
			family = dsprobev1.Family_FAMILY_IPV6
		}
		if !slices.Contains(p.Families, family) {
			p.Families = append(p.Families, family)
		}
	}
	port, hasPort := containerPort(pod, portName)
	if hasPort && pod.Status.PodIP != "" {
		p.Address = net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port)))
	}
	p.NotReadyReason = notReadyReason(pod, portName, hasPort)
	p.Ready = p.NotReadyReason == ""
	return p
}

// notReadyReason says why a prober Pod must not be sent jobs, the most
// fundamental reason first; "" when it may.
func notReadyReason(pod *corev1.Pod, portName string, hasPort bool) string {
	switch {
	case pod.DeletionTimestamp != nil:
		return "terminating"
	case !hasPort:
		return fmt.Sprintf("no container port named %q", portName)
	case pod.Status.Phase != corev1.PodRunning:
		return "phase " + cmp.Or(string(pod.Status.Phase), "unknown")
	case pod.Status.PodIP == "":
		return "no podIP yet"
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return ""
		}
		reason := "condition Ready is " + string(c.Status)
		if c.Reason != "" {
			reason += " (" + c.Reason + ")"
		}
		return reason
	}
	return "no Ready condition yet"
}

func containerPort(pod *corev1.Pod, name string) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name && p.ContainerPort > 0 {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}
