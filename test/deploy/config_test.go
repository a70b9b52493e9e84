package deploy_test

import (
	"flag"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/config"
	coordinatorpkg "github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/imagebuild"
)

// loadCoordinator and loadProber load a configuration file as the servers
// do (--config FILE), with its strict decoding and every validation.
func loadCoordinator(t *testing.T, file string) config.Coordinator {
	t.Helper()
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	cl := config.CoordinatorFlags(fs)
	if err := fs.Parse([]string{"--config", writeTemp(t, "coordinator.yaml", file)}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := cl.Load()
	if err != nil {
		t.Fatalf("the shipped coordinator configuration: %v", err)
	}
	return cfg
}

func loadProber(t *testing.T, file, namespace string) config.Prober {
	t.Helper()
	fs := flag.NewFlagSet("prober", flag.ContinueOnError)
	env := map[string]string{"POD_NAME": "dsprobe-prober-0", "POD_NAMESPACE": namespace}
	cl := config.ProberFlags(fs, func(k string) string { return env[k] })
	if err := fs.Parse([]string{"--config", writeTemp(t, "prober.yaml", file)}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cl.Load()
	if err != nil {
		t.Fatalf("the shipped prober configuration: %v", err)
	}
	return cfg
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The configurations shipped in ConfigMaps load as the servers load them,
// and agree with the objects around them: the coordinator's discovery
// selects the prober Pods and the vantage namespaces and names their gRPC
// port; each listener is a declared container port; the prober lets in the
// coordinator's ServiceAccount, for the audience of the token the
// coordinator mounts, at the path its configuration reads; the prober's
// allow-list is its NetworkPolicy's egress and kind's address plan.
func TestShippedConfigurationsAgreeWithTheManifests(t *testing.T) {
	o := render(t, "deploy/overlays/kind")
	coordinator := o.deployment(t, "dsprobe", "dsprobe-coordinator")
	ccfg := loadCoordinator(t, o.configFile(t, "dsprobe", "dsprobe-coordinator", "coordinator.yaml"))
	checkConfigMount(t, coordinator, "coordinator.yaml")
	checkListeners(t, coordinator, map[string]string{"grpc": ccfg.Server.Listen, "http": ccfg.Server.HTTPListen, "metrics": ccfg.Server.MetricsListen})

	discovery := ccfg.Discovery.Kubernetes
	podSelector, err := labels.Parse(discovery.LabelSelector)
	if err != nil {
		t.Fatal(err)
	}
	namespaceSelector, err := labels.Parse(discovery.NamespaceSelector)
	if err != nil {
		t.Fatal(err)
	}
	audience, tokenPath := projectedToken(t, coordinator)
	if ccfg.ProberAuth.TokenFile != tokenPath {
		t.Errorf("the coordinator presents %s to probers, but its projected token is mounted at %s", ccfg.ProberAuth.TokenFile, tokenPath)
	}
	coordinatorUser := "system:serviceaccount:dsprobe:" + coordinator.Spec.Template.Spec.ServiceAccountName

	kind := map[string]any{}
	if err := yaml.UnmarshalStrict(readRepoFile(t, "deploy/overlays/kind/kind-dualstack.yaml"), &kind); err != nil {
		t.Fatal(err)
	}
	networking, _ := kind["networking"].(map[string]any)
	var kindCIDRs []string
	for _, key := range []string{"podSubnet", "serviceSubnet"} {
		s, _ := networking[key].(string)
		kindCIDRs = append(kindCIDRs, strings.Split(s, ",")...)
	}
	slices.Sort(kindCIDRs)

	for _, ns := range []string{"team-a", "team-b", "team-c"} {
		t.Run(ns, func(t *testing.T) {
			prober := o.deployment(t, ns, "dsprobe-prober")
			pcfg := loadProber(t, o.configFile(t, ns, "dsprobe-prober", "prober.yaml"), ns)
			checkConfigMount(t, prober, "prober.yaml")
			checkListeners(t, prober, map[string]string{"grpc": pcfg.Server.Listen, "metrics": pcfg.Server.MetricsListen})

			if !podSelector.Matches(labels.Set(prober.Spec.Template.Labels)) {
				t.Errorf("the coordinator's labelSelector %q does not select the prober Pods (%v)", discovery.LabelSelector, prober.Spec.Template.Labels)
			}
			if !namespaceSelector.Matches(labels.Set(namespaceLabels(t, o, ns))) {
				t.Errorf("the coordinator's namespaceSelector %q does not select namespace %s", discovery.NamespaceSelector, ns)
			}
			if containerPort(prober, discovery.Port) == 0 {
				t.Errorf("the prober container has no port named %q, which discovery dials", discovery.Port)
			}
			if !pcfg.TokenReview.Enabled || !slices.Equal(pcfg.TokenReview.AllowedUsers, []string{coordinatorUser}) {
				t.Errorf("the prober lets in %v (token review %v), want the coordinator's ServiceAccount %s alone",
					pcfg.TokenReview.AllowedUsers, pcfg.TokenReview.Enabled, coordinatorUser)
			}
			if pcfg.TokenReview.Audience != audience {
				t.Errorf("the prober wants tokens for %q, the coordinator's token is for %q", pcfg.TokenReview.Audience, audience)
			}

			// The coordinator is the prober's one caller, and a Service job
			// asks each prober up to maxJobProbes probes: a prober rate
			// below the coordinator's own would refuse, with
			// RESOURCE_EXHAUSTED, the probes of jobs the coordinator
			// admitted, as it did on the real node to a few jobs in a row.
			const maxJobProbes = 1 + 2 + 2*coordinatorpkg.MaxServiceEndpoints
			if p, c := pcfg.Admission, ccfg.Admission; p.Rate != 0 && (p.Rate < c.Rate*maxJobProbes || p.Burst < c.Burst*maxJobProbes) {
				t.Errorf("the prober admits %v probes/s, %d at once; the coordinator admits %v jobs/s, %d at once, each up to %d probes of a prober: want no prober rate limit, or one above the coordinator's",
					p.Rate, p.Burst, c.Rate, c.Burst, maxJobProbes)
			}

			cidrs := slices.Sorted(slices.Values(pcfg.Allow.CIDRs))
			if !slices.Equal(cidrs, kindCIDRs) {
				t.Errorf("the prober's allow.cidrs %v are not kind-dualstack.yaml's Pod and Service networks %v", cidrs, kindCIDRs)
			}
			var egress []string
			for _, np := range o.networkPolicies {
				if np.Namespace != ns || np.Name != "dsprobe-prober" {
					continue
				}
				for _, peer := range np.Spec.Egress[0].To {
					if peer.IPBlock != nil {
						egress = append(egress, peer.IPBlock.CIDR)
					}
				}
			}
			slices.Sort(egress)
			if !slices.Equal(egress, cidrs) {
				t.Errorf("the prober's NetworkPolicy lets it reach %v, its allow-list says %v", egress, cidrs)
			}
		})
	}
}

// Every Pod is hardened beyond what PSS restricted demands: a read-only
// root file system, requests and limits; dsprobe's own images are the
// references internal/imagebuild names, used when present (imported, never
// pulled); dsprobe's Deployments have a PodDisruptionBudget.
func TestPodsAreHardened(t *testing.T) {
	o := render(t, "deploy/overlays/observability")
	ownImages := map[string]bool{}
	for _, n := range []string{"prober", "coordinator"} {
		ownImages[imagebuild.DefaultRegistry+"/"+n+":"+imagebuild.DefaultTag] = true
	}
	for _, d := range o.deployments {
		spec := d.Spec.Template.Spec
		what := "Deployment " + name(d.Namespace, d.Name)
		if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: want runAsNonRoot and the RuntimeDefault seccomp profile for the Pod", what)
		}
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s container %s: want a read-only root, no privilege escalation, every capability dropped", what, c.Name)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("%s container %s: no %s request", what, c.Name, r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					t.Errorf("%s container %s: no %s limit", what, c.Name, r)
				}
			}
			if c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("%s container %s: imagePullPolicy %q, want IfNotPresent (images are imported on nodes without a registry)", what, c.Name, c.ImagePullPolicy)
			}
			if strings.HasPrefix(c.Image, imagebuild.DefaultRegistry+"/") && !ownImages[c.Image] {
				t.Errorf("%s container %s: image %s is not one internal/imagebuild builds", what, c.Name, c.Image)
			}
		}
		if d.Labels["app.kubernetes.io/part-of"] != "dsprobe" {
			continue
		}
		budgeted := false
		for _, pdb := range o.disruptionBudgets {
			sel, err := labels.Parse(labels.Set(pdb.Spec.Selector.MatchLabels).String())
			if err != nil {
				t.Fatal(err)
			}
			budgeted = budgeted || pdb.Namespace == d.Namespace && sel.Matches(labels.Set(d.Spec.Template.Labels))
		}
		if !budgeted {
			t.Errorf("%s has no PodDisruptionBudget", what)
		}
	}
}

// checkConfigMount fails unless d's one container reads --config from the
// mount of its ConfigMap volume, file key.
func checkConfigMount(t *testing.T, d *appsv1.Deployment, key string) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("%s: the container has no --config argument: %v", d.Name, c.Args)
	}
	file := c.Args[i+1]
	for _, m := range c.VolumeMounts {
		if m.MountPath != path.Dir(file) {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && path.Base(file) == key {
				return
			}
		}
	}
	t.Errorf("%s: --config %s is not the %s of a mounted ConfigMap", d.Name, file, key)
}

// checkListeners fails unless each listen address's port is the container
// port of that name.
func checkListeners(t *testing.T, d *appsv1.Deployment, listeners map[string]string) {
	t.Helper()
	for portName, addr := range listeners {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("%s: listener %s %q: %v", d.Name, portName, addr, err)
			continue
		}
		if n, _ := strconv.Atoi(port); n == 0 || containerPort(d, portName) != int32(n) {
			t.Errorf("%s: listens on %s for %s, but its container port %s is %d", d.Name, addr, portName, portName, containerPort(d, portName))
		}
	}
}

func containerPort(d *appsv1.Deployment, portName string) int32 {
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == portName {
			return p.ContainerPort
		}
	}
	return 0
}

// projectedToken is the audience and file path of d's projected
// ServiceAccount token with an audience.
func projectedToken(t *testing.T, d *appsv1.Deployment) (audience, file string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken == nil || s.ServiceAccountToken.Audience == "" {
				continue
			}
			for _, m := range spec.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					return s.ServiceAccountToken.Audience, path.Join(m.MountPath, s.ServiceAccountToken.Path)
				}
			}
		}
	}
	t.Fatalf("%s mounts no projected token with an audience", d.Name)
	return "", ""
}

func namespaceLabels(t *testing.T, o *objects, ns string) map[string]string {
	t.Helper()
	for _, n := range o.namespaces {
		if n.Name == ns {
			return n.Labels
		}
	}
	t.Fatalf("no Namespace %s", ns)
	return nil
}
