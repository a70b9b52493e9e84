package diagnose

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/listener"
)

// Row is a row of a Service's evidence table. The constants are in the
// table's order, the seed's (DESIGN.md, the evidence table).
type Row uint8

const (
	RowNodeCIDRs Row = iota + 1
	RowPodIPs
	RowServiceIPs
	RowEndpointSlices
	RowDNS
	RowKubeProxy
	RowListener
	RowNetworkPolicy
	RowVerdict
)

var rowNames = [...]string{
	RowNodeCIDRs:      "node CIDRs",
	RowPodIPs:         "Pod IPs",
	RowServiceIPs:     "Service IPs",
	RowEndpointSlices: "EndpointSlices",
	RowDNS:            "DNS",
	RowKubeProxy:      "kube-proxy",
	RowListener:       "listener",
	RowNetworkPolicy:  "NetworkPolicy",
	RowVerdict:        "verdict",
}

// String returns the row's title: "node CIDRs", "Pod IPs", ...
func (r Row) String() string {
	if int(r) < len(rowNames) && rowNames[r] != "" {
		return rowNames[r]
	}
	return fmt.Sprintf("Row(%d)", uint8(r))
}

// CellStatus says whether a cell proves its family's layer.
type CellStatus uint8

const (
	// CellMissing: there is no evidence of the family to show — the
	// object, field or measurement is absent — and the cell's text is
	// "missing: <why>". The zero value, so a cell nobody filled is never
	// proof.
	CellMissing CellStatus = iota
	// CellProof: the evidence shows the family works at this layer.
	CellProof
	// CellFailing: the evidence is there and shows the family failing.
	CellFailing
)

var cellStatusNames = [...]string{CellMissing: "missing", CellProof: "proof", CellFailing: "failing"}

// String returns "missing", "proof" or "failing".
func (s CellStatus) String() string {
	if int(s) < len(cellStatusNames) {
		return cellStatusNames[s]
	}
	return fmt.Sprintf("CellStatus(%d)", uint8(s))
}

// Cell is one family's evidence in one row.
type Cell struct {
	Text   string
	Status CellStatus
}

// EvidenceRow is one row of the table: one cell per family.
type EvidenceRow struct {
	Row        Row
	IPv4, IPv6 Cell
}

// Cell returns the row's cell of the family; a missing cell for
// FamilyUnspecified.
func (r EvidenceRow) Cell(f dualstack.Family) Cell {
	switch f {
	case dualstack.FamilyIPv4:
		return r.IPv4
	case dualstack.FamilyIPv6:
		return r.IPv6
	}
	return Cell{Text: "missing: no such family"}
}

// EvidenceTable is the family-by-family evidence of one Service, as data:
// the CLI prints it as a table, JSON or Markdown.
type EvidenceTable struct {
	// Service names it: "shop/web".
	Service string
	// Rows are in the seed's order, one of each Row.
	Rows []EvidenceRow
	// Verdicts are JudgeService's verdicts of the families judged, IPv4
	// first; a family given no evidence, or none measured, has none.
	Verdicts []Verdict
}

// Proven reports whether every cell of the families given is proof (both
// families when none is given): `dsprobe evidence` exits 0 only then. A
// missing cell is not proof, even for a family the Service was not meant
// to have: a blank IPv6 cell is a rollout blocker.
func (t EvidenceTable) Proven(families ...dualstack.Family) bool {
	if len(families) == 0 {
		families = []dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6}
	}
	for _, r := range t.Rows {
		for _, f := range families {
			if r.Cell(f).Status != CellProof {
				return false
			}
		}
	}
	return true
}

// evidenceRows are the rows in the seed's order, each with the layer it is
// evidence of (the verdict row has none) and how its cell is written.
var evidenceRows = [...]struct {
	row   Row
	layer layer.Layer
	cell  func(ServiceEvidence, Verdict) Cell
}{
	{RowNodeCIDRs, layer.PodAddress, nodeCell},
	{RowPodIPs, layer.PodAddress, podCell},
	{RowServiceIPs, layer.Service, serviceCell},
	{RowEndpointSlices, layer.Endpoints, endpointSliceCell},
	{RowDNS, layer.DNS, dnsCell},
	{RowKubeProxy, layer.Datapath, kubeProxyCell},
	{RowListener, layer.Listener, listenerCell},
	{RowNetworkPolicy, layer.Policy, networkPolicyCell},
	{RowVerdict, layer.Unspecified, verdictCell},
}

// objectRows are the rows read from Kubernetes objects alone: when the
// objects could not be read, the cell says why and nothing else.
var objectRows = []Row{RowNodeCIDRs, RowPodIPs, RowEndpointSlices, RowNetworkPolicy}

// EvidenceTableOf writes the evidence table of a Service from the evidence
// of each family (IPv4, IPv6 or both; a second evidence of the same family
// is ignored). Every cell of a family given no evidence is missing. A cell
// that does not prove its family while the verdict names a more
// fundamental layer says so, so a responder starts at the root: the DNS row
// of a Service without an IPv6 ClusterIP reads as what follows from it,
// not as a second fault. It does not claim the cell follows from the root:
// a SingleStack Service behind IPv4-only Pods is a fault of its own.
func EvidenceTableOf(evidence ...ServiceEvidence) EvidenceTable {
	var t EvidenceTable
	var byFamily [2]*ServiceEvidence
	for i := range evidence {
		ev := &evidence[i]
		if k, ok := familyIndex(ev.Family); ok && byFamily[k] == nil {
			byFamily[k] = ev
			if t.Service == "" {
				t.Service = ev.Service.String()
			}
		}
	}
	var verdicts [2]Verdict
	for k, ev := range byFamily {
		if ev == nil {
			continue
		}
		verdicts[k] = JudgeService(*ev)
		if verdicts[k].Layer != layer.Unspecified {
			t.Verdicts = append(t.Verdicts, verdicts[k])
		}
	}
	for _, r := range evidenceRows {
		var cells [2]Cell
		for k, ev := range byFamily {
			if ev == nil {
				cells[k] = Cell{Text: fmt.Sprintf("missing: no %s evidence was gathered", familyAt(k).Label())}
				continue
			}
			cells[k] = rowCell(*ev, verdicts[k], r.row, r.layer, r.cell)
		}
		t.Rows = append(t.Rows, EvidenceRow{Row: r.row, IPv4: cells[0], IPv6: cells[1]})
	}
	return t
}

// rowCell writes one cell: what could not be read, or the row's own
// evidence, marked when the verdict names a more fundamental layer.
func rowCell(ev ServiceEvidence, v Verdict, row Row, l layer.Layer, cell func(ServiceEvidence, Verdict) Cell) Cell {
	if why, gap := ev.Uncollected[row]; gap && slices.Contains(objectRows, row) {
		return Cell{Text: "missing: could not be read: " + why}
	}
	c := cell(ev, v)
	if c.Status != CellProof && l != layer.Unspecified && !v.OK && v.Layer != layer.Unspecified && v.Layer.Rank() < l.Rank() {
		c.Text += fmt.Sprintf(" (more fundamental: %s, see the verdict)", v.Layer)
	}
	return c
}

func familyIndex(f dualstack.Family) (int, bool) {
	switch f {
	case dualstack.FamilyIPv4:
		return 0, true
	case dualstack.FamilyIPv6:
		return 1, true
	}
	return 0, false
}

func familyAt(k int) dualstack.Family {
	return [...]dualstack.Family{dualstack.FamilyIPv4, dualstack.FamilyIPv6}[k]
}

// cellOf builds a cell from what the family has and what it lacks: missing
// when there is nothing of the family to show, failing when something
// lacks it, proof otherwise.
func cellOf(have, lack []string, why string) Cell {
	switch {
	case len(have) == 0 && len(lack) == 0:
		return Cell{Text: "missing: " + why}
	case len(have) == 0:
		return Cell{Text: "missing: " + joinCapped(lack, "; ")}
	case len(lack) > 0:
		return Cell{Text: joinCapped(lack, "; ") + "; " + joinCapped(have, "; "), Status: CellFailing}
	default:
		return Cell{Text: joinCapped(have, "; "), Status: CellProof}
	}
}

// nodeCell: each Node's podCIDRs and InternalIP of the family. A Node with
// no podCIDR of the family still proves it when the selected Pods on it
// have addresses of the family: the CNI allocates them itself (Calico,
// Cilium's cluster-pool), not from spec.podCIDRs.
func nodeCell(ev ServiceEvidence, _ Verdict) Cell {
	f, fam := ev.Family, ev.Family.Label()
	var have, lack []string
	for _, n := range ev.Nodes {
		cidrs, ips := prefixesOf(n.PodCIDRs, f), addrsOf(n.InternalIPs, f)
		cniAllocates := len(cidrs) == 0 && slices.ContainsFunc(ev.Pods, func(p Pod) bool {
			return p.Node == n.Name && !p.HostNetwork && slices.ContainsFunc(p.IPs, isFamily(f))
		})
		var gaps []string
		if len(cidrs) == 0 && !cniAllocates {
			gaps = append(gaps, "no "+fam+" podCIDR")
		}
		if len(ips) == 0 {
			gaps = append(gaps, "no "+fam+" InternalIP")
		}
		switch {
		case len(gaps) > 0:
			lack = append(lack, n.Name+" has "+strings.Join(gaps, " and "))
		case cniAllocates:
			have = append(have, fmt.Sprintf("%s no podCIDR, its Pods get %s from the CNI (InternalIP %s)", n.Name, fam, joinAddrs(ips)))
		default:
			have = append(have, fmt.Sprintf("%s %s (InternalIP %s)", n.Name, prefixList(cidrs), joinAddrs(ips)))
		}
	}
	return cellOf(have, lack, "no Node was read")
}

// podCell: the selected Pods' podIPs of the family, naming the Pods that
// lack it. A Pod with no address yet lacks both families and is named, but
// fails neither.
func podCell(ev ServiceEvidence, _ Verdict) Cell {
	svc, f := ev.Service, ev.Family
	switch {
	case svc.Selector == "":
		return Cell{Text: fmt.Sprintf("missing: Service %s has no selector, so it selects no Pod", svc)}
	case len(ev.Pods) == 0:
		return Cell{Text: fmt.Sprintf("missing: the selector %s matches no Pod", svc.Selector)}
	}
	var have, lack, waiting []string
	for _, p := range ev.Pods {
		name := svc.Namespace + "/" + p.Name
		switch ips := addrsOf(p.IPs, f); {
		case len(p.IPs) == 0:
			waiting = append(waiting, name+" has no address yet")
		case len(ips) == 0:
			lack = append(lack, fmt.Sprintf("%s has %s only", name, f.Other().Label()))
		default:
			have = append(have, name+" "+joinAddrs(ips))
		}
	}
	c := cellOf(have, lack, joinCapped(waiting, "; "))
	if len(waiting) > 0 && (len(have) > 0 || len(lack) > 0) {
		c.Text += "; " + joinCapped(waiting, "; ")
	}
	return c
}

// serviceCell: ipFamilyPolicy, ipFamilies in order and the family's
// ClusterIP.
func serviceCell(ev ServiceEvidence, _ Verdict) Cell {
	svc, f := ev.Service, ev.Family
	spec := policyName(svc.IPFamilyPolicy) + " " + familyList(svc.IPFamilies)
	switch {
	case svc.Headless && slices.Contains(svc.IPFamilies, f):
		return Cell{Text: "headless, " + spec + ": the name resolves to the endpoints", Status: CellProof}
	case svc.Headless:
		return Cell{Text: fmt.Sprintf("missing: headless, %s: ipFamilies has no %s", spec, f.Label())}
	case svc.clusterIP(f).IsValid():
		return Cell{Text: fmt.Sprintf("%s, ClusterIP %s", spec, svc.clusterIP(f)), Status: CellProof}
	default:
		return Cell{Text: fmt.Sprintf("missing: %s: no %s clusterIPs entry", spec, f.Label())}
	}
}

// endpointSliceCell: every slice of the family's addressType with its
// ready, serving and terminating counts; proof when one endpoint is ready.
func endpointSliceCell(ev ServiceEvidence, _ Verdict) Cell {
	slicesOf := endpointSlicesOf(ev.EndpointSlices, ev.Family)
	if len(slicesOf) == 0 {
		return Cell{Text: "missing: no EndpointSlice of addressType " + ev.Family.Label()}
	}
	var text []string
	ready := 0
	for _, s := range slicesOf {
		text = append(text, fmt.Sprintf("%s: %d ready, %d serving, %d terminating of %d", s.Name, s.Ready, s.Serving, s.Terminating, s.Endpoints))
		ready += s.Ready
	}
	c := Cell{Text: joinCapped(text, "; "), Status: CellProof}
	if ready == 0 {
		c.Status = CellFailing
	}
	return c
}

// dnsStatusNames word a DNS status in a cell.
var dnsStatusNames = map[DNSStatus]string{
	DNSNoData: "NODATA", DNSNXDomain: "NXDOMAIN", DNSServFail: "SERVFAIL",
	DNSRefused: "REFUSED", DNSTimeout: "no answer (timeout)", DNSError: "error",
}

// dnsCell: the cluster DNS's answer for the Service name. No record is
// missing evidence; a server that fails or does not answer is failing; a
// name that resolves to another address than the ClusterIP is failing.
func dnsCell(ev ServiceEvidence, _ Verdict) Cell {
	svc, f := ev.Service, ev.Family
	q := f.QueryType()
	a := ev.DNS
	if a == nil {
		why := "the cluster DNS was not asked"
		if reason, gap := ev.Uncollected[RowDNS]; gap {
			why += ": " + reason
		}
		return Cell{Text: "missing: " + why}
	}
	from := ""
	if a.Server.IsValid() {
		from = " from " + a.Server.String()
	}
	if a.Status != DNSPositive {
		text := fmt.Sprintf("%s %s%s", q, dnsStatusNames[a.Status], from)
		if a.Status != DNSNoData && a.Status != DNSNXDomain {
			return Cell{Text: text, Status: CellFailing}
		}
		text = fmt.Sprintf("no %s record (%s)", q, text)
		if !svc.Headless && !svc.clusterIP(f).IsValid() {
			text += fmt.Sprintf(", as the Service has no %s ClusterIP", f.Label())
		}
		return Cell{Text: "missing: " + text}
	}
	if foreign := foreignAnswers(ev); len(foreign) > 0 {
		return Cell{Text: fmt.Sprintf("%s %s%s, not the ClusterIP %s", q, strings.Join(foreign, ", "), from, svc.clusterIP(f)), Status: CellFailing}
	}
	var answered []string
	for _, c := range ev.NameConnects {
		answered = appendOnce(answered, c.Address.Addr().String())
	}
	if len(answered) == 0 {
		answered = []string{"answered"}
	}
	return Cell{Text: fmt.Sprintf("%s %s%s (%s)", q, joinCapped(answered, ", "), from, roundMs(a.Elapsed)), Status: CellProof}
}

// kubeProxyCell: the proxy mode and whether the family's ClusterIP answers
// while the endpoints do.
func kubeProxyCell(ev ServiceEvidence, _ Verdict) Cell {
	svc, f, fam := ev.Service, ev.Family, ev.Family.Label()
	mode := ev.ProxyMode.String() + " mode"
	if why, gap := ev.Uncollected[RowKubeProxy]; gap {
		mode += " (" + why + ")"
	}
	switch {
	case svc.Headless:
		return Cell{Text: mode + ": not on the path of a headless Service", Status: CellProof}
	case !svc.clusterIP(f).IsValid():
		return Cell{Text: fmt.Sprintf("missing: %s, but no %s ClusterIP to carry", mode, fam)}
	case len(ev.ClusterIPConnects) == 0:
		return Cell{Text: fmt.Sprintf("missing: %s, but the %s ClusterIP %s was not probed", mode, fam, svc.clusterIP(f))}
	}
	var failed []AddressEvidence
	for _, a := range ev.ClusterIPConnects {
		if !completed(a.Outcome) {
			failed = append(failed, a)
		}
	}
	if len(failed) == 0 {
		return Cell{Text: fmt.Sprintf("%s: ClusterIP %s answers", mode, addressList(ev.ClusterIPConnects)), Status: CellProof}
	}
	endpoints := "; the endpoints were not probed directly"
	if _, gap := ev.Uncollected[RowEndpointSlices]; !gap && readyEndpoints(ev.EndpointSlices, f) == 0 {
		// Nothing to probe: the Service has no backend of the family.
		endpoints = fmt.Sprintf("; the Service has no ready %s endpoint to carry them to", fam)
	}
	if len(ev.EndpointConnects) > 0 {
		endpoints = ", and the endpoints fail too"
		if !slices.ContainsFunc(ev.EndpointConnects, func(a AddressEvidence) bool { return !completed(a.Outcome) }) {
			endpoints = " while the endpoints answer directly"
		}
	}
	return Cell{Text: fmt.Sprintf("%s: connects to ClusterIP %s %s%s", mode, addressList(failed), outcomePhrase(failed), endpoints), Status: CellFailing}
}

// listenerCell: which families the application accepts. A connect of the
// family that reached the application proves it; a refusal fails it; the
// inference from both families' connects (internal/listener) names the
// listener, and says why when the connects cannot tell.
func listenerCell(ev ServiceEvidence, _ Verdict) Cell {
	inf, fam := ev.Listener, ev.Family.Label()
	endpoints, _ := servicePaths(ev)
	var reached, refused []AddressEvidence
	for _, a := range endpoints {
		switch {
		case completed(a.Outcome):
			reached = append(reached, a)
		case a.Outcome == dualstack.OutcomeRefused:
			refused = append(refused, a)
		}
	}
	known := ""
	if inf.Accepts != listener.Unknown {
		known = fmt.Sprintf(" (listener: %s)", inf.Accepts)
	}
	switch {
	case len(refused) > 0:
		why := inf.Reason
		if inf.Accepts == listener.Unknown || why == "" {
			why = "nothing listens on the port over " + fam
		}
		return Cell{Text: fmt.Sprintf("refuses %s: connects to %s are refused%s: %s", fam, addressList(refused), known, why), Status: CellFailing}
	case len(reached) > 0:
		return Cell{Text: fmt.Sprintf("accepts %s: %d of %d endpoint connect(s) reach the application%s", fam, len(reached), len(endpoints), known), Status: CellProof}
	case inf.Accepts == listener.Dual || inf.Accepts == onlyFamily[ev.Family]:
		return Cell{Text: fmt.Sprintf("accepts %s%s: %s", fam, known, inf.Reason), Status: CellProof}
	case inf.Reason != "":
		return Cell{Text: "missing: " + inf.Reason}
	default:
		return Cell{Text: fmt.Sprintf("missing: no %s connect reached the endpoints", fam)}
	}
}

// onlyFamily is the listener that accepts the family alone.
var onlyFamily = map[dualstack.Family]listener.Accepts{dualstack.FamilyIPv4: listener.IPv4Only, dualstack.FamilyIPv6: listener.IPv6Only}

// networkPolicyCell: the policies selecting the Pods, their ipBlocks of
// the family, and whether one admits the family from the prober. A policy
// that admits nothing while the connects succeed is failing too: the CNI
// does not enforce it, or the policy is not what was meant.
func networkPolicyCell(ev ServiceEvidence, _ Verdict) Cell {
	f, fam := ev.Family, ev.Family.Label()
	adm := admissionOf(ev)
	if len(adm.selecting) == 0 {
		return Cell{Text: "no NetworkPolicy selects the Pods: all ingress is admitted", Status: CellProof}
	}
	var text []string
	for _, p := range adm.selecting {
		blocks := "no " + fam + " ipBlock"
		if own := prefixesOf(p.IPBlocks, f); len(own) > 0 {
			blocks = fam + " ipBlocks " + prefixList(own)
		}
		verb := "admits"
		if !p.Admits {
			verb = "does not admit"
		}
		text = append(text, fmt.Sprintf("%s/%s (%s) %s %s from the prober", ev.Service.Namespace, p.Name, blocks, verb, fam))
	}
	if adm.denied() {
		return Cell{Text: "denied: " + joinCapped(text, "; "), Status: CellFailing}
	}
	return Cell{Text: joinCapped(text, "; "), Status: CellProof}
}

// verdictCell: the family's failing layer and its sentence.
func verdictCell(_ ServiceEvidence, v Verdict) Cell {
	switch {
	case v.Layer == layer.Unspecified:
		return Cell{Text: "missing: " + v.Detail}
	case v.OK:
		return Cell{Text: fmt.Sprintf("%s: %s", v.Layer, v.Detail), Status: CellProof}
	default:
		return Cell{Text: fmt.Sprintf("%s: %s", v.Layer, v.Detail), Status: CellFailing}
	}
}
