package diagnose

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
)

var (
	v4, v6 = dualstack.FamilyIPv4, dualstack.FamilyIPv6
	ip     = netip.MustParseAddr
	cidr   = netip.MustParsePrefix
	// The Service's addresses and its Pods', per family, as kind's
	// dual-stack defaults hand them out.
	clusterIP = map[dualstack.Family]netip.Addr{v4: ip("10.96.0.10"), v6: ip("fd00:10:96::a")}
	pod0IP    = map[dualstack.Family]netip.Addr{v4: ip("10.244.0.5"), v6: ip("fd00:10:244::5")}
	pod1IP    = map[dualstack.Family]netip.Addr{v4: ip("10.244.1.6"), v6: ip("fd00:10:244:1::6")}
	dnsServer = netip.MustParseAddrPort("10.96.0.53:53")
)

// healthyService is the evidence of one family of a dual-stack Service
// that works: two ready Pods with both families on two dual-stack Nodes,
// both ClusterIPs, an EndpointSlice per family, the cluster DNS answering,
// kube-proxy in nftables mode, no NetworkPolicy, and every connect passing.
// Each case changes what its fault changes.
func healthyService(f dualstack.Family) ServiceEvidence {
	return ServiceEvidence{
		Family: f,
		Service: Service{
			Namespace: "shop", Name: "web", DNSName: "web.shop.svc.cluster.local", Selector: "app=web",
			IPFamilyPolicy: PreferDualStack, IPFamilies: []dualstack.Family{v4, v6},
			ClusterIPs: []netip.Addr{clusterIP[v4], clusterIP[v6]},
		},
		Nodes: []Node{
			{Name: "node-a", PodCIDRs: []netip.Prefix{cidr("10.244.0.0/24"), cidr("fd00:10:244::/64")}, InternalIPs: []netip.Addr{ip("172.18.0.2"), ip("fc00:f853::2")}},
			{Name: "node-b", PodCIDRs: []netip.Prefix{cidr("10.244.1.0/24"), cidr("fd00:10:244:1::/64")}, InternalIPs: []netip.Addr{ip("172.18.0.3"), ip("fc00:f853::3")}},
		},
		Pods: []Pod{
			{Name: "web-0", Node: "node-a", IPs: []netip.Addr{pod0IP[v4], pod0IP[v6]}, Ready: true},
			{Name: "web-1", Node: "node-b", IPs: []netip.Addr{pod1IP[v4], pod1IP[v6]}, Ready: true},
		},
		EndpointSlices: []EndpointSlice{
			{Name: "web-4xk2p", AddressType: v4, Endpoints: 2, Ready: 2, Serving: 2},
			{Name: "web-6pq9z", AddressType: v6, Endpoints: 2, Ready: 2, Serving: 2},
		},
		DNS:               &DNSAnswer{Status: DNSPositive, Server: dnsServer, Elapsed: 2 * time.Millisecond},
		ProxyMode:         ProxyNFTables,
		NameConnects:      []AddressEvidence{connect(clusterIP[f], 80, dualstack.OutcomeConnected)},
		ClusterIPConnects: []AddressEvidence{connect(clusterIP[f], 80, dualstack.OutcomeConnected)},
		EndpointConnects:  []AddressEvidence{connect(pod0IP[f], 8080, dualstack.OutcomeConnected), connect(pod1IP[f], 8080, dualstack.OutcomeConnected)},
		Listener:          listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}, {Family: v6, Outcome: dualstack.OutcomeConnected}}),
	}
}

// connect is one TCP connect's evidence; a connected one passed its check.
func connect(a netip.Addr, port uint16, o dualstack.Outcome) AddressEvidence {
	return AddressEvidence{Address: netip.AddrPortFrom(a, port), Outcome: o, Check: "tcp", AppOK: o == dualstack.OutcomeConnected, Connect: time.Millisecond}
}

// Faults the cases share.
func singleStackIPv4(_ dualstack.Family, ev *ServiceEvidence) {
	ev.Service.IPFamilyPolicy, ev.Service.IPFamilies, ev.Service.ClusterIPs = SingleStack, []dualstack.Family{v4}, []netip.Addr{clusterIP[v4]}
	ev.EndpointSlices = ev.EndpointSlices[:1]
	if ev.Family == v6 {
		// No IPv6 ClusterIP, no AAAA record, no IPv6 endpoint to probe.
		ev.DNS = &DNSAnswer{Status: DNSNoData, Server: dnsServer}
		ev.NameConnects, ev.ClusterIPConnects, ev.EndpointConnects = nil, nil, nil
	}
	ev.Listener = listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}})
}

func podsIPv4Only(_ dualstack.Family, ev *ServiceEvidence) {
	for i := range ev.Pods {
		ev.Pods[i].IPs = ev.Pods[i].IPs[:1]
	}
	ev.EndpointSlices[1] = EndpointSlice{Name: "web-6pq9z", AddressType: v6}
	ev.Listener = listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}})
	if ev.Family == v6 {
		// kube-proxy rejects a connect to a Service without endpoints.
		ev.NameConnects = []AddressEvidence{connect(clusterIP[v6], 80, dualstack.OutcomeRefused)}
		ev.ClusterIPConnects = ev.NameConnects
		ev.EndpointConnects = nil
	}
}

func selectorMatchesNothing(f dualstack.Family, ev *ServiceEvidence) {
	ev.Pods = nil
	for i := range ev.EndpointSlices {
		ev.EndpointSlices[i] = EndpointSlice{Name: ev.EndpointSlices[i].Name, AddressType: ev.EndpointSlices[i].AddressType}
	}
	ev.NameConnects = []AddressEvidence{connect(clusterIP[f], 80, dualstack.OutcomeRefused)}
	ev.ClusterIPConnects, ev.EndpointConnects, ev.Listener = ev.NameConnects, nil, listener.Inference{}
}

// allowIPv4Block is the seed's NetworkPolicy: written for IPv4, its one
// ipBlock admits no IPv6.
func allowIPv4Block(f dualstack.Family, ev *ServiceEvidence) {
	ev.NetworkPolicies = []NetworkPolicy{{Name: "allow-lb", IPBlocks: []netip.Prefix{cidr("10.0.0.0/8")}, Admits: f == v4}}
}

func endpointConnects(f dualstack.Family, ev *ServiceEvidence, outcomes ...dualstack.Outcome) {
	ips := []netip.Addr{pod0IP[f], pod1IP[f]}
	ev.EndpointConnects = nil
	for i, o := range outcomes {
		ev.EndpointConnects = append(ev.EndpointConnects, connect(ips[i], 8080, o))
	}
}

func serviceIPConnects(f dualstack.Family, ev *ServiceEvidence, o dualstack.Outcome) {
	ev.NameConnects = []AddressEvidence{connect(clusterIP[f], 80, o)}
	ev.ClusterIPConnects = []AddressEvidence{connect(clusterIP[f], 80, o)}
}

// onlyIPv6 applies a fault to the IPv6 evidence alone.
func onlyIPv6(fault func(dualstack.Family, *ServiceEvidence)) func(dualstack.Family, *ServiceEvidence) {
	return func(f dualstack.Family, ev *ServiceEvidence) {
		if f == v6 {
			fault(f, ev)
		}
	}
}

type serviceCase struct {
	name string
	// fault changes the healthy evidence of each family.
	fault func(dualstack.Family, *ServiceEvidence)
	// want is each family's layer; detail the words its sentence must
	// hold: the object at fault and the fix.
	want   map[dualstack.Family]layer.Layer
	detail map[dualstack.Family][]string
}

// serviceCases are the seed's fault matrix, each fault as pure evidence,
// then a case for each tie between neighbouring layers of the ladder.
var serviceCases = []serviceCase{
	{
		name: "healthy dual-stack Service",
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.None},
		detail: map[dualstack.Family][]string{
			v4: {"Service shop/web: all 3 IPv4 address(es) accept TCP connections"},
			v6: {"Service shop/web: all 3 IPv6 address(es) accept TCP connections"},
		},
	},
	{
		// The seed's first fault: the Service itself asks for one family.
		name:  "SingleStack IPv4 Service",
		fault: singleStackIPv4,
		want:  map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Service},
		detail: map[dualstack.Family][]string{v6: {
			"Service shop/web is SingleStack [IPv4]: no IPv6 ClusterIP, so no AAAA record and no IPv6 path; set ipFamilyPolicy: PreferDualStack or RequireDualStack",
		}},
	},
	{
		name: "PreferDualStack Service on a cluster with one Service range",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			singleStackIPv4(f, ev)
			ev.Service.IPFamilyPolicy = PreferDualStack
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Service},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web is PreferDualStack [IPv4]", "IPv6 --service-cluster-ip-range"}},
	},
	{
		name: "headless SingleStack IPv4 Service",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			singleStackIPv4(f, ev)
			ev.Service.Headless, ev.Service.ClusterIPs, ev.NameConnects, ev.ClusterIPConnects = true, nil, nil, nil
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Service},
		detail: map[dualstack.Family][]string{v6: {"headless Service shop/web is SingleStack [IPv4]: ipFamilies has no IPv6", "set ipFamilyPolicy"}},
	},
	{
		name: "healthy headless dual-stack Service",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Service.Headless, ev.Service.ClusterIPs, ev.ClusterIPConnects = true, nil, nil
			ev.NameConnects = []AddressEvidence{connect(pod0IP[f], 8080, dualstack.OutcomeConnected), connect(pod1IP[f], 8080, dualstack.OutcomeConnected)}
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.None},
		// The name's connects repeat the endpoints': counted once.
		detail: map[dualstack.Family][]string{v6: {"all 2 IPv6 address(es)"}},
	},
	{
		// The seed: Pods with IPv4 only behind a Service that requires both.
		name: "IPv4-only Pods behind a RequireDualStack Service",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Service.IPFamilyPolicy = RequireDualStack
			podsIPv4Only(f, ev)
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.PodAddress},
		detail: map[dualstack.Family][]string{v6: {
			"Pods shop/web-0, shop/web-1 (2 of 2 selected by Service shop/web) have IPv4 status.podIPs only, no IPv6, so Service shop/web has no IPv6 endpoint and no IPv6 path",
			"the CNI gave them no IPv6 address: enable IPv6 in the CNI's IPAM, then recreate the Pods",
		}},
	},
	{
		name: "IPv4-only Pods on Nodes without an IPv6 podCIDR",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			podsIPv4Only(f, ev)
			for i := range ev.Nodes {
				ev.Nodes[i].PodCIDRs = ev.Nodes[i].PodCIDRs[:1]
			}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.PodAddress},
		detail: map[dualstack.Family][]string{v6: {"Nodes node-a, node-b have no IPv6 spec.podCIDRs", "kube-controller-manager an IPv6 --cluster-cidr", "recreate the Pods"}},
	},
	{
		name: "a host-network Pod on a Node without an IPv6 InternalIP",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Nodes[0].InternalIPs = ev.Nodes[0].InternalIPs[:1]
			ev.Pods[0].HostNetwork, ev.Pods[0].IPs = true, ev.Nodes[0].InternalIPs
			ev.EndpointSlices = []EndpointSlice{{Name: "web-4xk2p", AddressType: v4, Endpoints: 2, Ready: 2, Serving: 2}, {Name: "web-6pq9z", AddressType: v6, Endpoints: 1, Ready: 1, Serving: 1}}
			if f == v6 {
				endpointConnects(f, ev, dualstack.OutcomeConnected)
				ev.EndpointConnects[0].Address = netip.AddrPortFrom(pod1IP[v6], 8080)
			}
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.PodAddress},
		detail: map[dualstack.Family][]string{v6: {
			"Pod shop/web-0 (1 of 2 selected by Service shop/web) has IPv4 status.podIPs only", "so IPv6 clients of Service shop/web reach only the other 1",
			"Node node-a has no IPv6 InternalIP: give the kubelet an IPv4 and an IPv6 --node-ip",
		}},
	},
	{
		// The seed: a selector that matches nothing.
		name:  "selector matches no Pod",
		fault: selectorMatchesNothing,
		want:  map[dualstack.Family]layer.Layer{v4: layer.Endpoints, v6: layer.Endpoints},
		detail: map[dualstack.Family][]string{
			v4: {"Service shop/web's selector app=web matches no Pod: no EndpointSlice holds a ready IPv4 endpoint", "fix the selector or the Pods' labels"},
			v6: {"Service shop/web's selector app=web matches no Pod: no EndpointSlice holds a ready IPv6 endpoint", "fix the selector or the Pods' labels"},
		},
	},
	{
		// The seed: Pods that are not ready. Kubernetes never probes them
		// directly: only ready endpoints are.
		name: "Pods not ready",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			for i := range ev.Pods {
				ev.Pods[i].Ready = false
			}
			for i := range ev.EndpointSlices {
				ev.EndpointSlices[i].Ready, ev.EndpointSlices[i].Serving = 0, 0
			}
			serviceIPConnects(f, ev, dualstack.OutcomeRefused)
			ev.EndpointConnects, ev.Listener = nil, listener.Inference{}
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.Endpoints, v6: layer.Endpoints},
		detail: map[dualstack.Family][]string{v6: {
			"EndpointSlice web-6pq9z of Service shop/web holds 0 ready of 2 endpoint(s) (0 serving, 0 terminating)",
			"Pods shop/web-0, shop/web-1 are not ready: find why their readiness probes fail",
		}},
	},
	{
		name: "a Service without selector and without an IPv6 EndpointSlice",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Service.Selector, ev.Pods, ev.EndpointSlices = "", nil, ev.EndpointSlices[:1]
			if f == v6 {
				serviceIPConnects(f, ev, dualstack.OutcomeRefused)
				ev.EndpointConnects = nil
			}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Endpoints},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web has no selector and no EndpointSlice of addressType IPv6", "create one labelled kubernetes.io/service-name=web", "legacy Endpoints object is single-stack"}},
	},
	{
		// The seed: the application bound to 0.0.0.0. The ClusterIP's
		// refusals follow from the endpoints'.
		name: "application bound to 0.0.0.0",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Listener = listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}, {Family: v6, Outcome: dualstack.OutcomeRefused}})
			if f == v6 {
				serviceIPConnects(f, ev, dualstack.OutcomeRefused)
				endpointConnects(f, ev, dualstack.OutcomeRefused, dualstack.OutcomeRefused)
			}
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Listener},
		detail: map[dualstack.Family][]string{v6: {
			"Service shop/web's endpoints: 2 of 2 IPv6 address(es) fail",
			"listens on IPv4 only (bound to 0.0.0.0 or an IPv4 address); make it listen on [::] as well",
			"Kubernetes still counts these endpoints ready, as kubelet probes only the primary Pod IP (IPv4)",
		}},
	},
	{
		// The seed: the IPv6 ClusterIP dropped while the endpoints answer.
		name:  "IPv6 ClusterIP dropped while the endpoints answer directly",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) { serviceIPConnects(f, ev, dualstack.OutcomeTimeout) }),
		want:  map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Datapath},
		detail: map[dualstack.Family][]string{v6: {
			"connects to Service shop/web's IPv6 ClusterIP [fd00:10:96::a]:80 time out while 2 of 2 IPv6 endpoint(s) answer directly",
			"kube-proxy (nftables mode) does not carry IPv6 Service traffic to them; check its IPv6 rules (nft list table ip6 kube-proxy)",
		}},
	},
	{
		name: "ClusterIP refused by kube-proxy in iptables mode while the endpoints answer",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			serviceIPConnects(f, ev, dualstack.OutcomeRefused)
			ev.ProxyMode = ProxyIPTables
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Datapath},
		detail: map[dualstack.Family][]string{v6: {"[fd00:10:96::a]:80 are refused while 2 of 2", "kube-proxy (iptables mode)", "ip6tables-save -t nat"}},
	},
	{
		// kube-proxy rejects with an ICMP port unreachable, which the
		// dialer reads from the error queue: a refusal, not route evidence.
		name: "ClusterIP rejected with ICMP port unreachable while the endpoints answer",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			serviceIPConnects(f, ev, dualstack.OutcomeRefused)
			unreachable := Cause{Errno: syscall.ECONNREFUSED, ICMP: &dualstack.ICMP{Family: v6, Type: 1, Code: 4, From: ip("fc00:f853::2")}}
			ev.ClusterIPConnects[0].Cause, ev.NameConnects[0].Cause = unreachable, unreachable
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Datapath},
		detail: map[dualstack.Family][]string{v6: {"[fd00:10:96::a]:80 are refused while 2 of 2 IPv6 endpoint(s) answer directly"}},
	},
	{
		// The seed: a NetworkPolicy written for IPv4 drops IPv6.
		name: "NetworkPolicy with an IPv4-only ipBlock drops IPv6",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			allowIPv4Block(f, ev)
			ev.Listener = listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}, {Family: v6, Outcome: dualstack.OutcomeTimeout}})
			if f == v6 {
				serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
				endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeTimeout)
			}
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Policy},
		detail: map[dualstack.Family][]string{v6: {
			"NetworkPolicy shop/allow-lb selects the Pods of Service shop/web and no ingress rule admits IPv6 from the prober (the ipBlocks are IPv4 only: 10.0.0.0/8)",
			"so connects to [fd00:10:244::5]:8080, [fd00:10:244:1::6]:8080, [fd00:10:96::a]:80 time out",
			"add an ingress rule with an IPv6 ipBlock",
		}},
	},
	{
		// The seed: the DNS server withholds AAAA although the Service
		// has an IPv6 ClusterIP.
		name: "AAAA withheld by the cluster DNS",
		fault: onlyIPv6(func(_ dualstack.Family, ev *ServiceEvidence) {
			ev.DNS, ev.NameConnects = &DNSAnswer{Status: DNSNoData, Server: dnsServer}, nil
		}),
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.DNS},
		detail: map[dualstack.Family][]string{v6: {
			"Service shop/web has an IPv6 ClusterIP (fd00:10:96::a) but the AAAA query for web.shop.svc.cluster.local answered NOERROR with no records (NODATA) from 10.96.0.53:53",
			"look for a CoreDNS acl, template or view that filters AAAA",
		}},
	},
	{
		name: "the cluster DNS does not know the Service name",
		fault: func(_ dualstack.Family, ev *ServiceEvidence) {
			ev.DNS, ev.NameConnects = &DNSAnswer{Status: DNSNXDomain, Server: dnsServer}, nil
		},
		want: map[dualstack.Family]layer.Layer{v4: layer.DNS, v6: layer.DNS},
		detail: map[dualstack.Family][]string{v4: {
			"Service shop/web has an IPv4 ClusterIP (10.96.0.10) but the A query for web.shop.svc.cluster.local answered NXDOMAIN",
			"check the cluster domain in it and the zones of the CoreDNS kubernetes plugin",
		}},
	},
	{
		name: "the name resolves to another address than the ClusterIP",
		fault: onlyIPv6(func(_ dualstack.Family, ev *ServiceEvidence) {
			ev.NameConnects[0].Address = netip.MustParseAddrPort("[fd00:10:96::99]:80")
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.DNS},
		detail: map[dualstack.Family][]string{v6: {"the AAAA answer for web.shop.svc.cluster.local gives fd00:10:96::99, not Service shop/web's IPv6 ClusterIP fd00:10:96::a", "fix the record"}},
	},
	{
		name: "the application check fails on every path",
		fault: onlyIPv6(func(_ dualstack.Family, ev *ServiceEvidence) {
			for _, path := range [][]AddressEvidence{ev.NameConnects, ev.ClusterIPConnects, ev.EndpointConnects} {
				for i := range path {
					path[i].Check, path[i].AppOK, path[i].AppDetail = "http", false, "HTTP 503"
				}
			}
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Application},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web's endpoints: 2 of 2 IPv6 address(es) fail", "http check fails: HTTP 503"}},
	},
	{
		name: "no connect measured",
		fault: func(_ dualstack.Family, ev *ServiceEvidence) {
			ev.NameConnects, ev.ClusterIPConnects, ev.EndpointConnects = nil, nil, nil
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.Unspecified, v6: layer.Unspecified},
		detail: map[dualstack.Family][]string{v6: {"no IPv6 connect was measured", "probe the Service"}},
	},

	// Ties: each fault above its neighbour on the ladder, both present;
	// the verdict names the more fundamental.
	{
		name: "POD_ADDRESS over SERVICE: IPv4-only Pods behind a SingleStack Service",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			podsIPv4Only(f, ev)
			singleStackIPv4(f, ev)
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.PodAddress},
		detail: map[dualstack.Family][]string{v6: {"Pods shop/web-0, shop/web-1", "enable IPv6 in the CNI's IPAM"}},
	},
	{
		name: "SERVICE over ENDPOINTS: a SingleStack Service whose selector matches nothing",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			selectorMatchesNothing(f, ev)
			singleStackIPv4(f, ev)
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.Endpoints, v6: layer.Service},
		detail: map[dualstack.Family][]string{v4: {"selector app=web matches no Pod"}, v6: {"SingleStack [IPv4]: no IPv6 ClusterIP"}},
	},
	{
		// A Pod without any address yet lacks both families alike: it is
		// not ready, not missing a family.
		name: "ENDPOINTS, not POD_ADDRESS: Pods with no address yet",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			for i := range ev.Pods {
				ev.Pods[i].IPs, ev.Pods[i].Node, ev.Pods[i].Ready = nil, "", false
			}
			for i := range ev.EndpointSlices {
				ev.EndpointSlices[i] = EndpointSlice{Name: ev.EndpointSlices[i].Name, AddressType: ev.EndpointSlices[i].AddressType}
			}
			serviceIPConnects(f, ev, dualstack.OutcomeRefused)
			ev.EndpointConnects, ev.Listener = nil, listener.Inference{}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.Endpoints, v6: layer.Endpoints},
		detail: map[dualstack.Family][]string{v6: {"holds 0 ready of 0 endpoint(s)", "Pods shop/web-0, shop/web-1 have no address yet (not running)"}},
	},
	{
		// A headless Service's records are its ready endpoints: NXDOMAIN
		// follows from there being none.
		name: "ENDPOINTS over DNS: a headless Service with terminating endpoints only",
		fault: func(_ dualstack.Family, ev *ServiceEvidence) {
			ev.Service.Headless, ev.Service.ClusterIPs = true, nil
			for i := range ev.EndpointSlices {
				ev.EndpointSlices[i].Ready, ev.EndpointSlices[i].Terminating = 0, 2
			}
			ev.DNS = &DNSAnswer{Status: DNSNXDomain, Server: dnsServer}
			ev.NameConnects, ev.ClusterIPConnects, ev.EndpointConnects = nil, nil, nil
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.Endpoints, v6: layer.Endpoints},
		detail: map[dualstack.Family][]string{v6: {"0 ready of 2 endpoint(s) (2 serving, 2 terminating), so the name has no AAAA record", "a terminating endpoint is never ready"}},
	},
	{
		name: "DNS over ROUTE: no AAAA record and the endpoints drop IPv6",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			ev.DNS, ev.NameConnects = &DNSAnswer{Status: DNSServFail, Server: dnsServer}, nil
			endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeTimeout)
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.DNS},
		detail: map[dualstack.Family][]string{v6: {"answered SERVFAIL", "the cluster DNS fails for the Service name: check the CoreDNS Pods"}},
	},
	{
		// Policy explains the drop, not the missing route: ROUTE wins.
		name: "ROUTE over POLICY: one endpoint has no route, the other is dropped by policy",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			allowIPv4Block(f, ev)
			if f == v6 {
				endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeUnreachable)
				ev.EndpointConnects[1].Cause = Cause{Errno: syscall.ENETUNREACH}
				serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
			}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Route},
		detail: map[dualstack.Family][]string{v6: {"connects to [fd00:10:244:1::6]:8080 fail before any packet is sent: this host has no IPv6 route"}},
	},
	{
		// DESIGN.md: a silent drop is ROUTE unless policy evidence
		// explains it.
		name: "a drop no NetworkPolicy explains is ROUTE",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeTimeout)
		}),
		want: map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Route},
		detail: map[dualstack.Family][]string{v6: {
			"Service shop/web's endpoints: 2 of 2 IPv6 address(es) fail; connects to [fd00:10:244::5]:8080, [fd00:10:244:1::6]:8080 time out",
			"no NetworkPolicy selecting the Pods denies IPv6, so the drop is in the network: check the CNI's IPv6 routes between the Nodes",
		}},
	},
	{
		name: "a drop while the NetworkPolicies could not be read is ROUTE, with the doubt said",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeTimeout)
			ev.Uncollected = map[Row]string{RowNetworkPolicy: "networkpolicies is forbidden"}
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Route},
		detail: map[dualstack.Family][]string{v6: {"the NetworkPolicies were not read, so a policy drop cannot be ruled out"}},
	},
	{
		name: "POLICY over LISTENER: one endpoint dropped by policy, the other refusing",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			allowIPv4Block(f, ev)
			if f == v6 {
				endpointConnects(f, ev, dualstack.OutcomeTimeout, dualstack.OutcomeRefused)
				serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
			}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Policy},
		detail: map[dualstack.Family][]string{v6: {"NetworkPolicy shop/allow-lb", "connects to [fd00:10:244::5]:8080, [fd00:10:96::a]:80 time out"}},
	},
	{
		// The Service IP's timeout is the datapath's (the endpoints
		// refuse, they do not drop), but the refusal is more fundamental.
		name: "LISTENER over DATAPATH: the endpoints refuse, the ClusterIP times out",
		fault: func(f dualstack.Family, ev *ServiceEvidence) {
			ev.Listener = listener.Infer([]listener.Observation{{Family: v4, Outcome: dualstack.OutcomeConnected}, {Family: v6, Outcome: dualstack.OutcomeRefused}})
			if f == v6 {
				endpointConnects(f, ev, dualstack.OutcomeRefused, dualstack.OutcomeRefused)
				serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
			}
		},
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Listener},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web's endpoints", "make it listen on [::] as well"}},
	},
	{
		name: "DATAPATH over APPLICATION: the endpoints fail their check, the ClusterIP times out",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			endpointConnects(f, ev, dualstack.OutcomeConnected, dualstack.OutcomeConnected)
			for i := range ev.EndpointConnects {
				ev.EndpointConnects[i].Check, ev.EndpointConnects[i].AppOK, ev.EndpointConnects[i].AppDetail = "http", false, "HTTP 500"
			}
			serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Datapath},
		detail: map[dualstack.Family][]string{v6: {"time out while 2 of 2 IPv6 endpoint(s) answer directly", "nft list table ip6 kube-proxy"}},
	},
	{
		// The endpoints answer, but this host has no route to the Service
		// range (a CLI outside the cluster, where only Pod CIDRs are
		// routed): the evidence names the route, not the proxy.
		name: "ROUTE, not DATAPATH: no route to the ClusterIP while the endpoints answer",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			serviceIPConnects(f, ev, dualstack.OutcomeUnreachable)
			ev.ClusterIPConnects[0].Cause = Cause{Errno: syscall.ENETUNREACH}
			ev.NameConnects[0].Cause = Cause{Errno: syscall.ENETUNREACH}
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Route},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web's ClusterIP: 1 of 1 IPv6 address(es) fail; connects to [fd00:10:96::a]:80 fail before any packet is sent: this host has no IPv6 route"}},
	},
	{
		// Without the endpoints' own evidence a ClusterIP drop cannot be
		// blamed on the datapath: the network evidence judges it.
		name: "ROUTE, not DATAPATH: the ClusterIP times out and the endpoints were not probed",
		fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
			serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
			ev.EndpointConnects = nil
		}),
		want:   map[dualstack.Family]layer.Layer{v4: layer.None, v6: layer.Route},
		detail: map[dualstack.Family][]string{v6: {"Service shop/web's ClusterIP: 1 of 1 IPv6 address(es) fail", "silently dropped on the IPv6 path (a missing route back, a firewall drop or a broken IPv6 datapath); the endpoints were not probed directly"}},
	},
}

func TestJudgeService(t *testing.T) {
	for _, tt := range serviceCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []dualstack.Family{v4, v6} {
				ev := tt.evidence(f)
				v := JudgeService(ev)
				want := tt.want[f]
				if v.Family != f || v.Layer != want || v.OK != (want == layer.None) {
					t.Errorf("%s: got %v ok=%v (%s), want %v", f.Label(), v.Layer, v.OK, v.Detail, want)
				}
				for _, d := range tt.detail[f] {
					if !strings.Contains(v.Detail, d) {
						t.Errorf("%s: got detail\n%q\nwant it to contain\n%q", f.Label(), v.Detail, d)
					}
				}
				// Every sentence names the Service it is about.
				if !strings.Contains(v.Detail, "shop/web") {
					t.Errorf("%s: got detail %q, want it to name shop/web", f.Label(), v.Detail)
				}
			}
		})
	}
}

// evidence is the case's evidence of one family: the healthy Service's
// with the fault applied.
func (tt serviceCase) evidence(f dualstack.Family) ServiceEvidence {
	ev := healthyService(f)
	if tt.fault != nil {
		tt.fault(f, &ev)
	}
	return ev
}

// The rules read the evidence; they never change it. A caller fills the
// objects once and shares them between the families' evidence.
func TestJudgeServiceLeavesEvidenceAlone(t *testing.T) {
	ev := healthyService(v6)
	ev.Service.Headless = true
	ev.NameConnects = []AddressEvidence{connect(ip("fd00:10:244::7"), 8080, dualstack.OutcomeTimeout)}
	ev.EndpointConnects = make([]AddressEvidence, 2, 3)
	copy(ev.EndpointConnects, healthyService(v6).EndpointConnects)
	_ = JudgeService(ev)
	if got := ev.EndpointConnects[:3][2]; got != (AddressEvidence{}) {
		t.Errorf("got %+v written past the endpoint connects, want them untouched", got)
	}
}
