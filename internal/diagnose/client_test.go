package diagnose

import (
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

func TestJudgeClient(t *testing.T) {
	pass4 := Verdict{Family: dualstack.FamilyIPv4, OK: true, Layer: layer.None}
	pass6 := Verdict{Family: dualstack.FamilyIPv6, OK: true, Layer: layer.None}
	route6 := Verdict{Family: dualstack.FamilyIPv6, Layer: layer.Route}
	dns4 := Verdict{Family: dualstack.FamilyIPv4, Layer: layer.DNS}
	app6 := Verdict{Family: dualstack.FamilyIPv6, Layer: layer.Application}
	const bound = time.Second
	tests := []struct {
		name     string
		c        ClientEvidence
		verdicts []Verdict
		want     layer.Layer
	}{
		{"connects in time over a passing family", ClientEvidence{Connected: true, Family: dualstack.FamilyIPv6, TimeToConnect: 20 * time.Millisecond}, []Verdict{pass4, pass6}, layer.None},
		{"exactly the bound is in time", ClientEvidence{Connected: true, Family: dualstack.FamilyIPv4, TimeToConnect: bound}, []Verdict{pass4, route6}, layer.None},
		// LAYER_CLIENT is a client on a path that works (docs/contracts.md).
		{"falls back later than the bound", ClientEvidence{Connected: true, Family: dualstack.FamilyIPv4, TimeToConnect: 127 * time.Second}, []Verdict{pass4, route6}, layer.Client},
		{"never connects although IPv4 passes", ClientEvidence{}, []Verdict{pass4, route6}, layer.Client},
		{"connects over a family whose application fails", ClientEvidence{Connected: true, Family: dualstack.FamilyIPv6, TimeToConnect: time.Millisecond}, []Verdict{pass4, app6}, layer.Application},
		// The path's root cause, not the client's: the most fundamental
		// failing layer of the families.
		{"no family passes", ClientEvidence{}, []Verdict{dns4, route6}, layer.DNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := JudgeClient(tt.c, tt.verdicts, bound); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
