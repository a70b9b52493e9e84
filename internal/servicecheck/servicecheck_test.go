package servicecheck

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/listener"
	"github.com/dsprobe/dsprobe/internal/target"
)

var web = Service{
	Service: diagnose.Service{
		Namespace: "shop", Name: "web", DNSName: "web.shop.svc.cluster.local",
		ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.20"), netip.MustParseAddr("fd00:10:96::20")},
	},
	Port: 80,
	ReadyEndpoints: []netip.AddrPort{
		netip.MustParseAddrPort("10.244.0.12:8080"), netip.MustParseAddrPort("[fd00:10:244::12]:8080"),
		netip.MustParseAddrPort("10.244.0.11:8080"), netip.MustParseAddrPort("[fd00:10:244::11]:8080"),
	},
}

// fakeRun answers every literal as connected, except the IPv6 endpoints,
// which refuse (an application bound to 0.0.0.0); the name resolves to
// both ClusterIPs. It records the targets asked.
type fakeRun struct {
	mu    sync.Mutex
	asked []string
}

func (r *fakeRun) run(_ context.Context, t target.Target) (string, Observed, error) {
	r.mu.Lock()
	r.asked = append(r.asked, t.String())
	r.mu.Unlock()
	var o Observed
	connect := func(ap netip.AddrPort, outcome dualstack.Outcome) {
		f := dualstack.FamilyOf(ap.Addr())
		o.Connects[f] = append(o.Connects[f], diagnose.AddressEvidence{Address: ap, Outcome: outcome})
		o.Listener = append(o.Listener, listener.Observation{Family: f, Outcome: outcome})
	}
	if !t.IsLiteral() {
		for _, ip := range web.Service.ClusterIPs {
			f := dualstack.FamilyOf(ip)
			o.DNS[f] = &diagnose.DNSAnswer{Status: diagnose.DNSPositive}
			connect(netip.AddrPortFrom(ip, t.Port), dualstack.OutcomeConnected)
		}
		return "the name's result", o, nil
	}
	outcome := dualstack.OutcomeConnected
	if t.Addr.Is6() && t.Port == 8080 {
		outcome = dualstack.OutcomeRefused
	}
	connect(netip.AddrPortFrom(t.Addr, t.Port), outcome)
	return "a literal's result", o, nil
}

// The name, each ClusterIP on the Service port and each ready endpoint on
// its own port are probed, each path's connects kept apart by family; the
// listener is inferred from the endpoints alone (the ClusterIPs connect
// over both families, the endpoints refuse IPv6).
func TestMeasure(t *testing.T) {
	r := &fakeRun{}
	m, err := Measure(t.Context(), web, Options{}, r.run)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.asked)
	want := []string{"10.244.0.11:8080", "10.244.0.12:8080", "10.96.0.20:80", "[fd00:10:244::11]:8080", "[fd00:10:244::12]:8080", "[fd00:10:96::20]:80", "web.shop.svc.cluster.local:80"}
	if !slices.Equal(r.asked, want) {
		t.Errorf("probed %v, want %v", r.asked, want)
	}
	if m.NameResult != "the name's result" || m.DNS[dualstack.FamilyIPv6] == nil || m.Unmeasured != "" {
		t.Errorf("got name result %q, DNS %v, unmeasured %q; want the name's result and its AAAA answer", m.NameResult, m.DNS, m.Unmeasured)
	}
	counts := func(p [3][]diagnose.AddressEvidence) [2]int {
		return [2]int{len(p[dualstack.FamilyIPv4]), len(p[dualstack.FamilyIPv6])}
	}
	for _, tt := range []struct {
		kind string
		got  [3][]diagnose.AddressEvidence
		want [2]int
	}{{"name", m.Name, [2]int{1, 1}}, {"clusterIP", m.ClusterIP, [2]int{1, 1}}, {"endpoint", m.Endpoint, [2]int{2, 2}}} {
		if counts(tt.got) != tt.want {
			t.Errorf("%s: got %v connects (IPv4, IPv6), want %v", tt.kind, counts(tt.got), tt.want)
		}
	}
	if m.Listener.Accepts != listener.IPv4Only {
		t.Errorf("listener: got %v (%s), want IPv4 only from the endpoints' refusals", m.Listener.Accepts, m.Listener.Reason)
	}
	if kinds := []string{m.Paths()[0].Kind, m.Paths()[1].Kind, m.Paths()[2].Kind}; !slices.Equal(kinds, []string{"name", "clusterIP", "endpoint"}) {
		t.Errorf("paths: got %v", kinds)
	}

	ev := m.Apply(diagnose.ServiceEvidence{Service: web.Service}, dualstack.FamilyIPv6)
	if len(ev.EndpointConnects) != 2 || ev.EndpointConnects[0].Outcome != dualstack.OutcomeRefused || ev.DNS == nil || len(ev.NameConnects) != 1 {
		t.Errorf("IPv6 evidence: got %+v, want its two refused endpoints, its AAAA answer and name connect", ev)
	}
}

// MaxEndpoints probes the lowest addresses of each family, so every
// prober probes the same ones.
func TestMeasureBoundsEndpoints(t *testing.T) {
	r := &fakeRun{}
	if _, err := Measure(t.Context(), web, Options{MaxEndpoints: 1, Parallel: 1}, r.run); err != nil {
		t.Fatal(err)
	}
	for _, skipped := range []string{"10.244.0.12:8080", "[fd00:10:244::12]:8080"} {
		if slices.Contains(r.asked, skipped) {
			t.Errorf("probed %s beyond the bound of one endpoint per family: %v", skipped, r.asked)
		}
	}
	if len(r.asked) != 5 {
		t.Errorf("probed %v, want the name, two ClusterIPs and one endpoint of each family", r.asked)
	}
}

// A probe that could not run fails the measurement, naming the Service;
// a Service without a port is not measured, and says why in the rows that
// needed measuring.
func TestMeasureFailures(t *testing.T) {
	busy := errors.New("prober busy")
	failing := func(_ context.Context, t target.Target) (int, Observed, error) {
		if t.IsLiteral() && t.Addr.Is6() {
			return 0, Observed{}, busy
		}
		return 0, Observed{}, nil
	}
	if _, err := Measure(t.Context(), web, Options{}, failing); !errors.Is(err, busy) || !strings.Contains(err.Error(), "shop/web") {
		t.Errorf("got %v, want the probe's error naming the Service", err)
	}
	noPort := web
	noPort.Port = 0
	m, err := Measure(t.Context(), noPort, Options{}, failing)
	if err != nil {
		t.Fatal(err)
	}
	ev := m.Apply(diagnose.ServiceEvidence{}, dualstack.FamilyIPv4)
	if why := ev.Uncollected[diagnose.RowDNS]; why != "not measured: Service shop/web has no port" || ev.Listener.Reason != why {
		t.Errorf("got DNS row %q and listener %q, want both to say the Service has no port", why, ev.Listener.Reason)
	}
}
