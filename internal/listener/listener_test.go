package listener

import (
	"testing"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

func TestInfer(t *testing.T) {
	v4 := func(o dualstack.Outcome) Observation { return Observation{dualstack.FamilyIPv4, o} }
	v6 := func(o dualstack.Outcome) Observation { return Observation{dualstack.FamilyIPv6, o} }
	tests := []struct {
		name string
		obs  []Observation
		want Accepts
	}{
		{"dual", []Observation{v4(dualstack.OutcomeConnected), v6(dualstack.OutcomeConnected)}, Dual},
		{"bound to 0.0.0.0", []Observation{v4(dualstack.OutcomeConnected), v6(dualstack.OutcomeRefused)}, IPv4Only},
		{"bound to [::] v6only", []Observation{v6(dualstack.OutcomeConnected), v4(dualstack.OutcomeRefused)}, IPv6Only},
		{"nothing listens", []Observation{v4(dualstack.OutcomeRefused), v6(dualstack.OutcomeRefused)}, None},
		{"nothing listens, IPv4 only name", []Observation{v4(dualstack.OutcomeRefused)}, None},
		{"IPv6 dropped", []Observation{v4(dualstack.OutcomeConnected), v6(dualstack.OutcomeTimeout)}, Unknown},
		{"IPv6 prohibited", []Observation{v4(dualstack.OutcomeConnected), v6(dualstack.OutcomeProhibited)}, Unknown},
		{"no AAAA", []Observation{v4(dualstack.OutcomeConnected)}, Unknown},
		{"no A", []Observation{v6(dualstack.OutcomeConnected)}, Unknown},
		{"nothing tried", nil, Unknown},
		{"all dropped", []Observation{v4(dualstack.OutcomeTimeout), v6(dualstack.OutcomeUnreachable)}, Unknown},
		// An application that accepts then fails still listens.
		{"app failure counts as listening", []Observation{v4(dualstack.OutcomeAppFailed), v6(dualstack.OutcomeConnected)}, Dual},
		// One refusing address among several connecting ones of the same
		// family still shows the family is accepted somewhere.
		{"mixed within a family", []Observation{v4(dualstack.OutcomeConnected), v6(dualstack.OutcomeRefused), v6(dualstack.OutcomeConnected)}, Dual},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Infer(tt.obs)
			if got.Accepts != tt.want {
				t.Errorf("got %v (%s), want %v", got.Accepts, got.Reason, tt.want)
			}
			if got.Reason == "" {
				t.Error("got an empty reason")
			}
		})
	}
}
