package e2e

import (
	"encoding/json"
	"testing"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The mesh deployed in a real cluster: the probers are Pods in team-a and
// team-b, the coordinator and the CLI Pods in dsprobe, all over mTLS. The
// target is a RequireDualStack Service by its cluster DNS name, whose app
// listens on 0.0.0.0 only, the mission's first failure: each prober
// resolves the name through CoreDNS (over a ClusterIP, through kube-proxy),
// gets a ClusterIP per family, connects over IPv4 and is refused over IPv6
// by the Pod behind kube-proxy's DNAT, and says LAYER_LISTENER.
func TestMeshInCluster(t *testing.T) {
	c := kubelab.Start(t)
	web := c.AddPod(t, "shop", "web-1", map[string]string{"app": "web"})
	webServer(t, web, "tcp4", "0.0.0.0:8080")
	var clusterIPs []string
	for _, ip := range c.AddService(t, "shop", "web", 80, 8080) {
		c.WaitProxied(t, ip, 80, 1)
		clusterIPs = append(clusterIPs, ip.String())
	}

	m := startMesh(t, nil, meshOptions{
		addHost: func(name, namespace string) *testhost.Host {
			if namespace == "" {
				namespace = "dsprobe"
			}
			return c.AddPod(t, namespace, name, map[string]string{"app": name})
		},
		allow: []string{
			"--allow-cidr", kubelab.ServiceCIDR4.String(), "--allow-cidr", kubelab.ServiceCIDR6.String(),
			"--allow-name", "*.svc." + kubelab.ClusterDomain,
		},
	})
	stdout, stderr, code := m.probe(t, nil, append(m.withCert, "-o", "json", "http://web.shop.svc.cluster.local/")...)
	if code != 1 {
		t.Fatalf("got exit %d (%s; %.2000s), want 1: IPv6 is refused", code, stderr, stdout)
	}
	var job jobJSON
	if err := json.Unmarshal([]byte(stdout), &job); err != nil {
		t.Fatalf("bad JSON (%v): %.2000s", err, stdout)
	}
	if len(job.Probers) != len(probers) {
		t.Fatalf("got %d prober answers, want %d: %.2000s", len(job.Probers), len(probers), stdout)
	}
	for _, p := range job.Probers {
		if p.Result == nil {
			t.Errorf("prober %s/%s gave no result: %.2000s", p.Namespace, p.Prober, stdout)
			continue
		}
		got := map[string]string{}
		for _, f := range p.Result.Families {
			got[f.Family] = f.FailingLayer
		}
		if got["FAMILY_IPV4"] != "LAYER_NONE" || got["FAMILY_IPV6"] != "LAYER_LISTENER" {
			t.Errorf("prober %s/%s: failing layers %v, want IPv4 LAYER_NONE and IPv6 LAYER_LISTENER", p.Namespace, p.Prober, got)
		}
		resolved := append(p.Result.DNS.A.Addresses, p.Result.DNS.AAAA.Addresses...)
		if len(resolved) != 2 || resolved[0] != clusterIPs[0] || resolved[1] != clusterIPs[1] {
			t.Errorf("prober %s/%s resolved %v, want the ClusterIPs %v", p.Namespace, p.Prober, resolved, clusterIPs)
		}
	}
}
