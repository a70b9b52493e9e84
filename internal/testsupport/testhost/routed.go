package testhost

import (
	"fmt"
	"net/netip"
)

// Gateway addresses every routed host reaches its gateway by, as Calico and
// kindnet's point-to-point veths do: a link-local IPv4 address (RFC 3927)
// and an IPv6 link-local one, both on the gateway's end of each veth.
var (
	routedGateway4 = netip.MustParseAddr("169.254.1.1")
	routedGateway6 = netip.MustParseAddr("fe80::1")
)

// AddRoutedHost adds a host that is not on the lab's bridge but behind
// gateway, over a veth pair of its own, the way a Kubernetes node reaches
// its Pods: the host holds addr4/32 and addr6/128 with default routes
// through gateway, and gateway routes those two addresses to it and
// forwards. Whatever gateway's firewall does (kube-proxy's DNAT, a fault)
// applies to everything the host sends off itself, in both directions.
// The addresses must be of their families, outside the lab's prefixes and
// unused.
//
// Like AddHost it calls t.Fatal on failure, so it must run on the goroutine
// of the test that created the lab.
func (l *Lab) AddRoutedHost(name string, gateway *Host, addr4, addr6 netip.Addr) *Host {
	l.t.Helper()
	h, err := l.addRoutedHost(name, gateway, addr4, addr6)
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

func (l *Lab) addRoutedHost(name string, gateway *Host, addr4, addr6 netip.Addr) (*Host, error) {
	if gateway == nil || gateway.lab != l {
		return nil, fmt.Errorf("testhost: routed host %q needs a gateway host of the same lab", name)
	}
	if !addr4.Is4() || !addr6.Is6() || addr6.Is4In6() {
		return nil, fmt.Errorf("testhost: routed host %q: want an IPv4 and an IPv6 address, got %v and %v", name, addr4, addr6)
	}
	if l.prefix4.Contains(addr4) || l.prefix6.Contains(addr6) {
		return nil, fmt.Errorf("testhost: routed host %q: %v and %v must lie outside the lab's %v and %v", name, addr4, addr6, l.prefix4, l.prefix6)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.newHost(name, "r", addr4, addr6)
	if err != nil {
		return nil, err
	}
	if err := inNetns(gateway.netns, func() error {
		return writeSysctls(map[string]string{
			"net/ipv4/ip_forward":              "1",
			"net/ipv6/conf/all/forwarding":     "1",
			"net/ipv6/conf/default/forwarding": "1",
		})
	}); err != nil {
		return nil, err
	}
	if _, err := l.ipBatch(gateway.netns,
		fmt.Sprintf("link add %s type veth peer name %s netns %s", h.port, hostInterface, h.netns),
		fmt.Sprintf("addr add %s/32 dev %s", routedGateway4, h.port),
		fmt.Sprintf("addr add %s/64 dev %s nodad", routedGateway6, h.port),
		fmt.Sprintf("link set %s up", h.port),
		fmt.Sprintf("route add %s/32 dev %s", addr4, h.port),
		fmt.Sprintf("route add %s/128 dev %s", addr6, h.port),
	); err != nil {
		return nil, err
	}
	if _, err := l.ipBatch(h.netns,
		"link set lo up",
		fmt.Sprintf("link set %s up", hostInterface),
		fmt.Sprintf("addr add %s/32 dev %s", addr4, hostInterface),
		fmt.Sprintf("addr add %s/128 dev %s nodad", addr6, hostInterface),
		fmt.Sprintf("route add %s/32 dev %s scope link", routedGateway4, hostInterface),
		fmt.Sprintf("route add default via %s dev %s", routedGateway4, hostInterface),
		fmt.Sprintf("route add default via %s dev %s", routedGateway6, hostInterface),
	); err != nil {
		return nil, err
	}
	l.hosts = append(l.hosts, h)
	return h, nil
}
