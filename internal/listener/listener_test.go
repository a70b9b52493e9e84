package listener

import (
	"testing"

	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
)

func TestInfer(t *testing.T) {
	v4 := func(o he.Outcome) Observation { return Observation{he.FamilyIPv4, o} }
	v6 := func(o he.Outcome) Observation { return Observation{he.FamilyIPv6, o} }
	tests := []struct {
		name string
		obs  []Observation
		want Accepts
	}{
		{"dual", []Observation{v4(he.OutcomeConnected), v6(he.OutcomeConnected)}, Dual},
		{"bound to 0.0.0.0", []Observation{v4(he.OutcomeConnected), v6(he.OutcomeRefused)}, IPv4Only},
		{"bound to [::] v6only", []Observation{v6(he.OutcomeConnected), v4(he.OutcomeRefused)}, IPv6Only},
		{"nothing listens", []Observation{v4(he.OutcomeRefused), v6(he.OutcomeRefused)}, None},
		{"nothing listens, IPv4 only name", []Observation{v4(he.OutcomeRefused)}, None},
		{"IPv6 dropped", []Observation{v4(he.OutcomeConnected), v6(he.OutcomeTimeout)}, Unknown},
		{"IPv6 prohibited", []Observation{v4(he.OutcomeConnected), v6(he.OutcomeProhibited)}, Unknown},
		{"no AAAA", []Observation{v4(he.OutcomeConnected)}, Unknown},
		{"no A", []Observation{v6(he.OutcomeConnected)}, Unknown},
		{"nothing tried", nil, Unknown},
		{"all dropped", []Observation{v4(he.OutcomeTimeout), v6(he.OutcomeUnreachable)}, Unknown},
		// An application that accepts then fails still listens.
		{"app failure counts as listening", []Observation{v4(he.OutcomeAppFailed), v6(he.OutcomeConnected)}, Dual},
		// One refusing address among several connecting ones of the same
		// family still shows the family is accepted somewhere.
		{"mixed within a family", []Observation{v4(he.OutcomeConnected), v6(he.OutcomeRefused), v6(he.OutcomeConnected)}, Dual},
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
