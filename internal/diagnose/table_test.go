package diagnose

import (
	"slices"
	"strings"
	"testing"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

// tableOf is the evidence table of a case, both families.
func (tt serviceCase) table() EvidenceTable {
	return EvidenceTableOf(tt.evidence(v4), tt.evidence(v6))
}

func caseNamed(t *testing.T, name string) serviceCase {
	t.Helper()
	i := slices.IndexFunc(serviceCases, func(c serviceCase) bool { return c.name == name })
	if i < 0 {
		t.Fatalf("no case %q", name)
	}
	return serviceCases[i]
}

// column is one family's cells, row by row, as the table holds them.
func column(tbl EvidenceTable, f dualstack.Family) []Cell {
	cells := make([]Cell, len(tbl.Rows))
	for i, r := range tbl.Rows {
		cells[i] = r.Cell(f)
	}
	return cells
}

func checkColumn(t *testing.T, tbl EvidenceTable, f dualstack.Family, want []Cell) {
	t.Helper()
	got := column(tbl, f)
	if len(got) != len(want) {
		t.Fatalf("got %d %s cells, want %d", len(got), f.Label(), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s %s: got %v %q\nwant %v %q", tbl.Rows[i].Row, f.Label(), got[i].Status, got[i].Text, want[i].Status, want[i].Text)
		}
	}
}

// The seed's table for a healthy dual-stack Service: proof in every cell.
func TestEvidenceTableHealthy(t *testing.T) {
	tbl := caseNamed(t, "healthy dual-stack Service").table()
	if tbl.Service != "shop/web" {
		t.Errorf("got Service %q, want shop/web", tbl.Service)
	}
	checkColumn(t, tbl, v6, []Cell{
		{"node-a fd00:10:244::/64 (InternalIP fc00:f853::2); node-b fd00:10:244:1::/64 (InternalIP fc00:f853::3)", CellProof},
		{"shop/web-0 fd00:10:244::5; shop/web-1 fd00:10:244:1::6", CellProof},
		{"PreferDualStack [IPv4, IPv6], ClusterIP fd00:10:96::a", CellProof},
		{"web-6pq9z: 2 ready, 2 serving, 0 terminating of 2", CellProof},
		{"AAAA fd00:10:96::a from 10.96.0.53:53 (2ms)", CellProof},
		{"nftables mode: ClusterIP [fd00:10:96::a]:80 answers", CellProof},
		{"accepts IPv6: 2 of 2 endpoint connect(s) reach the application (listener: dual)", CellProof},
		{"no NetworkPolicy selects the Pods: all ingress is admitted", CellProof},
		{"LAYER_NONE: Service shop/web: all 3 IPv6 address(es) accept TCP connections (fastest connect 1ms)", CellProof},
	})
	if !tbl.Proven() || !tbl.Proven(v4) || !tbl.Proven(v6) {
		t.Errorf("got Proven() %v, Proven(IPv4) %v, Proven(IPv6) %v, want all true", tbl.Proven(), tbl.Proven(v4), tbl.Proven(v6))
	}
	if len(tbl.Verdicts) != 2 || tbl.Verdicts[0].Family != v4 || tbl.Verdicts[1].Family != v6 {
		t.Errorf("got verdicts %+v, want IPv4 then IPv6", tbl.Verdicts)
	}
}

// The seed's first fault: the IPv6 column is blank from the Service IPs
// down, and every blank cell says why; the DNS row shows the missing AAAA
// record as a consequence of the Service, not as a root of its own.
func TestEvidenceTableSingleStack(t *testing.T) {
	tbl := caseNamed(t, "SingleStack IPv4 Service").table()
	const root = " (more fundamental: LAYER_SERVICE, see the verdict)"
	checkColumn(t, tbl, v6, []Cell{
		{"node-a fd00:10:244::/64 (InternalIP fc00:f853::2); node-b fd00:10:244:1::/64 (InternalIP fc00:f853::3)", CellProof},
		{"shop/web-0 fd00:10:244::5; shop/web-1 fd00:10:244:1::6", CellProof},
		{"missing: SingleStack [IPv4]: no IPv6 clusterIPs entry", CellMissing},
		{"missing: no EndpointSlice of addressType IPv6" + root, CellMissing},
		{"missing: no AAAA record (AAAA NODATA from 10.96.0.53:53), as the Service has no IPv6 ClusterIP" + root, CellMissing},
		{"missing: nftables mode, but no IPv6 ClusterIP to carry" + root, CellMissing},
		{"missing: no IPv6 address to try: whether the application accepts IPv6 cannot be told" + root, CellMissing},
		{"no NetworkPolicy selects the Pods: all ingress is admitted", CellProof},
		{"LAYER_SERVICE: Service shop/web is SingleStack [IPv4]: no IPv6 ClusterIP, so no AAAA record and no IPv6 path; set ipFamilyPolicy: PreferDualStack or RequireDualStack", CellFailing},
	})
	// IPv4 has proof in every row: a SingleStack Service still fails the
	// table, as a blank IPv6 cell is a rollout blocker, unless IPv4 alone
	// is the intent.
	if tbl.Proven() || !tbl.Proven(v4) || tbl.Proven(v6) {
		t.Errorf("got Proven() %v, Proven(IPv4) %v, Proven(IPv6) %v, want false, true, false", tbl.Proven(), tbl.Proven(v4), tbl.Proven(v6))
	}
}

// Cells that single out what each fault changes.
func TestEvidenceTableCells(t *testing.T) {
	tests := []struct {
		name   string
		c      serviceCase
		row    Row
		family dualstack.Family
		want   Cell
	}{
		{
			name: "Pods lacking the family are named", c: caseNamed(t, "a host-network Pod on a Node without an IPv6 InternalIP"), row: RowPodIPs, family: v6,
			want: Cell{"shop/web-0 has IPv4 only; shop/web-1 fd00:10:244:1::6", CellFailing},
		},
		{
			name: "a Node lacking the family is named", c: caseNamed(t, "a host-network Pod on a Node without an IPv6 InternalIP"), row: RowNodeCIDRs, family: v6,
			want: Cell{"node-a has no IPv6 InternalIP; node-b fd00:10:244:1::/64 (InternalIP fc00:f853::3)", CellFailing},
		},
		{
			name: "every Pod lacking the family leaves the cell blank", c: caseNamed(t, "IPv4-only Pods behind a RequireDualStack Service"), row: RowPodIPs, family: v6,
			want: Cell{"missing: shop/web-0 has IPv4 only; shop/web-1 has IPv4 only", CellMissing},
		},
		{
			name: "a selector matching nothing", c: caseNamed(t, "selector matches no Pod"), row: RowPodIPs, family: v4,
			want: Cell{"missing: the selector app=web matches no Pod", CellMissing},
		},
		{
			name: "no ready endpoint", c: caseNamed(t, "Pods not ready"), row: RowEndpointSlices, family: v6,
			want: Cell{"web-6pq9z: 0 ready, 0 serving, 0 terminating of 2", CellFailing},
		},
		{
			name: "the listener refusing the family", c: caseNamed(t, "application bound to 0.0.0.0"), row: RowListener, family: v6,
			want: Cell{"refuses IPv6: connects to [fd00:10:244::5]:8080, [fd00:10:244:1::6]:8080 are refused (listener: ipv4-only): IPv6 connects are refused while IPv4 connects succeed: the application listens on IPv4 only (bound to 0.0.0.0 or an IPv4 address)", CellFailing},
		},
		{
			name: "the other family's listener cell is proof", c: caseNamed(t, "application bound to 0.0.0.0"), row: RowListener, family: v4,
			want: Cell{"accepts IPv4: 2 of 2 endpoint connect(s) reach the application (listener: ipv4-only)", CellProof},
		},
		{
			name: "a ClusterIP refusing as a consequence of the listener", c: caseNamed(t, "application bound to 0.0.0.0"), row: RowKubeProxy, family: v6,
			want: Cell{"nftables mode: connects to ClusterIP [fd00:10:96::a]:80 are refused, and the endpoints fail too (more fundamental: LAYER_LISTENER, see the verdict)", CellFailing},
		},
		{
			name: "the ClusterIP dropped while the endpoints answer", c: caseNamed(t, "IPv6 ClusterIP dropped while the endpoints answer directly"), row: RowKubeProxy, family: v6,
			want: Cell{"nftables mode: connects to ClusterIP [fd00:10:96::a]:80 time out while the endpoints answer directly", CellFailing},
		},
		{
			name: "the NetworkPolicy denying the family", c: caseNamed(t, "NetworkPolicy with an IPv4-only ipBlock drops IPv6"), row: RowNetworkPolicy, family: v6,
			want: Cell{"denied: shop/allow-lb (no IPv6 ipBlock) does not admit IPv6 from the prober", CellFailing},
		},
		{
			name: "the NetworkPolicy admitting the other family", c: caseNamed(t, "NetworkPolicy with an IPv4-only ipBlock drops IPv6"), row: RowNetworkPolicy, family: v4,
			want: Cell{"shop/allow-lb (IPv4 ipBlocks 10.0.0.0/8) admits IPv4 from the prober", CellProof},
		},
		{
			name: "AAAA withheld", c: caseNamed(t, "AAAA withheld by the cluster DNS"), row: RowDNS, family: v6,
			want: Cell{"missing: no AAAA record (AAAA NODATA from 10.96.0.53:53)", CellMissing},
		},
		{
			name: "a DNS server failing", c: caseNamed(t, "DNS over ROUTE: no AAAA record and the endpoints drop IPv6"), row: RowDNS, family: v6,
			want: Cell{"AAAA SERVFAIL from 10.96.0.53:53", CellFailing},
		},
		{
			name: "a name resolving elsewhere", c: caseNamed(t, "the name resolves to another address than the ClusterIP"), row: RowDNS, family: v6,
			want: Cell{"AAAA fd00:10:96::99 from 10.96.0.53:53, not the ClusterIP fd00:10:96::a", CellFailing},
		},
		{
			// Not "the endpoints were not probed": there is none to probe.
			name: "a ClusterIP refusing with no ready endpoint behind it", c: caseNamed(t, "Pods not ready"), row: RowKubeProxy, family: v4,
			want: Cell{"nftables mode: connects to ClusterIP 10.96.0.10:80 are refused; the Service has no ready IPv4 endpoint to carry them to (more fundamental: LAYER_ENDPOINTS, see the verdict)", CellFailing},
		},
		{
			name: "a ClusterIP refusing with no endpoint of the family at all", c: caseNamed(t, "IPv4-only Pods behind a RequireDualStack Service"), row: RowKubeProxy, family: v6,
			want: Cell{"nftables mode: connects to ClusterIP [fd00:10:96::a]:80 are refused; the Service has no ready IPv6 endpoint to carry them to (more fundamental: LAYER_POD_ADDRESS, see the verdict)", CellFailing},
		},
		{
			name: "a ClusterIP failing while the ready endpoints were not probed", c: serviceCase{fault: onlyIPv6(func(f dualstack.Family, ev *ServiceEvidence) {
				serviceIPConnects(f, ev, dualstack.OutcomeTimeout)
				ev.EndpointConnects = nil
			})}, row: RowKubeProxy, family: v6,
			want: Cell{"nftables mode: connects to ClusterIP [fd00:10:96::a]:80 time out; the endpoints were not probed directly (more fundamental: LAYER_ROUTE, see the verdict)", CellFailing},
		},
		{
			// The inference of both families' connects proves a family
			// whose own endpoints were not probed.
			name: "a listener the inference proves", c: serviceCase{fault: onlyIPv6(func(_ dualstack.Family, ev *ServiceEvidence) { ev.EndpointConnects = nil })}, row: RowListener, family: v6,
			want: Cell{"accepts IPv6 (listener: dual): connects over IPv4 and IPv6 both reach the application", CellProof},
		},
		{
			name: "a headless Service needs no proxy", c: caseNamed(t, "healthy headless dual-stack Service"), row: RowKubeProxy, family: v6,
			want: Cell{"nftables mode: not on the path of a headless Service", CellProof},
		},
		{
			name: "a path not measured", c: caseNamed(t, "no connect measured"), row: RowVerdict, family: v6,
			want: Cell{"missing: Service shop/web: its objects hold IPv6, but no IPv6 connect was measured, so the path is not judged; probe the Service", CellMissing},
		},
		{
			name: "objects that could not be read", c: serviceCase{fault: func(_ dualstack.Family, ev *ServiceEvidence) {
				ev.Uncollected = map[Row]string{RowNodeCIDRs: `nodes is forbidden: User "dev" cannot list resource "nodes" at the cluster scope`}
			}}, row: RowNodeCIDRs, family: v6,
			want: Cell{`missing: could not be read: nodes is forbidden: User "dev" cannot list resource "nodes" at the cluster scope`, CellMissing},
		},
		{
			// Calico and Cilium's cluster-pool allocate Pod addresses
			// themselves, not from spec.podCIDRs.
			name: "a Node without a podCIDR whose Pods get the family from the CNI", c: serviceCase{fault: func(_ dualstack.Family, ev *ServiceEvidence) {
				for i := range ev.Nodes {
					ev.Nodes[i].PodCIDRs = nil
				}
				ev.Pods[1].Node = "node-a"
			}}, row: RowNodeCIDRs, family: v6,
			want: Cell{"node-b has no IPv6 podCIDR; node-a no podCIDR, its Pods get IPv6 from the CNI (InternalIP fc00:f853::2)", CellFailing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := tt.c.table()
			i := slices.IndexFunc(tbl.Rows, func(r EvidenceRow) bool { return r.Row == tt.row })
			if i < 0 {
				t.Fatalf("no row %v", tt.row)
			}
			if got := tbl.Rows[i].Cell(tt.family); got != tt.want {
				t.Errorf("%v %s: got %v %q\nwant %v %q", tt.row, tt.family.Label(), got.Status, got.Text, tt.want.Status, tt.want.Text)
			}
		})
	}
}

// A NetworkPolicy that admits no IPv6 while IPv6 connects succeed is not
// the verdict's business (the path works: the CNI does not enforce it),
// but it is no proof either: the table fails.
func TestEvidenceTablePolicyNotEnforced(t *testing.T) {
	tbl := serviceCase{fault: allowIPv4Block}.table()
	if len(tbl.Verdicts) != 2 || !tbl.Verdicts[1].OK {
		t.Fatalf("got verdicts %+v, want IPv6 to pass", tbl.Verdicts)
	}
	if got := tbl.Rows[RowNetworkPolicy-1].IPv6; got.Status != CellFailing {
		t.Errorf("got NetworkPolicy IPv6 cell %v %q, want failing", got.Status, got.Text)
	}
	if tbl.Proven() {
		t.Error("got Proven() true, want false")
	}
}

// A family given no evidence has no proof in any row and no verdict; a
// second evidence of a family and one of no family are ignored.
func TestEvidenceTableOneFamily(t *testing.T) {
	ipv4 := healthyService(v4)
	broken := healthyService(v4)
	broken.Service.ClusterIPs = nil
	tbl := EvidenceTableOf(ipv4, broken, ServiceEvidence{})
	for _, r := range tbl.Rows {
		if r.IPv4.Status != CellProof {
			t.Errorf("%v IPv4: got %v %q, want proof from the first IPv4 evidence", r.Row, r.IPv4.Status, r.IPv4.Text)
		}
		if want := (Cell{Text: "missing: no IPv6 evidence was gathered"}); r.IPv6 != want {
			t.Errorf("%v IPv6: got %v %q, want %q", r.Row, r.IPv6.Status, r.IPv6.Text, want.Text)
		}
	}
	if len(tbl.Verdicts) != 1 || tbl.Verdicts[0].Family != v4 {
		t.Errorf("got verdicts %+v, want IPv4's alone", tbl.Verdicts)
	}
	if !tbl.Proven(v4) || tbl.Proven() {
		t.Errorf("got Proven(IPv4) %v, Proven() %v, want true, false", tbl.Proven(v4), tbl.Proven())
	}
	if got := EvidenceTableOf(); len(got.Rows) != 9 || got.Proven() {
		t.Errorf("got %d rows, Proven() %v for no evidence, want 9 missing rows", len(got.Rows), got.Proven())
	}
}

// What holds for the table of every case of the fault matrix: the rows in
// the seed's order; no blank cell; a cell is missing exactly when its text
// says "missing: "; the verdict row agrees with JudgeService; the table is
// proven only when both families pass; and a family judged
// LAYER_UNSPECIFIED has no verdict to emit.
func TestEvidenceTableInvariants(t *testing.T) {
	order := []Row{RowNodeCIDRs, RowPodIPs, RowServiceIPs, RowEndpointSlices, RowDNS, RowKubeProxy, RowListener, RowNetworkPolicy, RowVerdict}
	titles := []string{"node CIDRs", "Pod IPs", "Service IPs", "EndpointSlices", "DNS", "kube-proxy", "listener", "NetworkPolicy", "verdict"}
	for _, tt := range serviceCases {
		t.Run(tt.name, func(t *testing.T) {
			tbl := tt.table()
			if len(tbl.Rows) != len(order) {
				t.Fatalf("got %d rows, want %d", len(tbl.Rows), len(order))
			}
			for i, r := range tbl.Rows {
				if r.Row != order[i] || r.Row.String() != titles[i] {
					t.Errorf("row %d: got %v (%q), want %v (%q)", i, r.Row, r.Row, order[i], titles[i])
				}
				for _, f := range []dualstack.Family{v4, v6} {
					c := r.Cell(f)
					if strings.TrimPrefix(c.Text, "missing: ") == "" {
						t.Errorf("%v %s: got a blank cell %q", r.Row, f.Label(), c.Text)
					}
					if strings.HasPrefix(c.Text, "missing: ") != (c.Status == CellMissing) {
						t.Errorf("%v %s: got %v %q, want missing exactly when it says so", r.Row, f.Label(), c.Status, c.Text)
					}
				}
			}
			allPass := true
			var judged []Verdict
			for _, f := range []dualstack.Family{v4, v6} {
				v := JudgeService(tt.evidence(f))
				allPass = allPass && v.OK
				if v.Layer != layer.Unspecified {
					judged = append(judged, v)
				}
				if got := tbl.Rows[len(order)-1].Cell(f).Text; !strings.HasSuffix(got, v.Detail) {
					t.Errorf("verdict %s: got %q, want it to end with %q", f.Label(), got, v.Detail)
				}
			}
			if !slices.Equal(tbl.Verdicts, judged) {
				t.Errorf("got verdicts %+v, want %+v", tbl.Verdicts, judged)
			}
			if tbl.Proven() && !allPass {
				t.Error("got Proven() true while a family fails, want false")
			}
		})
	}
}
