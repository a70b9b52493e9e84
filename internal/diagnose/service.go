package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
)

// ServiceEvidence is what one family of one Service's path is judged on,
// from one prober's point of view: the Kubernetes objects behind the
// Service, as the coordinator or the CLI read them, and the prober's
// connects.
//
// The objects' lists hold their values of both families, as the API gives
// them (a Node's whole spec.podCIDRs, a Pod's whole status.podIPs, the
// Service's whole clusterIPs); the rules pick the family's own. So a caller
// fills the objects once and sets only Family, the measurements and the
// NetworkPolicy admissions per family.
type ServiceEvidence struct {
	Family  dualstack.Family
	Service Service
	// Nodes are the cluster's Nodes.
	Nodes []Node
	// Pods are the Pods the Service's selector matches.
	Pods []Pod
	// EndpointSlices are the slices labelled kubernetes.io/service-name
	// with the Service's name, of every addressType.
	EndpointSlices []EndpointSlice
	// DNS is the cluster DNS's answer to this family's query for
	// Service.DNSName; nil when it was not asked.
	DNS       *DNSAnswer
	ProxyMode ProxyMode
	// NetworkPolicies are the policies whose podSelector selects the
	// Service's Pods and whose policyTypes include Ingress; empty when
	// none does.
	NetworkPolicies []NetworkPolicy

	// NameConnects are the connects to the addresses Service.DNSName
	// resolved to; ClusterIPConnects those to the family's ClusterIP;
	// EndpointConnects those to every ready endpoint address of the
	// family, directly. Each is empty when it was not measured.
	NameConnects, ClusterIPConnects, EndpointConnects []AddressEvidence
	// Listener is what the connects to the endpoints, both families, say
	// about the application's listening sockets.
	Listener listener.Inference

	// Uncollected names the rows whose Kubernetes objects could not be
	// read, with why ("nodes is forbidden: ..."). The rules judge nothing
	// on them, and their cells are "missing: <why>".
	Uncollected map[Row]string
}

// Service is what the rules read of a Kubernetes Service.
type Service struct {
	Namespace, Name string
	// DNSName is the name clients resolve: NAME.NAMESPACE.svc.<cluster
	// domain>.
	DNSName string
	// Selector is spec.selector as a label selector ("app=web"); empty
	// when the Service has none and its EndpointSlices are made by hand
	// (or mirrored from a legacy Endpoints object).
	Selector       string
	IPFamilyPolicy IPFamilyPolicy
	// IPFamilies is spec.ipFamilies in order: the first is the primary
	// family, the family of spec.clusterIP.
	IPFamilies []dualstack.Family
	// ClusterIPs is spec.clusterIPs; empty for a headless Service.
	ClusterIPs []netip.Addr
	// Headless says spec.clusterIP is None: the name resolves to the ready
	// endpoints themselves and no Service proxy is on the path.
	Headless bool
}

// String names the Service as kubectl does: "shop/web".
func (s Service) String() string { return s.Namespace + "/" + s.Name }

// clusterIP returns the Service's ClusterIP of the family, the zero Addr
// when it has none.
func (s Service) clusterIP(f dualstack.Family) netip.Addr {
	for _, ip := range s.ClusterIPs {
		if dualstack.FamilyOf(ip) == f {
			return ip
		}
	}
	return netip.Addr{}
}

// IPFamilyPolicy is a Service's spec.ipFamilyPolicy, spelt as the API
// spells it; empty when the API server did not say (before dual-stack).
type IPFamilyPolicy string

const (
	SingleStack      IPFamilyPolicy = "SingleStack"
	PreferDualStack  IPFamilyPolicy = "PreferDualStack"
	RequireDualStack IPFamilyPolicy = "RequireDualStack"
)

// Node is what the rules read of a Kubernetes Node.
type Node struct {
	Name string
	// PodCIDRs is spec.podCIDRs.
	PodCIDRs []netip.Prefix
	// InternalIPs are the status.addresses of type InternalIP.
	InternalIPs []netip.Addr
}

// Pod is what the rules read of a Pod the Service selects.
type Pod struct {
	// Name is the Pod's name, in the Service's namespace.
	Name string
	// Node is spec.nodeName; empty while the Pod is not scheduled.
	Node string
	// IPs is status.podIPs in order: the first is the primary IP, the
	// only one kubelet probes (KEP-563, enhancements PR #1975). Empty
	// while the Pod has no address yet.
	IPs         []netip.Addr
	HostNetwork bool
	// Ready is the Pod's Ready condition.
	Ready bool
}

// EndpointSlice is what the rules read of one EndpointSlice.
type EndpointSlice struct {
	Name string
	// AddressType is the slice's addressType; FamilyUnspecified for FQDN,
	// which the rules ignore.
	AddressType dualstack.Family
	// Endpoints counts the slice's endpoints; Ready, Serving and
	// Terminating those whose condition is true, a nil ready or serving
	// counting as true as the API defines it.
	Endpoints, Ready, Serving, Terminating int
}

// NetworkPolicy is what the rules read of one NetworkPolicy that selects
// the Service's Pods.
type NetworkPolicy struct {
	// Name is the policy's name, in the Service's namespace.
	Name string
	// IPBlocks are the ipBlock.cidr of its ingress rules, both families.
	IPBlocks []netip.Prefix
	// Admits says whether one of its ingress rules admits the prober's
	// connects of the evidence's family to the probed port (a podSelector,
	// namespaceSelector or ipBlock peer matching the prober, the port
	// listed or none listed). The caller evaluates the rules; an ipBlock
	// holds one CIDR of one family, so a rule admits one family unless a
	// selector peer admits both.
	Admits bool
}

// ProxyMode is what carries ClusterIP traffic to the endpoints.
type ProxyMode uint8

const (
	// ProxyUnknown: neither the kube-proxy ConfigMap nor Cilium's says.
	ProxyUnknown ProxyMode = iota
	// ProxyIPTables: kube-proxy's iptables mode, the Linux default when
	// config.conf's mode is empty.
	ProxyIPTables
	ProxyIPVS
	ProxyNFTables
	// ProxyCiliumKPR: Cilium's kube-proxy replacement
	// (cilium-config kube-proxy-replacement: true).
	ProxyCiliumKPR
)

var proxyModeNames = [...]string{ProxyUnknown: "unknown", ProxyIPTables: "iptables", ProxyIPVS: "ipvs", ProxyNFTables: "nftables", ProxyCiliumKPR: "cilium-kpr"}

// String returns "unknown", "iptables", "ipvs", "nftables" or "cilium-kpr".
func (m ProxyMode) String() string {
	if int(m) < len(proxyModeNames) {
		return proxyModeNames[m]
	}
	return fmt.Sprintf("ProxyMode(%d)", uint8(m))
}

// serviceRule is one rule about the Kubernetes objects: judge reports
// whether the family fails at the rule's layer, and why.
type serviceRule struct {
	layer layer.Layer
	judge func(ServiceEvidence) (detail string, failed bool)
}

// serviceRules are the rules about the objects, most fundamental layer
// first (DESIGN.md's layer table, docs/architecture.md): the first that
// fails names the verdict, as a family missing from a lower layer is
// missing from every layer above it — a Service without an IPv6 ClusterIP
// has no AAAA record either, and its verdict is SERVICE, not DNS.
var serviceRules = [...]serviceRule{
	{layer.PodAddress, podAddressRule},
	{layer.Service, serviceIPRule},
	{layer.Endpoints, endpointsRule},
	{layer.DNS, serviceDNSRule},
}

// JudgeService returns the verdict for one family of a Service: the most
// fundamental failing layer in the ladder's order, with one sentence naming
// the object, the field and the fix. The Kubernetes layers (POD_ADDRESS,
// SERVICE, ENDPOINTS) and the cluster DNS come first; the connects then
// show ROUTE, POLICY, LISTENER, DATAPATH or APPLICATION, judged by Judge's
// per-address rules with two readings only the objects allow: a drop a
// NetworkPolicy explains is POLICY, and a Service IP that fails while its
// endpoints answer directly is DATAPATH.
//
// With no connect of the family measured and no object at fault, the
// verdict is not OK and its layer is LAYER_UNSPECIFIED: the path is not
// judged, and callers emit no verdict for it (the evidence table shows it
// as missing).
func JudgeService(ev ServiceEvidence) Verdict {
	for _, r := range serviceRules {
		if detail, failed := r.judge(ev); failed {
			return Verdict{Family: ev.Family, Layer: r.layer, Detail: detail}
		}
	}
	return judgeServicePaths(ev)
}

// podAddressRule: the selected Pods have no status.podIPs entry of the
// family (DESIGN.md, LAYER_POD_ADDRESS). A Pod with no address at all
// (Pending, not scheduled) lacks both families alike and says nothing about
// this one: it is not ready, which the EndpointSlices show. A Pod with an
// address of the other family only was given addresses, and not this
// family's; its Node tells why when the Node lacks the family too.
func podAddressRule(ev ServiceEvidence) (string, bool) {
	if _, gap := ev.Uncollected[RowPodIPs]; gap {
		return "", false
	}
	f := ev.Family
	var lacking []Pod
	for _, p := range ev.Pods {
		if len(p.IPs) > 0 && !slices.ContainsFunc(p.IPs, isFamily(f)) {
			lacking = append(lacking, p)
		}
	}
	if len(lacking) == 0 {
		return "", false
	}
	fam := f.Label()
	consequence := fmt.Sprintf("so Service %s has no %s endpoint and no %s path", ev.Service, fam, fam)
	if having := countPods(ev.Pods, f); having > 0 {
		consequence = fmt.Sprintf("so %s clients of Service %s reach only the other %d", fam, ev.Service, having)
	}
	return fmt.Sprintf("%s %s (%d of %d selected by Service %s) %s %s status.podIPs only, no %s, %s; %s",
		plural(len(lacking), "Pod", "Pods"), nameList(podNames(ev.Service, lacking)), len(lacking), len(ev.Pods), ev.Service,
		plural(len(lacking), "has", "have"), f.Other().Label(), fam, consequence, podAddressFix(ev, lacking)), true
}

// podAddressFix says how the lacking Pods get the family, by what their
// Nodes show: a host-network Pod takes its Node's addresses, so a Node
// without an InternalIP of the family explains it; a Node without a
// podCIDR of the family explains an ordinary Pod (unless the CNI allocates
// addresses itself); otherwise the CNI's IPAM gave none. A Pod's addresses
// are fixed when it starts, so every fix ends in recreating the Pods.
func podAddressFix(ev ServiceEvidence, lacking []Pod) string {
	f, fam := ev.Family, ev.Family.Label()
	nodes := map[string]Node{}
	if _, gap := ev.Uncollected[RowNodeCIDRs]; !gap {
		for _, n := range ev.Nodes {
			nodes[n.Name] = n
		}
	}
	var noInternalIP, noPodCIDR []string
	var other []Pod
	for _, p := range lacking {
		n, known := nodes[p.Node]
		switch {
		case known && p.HostNetwork && !slices.ContainsFunc(n.InternalIPs, isFamily(f)):
			noInternalIP = appendOnce(noInternalIP, n.Name)
		case known && !p.HostNetwork && !slices.ContainsFunc(n.PodCIDRs, isPrefixFamily(f)):
			noPodCIDR = appendOnce(noPodCIDR, n.Name)
		default:
			other = append(other, p)
		}
	}
	var fixes []string
	if len(noInternalIP) > 0 {
		fixes = append(fixes, fmt.Sprintf("host-network Pods take their Node's addresses and %s %s %s no %s InternalIP: give the kubelet an IPv4 and an IPv6 --node-ip",
			plural(len(noInternalIP), "Node", "Nodes"), nameList(noInternalIP), plural(len(noInternalIP), "has", "have"), fam))
	}
	if len(noPodCIDR) > 0 {
		fixes = append(fixes, fmt.Sprintf("%s %s %s no %s spec.podCIDRs: give kube-controller-manager an %s --cluster-cidr (or the CNI an %s pool) so they get one",
			plural(len(noPodCIDR), "Node", "Nodes"), nameList(noPodCIDR), plural(len(noPodCIDR), "has", "have"), fam, fam, fam))
	}
	switch {
	case len(other) == len(lacking):
		fixes = append(fixes, fmt.Sprintf("the CNI gave them no %s address: enable %s in the CNI's IPAM", fam, fam))
	case len(other) > 0:
		fixes = append(fixes, fmt.Sprintf("the CNI gave %s no %s address: enable %s in the CNI's IPAM", nameList(podNames(ev.Service, other)), fam, fam))
	}
	return strings.Join(fixes, "; ") + ", then recreate the Pods (a Pod's addresses are fixed when it starts)"
}

// serviceIPRule: the Service has no clusterIPs entry of the family
// (DESIGN.md, LAYER_SERVICE); for a headless Service, which has no
// ClusterIP, no ipFamilies entry: the EndpointSlice controller makes slices
// only of the Service's ipFamilies, and the cluster DNS answers only for
// them. The fix follows ipFamilyPolicy: SingleStack asks for one family;
// PreferDualStack got one because the cluster had only one Service range
// to allocate from; RequireDualStack cannot lack one unless the object is
// stale.
func serviceIPRule(ev ServiceEvidence) (string, bool) {
	svc, f := ev.Service, ev.Family
	fam := f.Label()
	if svc.Headless {
		if slices.Contains(svc.IPFamilies, f) {
			return "", false
		}
		return fmt.Sprintf("headless Service %s is %s %s: ipFamilies has no %s, so no %s EndpointSlice, no %s record and no %s path; %s",
			svc, policyName(svc.IPFamilyPolicy), familyList(svc.IPFamilies), fam, fam, f.QueryType(), fam, dualStackFix(svc, f)), true
	}
	if svc.clusterIP(f).IsValid() {
		return "", false
	}
	return fmt.Sprintf("Service %s is %s %s: no %s ClusterIP, so no %s record and no %s path; %s",
		svc, policyName(svc.IPFamilyPolicy), familyList(svc.IPFamilies), fam, f.QueryType(), fam, dualStackFix(svc, f)), true
}

// dualStackFix says how a Service gets a family it lacks, by its
// ipFamilyPolicy.
func dualStackFix(svc Service, f dualstack.Family) string {
	switch svc.IPFamilyPolicy {
	case SingleStack, "":
		return "set ipFamilyPolicy: PreferDualStack or RequireDualStack"
	case PreferDualStack:
		return fmt.Sprintf("PreferDualStack got one family because the cluster had no %s Service range: give kube-apiserver an %s --service-cluster-ip-range, then set ipFamilyPolicy: RequireDualStack so the Service gets both or fails loudly", f.Label(), f.Label())
	default:
		return fmt.Sprintf("RequireDualStack should have given it one, so the object read is stale or was altered: read the Service again, and recreate it if clusterIPs still lacks %s", f.Label())
	}
}

// endpointsRule: no EndpointSlice of the family's addressType holds a
// ready endpoint (DESIGN.md, LAYER_ENDPOINTS). The EndpointSlices are read,
// not the legacy Endpoints object, which is single-stack (the primary
// family only) and would hide the secondary family's endpoints. A ready
// endpoint is one whose ready condition is true or nil, which is never so
// while it terminates unless the Service publishes not-ready addresses.
func endpointsRule(ev ServiceEvidence) (string, bool) {
	if _, gap := ev.Uncollected[RowEndpointSlices]; gap {
		return "", false
	}
	svc, f := ev.Service, ev.Family
	fam := f.Label()
	slicesOf := endpointSlicesOf(ev.EndpointSlices, f)
	var ready, endpoints, serving, terminating int
	var names []string
	for _, s := range slicesOf {
		ready += s.Ready
		endpoints += s.Endpoints
		serving += s.Serving
		terminating += s.Terminating
		names = append(names, s.Name)
	}
	if ready > 0 {
		return "", false
	}
	consequence := fmt.Sprintf("so the Service's %s ClusterIP has no backend and %s connects to it fail", fam, fam)
	if svc.Headless {
		consequence = fmt.Sprintf("so the name has no %s record and no %s path", f.QueryType(), fam)
	}
	_, podsGap := ev.Uncollected[RowPodIPs]
	switch {
	case svc.Selector == "" && len(slicesOf) == 0:
		return fmt.Sprintf("Service %s has no selector and no EndpointSlice of addressType %s, %s; create one labelled kubernetes.io/service-name=%s holding the %s endpoints (a legacy Endpoints object is single-stack: it is mirrored into one family's slice only)",
			svc, fam, consequence, svc.Name, fam), true
	case svc.Selector != "" && !podsGap && len(ev.Pods) == 0:
		return fmt.Sprintf("Service %s's selector %s matches no Pod: no EndpointSlice holds a ready %s endpoint, %s; fix the selector or the Pods' labels",
			svc, svc.Selector, fam, consequence), true
	case len(slicesOf) == 0:
		return fmt.Sprintf("no EndpointSlice of addressType %s is labelled kubernetes.io/service-name=%s for Service %s, %s; the EndpointSlice controller (kube-controller-manager) has not published one: check that it runs and read its log",
			fam, svc.Name, svc, consequence), true
	}
	s := fmt.Sprintf("%s %s of Service %s %s 0 ready of %d endpoint(s) (%d serving, %d terminating), %s",
		plural(len(names), "EndpointSlice", "EndpointSlices"), nameList(names), svc, plural(len(names), "holds", "hold"), endpoints, serving, terminating, consequence)
	var notReady, unaddressed []Pod
	for _, p := range ev.Pods {
		switch {
		case len(p.IPs) == 0:
			unaddressed = append(unaddressed, p)
		case !p.Ready:
			notReady = append(notReady, p)
		}
	}
	if n := len(notReady); n > 0 {
		s += fmt.Sprintf("; %s %s %s not ready: find why their readiness probes fail (kubectl describe pod) and make them ready",
			plural(n, "Pod", "Pods"), nameList(podNames(svc, notReady)), plural(n, "is", "are"))
	}
	if n := len(unaddressed); n > 0 {
		s += fmt.Sprintf("; %s %s %s no address yet (not running): find why they do not start (kubectl describe pod)",
			plural(n, "Pod", "Pods"), nameList(podNames(svc, unaddressed)), plural(n, "has", "have"))
	}
	if terminating > 0 {
		s += "; a terminating endpoint is never ready, so wait for the replacement Pods to become ready"
	}
	if len(notReady)+len(unaddressed)+terminating == 0 {
		s += "; make the selected Pods ready"
	}
	return s, true
}

// serviceDNSRule: the cluster DNS gives no usable answer for the Service
// name although the Service has the family (DESIGN.md, LAYER_DNS; the
// SERVICE and ENDPOINTS rules have passed, so the records should exist), or
// the name resolves to an address that is not the Service's ClusterIP.
// The wording of the DNS failure is Judge's.
func serviceDNSRule(ev ServiceEvidence) (string, bool) {
	svc, f := ev.Service, ev.Family
	name := serviceDNSName(svc)
	if ev.DNS != nil && ev.DNS.Status != DNSPositive {
		what := fmt.Sprintf("Service %s has an %s ClusterIP (%s)", svc, f.Label(), svc.clusterIP(f))
		if svc.Headless {
			what = fmt.Sprintf("headless Service %s has ready %s endpoints", svc, f.Label())
			if _, gap := ev.Uncollected[RowEndpointSlices]; gap {
				what = fmt.Sprintf("headless Service %s lists %s in ipFamilies (its EndpointSlices were not read)", svc, f.Label())
			}
		}
		return fmt.Sprintf("%s but %s; %s", what, dnsDetail(FamilyEvidence{Family: f, Name: name, DNS: ev.DNS}), clusterDNSFix(ev.DNS.Status, f)), true
	}
	foreign := foreignAnswers(ev)
	if len(foreign) == 0 {
		return "", false
	}
	return fmt.Sprintf("the %s answer for %s gives %s, not Service %s's %s ClusterIP %s: the name resolves elsewhere (a stale record, or a search or stub domain answering first); query the cluster DNS for the full name and fix the record",
		f.QueryType(), name, strings.Join(foreign, ", "), svc, f.Label(), svc.clusterIP(f)), true
}

// clusterDNSFix says where the cluster DNS goes wrong for a Service that
// has the family: a NOERROR without the record is withheld on purpose or
// by a stale cache, a name it does not know is outside its zones, and any
// other failure is the server's own.
func clusterDNSFix(status DNSStatus, f dualstack.Family) string {
	switch status {
	case DNSNoData:
		return fmt.Sprintf("the cluster DNS withholds the %s record: look for a CoreDNS acl, template or view that filters %s (or a stale cache) and query the cluster DNS again", f.QueryType(), f.QueryType())
	case DNSNXDomain:
		return "the cluster DNS does not know the name: check the cluster domain in it and the zones of the CoreDNS kubernetes plugin"
	default:
		return "the cluster DNS fails for the Service name: check the CoreDNS Pods, their log and their reach to the API server"
	}
}

// foreignAnswers returns the addresses the Service name resolved to that
// are not its ClusterIP of the family; none for a headless Service, whose
// name resolves to its endpoints.
func foreignAnswers(ev ServiceEvidence) []string {
	if ev.Service.Headless {
		return nil
	}
	want := ev.Service.clusterIP(ev.Family)
	var foreign []string
	for _, a := range ev.NameConnects {
		if a.Address.Addr().Unmap() != want.Unmap() {
			foreign = appendOnce(foreign, a.Address.Addr().String())
		}
	}
	return foreign
}

// judgeServicePaths judges the connects, once the objects hold the family.
// Each attempt's layer is Judge's (addressLayer), read again where the
// objects say more:
//   - a silent drop or an administrative reject is POLICY when the
//     NetworkPolicies selecting the Pods admit no connect of the family
//     from the prober (DESIGN.md: a silent drop is ROUTE unless policy
//     evidence explains it); policies admitting nothing drop, they do not
//     refuse, so a refusal stays the listener's;
//   - a Service IP connect that does not complete (refused, timed out,
//     unreachable) is DATAPATH when the endpoints were probed directly
//     (DESIGN.md, LAYER_DATAPATH: the endpoint answers directly but the
//     Service IP does not). An endpoint that fails too has its own layer
//     (ROUTE, POLICY or LISTENER), more fundamental, which then names the
//     verdict. Two readings stay the network's: an administrative reject,
//     and an unreachable with evidence of the route (no route on this
//     host, a router's ICMP error, a next hop nobody answers), as where
//     the Service range is not routed to a prober outside the cluster.
//     When the endpoints were not probed, the network evidence alone
//     judges the Service IP.
//
// The verdict is the most fundamental layer of all attempts; the sentence
// names the endpoints at fault before the Service IP, whose failure
// follows from theirs.
func judgeServicePaths(ev ServiceEvidence) Verdict {
	v := Verdict{Family: ev.Family, Layer: layer.None}
	svc, fam := ev.Service, ev.Family.Label()
	endpoints, serviceIPs := servicePaths(ev)
	if len(endpoints)+len(serviceIPs) == 0 {
		v.Layer = layer.Unspecified
		v.Detail = fmt.Sprintf("Service %s: its objects hold %s, but no %s connect was measured, so the path is not judged; probe the Service", svc, fam, fam)
		return v
	}
	adm := admissionOf(ev)
	epLayers := make([]layer.Layer, len(endpoints))
	for i, a := range endpoints {
		l := addressLayer(a)
		if l != layer.None && adm.denied() && isDrop(a.Outcome) {
			l = layer.Policy
		}
		epLayers[i] = l
	}
	svcLayers := make([]layer.Layer, len(serviceIPs))
	for i, a := range serviceIPs {
		l := addressLayer(a)
		switch {
		case l == layer.None:
		case adm.denied() && isDrop(a.Outcome):
			l = layer.Policy
		case l == layer.Policy, completed(a.Outcome), routeBroken(a), len(endpoints) == 0:
			// An explicit reject, a connection the proxy did carry, a
			// route known broken, or no direct evidence: the network
			// evidence stands.
		default:
			l = layer.Datapath
		}
		svcLayers[i] = l
	}
	v.Layer = layer.MostFundamental(append(slices.Clone(epLayers), svcLayers...)...)
	if v.Layer == layer.None {
		v.OK = true
		v.Detail = passDetail(FamilyEvidence{Family: ev.Family, Name: "Service " + svc.String(), DNS: ev.DNS, Addresses: append(slices.Clone(endpoints), serviceIPs...)})
		return v
	}
	root, path, pathName, pathLayers := rootAttempts(endpoints, epLayers, v.Layer), endpoints, fmt.Sprintf("Service %s's endpoints", svc), epLayers
	if len(root) == 0 {
		root, path, pathName, pathLayers = rootAttempts(serviceIPs, svcLayers, v.Layer), serviceIPs, fmt.Sprintf("Service %s's ClusterIP", svc), svcLayers
	}
	switch {
	case v.Layer == layer.Policy && adm.denied():
		v.Detail = networkPolicyDetail(ev, adm, append(rootAttempts(endpoints, epLayers, layer.Policy), rootAttempts(serviceIPs, svcLayers, layer.Policy)...))
	case v.Layer == layer.Datapath:
		v.Detail = datapathDetail(ev, root, endpoints)
	default:
		failing := len(pathLayers) - countLayer(pathLayers, layer.None)
		v.Detail = failDetail(FamilyEvidence{Family: ev.Family, Name: pathName, Addresses: path, Listener: ev.Listener}, v.Layer, root, failing) +
			pathContext(ev, adm, v.Layer, root, len(endpoints) > 0)
	}
	return v
}

// servicePaths splits the connects into the endpoints' and the Service
// IP's. The Service name resolves to the ClusterIP, or for a headless
// Service to the endpoints, so its connects join that path, except where
// they repeat an attempt already there.
func servicePaths(ev ServiceEvidence) (endpoints, serviceIPs []AddressEvidence) {
	if ev.Service.Headless {
		return appendNew(ev.EndpointConnects, ev.NameConnects), nil
	}
	return ev.EndpointConnects, appendNew(ev.ClusterIPConnects, ev.NameConnects)
}

// appendNew returns a followed by the attempts of b that a does not hold
// already (the same address with the same outcome); a is not modified.
func appendNew(a, b []AddressEvidence) []AddressEvidence {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y AddressEvidence) bool { return y.Address == x.Address && y.Outcome == x.Outcome }) {
			out = append(out, x)
		}
	}
	return out
}

// pathContext adds what the objects say about a path failure the network
// evidence names: who is blind to a listener broken on the secondary
// family, whether a NetworkPolicy could explain a drop, and whether the
// Service IP's failure could be the datapath's.
func pathContext(ev ServiceEvidence, adm admission, l layer.Layer, root []AddressEvidence, endpointsProbed bool) string {
	f, fam := ev.Family, ev.Family.Label()
	var s string
	switch l {
	case layer.Listener:
		if primary := primaryPodFamily(ev.Pods); primary != dualstack.FamilyUnspecified && primary != f {
			s += fmt.Sprintf("; Kubernetes still counts these endpoints ready, as kubelet probes only the primary Pod IP (%s)", primary.Label())
		}
	case layer.Route:
		dropped := slices.ContainsFunc(root, func(a AddressEvidence) bool { return a.Outcome == dualstack.OutcomeTimeout })
		switch {
		case dropped && !adm.known:
			s += "; the NetworkPolicies were not read, so a policy drop cannot be ruled out"
		case dropped && endpointsProbed:
			s += fmt.Sprintf("; no NetworkPolicy selecting the Pods denies %s, so the drop is in the network: check the CNI's %s routes between the Nodes", fam, fam)
		}
		if !endpointsProbed {
			s += "; the endpoints were not probed directly, so a broken Service datapath cannot be told from a broken route: probe them"
		}
	}
	return s
}

// networkPolicyDetail says which policies drop the family and how to admit
// it. An ipBlock holds one CIDR of one family (the seed), so a policy
// written for IPv4 admits no IPv6 until a rule of its own is added.
func networkPolicyDetail(ev ServiceEvidence, adm admission, root []AddressEvidence) string {
	f, fam := ev.Family, ev.Family.Label()
	var names []string
	var own, other []netip.Prefix
	for _, p := range adm.selecting {
		names = append(names, ev.Service.Namespace+"/"+p.Name)
		own = append(own, prefixesOf(p.IPBlocks, f)...)
		other = append(other, prefixesOf(p.IPBlocks, f.Other())...)
	}
	var blocks string
	switch {
	case len(own) > 0:
		blocks = fmt.Sprintf("the %s ipBlocks %s do not cover the prober", fam, prefixList(own))
	case len(other) > 0:
		blocks = fmt.Sprintf("the ipBlocks are %s only: %s", f.Other().Label(), prefixList(other))
	default:
		blocks = "no ipBlock and no selector peer matches the prober"
	}
	return fmt.Sprintf("%s %s %s the Pods of Service %s and no ingress rule admits %s from the prober (%s), so connects to %s %s; add an ingress rule with an %s ipBlock (an ipBlock holds one CIDR of one family, so each family needs its own rule) or a podSelector or namespaceSelector peer that matches the prober",
		plural(len(names), "NetworkPolicy", "NetworkPolicies"), nameList(names), plural(len(names), "selects", "select"), ev.Service, fam, blocks,
		addressList(root), outcomePhrase(root), fam)
}

// datapathDetail says which Service IP fails while the endpoints answer,
// and where the proxy mode keeps the family's Service rules.
func datapathDetail(ev ServiceEvidence, root, endpoints []AddressEvidence) string {
	fam := ev.Family.Label()
	answering := 0
	for _, a := range endpoints {
		if completed(a.Outcome) {
			answering++
		}
	}
	return fmt.Sprintf("connects to Service %s's %s ClusterIP %s %s while %d of %d %s endpoint(s) answer directly: %s",
		ev.Service, fam, addressList(root), outcomePhrase(root), answering, len(endpoints), fam, proxyFix(ev.ProxyMode, ev.Family))
}

// proxyFix names what carries the family's Service traffic in the proxy
// mode, and where to look.
func proxyFix(m ProxyMode, f dualstack.Family) string {
	fam := f.Label()
	switch m {
	case ProxyIPTables:
		tool := map[dualstack.Family]string{dualstack.FamilyIPv4: "iptables-save", dualstack.FamilyIPv6: "ip6tables-save"}[f]
		return fmt.Sprintf("kube-proxy (iptables mode) does not carry %s Service traffic to them; check its %s rules (%s -t nat, chain KUBE-SERVICES) and its log", fam, fam, tool)
	case ProxyIPVS:
		return fmt.Sprintf("kube-proxy (ipvs mode) does not carry %s Service traffic to them; check the %s virtual server (ipvsadm -Ln) and its log", fam, fam)
	case ProxyNFTables:
		table := map[dualstack.Family]string{dualstack.FamilyIPv4: "ip", dualstack.FamilyIPv6: "ip6"}[f]
		return fmt.Sprintf("kube-proxy (nftables mode) does not carry %s Service traffic to them; check its %s rules (nft list table %s kube-proxy) and its log", fam, fam, table)
	case ProxyCiliumKPR:
		return fmt.Sprintf("Cilium's kube-proxy replacement does not carry %s Service traffic to them; check its %s service entries (cilium-dbg service list in the agent) and that enable-ipv6 is set for IPv6", fam, fam)
	default:
		return fmt.Sprintf("the Service proxy (kube-proxy or a CNI's replacement; its mode is unknown) does not carry %s Service traffic to them; check its %s rules and its log", fam, fam)
	}
}

// admission is what the NetworkPolicies selecting the Pods say about the
// family from the prober. NetworkPolicy admits by default and its rules
// add up: a Pod no policy selects admits everything, and one selected by
// policies admits what any one of them admits.
type admission struct {
	// known: the policies were read.
	known bool
	// selecting are the policies that select the Pods; admitting those of
	// them that admit the family.
	selecting, admitting []NetworkPolicy
}

func admissionOf(ev ServiceEvidence) admission {
	if _, gap := ev.Uncollected[RowNetworkPolicy]; gap {
		return admission{}
	}
	adm := admission{known: true, selecting: ev.NetworkPolicies}
	for _, p := range ev.NetworkPolicies {
		if p.Admits {
			adm.admitting = append(adm.admitting, p)
		}
	}
	return adm
}

// denied reports whether the policies select the Pods and none admits the
// family.
func (a admission) denied() bool {
	return a.known && len(a.selecting) > 0 && len(a.admitting) == 0
}

// isDrop reports whether an outcome is what a policy denying the traffic
// does: drop it silently, or reject it as administratively prohibited.
func isDrop(o dualstack.Outcome) bool {
	return o == dualstack.OutcomeTimeout || o == dualstack.OutcomeProhibited
}

// routeBroken reports whether a connect failed as unreachable with
// evidence that the route itself is broken: this host has no route, a
// router said so, or no neighbour answers for the next hop. (An ICMP error
// on a refused connect is a port unreachable: a rejection, not a route.)
func routeBroken(a AddressEvidence) bool {
	c := a.Cause
	return a.Outcome == dualstack.OutcomeUnreachable && (c.Errno == syscall.ENETUNREACH || c.ICMP != nil || c.UnansweredNextHop != nil)
}

// completed reports whether the TCP connect completed: what follows
// (a failed check, a reset) is the application's or a proxy's doing, not
// the path's.
func completed(o dualstack.Outcome) bool {
	return o == dualstack.OutcomeConnected || o == dualstack.OutcomeAppFailed || o == dualstack.OutcomeReset
}

// rootAttempts returns the attempts judged at layer l.
func rootAttempts(attempts []AddressEvidence, layers []layer.Layer, l layer.Layer) []AddressEvidence {
	var root []AddressEvidence
	for i, a := range attempts {
		if layers[i] == l {
			root = append(root, a)
		}
	}
	return root
}

func countLayer(layers []layer.Layer, l layer.Layer) int {
	n := 0
	for _, x := range layers {
		if x == l {
			n++
		}
	}
	return n
}

// outcomePhrase words what the attempts came to: "time out", "are
// refused", or each outcome named when they differ.
func outcomePhrase(attempts []AddressEvidence) string {
	var outcomes []string
	for _, a := range attempts {
		outcomes = appendOnce(outcomes, a.Outcome.String())
	}
	if len(outcomes) != 1 {
		return "fail (" + strings.Join(outcomes, ", ") + ")"
	}
	switch attempts[0].Outcome {
	case dualstack.OutcomeTimeout:
		return "time out"
	case dualstack.OutcomeRefused:
		return "are refused"
	case dualstack.OutcomeUnreachable:
		return "fail as unreachable"
	case dualstack.OutcomeProhibited:
		return "are rejected as administratively prohibited"
	default:
		return "fail (" + outcomes[0] + ")"
	}
}

// primaryPodFamily returns the family of the selected Pods' primary IP
// (status.podIPs[0], which follows the cluster's primary Pod CIDR), or
// FamilyUnspecified when no Pod has an address.
func primaryPodFamily(pods []Pod) dualstack.Family {
	for _, p := range pods {
		if len(p.IPs) > 0 {
			return dualstack.FamilyOf(p.IPs[0])
		}
	}
	return dualstack.FamilyUnspecified
}

// podNames names the Pods as kubectl does: "shop/web-0".
func podNames(svc Service, pods []Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = svc.Namespace + "/" + p.Name
	}
	return names
}

// countPods counts the Pods with an address of the family.
func countPods(pods []Pod, f dualstack.Family) int {
	n := 0
	for _, p := range pods {
		if slices.ContainsFunc(p.IPs, isFamily(f)) {
			n++
		}
	}
	return n
}

func endpointSlicesOf(all []EndpointSlice, f dualstack.Family) []EndpointSlice {
	var out []EndpointSlice
	for _, s := range all {
		if s.AddressType == f {
			out = append(out, s)
		}
	}
	return out
}

// readyEndpoints counts the ready endpoints of the family's slices.
func readyEndpoints(all []EndpointSlice, f dualstack.Family) int {
	n := 0
	for _, s := range endpointSlicesOf(all, f) {
		n += s.Ready
	}
	return n
}

func serviceDNSName(svc Service) string {
	if svc.DNSName != "" {
		return svc.DNSName
	}
	return svc.String()
}

func isFamily(f dualstack.Family) func(netip.Addr) bool {
	return func(a netip.Addr) bool { return dualstack.FamilyOf(a) == f }
}

func isPrefixFamily(f dualstack.Family) func(netip.Prefix) bool {
	return func(p netip.Prefix) bool { return dualstack.FamilyOf(p.Addr()) == f }
}

func addrsOf(addrs []netip.Addr, f dualstack.Family) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if dualstack.FamilyOf(a) == f {
			out = append(out, a)
		}
	}
	return out
}

func prefixesOf(prefixes []netip.Prefix, f dualstack.Family) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range prefixes {
		if dualstack.FamilyOf(p.Addr()) == f {
			out = append(out, p)
		}
	}
	return out
}

func policyName(p IPFamilyPolicy) string {
	if p == "" {
		return "without ipFamilyPolicy"
	}
	return string(p)
}

// familyList writes ipFamilies as "[IPv4, IPv6]".
func familyList(fs []dualstack.Family) string {
	labels := make([]string, len(fs))
	for i, f := range fs {
		labels[i] = f.Label()
	}
	return "[" + strings.Join(labels, ", ") + "]"
}

func addressList(attempts []AddressEvidence) string {
	var addrs []string
	for _, a := range attempts {
		addrs = appendOnce(addrs, a.Address.String())
	}
	return strings.Join(addrs, ", ")
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// maxListed bounds how many items a sentence or cell lists, so a fault on
// a thousand Nodes stays readable.
const maxListed = 10

// joinCapped joins the first maxListed items with sep, saying how many
// more there are.
func joinCapped(items []string, sep string) string {
	if len(items) <= maxListed {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s%sand %d more", strings.Join(items[:maxListed], sep), sep, len(items)-maxListed)
}

// nameList joins names for a sentence.
func nameList(names []string) string { return joinCapped(names, ", ") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
