package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/ladder"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// serviceJobJSON is the Job dsprobe probe svc/NAME --coordinator -o json
// writes (docs/contracts.md).
type serviceJobJSON struct {
	JobID, TraceID string
	Probers        []struct {
		Prober, Namespace string
		Service           *struct {
			Service  string
			Families []struct{ Family, FailingLayer, Detail string }
			Paths    []struct {
				Path     string
				Connects []struct{ Family, Address, Outcome string }
			}
			Evidence []struct {
				Row        string
				IPv4, IPv6 struct{ Status, Text string }
			}
		}
		Error *struct{ Code, Message string }
	}
	Summary struct {
		Passed   bool
		Families []struct{ Family, FailingLayer, Detail string }
	}
}

// vantages are the probers of the cluster's Service jobs: one in each
// team namespace of deploy/overlays/kind.
var vantages = []struct{ name, namespace string }{{"prober-a", "team-a"}, {"prober-b", "team-b"}, {"prober-c", "team-c"}}

// caller is someone running the CLI: the file of their token ("" for
// none), and the namespaces whose probers they ask for (every prober's
// when none).
type caller struct {
	tokenFile  string
	namespaces []string
}

func (c caller) flags() []string {
	var flags []string
	if c.tokenFile != "" {
		flags = append(flags, "--token-file", c.tokenFile)
	}
	for _, ns := range c.namespaces {
		flags = append(flags, "--namespace", ns)
	}
	return flags
}

// Service probing through the coordinator, in a cluster, deployed as
// deploy/ ships it: the probers are prober processes in Pods of team-a,
// team-b and team-c, the coordinator a coordinator process in a Pod of
// dsprobe that finds them by discovery; each runs with its shipped
// configuration file, as the ServiceAccount the shipped RBAC binds
// (applied from deploy/overlays/kind, not written here), with what the
// kubelet would project into its Pod: a TokenRequest token of its
// ServiceAccount for the API server, and for the coordinator one for the
// audience dsprobe-prober, which every prober reviews with TokenReview
// before taking a job. The coordinator reads the API with its
// least-privilege ClusterRole alone, in-cluster. Callers present their
// own tokens; the coordinator reviews them and authorises each job in the
// namespaces of its probers and its Service.
//
// From each prober, a healthy RequireDualStack Service passes both
// families on its name, both ClusterIPs and its endpoint's both Pod IPs; a
// SingleStack IPv4 Service over the same Pod fails IPv6 at LAYER_SERVICE
// on every prober and in the summary; an absent Service is exit 2; a
// NetworkPolicy admitting one prober's namespace is judged per prober,
// from its Pod. A caller bound in team-a and team-b alone is refused a
// job on every prober, naming team-c, and may run it on theirs. A
// coordinator of another ServiceAccount is refused by every prober, and,
// allowed to watch only the prober Pods, serves no Service job and says
// what to grant. The shipped coordinator also climbs a DNSLadder by
// itself, as the ladder's ServiceAccount: the rung it may probe clears,
// the rung reaching into team-c is refused, naming it.
func TestProbeServiceThroughCoordinatorInCluster(t *testing.T) {
	c := kubelab.Start(t)
	ensureMountpoint(t, "/var/run/secrets")
	ctx := t.Context()
	if _, err := c.Client.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy"},
		Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := c.AddPod(t, "shop", "web-1", map[string]string{"app": "web"})
	webServer(t, web, "tcp", "[::]:8080")
	dual := c.AddService(t, "shop", "web", 80, 8080)
	single := createService(t, c, "shop", "web-v4", "web", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol)
	for _, ip := range append(slices.Clone(dual), single...) {
		c.WaitProxied(t, ip, 80, 1)
	}

	client := c.AddPod(t, "dsprobe", "cli", nil)
	const proberLabel = "app.kubernetes.io/name=dsprobe-prober"
	proberPods := map[string]*testhost.Host{}
	for _, p := range vantages {
		proberPods[p.namespace] = c.AddPod(t, p.namespace, p.name, map[string]string{"app.kubernetes.io/name": "dsprobe-prober"},
			corev1.ContainerPort{Name: "grpc", ContainerPort: 9443})
		// As deploy/vantage/namespace.yaml labels a vantage namespace, for
		// the coordinator's discovery.
		if _, err := c.Client.CoreV1().Namespaces().Patch(ctx, p.namespace, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"dsprobe.io/vantage":"true"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	applyShippedRBAC(t, c)
	// The operator (dsprobe-cli, bound by the overlay in the three team
	// namespaces) may probe the Services of shop too; CI's deployer may
	// probe from team-a and team-b, and the Services of shop, and not from
	// team-c.
	deployer := caller{tokenFile: writeToken(t, c.ServiceAccountToken(t, "ci", "deployer"))}
	for _, b := range []struct{ namespace, serviceAccount string }{
		{"shop", "dsprobe:dsprobe-cli"}, {"team-a", "ci:deployer"}, {"team-b", "ci:deployer"}, {"shop", "ci:deployer"},
	} {
		saNamespace, saName, _ := strings.Cut(b.serviceAccount, ":")
		if _, err := c.Client.RbacV1().RoleBindings(b.namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: saNamespace + "-" + saName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dsprobe-user"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNamespace, Name: saName}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitAllowed(t, c, b.serviceAccount, authorizationv1.ResourceAttributes{Namespace: b.namespace, Verb: "create", Group: "dsprobe.io", Resource: "probes"})
	}
	waitAllowed(t, c, "dsprobe:dsprobe-coordinator", authorizationv1.ResourceAttributes{Verb: "watch", Resource: "pods"})
	for _, p := range vantages {
		waitAllowed(t, c, p.namespace+":dsprobe-prober", authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"})
		waitAllowed(t, c, "dsprobe:dsprobe-cli", authorizationv1.ResourceAttributes{Namespace: p.namespace, Verb: "create", Group: "dsprobe.io", Resource: "probes"})
	}
	operator := caller{tokenFile: writeToken(t, requestToken(t, c, "dsprobe", "dsprobe-cli"))}

	for _, p := range vantages {
		pod := proberPods[p.namespace]
		// --rate 0: the tests ask one job after another (and poll with
		// jobs), so none may be refused as over a rate.
		startInPod(t, pod, serviceAccountFiles(t, c, p.namespace, "dsprobe-prober"),
			[]string{"POD_NAME=" + p.name, "POD_NAMESPACE=" + p.namespace},
			bins["prober"], "--config", repoPath(t, "deploy/vantage/prober-config.yaml"), "--rate", "0")
		client.WaitConnect(t, netip.AddrPortFrom(pod.Addr4(), 9443))
	}
	// A DNSLadder for the coordinator to climb by itself, made before it
	// starts so its first climb, on taking the Lease, includes it. Its
	// ServiceAccount (shop's dsprobe-ladder, the default) may probe from
	// team-a alone: the rung that also probes from team-c is refused.
	crd, err := os.ReadFile(repoPath(t, "deploy/base/dnsladder-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(t, crd, kubelab.ApplyOptions{})
	poll(t, "dnsladders served", func() bool {
		_, err := c.Client.Discovery().ServerResourcesForGroupVersion(ladder.APIVersion)
		return err == nil
	})
	c.ServiceAccountToken(t, "shop", ladder.DefaultServiceAccount)
	if _, err := c.Client.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-dsprobe-ladder"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dsprobe-user"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "shop", Name: ladder.DefaultServiceAccount}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAllowed(t, c, "shop:"+ladder.DefaultServiceAccount, authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "dsprobe.io", Resource: "probes"})
	c.Apply(t, []byte(`apiVersion: dsprobe.io/v1alpha1
kind: DNSLadder
metadata: {name: web, namespace: shop}
spec:
  target: {address: "web.shop.svc.cluster.local:80"}
  rungs:
    - {name: internal, vantage: {namespaces: [team-a]}, aaaaExpected: true}
    - {name: broad, vantage: {namespaces: [team-a, team-c]}, aaaaExpected: true}
`), kubelab.ApplyOptions{})

	coordPod := c.AddPod(t, "dsprobe", "coordinator", nil)
	coordFiles := serviceAccountFiles(t, c, "dsprobe", "dsprobe-coordinator")
	coordFiles["dsprobe/prober/token"] = requestToken(t, c, "dsprobe", "dsprobe-coordinator", "dsprobe-prober")
	startInPod(t, coordPod, coordFiles, nil, bins["coordinator"], "--config", repoPath(t, "deploy/base/coordinator-config.yaml"))
	coord := netip.AddrPortFrom(coordPod.Addr4(), 9444)
	client.WaitConnect(t, coord)

	probe := func(t *testing.T, coord netip.AddrPort, who caller, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		return testhost.RunExit(t, client.Command(ctx, bins["dsprobe"],
			slices.Concat([]string{"probe", "--coordinator", coord.String(), "--insecure", "-n", "shop"}, who.flags(), args)...))
	}
	// jobOf is the Job of a Service job who runs, in which every prober of
	// the namespaces they ask for (all three when none) answered with its
	// Service result.
	jobOf := func(t *testing.T, who caller, wantCode int, args ...string) *serviceJobJSON {
		t.Helper()
		stdout, stderr, code := probe(t, coord, who, append([]string{"-o", "json"}, args...)...)
		var job serviceJobJSON
		if err := json.Unmarshal([]byte(stdout), &job); err != nil || code != wantCode {
			t.Fatalf("got exit %d (%s), %v, want exit %d and a Job: %.3000s", code, stderr, err, wantCode, stdout)
		}
		want := who.namespaces
		if len(want) == 0 {
			for _, p := range vantages {
				want = append(want, p.namespace)
			}
		}
		var answered []string
		for _, p := range job.Probers {
			answered = append(answered, p.Namespace)
			if p.Service == nil || len(p.Service.Evidence) != len(evidenceRows) {
				t.Fatalf("prober %s/%s: got %+v (error %+v), want its Service result with every evidence row", p.Namespace, p.Prober, p.Service, p.Error)
			}
		}
		if slices.Sort(answered); !slices.Equal(answered, want) {
			t.Fatalf("probers of %v answered, want those of %v: %.3000s", answered, want, stdout)
		}
		return &job
	}
	layers := func(families []struct{ Family, FailingLayer, Detail string }) map[string]string {
		out := map[string]string{}
		for _, f := range families {
			out[f.Family] = f.FailingLayer
		}
		return out
	}

	t.Run("RequireDualStack: both families pass from every prober", func(t *testing.T) {
		job := jobOf(t, operator, 0, "svc/web")
		want := map[string][]string{
			"clusterIP": {netip.AddrPortFrom(dual[0], 80).String(), netip.AddrPortFrom(dual[1], 80).String()},
			"endpoint":  {netip.AddrPortFrom(web.Addr4(), 8080).String(), netip.AddrPortFrom(web.Addr6(), 8080).String()},
			"name":      {netip.AddrPortFrom(dual[0], 80).String(), netip.AddrPortFrom(dual[1], 80).String()},
		}
		for _, p := range job.Probers {
			if got := layers(p.Service.Families); got["FAMILY_IPV4"] != "LAYER_NONE" || got["FAMILY_IPV6"] != "LAYER_NONE" {
				t.Errorf("prober %s/%s: got %+v, want both families LAYER_NONE", p.Namespace, p.Prober, p.Service.Families)
			}
			for _, path := range p.Service.Paths {
				var connected []string
				for _, c := range path.Connects {
					if c.Outcome == "OUTCOME_CONNECTED" {
						connected = append(connected, c.Address)
					}
				}
				if !slices.Equal(connected, want[path.Path]) {
					t.Errorf("prober %s/%s path %s: connected to %v, want %v", p.Namespace, p.Prober, path.Path, connected, want[path.Path])
				}
			}
		}
		if !job.Summary.Passed {
			t.Errorf("summary: got %+v, want passed", job.Summary)
		}
	})

	t.Run("SingleStack IPv4: IPv6 fails at LAYER_SERVICE", func(t *testing.T) {
		job := jobOf(t, operator, 1, "svc/web-v4")
		for _, p := range job.Probers {
			got := layers(p.Service.Families)
			if got["FAMILY_IPV4"] != "LAYER_NONE" || got["FAMILY_IPV6"] != "LAYER_SERVICE" {
				t.Errorf("prober %s/%s: got %+v, want IPv4 LAYER_NONE and IPv6 LAYER_SERVICE", p.Namespace, p.Prober, p.Service.Families)
			}
			for _, r := range p.Service.Evidence {
				if r.Row == "Service IPs" && r.IPv6.Text != "missing: SingleStack [IPv4]: no IPv6 clusterIPs entry" {
					t.Errorf("prober %s/%s: Service IPs IPv6 cell %+v", p.Namespace, p.Prober, r.IPv6)
				}
			}
		}
		if got := layers(job.Summary.Families); got["FAMILY_IPV6"] != "LAYER_SERVICE" || got["FAMILY_IPV4"] != "LAYER_NONE" || job.Summary.Passed {
			t.Errorf("summary: got %+v, want IPv6 LAYER_SERVICE, IPv4 LAYER_NONE", job.Summary)
		}
	})

	t.Run("the table: each prober's verdicts and paths, then the summary", func(t *testing.T) {
		stdout, stderr, code := probe(t, coord, operator, "svc/web-v4:80")
		if code != 1 {
			t.Fatalf("got exit %d (%s), want 1", code, stderr)
		}
		for _, want := range []string{"from prober prober-a (team-a)", "from prober prober-b (team-b)", "from prober prober-c (team-c)",
			"  IPv6: LAYER_SERVICE: Service shop/web-v4 is SingleStack [IPv4]", "  name web-v4.shop.svc.cluster.local", "3 of 3 prober(s) answered"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
	})

	t.Run("an absent Service is bad input", func(t *testing.T) {
		if _, stderr, code := probe(t, coord, operator, "svc/gone"); code != 2 || !strings.Contains(stderr, "Service shop/gone not found") {
			t.Errorf("got exit %d (%s), want 2 naming the Service", code, stderr)
		}
	})

	t.Run("locally, with the API, a Service's DNS name is probed as the Service", func(t *testing.T) {
		kubeconfig := evidenceKubeconfig(t, c, "name-reader", evidenceRules)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		stdout, stderr, code := testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], "probe", "--kubeconfig", kubeconfig, "-o", "json", "web-v4.shop.svc.cluster.local:80"))
		var res serviceProbeJSON
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 1 {
			t.Fatalf("got exit %d (%s), %v, want 1 and the Service's probe: %.2000s", code, stderr, err, stdout)
		}
		if res.Service != "shop/web-v4" || len(res.Verdicts) != 2 || res.Verdicts[1].FailingLayer != "LAYER_SERVICE" {
			t.Errorf("got %+v, want Service shop/web-v4 with IPv6 failing at LAYER_SERVICE", res)
		}
	})

	// The coordinator asks the API server whether the caller may create
	// probes.dsprobe.io in each namespace a job would use (SubjectAccess
	// Review): CI's deployer, bound in team-a and team-b, is refused a job
	// on every prober, naming team-c alone, before any prober is asked; on
	// the probers of team-a and team-b it runs. A caller with no token is
	// not let in.
	t.Run("a caller may probe only from the namespaces it is bound in", func(t *testing.T) {
		_, stderr, code := probe(t, coord, deployer, "svc/web")
		if code != 2 || !strings.Contains(stderr, "PERMISSION_DENIED") || !strings.Contains(stderr, "namespace team-c:") ||
			strings.Contains(stderr, "namespace team-a:") || strings.Contains(stderr, "namespace team-b:") || strings.Contains(stderr, "namespace shop:") {
			t.Errorf("a job on every prober: got exit %d (%s), want 2, PERMISSION_DENIED naming team-c alone", code, stderr)
		}
		job := jobOf(t, caller{tokenFile: deployer.tokenFile, namespaces: []string{"team-a", "team-b"}}, 0, "svc/web")
		if !job.Summary.Passed {
			t.Errorf("on team-a's and team-b's probers: got %+v, want passed", job.Summary)
		}
		if _, stderr, code := probe(t, coord, caller{}, "svc/web"); code != 2 || !strings.Contains(stderr, "UNAUTHENTICATED") {
			t.Errorf("no token: got exit %d (%s), want 2, UNAUTHENTICATED", code, stderr)
		}
	})

	// The NetworkPolicies are judged from each prober's own Pod: one
	// admitting the namespace team-a admits prober-a and not prober-b.
	// (The lab enforces no policy, so both still connect: the row, not the
	// verdict, tells them apart.)
	t.Run("a NetworkPolicy is judged from each prober's Pod", func(t *testing.T) {
		createPolicy(t, c, "shop", "from-team-a", networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
		})
		cells := map[string]string{}
		poll(t, "the coordinator to watch the NetworkPolicy", func() bool {
			for _, p := range jobOf(t, operator, 0, "svc/web").Probers {
				for _, r := range p.Service.Evidence {
					if r.Row == "NetworkPolicy" {
						cells[p.Namespace] = r.IPv6.Status + " " + r.IPv6.Text
					}
				}
			}
			return strings.Contains(cells["team-a"], "from-team-a")
		})
		if want := "proof shop/from-team-a (no IPv6 ipBlock) admits IPv6 from the prober"; cells["team-a"] != want {
			t.Errorf("prober-a: got %q, want %q", cells["team-a"], want)
		}
		for _, ns := range []string{"team-b", "team-c"} {
			if want := "failing denied: shop/from-team-a (no IPv6 ipBlock) does not admit IPv6 from the prober"; cells[ns] != want {
				t.Errorf("the prober of %s: got %q, want %q", ns, cells[ns], want)
			}
		}
	})

	// The shipped coordinator runs the ladders (ladders.enabled): it takes
	// the Lease in its namespace, climbs the ladder with real jobs on the
	// probers, and writes the status: the rung probing the RequireDualStack
	// Service from team-a clears, with the job's ID and team-a's answers;
	// the rung that would probe from team-c fails, naming it.
	t.Run("the coordinator climbs a DNSLadder by itself, as the ladder's ServiceAccount", func(t *testing.T) {
		store, err := kube.NewDNSLadderStore(c.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		var web *ladder.DNSLadder
		poll(t, "the ladder's first climb", func() bool {
			ladders, err := store.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ladders) == 1 && ladders[0].Status != nil && ladders[0].Status.LastRunTime != nil {
				web = &ladders[0]
			}
			return web != nil
		})
		st := web.Status
		internal, broad := st.Rungs[0], st.Rungs[1]
		if !internal.Cleared || st.HighestRungCleared != "internal" {
			t.Errorf("rung internal: got %s (%s), %q cleared; want it cleared", internal.State, internal.Reason, st.HighestRungCleared)
		}
		if run := internal.LastRuns[0]; run.JobID == "" || len(run.Vantages) != 1 || run.Vantages[0].Namespace != "team-a" ||
			len(run.Vantages[0].AAAA.Addresses) == 0 || len(run.Vantages[0].Attempted) == 0 {
			t.Errorf("rung internal's run: got %+v, want team-a's answers (AAAA, addresses attempted) under a job ID", run)
		}
		refusal := "system:serviceaccount:shop:dsprobe-ladder may not create probes.dsprobe.io in namespace team-c"
		if broad.State != ladder.Failing || !strings.Contains(broad.Reason, refusal) {
			t.Errorf("rung broad: got %s (%s), want Failing saying %q", broad.State, broad.Reason, refusal)
		}
		lease, err := c.Client.CoordinationV1().Leases("dsprobe").Get(ctx, "dsprobe-ladders", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			t.Errorf("Lease dsprobe/dsprobe-ladders: got %+v, %v; want it held", lease, err)
		}
	})

	// Another coordinator, running as a ServiceAccount of its own and
	// allowed to watch the prober Pods alone: it finds the same probers,
	// but they refuse its token (audience dsprobe-prober, of a
	// ServiceAccount they do not allow), and it serves no Service job.
	t.Run("a coordinator of another ServiceAccount, watching only the probers", func(t *testing.T) {
		pod := c.AddPod(t, "dsprobe", "discovery-only", nil)
		kubeconfig := evidenceKubeconfig(t, c, "discovery-only", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}})
		pod.Start(t, bins["coordinator"], "--listen", "[::]:9444", "--insecure", "--prober-insecure",
			"--prober-token-file", writeToken(t, requestToken(t, c, "dsprobe", "discovery-only", "dsprobe-prober")),
			"--kubeconfig", kubeconfig, "--discover-label-selector", proberLabel)
		discoveryOnly := netip.AddrPortFrom(pod.Addr4(), 9444)
		client.WaitConnect(t, discoveryOnly)

		stdout, stderr, code := probe(t, discoveryOnly, caller{}, "-o", "json", "web.shop.svc.cluster.local:80")
		var job jobJSON
		// Exit 1: probers that do not answer a job are a failure found
		// (docs/contracts.md).
		if err := json.Unmarshal([]byte(stdout), &job); err != nil || code != 1 || len(job.Probers) != len(vantages) {
			t.Fatalf("got exit %d (%s), %v, want exit 1 and every prober's answer: %.3000s", code, stderr, err, stdout)
		}
		for _, p := range job.Probers {
			if p.Error == nil || p.Error.Code != "UNAUTHENTICATED" || !strings.Contains(p.Error.Message, "system:serviceaccount:dsprobe:discovery-only is not among the allowed callers") {
				t.Errorf("prober %s/%s: got result %+v, error %+v, want UNAUTHENTICATED naming the ServiceAccount", p.Namespace, p.Prober, p.Result, p.Error)
			}
		}
		if _, stderr, code := probe(t, discoveryOnly, caller{}, "svc/web"); code != 2 || !strings.Contains(stderr, "FAILED_PRECONDITION") || !strings.Contains(stderr, "grant its ServiceAccount list and watch") {
			t.Errorf("a Service job: got exit %d (%s), want 2 saying what to grant", code, stderr)
		}
	})
}
