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
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	opts         DiscoveryOptions
	podSelector  labels.Selector
	factories    []informers.SharedInformerFactory
	podListers   []corelisters.PodLister
	nsLister     corelisters.NamespaceLister // nil without a NamespaceSelector
	nsSelector   labels.Selector
	synced       []cache.InformerSynced
	podInformers []cache.SharedIndexInformer
	stop         context.CancelFunc

	mu sync.Mutex
	// listErr is the API server's last refusal of a List or Watch, so
	// that Start can say why the caches never filled.
	listErr error
	// refused, while Start waits, ends its wait at once when the API
	// server refuses the credentials or their rights: retrying cannot help.
	refused context.CancelCauseFunc
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
	d := &Discovery{opts: opts, podSelector: podSelector, nsSelector: nsSelector}
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
		d.synced = append(d.synced, pods.Informer().HasSynced)
		if err := d.prepare(pods.Informer()); err != nil {
			return nil, err
		}
	}
	if opts.NamespaceSelector != "" {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = opts.NamespaceSelector }))
		ns := f.Core().V1().Namespaces()
		d.factories = append(d.factories, f)
		d.nsLister = ns.Lister()
		d.synced = append(d.synced, ns.Informer().HasSynced)
		if err := d.prepare(ns.Informer()); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// prepare makes an informer keep only what discovery reads (trim) and
// report the API server's refusals to Start (recordListError).
func (d *Discovery) prepare(inf cache.SharedIndexInformer) error {
	if err := errors.Join(inf.SetTransform(trim), inf.SetWatchErrorHandlerWithContext(d.recordListError)); err != nil {
		return fmt.Errorf("kubernetes discovery: %w", err)
	}
	return nil
}

// trim is what the caches keep of an object: for a Pod, what proberOf
// reads, and for a Namespace, its labels; never managedFields,
// annotations, volumes, environments or container statuses, which are
// most of a Pod's size. It is idempotent, as an informer's transform must
// be.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion,
				Labels: o.Labels, DeletionTimestamp: o.DeletionTimestamp},
			Spec:   corev1.PodSpec{NodeName: o.Spec.NodeName},
			Status: corev1.PodStatus{Phase: o.Status.Phase, PodIP: o.Status.PodIP, PodIPs: o.Status.PodIPs},
		}
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
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: o.Labels}}, nil
	}
	return obj, nil
}

// recordListError keeps err for Start's error, then does what an informer
// does by default (log it; the informer backs off and lists again).
func (d *Discovery) recordListError(ctx context.Context, r *cache.Reflector, err error) {
	d.mu.Lock()
	d.listErr = err
	if d.refused != nil && (apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)) {
		d.refused(err)
	}
	d.mu.Unlock()
	cache.DefaultWatchErrorHandler(ctx, r, err)
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

// Start lists and starts watching, and returns once every cache holds the
// first List; or at once with the API server's error when it refuses the
// credentials or their rights (RBAC: list and watch on pods, and on
// namespaces with a NamespaceSelector); or when ctx ends, with the last
// error of the API server, if any.
func (d *Discovery) Start(ctx context.Context) error {
	wait, refused := context.WithCancelCause(ctx)
	defer refused(nil)
	d.mu.Lock()
	d.refused = refused
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.refused = nil
		d.mu.Unlock()
	}()
	// The informers run until Stop, not until ctx, which only bounds the
	// first sync.
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stop = stop
	for _, f := range d.factories {
		f.Start(run.Done())
	}
	if cache.WaitForCacheSync(wait.Done(), d.synced...) {
		return nil
	}
	d.mu.Lock()
	listErr := d.listErr
	d.mu.Unlock()
	if listErr != nil {
		return fmt.Errorf("kubernetes discovery: listing the prober Pods: %w", listErr)
	}
	return fmt.Errorf("kubernetes discovery: waiting for the first list of prober Pods: %w", context.Cause(ctx))
}

// Stop ends the watches and waits for the informers' goroutines.
func (d *Discovery) Stop() {
	if d.stop == nil {
		return
	}
	d.stop()
	for _, f := range d.factories {
		f.Shutdown()
	}
}

// Probers returns every prober Pod the caches hold, ready or not (with the
// reason), sorted by namespace and name. It reads the caches only.
func (d *Discovery) Probers(context.Context) ([]*dsprobev1.ProberInfo, error) {
	for _, synced := range d.synced {
		if !synced() {
			return nil, errors.New("kubernetes discovery has not listed the prober Pods yet")
		}
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
