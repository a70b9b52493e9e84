package kube

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// An EndpointSlice's counts follow discovery/v1's conditions: a nil ready
// or serving is true, a nil terminating false; the ready addresses carry
// the slice's port of the Service port's name.
func TestEndpointSliceOf(t *testing.T) {
	yes, no := new(true), new(false)
	http, metrics := "http", "metrics"
	port := func(name *string, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: name, Port: &n}
	}
	slice := &discoveryv1.EndpointSlice{
		AddressType: discoveryv1.AddressTypeIPv6,
		Ports:       []discoveryv1.EndpointPort{port(&metrics, 9090), port(&http, 8080)},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"fd00::1"}}, // every condition nil
			{Addresses: []string{"fd00::2"}, Conditions: discoveryv1.EndpointConditions{Ready: yes, Serving: yes}}, // ready
			{Addresses: []string{"fd00::3"}, Conditions: discoveryv1.EndpointConditions{Ready: no, Serving: yes, Terminating: yes}},
			{Addresses: []string{"fd00::4"}, Conditions: discoveryv1.EndpointConditions{Ready: no, Serving: no}},
		},
	}
	slice.Name = "web-abcde"
	got := endpointSliceOf(slice)
	want := diagnose.EndpointSlice{Name: "web-abcde", AddressType: dualstack.FamilyIPv6, Endpoints: 4, Ready: 2, Serving: 3, Terminating: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	ready := readyEndpoints(slice, corev1.ServicePort{Name: "http", Port: 80})
	if wantReady := []netip.AddrPort{netip.MustParseAddrPort("[fd00::1]:8080"), netip.MustParseAddrPort("[fd00::2]:8080")}; !slices.Equal(ready, wantReady) {
		t.Errorf("ready endpoints: got %v, want %v", ready, wantReady)
	}
	if ready := readyEndpoints(slice, corev1.ServicePort{Name: "grpc", Port: 81}); len(ready) != 0 {
		t.Errorf("a Service port the slice has no port for: got %v, want none", ready)
	}
	unnamed := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{port(nil, 8080)},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}}
	if ready := readyEndpoints(unnamed, corev1.ServicePort{Port: 80}); !slices.Equal(ready, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:8080")}) {
		t.Errorf("an unnamed Service port: got %v, want 10.0.0.1:8080", ready)
	}
	fqdn := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeFQDN, Ports: unnamed.Ports, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"db.example"}}}}
	if got := endpointSliceOf(fqdn); got.AddressType != dualstack.FamilyUnspecified || len(readyEndpoints(fqdn, corev1.ServicePort{Port: 80})) != 0 {
		t.Errorf("an FQDN slice: got %+v, want no family and no address", got)
	}
}

// A query's names are checked as the API server checks them, every
// problem named; empty optional fields keep their defaults.
func TestServiceQueryValidate(t *testing.T) {
	for _, tt := range []struct {
		q    ServiceQuery
		want []string
	}{
		{ServiceQuery{Name: "web"}, nil},
		{ServiceQuery{Namespace: "shop", Name: "web-2", Port: "metrics-v2", ClusterDomain: "cluster.local"}, nil},
		{ServiceQuery{Name: "web", Port: "443"}, nil},
		{ServiceQuery{Name: "Web_1"}, []string{`"Web_1" is not a Service name`}},
		{ServiceQuery{Name: "1web"}, []string{`"1web" is not a Service name`}},
		{ServiceQuery{Namespace: "Shop", Name: "web", Port: "70000", ClusterDomain: "bad domain"},
			[]string{`"Shop" is not a namespace`, `"70000" is not a Service port`, `"bad domain" is not a cluster domain`}},
		{ServiceQuery{Name: "web", Port: "HTTP"}, []string{`"HTTP" is not a Service port`}},
	} {
		err := tt.q.Validate()
		if (err == nil) != (len(tt.want) == 0) {
			t.Errorf("%+v: got %v, want problems %v", tt.q, err, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: got %v, want it to say %q", tt.q, err, w)
			}
		}
	}
}
