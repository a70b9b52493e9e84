package kubenode

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// The real node runs a real container: a busybox httpd Pod, scheduled
// there by the kube-scheduler, gets an address from each of the node's Pod
// CIDRs and serves HTTP on both from the node namespace. When the test
// ends, nothing of the node is left: no process, container, mount, log
// link or directory.
func TestRealNodeRunsAPod(t *testing.T) {
	var dir string
	t.Run("node", func(t *testing.T) {
		c := kubelab.Start(t)
		n := Start(t, c)
		dir = n.dir
		n.ImportBusybox(t)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "httpd", Labels: map[string]string{"app": "httpd"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "httpd", Image: BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Args: []string{"httpd", "-f", "-p", "8080", "-h", "/etc"},
			}}},
		}
		if _, err := c.Client.CoreV1().Pods("default").Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		running := n.WaitPodsReady(t, "default", "app=httpd", 1)[0]
		if running.Spec.NodeName != NodeName {
			t.Errorf("got the Pod on node %q, want %q", running.Spec.NodeName, NodeName)
		}
		if len(running.Status.PodIPs) != 2 {
			t.Fatalf("got podIPs %v, want one of each family", running.Status.PodIPs)
		}
		for i, cidr := range []netip.Prefix{n.PodCIDR4, n.PodCIDR6} {
			ip := netip.MustParseAddr(running.Status.PodIPs[i].IP)
			if !cidr.Contains(ip) {
				t.Errorf("got podIP %v, want one in %v", ip, cidr)
			}
			get(t, c, netip.AddrPortFrom(ip, 8080))
		}
	})
	if dir == "" {
		return // the node never started: the subtest said why
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the node's directory %s is still there (%v)", dir, err)
	}
	if pids := processesUsing(dir); len(pids) > 0 {
		t.Errorf("processes %v of the node are still running", pids)
	}
	if points, err := mountPointsUnder(dir); err != nil || len(points) > 0 {
		t.Errorf("mounts %v (%v) of the node are still there", points, err)
	}
	links, _ := filepath.Glob(filepath.Join(containerLogLinks, "*.log"))
	for _, link := range links {
		if target, _ := os.Readlink(link); strings.HasPrefix(target, dir+"/") {
			t.Errorf("the kubelet's log link %s to %s is still there", link, target)
		}
	}
}

// How long the cluster tier takes from nothing to a real container serving:
// a cluster, the real node, a busybox httpd Pod Ready. Each lives until
// the benchmark ends: run it with a small -benchtime such as 3x.
func BenchmarkPodReady(b *testing.B) {
	for b.Loop() {
		c := kubelab.Start(b)
		n := Start(b, c)
		n.ImportBusybox(b)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "httpd", Labels: map[string]string{"app": "httpd"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "httpd", Image: BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Args: []string{"httpd", "-f", "-p", "8080"},
			}}},
		}
		if _, err := c.Client.CoreV1().Pods("default").Create(b.Context(), pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		n.WaitPodsReady(b, "default", "app=httpd", 1)
	}
}

// get fetches / from ap in the node namespace and fails the test unless it
// answers 200.
func get(t *testing.T, c *kubelab.Cluster, ap netip.AddrPort) {
	t.Helper()
	client := c.NodeHost().HTTPClient(5 * time.Second)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ap.String()+"/hostname", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET from the node to %v: %v", ap, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "httpd") {
		t.Errorf("GET %v: got %s %q, want 200 with the Pod's hostname", ap, resp.Status, body)
	}
}
