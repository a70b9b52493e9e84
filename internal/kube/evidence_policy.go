package kube

import (
	"context"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Prober is who connects to a Service's Pods, as a NetworkPolicy sees it:
// its source address of each family, and its Pod when it is one.
type Prober struct {
	// Addrs are its source addresses, at most one of each family counted
	// (the first); a family without one is never admitted by an ipBlock.
	Addrs []netip.Addr
	// Pod is the prober's own Pod, nil when it is not one (a laptop, a
	// CI runner): podSelector and namespaceSelector peers match Pods only.
	Pod *PodIdentity
}

// PodIdentity is what a NetworkPolicy's selector peers match of a Pod.
type PodIdentity struct {
	Namespace               string
	Labels, NamespaceLabels map[string]string
}

func (p Prober) addr(f dualstack.Family) netip.Addr {
	for _, a := range p.Addrs {
		if dualstack.FamilyOf(a) == f {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// For returns the evidence of one family as prober sees it: the objects,
// and whether each NetworkPolicy selecting the Pods admits prober's
// connects of the family to the Service's target port.
func (o *ServiceObjects) For(f dualstack.Family, prober Prober) diagnose.ServiceEvidence {
	ev := o.Evidence
	ev.Family = f
	ev.NetworkPolicies = nil
	port, names := o.targetPort()
	for _, p := range o.policies {
		ev.NetworkPolicies = append(ev.NetworkPolicies, diagnose.NetworkPolicy{
			Name:     p.Name,
			IPBlocks: ingressIPBlocks(p),
			Admits:   policyAdmits(p, prober, f, port, names),
		})
	}
	return ev
}

// targetPort is the port the Pods receive the Service's traffic on: the
// EndpointSlices' port for the Service port, else its targetPort when it
// is a number; and the names the selected Pods' containers give that
// port, which a NetworkPolicy may name instead.
func (o *ServiceObjects) targetPort() (int32, []string) {
	var port int32
	if len(o.ReadyEndpoints) > 0 {
		port = int32(o.ReadyEndpoints[0].Port())
	} else if tp := o.Port.TargetPort; tp.IntValue() > 0 {
		port = int32(tp.IntValue())
	} else {
		port = o.Port.Port
	}
	var names []string
	for _, pod := range o.pods {
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.ContainerPort == port && cp.Name != "" && !slices.Contains(names, cp.Name) {
					names = append(names, cp.Name)
				}
			}
		}
	}
	return port, names
}

// selectingPolicies returns the policies that govern ingress to at least
// one of pods: their podSelector selects it and their policyTypes include
// Ingress (as they do when policyTypes is empty).
func selectingPolicies(policies []*networkingv1.NetworkPolicy, pods []*corev1.Pod) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range policies {
		if !governsIngress(p) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			continue // the API server validates selectors; an invalid one selects nothing
		}
		if slices.ContainsFunc(pods, func(pod *corev1.Pod) bool { return sel.Matches(labels.Set(pod.Labels)) }) {
			out = append(out, p)
		}
	}
	return out
}

// governsIngress: policyTypes lists Ingress, or is empty, which the API
// reads as Ingress (and Egress too when egress rules are given).
func governsIngress(p *networkingv1.NetworkPolicy) bool {
	return len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
}

// ingressIPBlocks returns the ipBlock CIDRs of the policy's ingress rules,
// both families, in order.
func ingressIPBlocks(p *networkingv1.NetworkPolicy) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range p.Spec.Ingress {
		for _, peer := range r.From {
			if peer.IPBlock == nil {
				continue
			}
			if prefix, err := netip.ParsePrefix(peer.IPBlock.CIDR); err == nil && !slices.Contains(out, prefix) {
				out = append(out, prefix)
			}
		}
	}
	return out
}

// policyAdmits reports whether one of the policy's ingress rules admits
// the prober's TCP connects of family f to port (which the Pods may name
// portNames). A policy with no ingress rule admits nothing: that is how a
// default-deny is written.
func policyAdmits(p *networkingv1.NetworkPolicy, prober Prober, f dualstack.Family, port int32, portNames []string) bool {
	return slices.ContainsFunc(p.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
		return portsAdmit(r.Ports, port, portNames) && peersAdmit(r.From, p.Namespace, prober, f)
	})
}

// portsAdmit: a rule with no ports admits every port; otherwise one entry
// must be TCP (the default protocol) and hold the port, by number, range
// (endPort) or the name a container gives it.
func portsAdmit(ports []networkingv1.NetworkPolicyPort, port int32, portNames []string) bool {
	if len(ports) == 0 {
		return true
	}
	return slices.ContainsFunc(ports, func(np networkingv1.NetworkPolicyPort) bool {
		if np.Protocol != nil && *np.Protocol != corev1.ProtocolTCP {
			return false
		}
		switch {
		case np.Port == nil:
			return true
		case np.Port.Type == intstr.String: // a named container port
			return slices.Contains(portNames, np.Port.StrVal)
		case np.EndPort != nil:
			return np.Port.IntVal <= port && port <= *np.EndPort
		default:
			return np.Port.IntVal == port
		}
	})
}

// peersAdmit: a rule with no peers admits every source; otherwise one peer
// must match the prober. An ipBlock holds one CIDR of one family, so it
// admits that family only; a selector peer matches the prober's Pod, and
// so every family it connects over.
func peersAdmit(peers []networkingv1.NetworkPolicyPeer, policyNamespace string, prober Prober, f dualstack.Family) bool {
	if len(peers) == 0 {
		return true
	}
	src := prober.addr(f)
	return slices.ContainsFunc(peers, func(peer networkingv1.NetworkPolicyPeer) bool {
		if b := peer.IPBlock; b != nil {
			return src.IsValid() && ipBlockHolds(b, src)
		}
		return src.IsValid() && selectorsMatch(peer, policyNamespace, prober.Pod)
	})
}

// ipBlockHolds: the CIDR holds addr and none of its except entries does.
func ipBlockHolds(b *networkingv1.IPBlock, addr netip.Addr) bool {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	return !slices.ContainsFunc(b.Except, func(s string) bool {
		except, err := netip.ParsePrefix(s)
		return err == nil && except.Contains(addr)
	})
}

// selectorsMatch: a podSelector alone matches Pods of the policy's own
// namespace; a namespaceSelector names the namespaces instead; both
// together match Pods selected by the one in namespaces selected by the
// other. Only a Pod can match.
func selectorsMatch(peer networkingv1.NetworkPolicyPeer, policyNamespace string, pod *PodIdentity) bool {
	if pod == nil || peer.PodSelector == nil && peer.NamespaceSelector == nil {
		return false
	}
	if peer.NamespaceSelector == nil {
		if pod.Namespace != policyNamespace {
			return false
		}
	} else if !selects(peer.NamespaceSelector, pod.NamespaceLabels) {
		return false
	}
	return peer.PodSelector == nil || selects(peer.PodSelector, pod.Labels)
}

func selects(s *metav1.LabelSelector, set map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(s)
	return err == nil && sel.Matches(labels.Set(set))
}

// Prober returns the prober that connects from the source addresses addrs,
// as the NetworkPolicies see it: with its Pod when one of addrs is a Pod's
// IP (a dsprobe run in a Pod, a prober Pod), whose labels and namespace's
// labels the selector peers match. A Pod that cannot be looked up leaves
// the prober without one, which only ipBlocks can admit: the answer errs
// on "not admitted", which the cell states.
func (o *ServiceObjects) Prober(ctx context.Context, addrs []netip.Addr) Prober {
	p := Prober{Addrs: addrs}
	if o.reader == nil {
		return p
	}
	for _, a := range addrs {
		pod, err := o.reader.podByIP(ctx, a)
		if err != nil || pod == nil {
			continue
		}
		id := &PodIdentity{Namespace: pod.Namespace, Labels: pod.Labels}
		if ns, err := o.reader.namespace(ctx, pod.Namespace); err == nil {
			id.NamespaceLabels = ns.Labels
		}
		p.Pod = id
		break
	}
	return p
}
