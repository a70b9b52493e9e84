package kube

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/servicecheck"
)

// DefaultClusterDomain is the DNS domain of Services when the caller names
// none: kubeadm's and kind's default.
const DefaultClusterDomain = "cluster.local"

// ServiceNotFoundError says the Service asked for does not exist: bad
// input, not a failure to reach the API.
type ServiceNotFoundError struct{ Namespace, Name string }

func (e *ServiceNotFoundError) Error() string {
	return fmt.Sprintf("Service %s/%s not found", e.Namespace, e.Name)
}

// ServiceObjects are the Kubernetes objects behind one Service, read once
// with Lists: everything of its evidence that does not depend on the
// family or on who probes. For fills in the rest per family.
type ServiceObjects struct {
	// Evidence holds the objects of both families; its Family, DNS,
	// connects and NetworkPolicies are left for For to fill.
	Evidence diagnose.ServiceEvidence
	// Port is the Service port the evidence is about: the one named (by
	// name or number) in the query, else the Service's first.
	Port corev1.ServicePort
	// ReadyEndpoints are the ready endpoint addresses of every
	// EndpointSlice, both families, each with the slice's port for Port
	// (its targetPort, resolved by the EndpointSlice controller).
	ReadyEndpoints []netip.AddrPort

	// policies are the NetworkPolicies that select the Service's Pods for
	// ingress; their admission depends on the prober and the family.
	policies []*networkingv1.NetworkPolicy
	// pods are the selected Pods, for the policies that select them.
	pods []*corev1.Pod
	// reader read the objects; Prober asks it who the prober is.
	reader objectReader
}

// Probed is the Service as servicecheck probes it: its name, ClusterIPs
// and ready endpoints, on Port.
func (o *ServiceObjects) Probed() servicecheck.Service {
	return servicecheck.Service{Service: o.Evidence.Service, Port: uint16(o.Port.Port), ReadyEndpoints: o.ReadyEndpoints}
}

// ServiceQuery names the Service whose evidence is read.
type ServiceQuery struct {
	Namespace, Name string
	// Port names the Service port (its name or number); empty means the
	// Service's first port.
	Port string
	// ClusterDomain is the cluster's DNS domain; empty means
	// DefaultClusterDomain.
	ClusterDomain string
}

// APIError says the Kubernetes API server could not be asked (unreachable,
// refusing the credentials, forbidding the Service): dsprobe could not run
// the check, and Server says where it tried.
type APIError struct {
	Server string
	Err    error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the Kubernetes API server %s: %v", e.Server, e.Err)
}

func (e *APIError) Unwrap() error { return e.Err }

// ReadService resolves t as kubectl does (the namespace of the context
// unless t names one, q.Namespace unless set) and reads the Service's
// objects (ReadServiceObjects). A failure to ask the API server is an
// *APIError naming it.
func ReadService(ctx context.Context, t Target, q ServiceQuery) (*ServiceObjects, error) {
	cfg, ns, err := Config(t)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	if q.Namespace == "" {
		q.Namespace = ns
	}
	o, err := ReadServiceObjects(ctx, cs, q)
	var notFound *ServiceNotFoundError
	var badPort *ServicePortError
	if err != nil && !errors.As(err, &notFound) && !errors.As(err, &badPort) {
		return nil, &APIError{Server: cfg.Host, Err: err}
	}
	return o, err
}

// ReadServiceObjects reads the Service and the objects behind it with
// one-shot Lists (readServiceObjects). A Service that does not exist is a *ServiceNotFoundError;
// one that cannot be read (the API unreachable, RBAC forbidding it) is an
// error naming the API server. Any other object that cannot be read is
// recorded in Evidence.Uncollected for its row, with why, and the rest is
// read on: a table with one row missing says more than none.
func ReadServiceObjects(ctx context.Context, cs kubernetes.Interface, q ServiceQuery) (*ServiceObjects, error) {
	return readServiceObjects(ctx, clientReader{cs}, q)
}

// readServiceObjects reads the Service's objects through r, as
// ReadServiceObjects documents.
func readServiceObjects(ctx context.Context, r objectReader, q ServiceQuery) (*ServiceObjects, error) {
	svc, err := r.service(ctx, q.Namespace, q.Name)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &ServiceNotFoundError{Namespace: q.Namespace, Name: q.Name}
	case err != nil:
		return nil, fmt.Errorf("reading Service %s/%s: %w", q.Namespace, q.Name, err)
	}
	port, err := servicePort(svc, q.Port)
	if err != nil {
		return nil, err
	}
	domain := q.ClusterDomain
	if domain == "" {
		domain = DefaultClusterDomain
	}
	o := &ServiceObjects{Port: port, reader: r}
	ev := &o.Evidence
	ev.Service = serviceOf(svc, domain)
	ev.Uncollected = map[diagnose.Row]string{}

	if nodes, err := r.nodes(ctx); err != nil {
		ev.Uncollected[diagnose.RowNodeCIDRs] = unreadable(err)
	} else {
		slices.SortFunc(nodes, byName)
		for _, n := range nodes {
			ev.Nodes = append(ev.Nodes, nodeOf(n))
		}
	}

	if len(svc.Spec.Selector) > 0 {
		pods, err := r.pods(ctx, q.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
		if err != nil {
			ev.Uncollected[diagnose.RowPodIPs] = unreadable(err)
		} else {
			slices.SortFunc(pods, byName)
			o.pods = pods
			for _, p := range pods {
				ev.Pods = append(ev.Pods, podOf(p))
			}
		}
	}

	if sliceList, err := r.endpointSlices(ctx, q.Namespace, q.Name); err != nil {
		ev.Uncollected[diagnose.RowEndpointSlices] = unreadable(err)
	} else {
		slices.SortFunc(sliceList, byName)
		for _, s := range sliceList {
			ev.EndpointSlices = append(ev.EndpointSlices, endpointSliceOf(s))
			o.ReadyEndpoints = append(o.ReadyEndpoints, readyEndpoints(s, port)...)
		}
	}

	mode, why := proxyMode(ctx, r)
	ev.ProxyMode = mode
	if why != "" {
		ev.Uncollected[diagnose.RowKubeProxy] = why
	}

	if _, gap := ev.Uncollected[diagnose.RowPodIPs]; gap {
		// Which policies select the Pods cannot be told without them.
		ev.Uncollected[diagnose.RowNetworkPolicy] = "the selected Pods could not be read: " + ev.Uncollected[diagnose.RowPodIPs]
	} else if policies, err := r.networkPolicies(ctx, q.Namespace); err != nil {
		ev.Uncollected[diagnose.RowNetworkPolicy] = unreadable(err)
	} else {
		slices.SortFunc(policies, byName)
		o.policies = selectingPolicies(policies, o.pods)
	}
	return o, nil
}

// byName orders objects by name, as a List returns them: a cache's
// lister returns them in no order, and the table must read the same
// whichever read it.
func byName[T metav1.Object](a, b T) int { return strings.Compare(a.GetName(), b.GetName()) }

// unreadable says why an object could not be read, in a cell's words.
func unreadable(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

// servicePort picks the Service port named by name or number, or the first.
func servicePort(svc *corev1.Service, want string) (corev1.ServicePort, error) {
	ports := svc.Spec.Ports
	if want == "" {
		if len(ports) == 0 {
			return corev1.ServicePort{}, nil
		}
		return ports[0], nil
	}
	var names []string
	for _, p := range ports {
		if p.Name == want || fmt.Sprint(p.Port) == want {
			return p, nil
		}
		names = append(names, fmt.Sprintf("%s/%d", p.Name, p.Port))
	}
	return corev1.ServicePort{}, &ServicePortError{Service: svc.Namespace + "/" + svc.Name, Port: want, Ports: names}
}

// ServicePortError says the Service has no port of the name or number
// asked for: bad input.
type ServicePortError struct {
	Service, Port string
	Ports         []string
}

func (e *ServicePortError) Error() string {
	return fmt.Sprintf("Service %s has no port %q (its ports: %s)", e.Service, e.Port, strings.Join(e.Ports, ", "))
}

func serviceOf(svc *corev1.Service, domain string) diagnose.Service {
	s := diagnose.Service{
		Namespace: svc.Namespace,
		Name:      svc.Name,
		DNSName:   svc.Name + "." + svc.Namespace + ".svc." + domain,
		Headless:  svc.Spec.ClusterIP == corev1.ClusterIPNone,
	}
	if len(svc.Spec.Selector) > 0 {
		s.Selector = labels.SelectorFromSet(svc.Spec.Selector).String()
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		s.IPFamilyPolicy = diagnose.IPFamilyPolicy(*p)
	}
	for _, f := range svc.Spec.IPFamilies {
		s.IPFamilies = append(s.IPFamilies, familyOfAPI(string(f)))
	}
	if !s.Headless {
		s.ClusterIPs = parseAddrs(svc.Spec.ClusterIPs)
	}
	return s
}

// familyOfAPI reads the API's family names: "IPv4", "IPv6" (a Service's
// ipFamilies, an EndpointSlice's addressType); anything else (FQDN) is
// FamilyUnspecified.
func familyOfAPI(s string) dualstack.Family {
	switch s {
	case string(corev1.IPv4Protocol):
		return dualstack.FamilyIPv4
	case string(corev1.IPv6Protocol):
		return dualstack.FamilyIPv6
	}
	return dualstack.FamilyUnspecified
}

func nodeOf(n *corev1.Node) diagnose.Node {
	node := diagnose.Node{Name: n.Name}
	for _, c := range n.Spec.PodCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			node.PodCIDRs = append(node.PodCIDRs, p)
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			node.InternalIPs = append(node.InternalIPs, ip)
		}
	}
	return node
}

func podOf(p *corev1.Pod) diagnose.Pod {
	pod := diagnose.Pod{Name: p.Name, Node: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			pod.IPs = append(pod.IPs, a)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			pod.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return pod
}

func endpointSliceOf(s *discoveryv1.EndpointSlice) diagnose.EndpointSlice {
	out := diagnose.EndpointSlice{Name: s.Name, AddressType: familyOfAPI(string(s.AddressType)), Endpoints: len(s.Endpoints)}
	for _, e := range s.Endpoints {
		c := e.Conditions
		// A nil ready or serving is true (discovery/v1: "nil should be
		// interpreted as true"); a nil terminating is false.
		if isTrueOrNil(c.Ready) {
			out.Ready++
		}
		if isTrueOrNil(c.Serving) {
			out.Serving++
		}
		if c.Terminating != nil && *c.Terminating {
			out.Terminating++
		}
	}
	return out
}

func isTrueOrNil(b *bool) bool { return b == nil || *b }

// readyEndpoints returns the ready addresses of an IP slice with the
// slice's port for the Service port: the port of the same name (the
// EndpointSlice controller names it after the Service port), or the only
// one when the Service port is unnamed.
func readyEndpoints(s *discoveryv1.EndpointSlice, port corev1.ServicePort) []netip.AddrPort {
	if familyOfAPI(string(s.AddressType)) == dualstack.FamilyUnspecified {
		return nil
	}
	var number int32
	for _, p := range s.Ports {
		if p.Port != nil && (p.Name == nil && port.Name == "" || p.Name != nil && *p.Name == port.Name) {
			number = *p.Port
		}
	}
	if number == 0 {
		return nil
	}
	var out []netip.AddrPort
	for _, e := range s.Endpoints {
		if !isTrueOrNil(e.Conditions.Ready) {
			continue
		}
		for _, a := range parseAddrs(e.Addresses) {
			out = append(out, netip.AddrPortFrom(a, uint16(number)))
		}
	}
	return out
}

func parseAddrs(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// proxyMode reads what carries ClusterIP traffic: kube-proxy's own
// configuration (ConfigMap kube-system/kube-proxy, key config.conf, field
// mode, as kubeadm and kind deploy it), else Cilium's kube-proxy
// replacement (ConfigMap kube-system/cilium-config). Neither found is
// ProxyUnknown with no reason; a ConfigMap that cannot be read is
// ProxyUnknown with why.
func proxyMode(ctx context.Context, r objectReader) (diagnose.ProxyMode, string) {
	var problems []string
	cm, err := r.configMap(ctx, "kube-system", "kube-proxy")
	switch {
	case err == nil:
		if mode, ok := kubeProxyMode(cm.Data["config.conf"]); ok {
			return mode, ""
		}
	case !apierrors.IsNotFound(err):
		problems = append(problems, "ConfigMap kube-system/kube-proxy could not be read: "+unreadable(err))
	}
	cm, err = r.configMap(ctx, "kube-system", "cilium-config")
	switch {
	case err == nil:
		if v := cm.Data["kube-proxy-replacement"]; v == "true" || v == "strict" {
			return diagnose.ProxyCiliumKPR, ""
		}
	case !apierrors.IsNotFound(err):
		problems = append(problems, "ConfigMap kube-system/cilium-config could not be read: "+unreadable(err))
	}
	return diagnose.ProxyUnknown, strings.Join(problems, "; ")
}

// kubeProxyMode reads the mode field of a KubeProxyConfiguration in YAML.
// An empty mode is iptables, Linux's default; the configuration of
// another platform's mode (kernelspace) is not one the rules know.
func kubeProxyMode(config string) (diagnose.ProxyMode, bool) {
	if config == "" {
		return diagnose.ProxyUnknown, false
	}
	for line := range strings.Lines(config) {
		// Only the top-level field: nested "mode:" keys belong to others.
		value, found := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "mode:")
		if !found {
			continue
		}
		switch strings.Trim(strings.TrimSpace(value), `"'`) {
		case "", "iptables":
			return diagnose.ProxyIPTables, true
		case "ipvs":
			return diagnose.ProxyIPVS, true
		case "nftables":
			return diagnose.ProxyNFTables, true
		}
		return diagnose.ProxyUnknown, false
	}
	return diagnose.ProxyIPTables, true
}

// Validate checks the names of q as the API server checks them, every
// problem at once, each as `"x" is not a Service name: why`: a Service
// name is an RFC 1035 label, a namespace an RFC 1123 label, a port a
// number from 1 to 65535 or an IANA service name, a cluster domain a DNS
// subdomain. Empty fields other than the name keep their defaults.
func (q ServiceQuery) Validate() error {
	var problems []string
	check := func(what, value string, errs []string) {
		if len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("%q is not %s: %s", value, what, strings.Join(errs, "; ")))
		}
	}
	check("a Service name", q.Name, validation.IsDNS1035Label(q.Name))
	if q.Namespace != "" {
		check("a namespace", q.Namespace, validation.IsDNS1123Label(q.Namespace))
	}
	if n, err := strconv.Atoi(q.Port); err == nil {
		check("a Service port", q.Port, validation.IsValidPortNum(n))
	} else if q.Port != "" {
		check("a Service port", q.Port, validation.IsValidPortName(q.Port))
	}
	if q.ClusterDomain != "" {
		check("a cluster domain", q.ClusterDomain, validation.IsDNS1123Subdomain(q.ClusterDomain))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
