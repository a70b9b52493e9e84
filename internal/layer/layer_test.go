package layer

import "testing"

// The names are a contract users script against (shared/DESIGN.md).
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
	}
}
