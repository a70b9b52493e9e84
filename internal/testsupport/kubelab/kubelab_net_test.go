package kubelab_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/resolve"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The lab is a cluster as a user would have it: a RequireDualStack Service
// gets a ClusterIP per family, the EndpointSlice controller publishes each
// ready Pod's address per family, and kube-proxy carries a Pod's connection
// to either ClusterIP to a backend. The classic fault reproduces: an app
// bound to 0.0.0.0 behind a dual-stack Service refuses the IPv6 ClusterIP.
// The faults the lab makes (a Pod given one family, a ClusterIP dropped at
// the node, AAAA withheld) do what they say, and only while they last.
func TestDualStackServices(t *testing.T) {
	c := kubelab.Start(t)
	dual := c.AddPod(t, "team-a", "web-dual", map[string]string{"app": "dual"})
	v4only := c.AddPod(t, "team-a", "web-v4", map[string]string{"app": "v4only"})
	client := c.AddPod(t, "team-b", "client", nil)
	serve(t, dual, "tcp", "[::]:8080")
	serve(t, v4only, "tcp4", "0.0.0.0:8080")

	dualIPs := c.AddService(t, "team-a", "dual", 80, 8080)
	v4onlyIPs := c.AddService(t, "team-a", "v4only", 80, 8080)
	for _, ips := range [][]netip.Addr{dualIPs, v4onlyIPs} {
		if len(ips) != 2 || !kubelab.ServiceCIDR4.Contains(ips[0]) || !kubelab.ServiceCIDR6.Contains(ips[1]) {
			t.Fatalf("got ClusterIPs %v, want one from %v then one from %v", ips, kubelab.ServiceCIDR4, kubelab.ServiceCIDR6)
		}
	}
	waitEndpoints(t, c, "team-a", "dual", dual.Addr4(), dual.Addr6())
	waitEndpoints(t, c, "team-a", "v4only", v4only.Addr4(), v4only.Addr6())
	for _, ip := range append(dualIPs, v4onlyIPs...) {
		c.WaitProxied(t, ip, 80, 1)
	}

	// Cluster DNS answers a Pod's short name through its search path, per
	// family, with the ClusterIPs (glibc's resolver, as an app would).
	for _, tt := range []struct {
		query string
		want  netip.Addr
	}{
		{"ahostsv4", dualIPs[0]},
		{"ahostsv6", dualIPs[1]},
	} {
		out, err := client.Run(t.Context(), "getent", tt.query, "dual.team-a")
		if err != nil || !strings.HasPrefix(out, tt.want.String()+" ") {
			t.Errorf("getent %s dual.team-a in a Pod: got %q (%v), want %v", tt.query, out, err, tt.want)
		}
	}

	for _, tt := range []struct {
		to      netip.Addr
		refused bool
	}{
		{dualIPs[0], false},
		{dualIPs[1], false},
		{v4onlyIPs[0], false},
		{v4onlyIPs[1], true},
	} {
		err := dial(t, client, netip.AddrPortFrom(tt.to, 80))
		switch {
		case tt.refused && !errors.Is(err, syscall.ECONNREFUSED):
			t.Errorf("client -> %v (the app listens on IPv4 only): got %v, want connection refused", tt.to, err)
		case !tt.refused && err != nil:
			t.Errorf("client -> %v: %v", tt.to, err)
		}
	}

	// The lab's faults, each as a client in a Pod meets it, and gone when
	// the test that made it ends.
	v4pod := c.AddSingleStackPod(t, dualstack.FamilyIPv4, "team-a", "v4pod-1", map[string]string{"app": "v4pod"})
	serve(t, v4pod, "tcp", "[::]:8080")
	c.AddService(t, "team-a", "v4pod", 80, 8080)

	t.Run("a Pod given IPv4 only has no IPv6 address, in its status or its namespace", func(t *testing.T) {
		waitEndpoints(t, c, "team-a", "v4pod", v4pod.Addr4())
		pod, err := c.Client.CoreV1().Pods("team-a").Get(t.Context(), "v4pod-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pod.Status.PodIPs) != 1 || pod.Status.PodIPs[0].IP != v4pod.Addr4().String() || pod.Status.PodIP != v4pod.Addr4().String() {
			t.Errorf("got podIP %s and podIPs %v, want %v alone", pod.Status.PodIP, pod.Status.PodIPs, v4pod.Addr4())
		}
		if out, err := v4pod.Run(t.Context(), "ip", "-6", "-o", "address", "show", "scope", "global"); err != nil || out != "" {
			t.Errorf("IPv6 addresses in the Pod: got %q (%v), want none", out, err)
		}
		list, err := c.Client.DiscoveryV1().EndpointSlices("team-a").List(t.Context(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=v4pod"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			if s.AddressType == discoveryv1.AddressTypeIPv6 && len(s.Endpoints) != 0 {
				t.Errorf("IPv6 slice %s: got endpoints %+v, want none", s.Name, s.Endpoints)
			}
		}
		if err := dial(t, client, netip.AddrPortFrom(v4pod.Addr4(), 8080)); err != nil {
			t.Errorf("client -> the Pod's IPv4 address: %v", err)
		}
	})

	t.Run("an IPv6 ClusterIP dropped at the node while the endpoint answers", func(t *testing.T) {
		c.DropServiceIP(t, dualIPs[1], 80)
		// The deadline ends the dial as the context's or the socket's,
		// whichever the runtime sees first: both are timeouts.
		var timeout net.Error
		if err := dial(t, client, netip.AddrPortFrom(dualIPs[1], 80)); !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Errorf("client -> %v: got %v, want a timeout", dualIPs[1], err)
		}
		for _, to := range []netip.AddrPort{netip.AddrPortFrom(dualIPs[0], 80), netip.AddrPortFrom(dual.Addr6(), 8080)} {
			if err := dial(t, client, to); err != nil {
				t.Errorf("client -> %v: %v", to, err)
			}
		}
	})
	if err := dial(t, client, netip.AddrPortFrom(dualIPs[1], 80)); err != nil {
		t.Errorf("client -> %v once the fault is gone: %v", dualIPs[1], err)
	}

	aaaa := func(ctx context.Context) resolve.Answer {
		r := &resolve.Resolver{
			Config: resolve.Config{Servers: []netip.AddrPort{netip.AddrPortFrom(kubelab.ClusterDNS4, 53)}, Timeout: 5 * time.Second, Attempts: 1},
			Dialer: client,
		}
		return r.Lookup(ctx, "dual.team-a.svc.cluster.local.", dualstack.FamilyIPv6)
	}
	t.Run("AAAA withheld by cluster DNS", func(t *testing.T) {
		c.WithholdAAAA(t, "team-a", "dual")
		if a := aaaa(t.Context()); a.Status != resolve.StatusNoData {
			t.Errorf("got %v %v, want NODATA", a.Status, a.Addresses)
		}
		out, err := client.Run(t.Context(), "getent", "ahostsv4", "dual.team-a")
		if err != nil || !strings.HasPrefix(out, dualIPs[0].String()+" ") {
			t.Errorf("getent ahostsv4 dual.team-a: got %q (%v), want %v: only AAAA is withheld", out, err, dualIPs[0])
		}
	})
	if a := aaaa(t.Context()); a.Status != resolve.StatusPositive || !slices.Equal(a.Addresses, dualIPs[1:]) {
		t.Errorf("AAAA once the fault is gone: got %v %v, want %v", a.Status, a.Addresses, dualIPs[1])
	}
}

// serve accepts and closes connections on address inside host until the
// test ends.
func serve(t *testing.T, host *testhost.Host, network, address string) {
	t.Helper()
	ln, err := host.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// waitEndpoints waits until the Service's EndpointSlices hold want, each
// ready, in a slice of its family.
func waitEndpoints(t *testing.T, c *kubelab.Cluster, namespace, service string, want ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := c.Client.DiscoveryV1().EndpointSlices(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		if err != nil {
			t.Fatal(err)
		}
		var ready []netip.Addr
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || !*e.Conditions.Ready {
					continue
				}
				for _, a := range e.Addresses {
					addr := netip.MustParseAddr(a)
					if (s.AddressType == discoveryv1.AddressTypeIPv4) == addr.Is4() {
						ready = append(ready, addr)
					}
				}
			}
		}
		if found := func() bool {
			for _, w := range want {
				if !slices.Contains(ready, w) {
					return false
				}
			}
			return true
		}(); found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Service %s/%s: ready endpoints %v, want %v", namespace, service, ready, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dial(t *testing.T, host *testhost.Host, to netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := host.DialContext(ctx, "tcp", to.String())
	if err != nil {
		return err
	}
	return conn.(*net.TCPConn).Close()
}

// How long a cluster takes to serve (API server, controllers, kube-proxy,
// cluster DNS). Each cluster lives until the benchmark ends: run it with a
// small -benchtime such as 3x.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		kubelab.Start(b)
	}
}
