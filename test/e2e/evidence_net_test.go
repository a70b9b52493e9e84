package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// evidenceJSON is dsprobe evidence -o json (docs/contracts.md).
type evidenceJSON struct {
	Service  string   `json:"service"`
	Families []string `json:"families"`
	Proven   bool     `json:"proven"`
	Rows     []struct {
		Row        string `json:"row"`
		IPv4, IPv6 struct {
			Status, Text string
		}
	} `json:"rows"`
	Verdicts []struct {
		Family       string `json:"family"`
		OK           bool   `json:"ok"`
		FailingLayer string `json:"failingLayer"`
		Detail       string `json:"detail"`
	} `json:"verdicts"`
}

// cell returns the row's cell of the family ("ipv4", "ipv6").
func (e *evidenceJSON) cell(t *testing.T, row, family string) (status, text string) {
	t.Helper()
	for _, r := range e.Rows {
		if r.Row == row {
			if family == "ipv4" {
				return r.IPv4.Status, r.IPv4.Text
			}
			return r.IPv6.Status, r.IPv6.Text
		}
	}
	t.Fatalf("no row %q in %+v", row, e.Rows)
	return "", ""
}

// serviceProbeJSON is dsprobe probe svc/NAME -o json (docs/contracts.md).
type serviceProbeJSON struct {
	Service  string   `json:"service"`
	Name     string   `json:"name"`
	Port     string   `json:"port"`
	Families []string `json:"families"`
	Passed   bool     `json:"passed"`
	Verdicts []struct {
		Family       string `json:"family"`
		OK           bool   `json:"ok"`
		FailingLayer string `json:"failingLayer"`
		Detail       string `json:"detail"`
	} `json:"verdicts"`
	Paths []struct {
		Path     string `json:"path"`
		Connects []struct {
			Family, Address, Outcome string
			ConnectMs                float64
		} `json:"connects"`
	} `json:"paths"`
	HappyEyeballs struct {
		Profile, Family, FailingLayer string
	} `json:"happyEyeballs"`
	Clients []struct {
		Profile string `json:"profile"`
	} `json:"clients"`
}

// connected returns the addresses the path connected to.
func (p *serviceProbeJSON) connected(t *testing.T, path string) []string {
	t.Helper()
	for _, pj := range p.Paths {
		if pj.Path == path {
			var out []string
			for _, c := range pj.Connects {
				if c.Outcome == "OUTCOME_CONNECTED" {
					out = append(out, c.Address)
				}
			}
			return out
		}
	}
	t.Fatalf("no path %q in %+v", path, p.Paths)
	return nil
}

// The rows of the evidence table in the seed's order (DESIGN.md).
var evidenceRows = []string{"node CIDRs", "Pod IPs", "Service IPs", "EndpointSlices", "DNS", "kube-proxy", "listener", "NetworkPolicy", "verdict"}

// podCLI runs dsprobe evidence and dsprobe probe svc/... as a real binary
// in a Pod's network namespace, reading the API with kubeconfig, for the
// Services of namespace.
type podCLI struct {
	host                  *testhost.Host
	kubeconfig, namespace string
}

// evidence runs dsprobe evidence with args and returns its output and exit.
func (p podCLI) evidence(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	return testhost.RunExit(t, p.host.Command(ctx, bins["dsprobe"], append([]string{"evidence", "--kubeconfig", p.kubeconfig, "-n", p.namespace}, args...)...))
}

// evidenceOf runs dsprobe evidence -o json with args, checks the exit and
// that the table has every row with no blank cell, and returns it.
func (p podCLI) evidenceOf(t *testing.T, wantCode int, args ...string) *evidenceJSON {
	t.Helper()
	stdout, stderr, code := p.evidence(t, append([]string{"-o", "json"}, args...)...)
	var ev evidenceJSON
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("exit %d, bad JSON (%v): %s; stderr: %s", code, err, stdout, stderr)
	}
	var rows []string
	for _, r := range ev.Rows {
		rows = append(rows, r.Row)
		for _, c := range []string{r.IPv4.Text, r.IPv6.Text} {
			if strings.TrimSpace(c) == "" {
				t.Errorf("row %s has a blank cell", r.Row)
			}
		}
	}
	if strings.Join(rows, ",") != strings.Join(evidenceRows, ",") {
		t.Errorf("got rows %v, want %v", rows, evidenceRows)
	}
	if code != wantCode {
		t.Errorf("got exit %d (stderr %q), want %d; table: %s", code, stderr, wantCode, stdout)
	}
	return &ev
}

// probeService runs dsprobe probe -o json with args, checks the exit and
// returns the result.
func (p podCLI) probeService(t *testing.T, wantCode int, args ...string) *serviceProbeJSON {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stdout, stderr, code := testhost.RunExit(t, p.host.Command(ctx, bins["dsprobe"], append([]string{"probe", "--kubeconfig", p.kubeconfig, "-n", p.namespace, "-o", "json"}, args...)...))
	var res serviceProbeJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("exit %d, bad JSON (%v): %s; stderr: %s", code, err, stdout, stderr)
	}
	if code != wantCode {
		t.Errorf("got exit %d (stderr %q), want %d; result: %s", code, stderr, wantCode, stdout)
	}
	return &res
}

// The seed's lab and its contrasts, as dsprobe evidence shows them from a
// Pod (the API through the kubernetes Service, the names through CoreDNS,
// the ClusterIPs through kube-proxy), reading the API as a ServiceAccount
// bound to the read-only role the command needs, not as an administrator.
func TestEvidenceInCluster(t *testing.T) {
	c := kubelab.Start(t)
	publishProxyMode(t, c)
	web := c.AddPod(t, "shop", "web-1", map[string]string{"app": "web"})
	webServer(t, web, "tcp", "[::]:8080")
	client := c.AddPod(t, "dsprobe", "cli", nil)
	kubeconfig := evidenceKubeconfig(t, c, "evidence-reader", evidenceRules)

	for _, ip := range c.AddService(t, "shop", "web", 80, 8080) {
		c.WaitProxied(t, ip, 80, 1)
	}
	cli := podCLI{host: client, kubeconfig: kubeconfig, namespace: "shop"}
	evidence, evidenceOf, probeService := cli.evidence, cli.evidenceOf, cli.probeService

	t.Run("RequireDualStack: proof in every row for both families", func(t *testing.T) {
		ev := evidenceOf(t, 0, "svc/web")
		for _, row := range evidenceRows {
			for _, f := range []string{"ipv4", "ipv6"} {
				if status, text := ev.cell(t, row, f); status != "proof" {
					t.Errorf("%s %s: got %s %q, want proof", row, f, status, text)
				}
			}
		}
		for _, want := range []struct{ row, family, text string }{
			{"node CIDRs", "ipv4", "node 10.244."},
			{"node CIDRs", "ipv6", "node fd00:10:244:"},
			{"Pod IPs", "ipv4", "shop/web-1 " + web.Addr4().String()},
			{"Pod IPs", "ipv6", "shop/web-1 " + web.Addr6().String()},
			{"Service IPs", "ipv4", "RequireDualStack [IPv4, IPv6], ClusterIP 10.96."},
			{"Service IPs", "ipv6", "RequireDualStack [IPv4, IPv6], ClusterIP fd00:10:96::"},
			{"EndpointSlices", "ipv6", ": 1 ready, 1 serving, 0 terminating of 1"},
			{"DNS", "ipv4", "A 10.96."},
			{"DNS", "ipv6", "AAAA fd00:10:96::"},
			{"kube-proxy", "ipv6", "nftables mode: ClusterIP "},
			{"NetworkPolicy", "ipv4", "no NetworkPolicy selects the Pods"},
			{"verdict", "ipv6", "LAYER_NONE"},
		} {
			if _, text := ev.cell(t, want.row, want.family); !strings.Contains(text, want.text) {
				t.Errorf("%s %s: got %q, want it to hold %q", want.row, want.family, text, want.text)
			}
		}
		if !ev.Proven || len(ev.Verdicts) != 2 {
			t.Errorf("got proven %v and verdicts %+v, want proven and two verdicts", ev.Proven, ev.Verdicts)
		}
	})

	t.Run("markdown for a rollout record", func(t *testing.T) {
		stdout, stderr, code := evidence(t, "-o", "markdown", "svc/web")
		if code != 0 {
			t.Fatalf("got exit %d (%s), want 0", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		want := append([]string{"Evidence for Service `shop/web`", "", "| row | IPv4 | IPv6 |", "|---|---|---|"}, evidenceRows...)
		if len(lines) != len(want) {
			t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stdout)
		}
		// A pipe in a cell is escaped, so each row has exactly four.
		unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
		for i, line := range lines {
			if i < 4 {
				if line != want[i] {
					t.Errorf("line %d: got %q, want %q", i+1, line, want[i])
				}
				continue
			}
			if !strings.HasPrefix(line, "| "+want[i]+" | ") || len(unescapedPipe.FindAllString(line, -1)) != 4 {
				t.Errorf("line %d: got %q, want a row %q of three cells", i+1, line, want[i])
			}
		}
	})

	t.Run("a table for humans", func(t *testing.T) {
		stdout, stderr, code := evidence(t, "svc/web")
		lines := strings.Split(stdout, "\n")
		if code != 0 || len(lines) < 3+len(evidenceRows) || !strings.HasPrefix(lines[0], "Service shop/web  (port 80/TCP)") {
			t.Fatalf("got exit %d (%s) and\n%s\nwant 0 and the table", code, stderr, stdout)
		}
		for i, row := range evidenceRows {
			if !strings.HasPrefix(lines[3+i], row+" ") {
				t.Errorf("line %d: got %q, want row %s", 4+i, lines[3+i], row)
			}
		}
		t.Logf("dsprobe evidence -n shop svc/web:\n%s", stdout)
	})

	t.Run("probe svc/web: both families pass on every path", func(t *testing.T) {
		res := probeService(t, 0, "svc/web")
		if res.Service != "shop/web" || res.Name != "web.shop.svc.cluster.local" || res.Port != "80/TCP" || !res.Passed {
			t.Errorf("got %s %s %s passed %v, want shop/web, its name, 80/TCP, passed", res.Service, res.Name, res.Port, res.Passed)
		}
		if len(res.Verdicts) != 2 {
			t.Fatalf("got verdicts %+v, want two", res.Verdicts)
		}
		for _, v := range res.Verdicts {
			if !v.OK || v.FailingLayer != "LAYER_NONE" || v.Detail == "" {
				t.Errorf("%s: got %v %s %q, want LAYER_NONE with its sentence", v.Family, v.OK, v.FailingLayer, v.Detail)
			}
		}
		svc, err := c.Client.CoreV1().Services("shop").Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var clusterIPs []string
		for _, ip := range svc.Spec.ClusterIPs {
			clusterIPs = append(clusterIPs, netip.AddrPortFrom(netip.MustParseAddr(ip), 80).String())
		}
		endpoints := []string{netip.AddrPortFrom(web.Addr4(), 8080).String(), netip.AddrPortFrom(web.Addr6(), 8080).String()}
		for _, want := range []struct {
			path  string
			addrs []string
		}{{"name", clusterIPs}, {"clusterIP", clusterIPs}, {"endpoint", endpoints}} {
			got := res.connected(t, want.path)
			slices.Sort(got)
			slices.Sort(want.addrs)
			if !slices.Equal(got, want.addrs) {
				t.Errorf("%s: connected to %v, want %v", want.path, got, want.addrs)
			}
		}
		if res.HappyEyeballs.Profile != "rfc8305" || res.HappyEyeballs.FailingLayer != "LAYER_NONE" || len(res.Clients) == 0 {
			t.Errorf("got race %+v and %d clients, want the name's rfc8305 race passing and the client predictions", res.HappyEyeballs, len(res.Clients))
		}
	})

	t.Run("probe svc/web:80 as a table", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		stdout, stderr, code := testhost.RunExit(t, client.Command(ctx, bins["dsprobe"], "probe", "--kubeconfig", kubeconfig, "-n", "shop", "svc/web:80"))
		if code != 0 || !strings.HasPrefix(stdout, "Service shop/web  (port 80/TCP)\n\nIPv4: LAYER_NONE: ") || !strings.Contains(stdout, "name web.shop.svc.cluster.local") {
			t.Errorf("got exit %d (%s) and\n%s\nwant 0 and the probe table", code, stderr, stdout)
		}
		t.Logf("dsprobe probe -n shop svc/web:80:\n%s", stdout)
	})

	t.Run("without probing, the measured rows are missing", func(t *testing.T) {
		ev := evidenceOf(t, 1, "--no-probe", "svc/web")
		for _, row := range []string{"DNS", "listener", "verdict"} {
			if status, text := ev.cell(t, row, "ipv6"); status != "missing" || !strings.Contains(text, "missing: ") {
				t.Errorf("%s ipv6: got %s %q, want missing", row, status, text)
			}
		}
		if _, text := ev.cell(t, "DNS", "ipv4"); !strings.Contains(text, "not measured (run dsprobe probe svc/web)") {
			t.Errorf("DNS ipv4: got %q, want it to say it was not measured and how to measure", text)
		}
		if status, _ := ev.cell(t, "Service IPs", "ipv6"); status != "proof" {
			t.Errorf("Service IPs ipv6: got %s, want proof: the objects are read without probing", status)
		}
	})

	t.Run("SingleStack IPv4: the IPv6 Service IPs cell is missing", func(t *testing.T) {
		for _, ip := range createService(t, c, "shop", "web-v4", "web", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol) {
			c.WaitProxied(t, ip, 80, 1)
		}
		ev := evidenceOf(t, 1, "svc/web-v4")
		if status, text := ev.cell(t, "Service IPs", "ipv6"); status != "missing" || text != "missing: SingleStack [IPv4]: no IPv6 clusterIPs entry" {
			t.Errorf("Service IPs ipv6: got %s %q, want the missing sentence", status, text)
		}
		if status, _ := ev.cell(t, "Service IPs", "ipv4"); status != "proof" {
			t.Errorf("Service IPs ipv4: got %s, want proof", status)
		}
		assertVerdict(t, ev, "FAMILY_IPV6", "LAYER_SERVICE", "set ipFamilyPolicy: PreferDualStack or RequireDualStack")
		// One family's proof is enough when it is the intent.
		evidenceOf(t, 0, "--family", "ipv4", "svc/web-v4")

		res := probeService(t, 1, "svc/web-v4")
		for _, v := range res.Verdicts {
			switch {
			case v.Family == "FAMILY_IPV4" && v.FailingLayer != "LAYER_NONE":
				t.Errorf("IPv4: got %s %q, want LAYER_NONE", v.FailingLayer, v.Detail)
			case v.Family == "FAMILY_IPV6" && (v.FailingLayer != "LAYER_SERVICE" || !strings.Contains(v.Detail, "ipFamilyPolicy")):
				t.Errorf("IPv6: got %s %q, want LAYER_SERVICE naming ipFamilyPolicy", v.FailingLayer, v.Detail)
			}
		}
		if len(res.Verdicts) != 2 || res.Passed {
			t.Errorf("got verdicts %+v, passed %v; want two, failed", res.Verdicts, res.Passed)
		}
		probeService(t, 0, "--family", "ipv4", "svc/web-v4")
	})

	t.Run("a selector that matches nothing: no EndpointSlice proves either family", func(t *testing.T) {
		createService(t, c, "shop", "nobody", "nobody", corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
		ev := evidenceOf(t, 1, "svc/nobody")
		for _, f := range []string{"ipv4", "ipv6"} {
			if status, text := ev.cell(t, "EndpointSlices", f); status == "proof" {
				t.Errorf("EndpointSlices %s: got proof %q, want none", f, text)
			}
			if _, text := ev.cell(t, "Pod IPs", f); text != "missing: the selector app=nobody matches no Pod" {
				t.Errorf("Pod IPs %s: got %q, want the selector named", f, text)
			}
		}
		assertVerdict(t, ev, "FAMILY_IPV6", "LAYER_ENDPOINTS", "selector app=nobody matches no Pod")
	})

	t.Run("Pods not ready: the slices hold no ready endpoint", func(t *testing.T) {
		c.AddPod(t, "shop", "slow-1", map[string]string{"app": "slow"})
		markNotReady(t, c, "shop", "slow-1")
		createService(t, c, "shop", "slow", "slow", corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
		waitSlices(t, c, "shop", "slow", func(s []discoveryv1.EndpointSlice) bool {
			n := 0
			for _, slice := range s {
				n += len(slice.Endpoints)
			}
			return n == 2
		})
		ev := evidenceOf(t, 1, "svc/slow")
		for _, f := range []string{"ipv4", "ipv6"} {
			if status, text := ev.cell(t, "EndpointSlices", f); status != "failing" || !strings.Contains(text, ": 0 ready, 0 serving, 0 terminating of 1") {
				t.Errorf("EndpointSlices %s: got %s %q, want failing with 0 ready of 1", f, status, text)
			}
		}
		assertVerdict(t, ev, "FAMILY_IPV4", "LAYER_ENDPOINTS", "Pod shop/slow-1 is not ready")
	})

	t.Run("objects RBAC forbids are missing with why", func(t *testing.T) {
		var noNodes []rbacv1.PolicyRule
		for _, r := range evidenceRules {
			if r.Resources[0] != "nodes" {
				noNodes = append(noNodes, r)
			}
		}
		stdout, stderr, code := testhost.RunExit(t, client.Command(t.Context(), bins["dsprobe"], "evidence", "-o", "json",
			"--kubeconfig", evidenceKubeconfig(t, c, "no-nodes", noNodes), "-n", "shop", "svc/web"))
		var ev evidenceJSON
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil || code != 1 {
			t.Fatalf("got exit %d and %q (%v; %s), want exit 1 and JSON", code, stdout, err, stderr)
		}
		for _, f := range []string{"ipv4", "ipv6"} {
			if status, text := ev.cell(t, "node CIDRs", f); status != "missing" || !strings.HasPrefix(text, `missing: could not be read: nodes is forbidden: User "system:serviceaccount:dsprobe:no-nodes" cannot list resource "nodes"`) {
				t.Errorf("node CIDRs %s: got %s %q, want missing: forbidden", f, status, text)
			}
		}
	})

	// NetworkPolicies are read and judged from the prober's addresses, not
	// enforced (the lab has no CNI to enforce them): the cells say what a
	// CNI would do with them.
	t.Run("NetworkPolicy: an IPv4 ipBlock admits no IPv6; a namespaceSelector admits the prober's Pod", func(t *testing.T) {
		createPolicy(t, c, "shop", "v4-only", networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(client.Addr4(), 32).String()}})
		ev := evidenceOf(t, 1, "svc/web")
		if status, text := ev.cell(t, "NetworkPolicy", "ipv4"); status != "proof" || text != "shop/v4-only (IPv4 ipBlocks "+client.Addr4().String()+"/32) admits IPv4 from the prober" {
			t.Errorf("NetworkPolicy ipv4: got %s %q, want proof, admitted", status, text)
		}
		if status, text := ev.cell(t, "NetworkPolicy", "ipv6"); status != "failing" || text != "denied: shop/v4-only (no IPv6 ipBlock) does not admit IPv6 from the prober" {
			t.Errorf("NetworkPolicy ipv6: got %s %q, want failing, denied", status, text)
		}

		// The source addresses need no connect: judged without probing too.
		ev = evidenceOf(t, 1, "--no-probe", "svc/web")
		if status, _ := ev.cell(t, "NetworkPolicy", "ipv4"); status != "proof" {
			t.Errorf("NetworkPolicy ipv4 with --no-probe: got %s, want proof", status)
		}

		createPolicy(t, c, "shop", "from-dsprobe", networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "dsprobe"}}})
		ev = evidenceOf(t, 0, "svc/web")
		if _, text := ev.cell(t, "NetworkPolicy", "ipv6"); !strings.Contains(text, "shop/from-dsprobe (no IPv6 ipBlock) admits IPv6 from the prober") {
			t.Errorf("NetworkPolicy ipv6: got %q, want from-dsprobe admitting", text)
		}
	})

	t.Run("no such Service is bad input", func(t *testing.T) {
		_, stderr, code := evidence(t, "svc/absent")
		if code != 2 || stderr != "dsprobe evidence: Service shop/absent not found\n" {
			t.Errorf("got exit %d and %q, want 2 and the Service named", code, stderr)
		}
		_, stderr, code = testhost.RunExit(t, client.Command(t.Context(), bins["dsprobe"], "probe", "--kubeconfig", kubeconfig, "-n", "shop", "svc/absent:80"))
		if code != 2 || stderr != "dsprobe probe: Service shop/absent not found\n" {
			t.Errorf("probe: got exit %d and %q, want 2 and the Service named", code, stderr)
		}
	})
}

// publishProxyMode publishes kube-proxy's configuration as kubeadm and kind
// publish it, where dsprobe reads the proxy mode.
func publishProxyMode(t *testing.T, c *kubelab.Cluster) {
	t.Helper()
	if _, err := c.Client.CoreV1().ConfigMaps("kube-system").Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy"},
		Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// evidenceRules are what dsprobe evidence reads, and nothing more.
var evidenceRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"kube-proxy", "cilium-config"}, Verbs: []string{"get"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list"}},
}

// evidenceKubeconfig makes a ServiceAccount dsprobe/NAME bound to a
// ClusterRole of rules and writes a kubeconfig with its token, reaching the
// API server as a Pod does: through the kubernetes Service, trusting the
// cluster's CA as published in kube-root-ca.crt.
func evidenceKubeconfig(t *testing.T, c *kubelab.Cluster, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := t.Context()
	if _, err := c.Client.CoreV1().ServiceAccounts("dsprobe").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "dsprobe", Name: name}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, ca := requestToken(t, c, "dsprobe", name), clusterCA(t, c, "dsprobe")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://%s", certificate-authority: %q}
users:
- name: %s
  user: {token: %q}
contexts:
- name: lab
  context: {cluster: lab, user: %s}
current-context: lab
`, apiServer.Addr(), caFile, name, token, name)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// createService creates a Service selecting app=app on port 80 to 8080, and
// returns its ClusterIPs.
func createService(t *testing.T, c *kubelab.Cluster, namespace, name, app string, policy corev1.IPFamilyPolicy, families ...corev1.IPFamily) []netip.Addr {
	t.Helper()
	svc, err := c.Client.CoreV1().Services(namespace).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector:       map[string]string{"app": app},
			IPFamilyPolicy: &policy,
			IPFamilies:     families,
			Ports:          []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ips []netip.Addr
	for _, s := range svc.Spec.ClusterIPs {
		ips = append(ips, netip.MustParseAddr(s))
	}
	return ips
}

// createPolicy creates an ingress NetworkPolicy selecting app=web with one
// rule from peer.
func createPolicy(t *testing.T, c *kubelab.Cluster, namespace, name string, peer networkingv1.NetworkPolicyPeer) {
	t.Helper()
	createPolicyFor(t, c, namespace, name, "web", peer)
}

// createPolicyFor creates an ingress NetworkPolicy selecting app=app with
// one rule from peer.
func createPolicyFor(t *testing.T, c *kubelab.Cluster, namespace, name, app string, peer networkingv1.NetworkPolicyPeer) {
	t.Helper()
	if _, err := c.Client.NetworkingV1().NetworkPolicies(namespace).Create(t.Context(), &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// markNotReady turns the Pod's Ready condition false, as a kubelet does
// when its readiness probe fails.
func markNotReady(t *testing.T, c *kubelab.Cluster, namespace, name string) {
	t.Helper()
	pod, err := c.Client.CoreV1().Pods(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = false
	}
	if _, err := c.Client.CoreV1().Pods(namespace).UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitSlices waits until the Service's EndpointSlices satisfy done.
func waitSlices(t *testing.T, c *kubelab.Cluster, namespace, service string, done func([]discoveryv1.EndpointSlice) bool) {
	t.Helper()
	poll(t, "the EndpointSlices of "+namespace+"/"+service, func() bool {
		list, err := c.Client.DiscoveryV1().EndpointSlices(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		return err == nil && done(list.Items)
	})
}

// poll checks cond every 100 ms, failing the test after 30 s.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func assertVerdict(t *testing.T, ev *evidenceJSON, family, layer, detail string) {
	t.Helper()
	for _, v := range ev.Verdicts {
		if v.Family == family {
			if v.FailingLayer != layer || !strings.Contains(v.Detail, detail) {
				t.Errorf("%s: got %s %q, want %s saying %q", family, v.FailingLayer, v.Detail, layer, detail)
			}
			return
		}
	}
	t.Errorf("no %s verdict in %+v, want %s", family, ev.Verdicts, layer)
}
