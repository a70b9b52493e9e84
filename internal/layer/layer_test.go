package layer

import "testing"

// The names are a contract users script against (docs/contracts.md).
func TestNames(t *testing.T) {
	tests := []struct {
		l           Layer
		name, short string
	}{
		{Unspecified, "LAYER_UNSPECIFIED", "unspecified"},
		{None, "LAYER_NONE", "none"},
		{DNS, "LAYER_DNS", "dns"},
		{Service, "LAYER_SERVICE", "service"},
		{Endpoints, "LAYER_ENDPOINTS", "endpoints"},
		{PodAddress, "LAYER_POD_ADDRESS", "pod_address"},
		{Datapath, "LAYER_DATAPATH", "datapath"},
		{Route, "LAYER_ROUTE", "route"},
		{Policy, "LAYER_POLICY", "policy"},
		{Listener, "LAYER_LISTENER", "listener"},
		{Application, "LAYER_APPLICATION", "application"},
		{Client, "LAYER_CLIENT", "client"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.name {
			t.Errorf("Layer(%d).String() = %q, want %q", tt.l, got, tt.name)
		}
		if got := tt.l.Short(); got != tt.short {
			t.Errorf("Layer(%d).Short() = %q, want %q", tt.l, got, tt.short)
		}
		if got, ok := Parse(tt.name); got != tt.l || !ok {
			t.Errorf("Parse(%q) = %v, %t, want %v, true", tt.name, got, ok, tt.l)
		}
	}
	if got, ok := Parse("LISTENER"); ok {
		t.Errorf("Parse(%q) = %v, true, want false", "LISTENER", got)
	}
}

func TestMostFundamental(t *testing.T) {
	tests := []struct {
		in   []Layer
		want Layer
	}{
		{nil, None},
		{[]Layer{None, None}, None},
		{[]Layer{Application, Listener, Route}, Route},
		// A Service without an IPv6 ClusterIP also has no AAAA record; the
		// verdict is SERVICE, not DNS (docs/architecture.md, the evidence
		// ladder).
		{[]Layer{DNS, Service}, Service},
		{[]Layer{Datapath, Listener}, Listener},
		{[]Layer{Client, Application}, Application},
		{[]Layer{Endpoints, PodAddress, Service}, PodAddress},
	}
	for _, tt := range tests {
		if got := MostFundamental(tt.in...); got != tt.want {
			t.Errorf("MostFundamental(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
