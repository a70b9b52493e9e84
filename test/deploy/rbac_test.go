package deploy_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// grants spells a role's rules one permission a line, "GROUP/RESOURCE VERB"
// with " NAME" for a rule limited to resourceNames ("" group: core), so
// two roles compare as sets whatever their rules' grouping.
func grants(rules []rbacv1.PolicyRule) []string {
	set := map[string]bool{}
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					for _, n := range names {
						set[strings.TrimSpace(fmt.Sprintf("%s/%s %s %s", g, res, v, n))] = true
					}
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			set["url "+u] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func expand(groupResources []string, verbs ...string) []string {
	var out []string
	for _, gr := range groupResources {
		for _, v := range verbs {
			out = append(out, gr+" "+v)
		}
	}
	return out
}

// The roles grant exactly what the coordinator, the probers and the users
// need, and every binding gives each ServiceAccount only its own. The
// lists below are the contract of deploy/base/coordinator-rbac.yaml: the
// coordinator lists and watches what discovery and a Service's evidence
// read (internal/kube's informers, whose reads are of their caches: no
// get; test/e2e runs the coordinator with this role), reviews tokens and jobs, reads two ConfigMaps of
// kube-system by name, lists the DNSLadders and patches their status, and
// writes nothing else but Leases in its namespace; a prober reviews
// tokens; a user creates probes.dsprobe.io and reads DNSLadders; the
// observability overlay's Prometheus finds Pods.
func TestRBACIsLeastPrivilege(t *testing.T) {
	o := render(t, "deploy/overlays/observability")
	coordinatorReads := expand([]string{
		"/pods", "/namespaces", "/services", "/nodes",
		"discovery.k8s.io/endpointslices", "networking.k8s.io/networkpolicies",
	}, "list", "watch")
	want := map[string][]string{
		"ClusterRole dsprobe-coordinator": append(coordinatorReads,
			"authentication.k8s.io/tokenreviews create", "authorization.k8s.io/subjectaccessreviews create",
			"dsprobe.io/dnsladders list", "dsprobe.io/dnsladders/status patch"),
		"Role kube-system/dsprobe-coordinator":    {"/configmaps get cilium-config", "/configmaps get kube-proxy"},
		"Role dsprobe/dsprobe-coordinator-leases": expand([]string{"coordination.k8s.io/leases"}, "get", "create", "update"),
		"ClusterRole dsprobe-prober":              {"authentication.k8s.io/tokenreviews create"},
		"ClusterRole dsprobe-user":                {"dsprobe.io/probes create", "dsprobe.io/dnsladders get", "dsprobe.io/dnsladders list"},
		"ClusterRole dsprobe-prometheus":          expand([]string{"/pods"}, "get", "list", "watch"),
	}
	got := map[string][]string{}
	for _, r := range o.clusterRoles {
		got["ClusterRole "+r.Name] = grants(r.Rules)
		if r.AggregationRule != nil {
			t.Errorf("ClusterRole %s aggregates other roles: its grants would not be the ones written", r.Name)
		}
	}
	for _, r := range o.roles {
		got["Role "+name(r.Namespace, r.Name)] = grants(r.Rules)
	}
	for role, w := range want {
		slices.Sort(w)
		g, ok := got[role]
		if !ok {
			t.Errorf("%s is missing", role)
			continue
		}
		if !slices.Equal(g, w) {
			t.Errorf("%s grants\n  %s\nwant exactly\n  %s", role, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
		}
	}
	for role := range got {
		if _, ok := want[role]; !ok {
			t.Errorf("%s is not one of the roles this test knows: add it to the test with what it must grant", role)
		}
	}

	// Who is bound to what: "SUBJECT -> ROLE in NAMESPACE".
	var bindings []string
	subjects := func(ss []rbacv1.Subject) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Kind+" "+name(s.Namespace, s.Name))
		}
		return out
	}
	for _, b := range o.clusterRoleBindings {
		for _, s := range subjects(b.Subjects) {
			bindings = append(bindings, fmt.Sprintf("%s -> %s %s cluster-wide", s, b.RoleRef.Kind, b.RoleRef.Name))
		}
	}
	for _, b := range o.roleBindings {
		for _, s := range subjects(b.Subjects) {
			bindings = append(bindings, fmt.Sprintf("%s -> %s %s in %s", s, b.RoleRef.Kind, b.RoleRef.Name, b.Namespace))
		}
	}
	slices.Sort(bindings)
	wantBindings := []string{
		"ServiceAccount dsprobe/dsprobe-cli -> ClusterRole dsprobe-user in team-a",
		"ServiceAccount dsprobe/dsprobe-cli -> ClusterRole dsprobe-user in team-b",
		"ServiceAccount dsprobe/dsprobe-cli -> ClusterRole dsprobe-user in team-c",
		"ServiceAccount dsprobe/dsprobe-coordinator -> ClusterRole dsprobe-coordinator cluster-wide",
		"ServiceAccount dsprobe/dsprobe-coordinator -> Role dsprobe-coordinator in kube-system",
		"ServiceAccount dsprobe/dsprobe-coordinator -> Role dsprobe-coordinator-leases in dsprobe",
		"ServiceAccount observability/prometheus -> ClusterRole dsprobe-prometheus cluster-wide",
		"ServiceAccount team-a/dsprobe-prober -> ClusterRole dsprobe-prober cluster-wide",
		"ServiceAccount team-b/dsprobe-prober -> ClusterRole dsprobe-prober cluster-wide",
		"ServiceAccount team-c/dsprobe-prober -> ClusterRole dsprobe-prober cluster-wide",
	}
	if !slices.Equal(bindings, wantBindings) {
		t.Errorf("bindings:\n  %s\nwant\n  %s", strings.Join(bindings, "\n  "), strings.Join(wantBindings, "\n  "))
	}

	// A prober's ServiceAccount hands no Pod a token; the prober's Pod
	// mounts its own explicitly, for TokenReview alone.
	for _, sa := range o.serviceAccounts {
		if sa.Name == "dsprobe-prober" && (sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken) {
			t.Errorf("ServiceAccount %s mounts tokens into Pods: want automountServiceAccountToken false", name(sa.Namespace, sa.Name))
		}
	}
	for _, ns := range []string{"team-a", "team-b", "team-c"} {
		spec := o.deployment(t, ns, "dsprobe-prober").Spec.Template.Spec
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("the prober of %s automounts its token: want it mounted explicitly", ns)
		}
	}
}
