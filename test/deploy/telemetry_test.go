package deploy_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// In the observability overlay every dsprobe process exports its traces to
// a Service of the overlay, on a port that reaches a container port of the
// Pods it selects, and the coordinator's egress NetworkPolicy lets it reach
// those Pods on that port. (The probers reach the Pod network already.)
func TestTracesGoToADeployedReceiver(t *testing.T) {
	o := render(t, "deploy/overlays/observability")
	for _, d := range o.deployments {
		if d.Labels["app.kubernetes.io/part-of"] != "dsprobe" {
			continue
		}
		what := "Deployment " + name(d.Namespace, d.Name)
		endpoint := envValue(d, "OTEL_EXPORTER_OTLP_ENDPOINT")
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != "http" || u.Port() == "" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT %q (%v), want http://SERVICE.NAMESPACE.svc:PORT", what, endpoint, err)
			continue
		}
		svcName, svcNamespace, _ := strings.Cut(strings.TrimSuffix(u.Hostname(), ".svc"), ".")
		receiver, port := o.serviceBackend(t, svcNamespace, svcName, u.Port())
		if receiver == nil {
			t.Errorf("%s exports to %s, where no Service of the overlay sends port %s to a container port", what, endpoint, u.Port())
			continue
		}
		if d.Name != "dsprobe-coordinator" {
			continue
		}
		allowed := false
		for _, np := range o.networkPolicies {
			if np.Namespace != d.Namespace || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) ||
				!selects(t, np.Spec.PodSelector.MatchLabels, d.Spec.Template.Labels) {
				continue
			}
			for _, rule := range np.Spec.Egress {
				toPort := slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port != nil && p.Port.IntValue() == int(port) })
				for _, peer := range rule.To {
					allowed = allowed || toPort && peer.PodSelector != nil && peer.NamespaceSelector != nil &&
						selects(t, peer.PodSelector.MatchLabels, receiver.Spec.Template.Labels) &&
						selects(t, peer.NamespaceSelector.MatchLabels, map[string]string{"kubernetes.io/metadata.name": receiver.Namespace})
				}
			}
		}
		if !allowed {
			t.Errorf("%s exports to %s, but no egress NetworkPolicy lets it reach the Pods of %s on port %d", what, endpoint, name(receiver.Namespace, receiver.Name), port)
		}
	}
}

// serviceBackend is the Deployment whose Pods the Service namespace/name
// selects and the container port its port (a number) reaches, or nil.
func (o *objects) serviceBackend(t *testing.T, namespace, name, port string) (*appsv1.Deployment, int32) {
	t.Helper()
	for _, svc := range o.services {
		if svc.Namespace != namespace || svc.Name != name {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if strconv.Itoa(int(sp.Port)) != port {
				continue
			}
			for _, d := range o.deployments {
				if d.Namespace != namespace || !selects(t, svc.Spec.Selector, d.Spec.Template.Labels) {
					continue
				}
				for _, cp := range d.Spec.Template.Spec.Containers[0].Ports {
					if cp.Name == sp.TargetPort.String() || cp.ContainerPort == int32(sp.TargetPort.IntValue()) {
						return d, cp.ContainerPort
					}
				}
			}
		}
	}
	return nil, 0
}

// selects reports whether the label selector matchLabels (non-empty)
// selects an object with labels set.
func selects(t *testing.T, matchLabels, set map[string]string) bool {
	t.Helper()
	if len(matchLabels) == 0 {
		return false
	}
	sel, err := labels.ValidatedSelectorFromSet(matchLabels)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(labels.Set(set))
}

// envValue is the value of the variable name in d's first container.
func envValue(d *appsv1.Deployment, name string) string {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
