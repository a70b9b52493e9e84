package diagnose

import (
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

// ClientEvidence is what one client did on the measured path: a profile's
// predicted race, or the race the prober ran itself.
type ClientEvidence struct {
	// Connected says the client ended with a connection.
	Connected bool
	// Family is the family it connected over.
	Family dualstack.Family
	// TimeToConnect is how long it took to connect.
	TimeToConnect time.Duration
}

// JudgeClient names the layer at which a client fails on a path whose
// families were judged as verdicts say, LAYER_NONE when it does not fail:
//   - it connects over a family whose application check fails: it fails
//     with that family, LAYER_APPLICATION;
//   - it connects, but later than maxConnect: LAYER_CLIENT (the path works;
//     the client is too slow on it, docs/contracts.md);
//   - it never connects although a family passes: LAYER_CLIENT;
//   - it never connects and no family passes: the most fundamental failing
//     layer of the families, the path's own.
func JudgeClient(c ClientEvidence, verdicts []Verdict, maxConnect time.Duration) layer.Layer {
	anyPass := false
	var failing []layer.Layer
	for _, v := range verdicts {
		if v.OK {
			anyPass = true
		} else {
			failing = append(failing, v.Layer)
		}
	}
	switch {
	case c.Connected:
		for _, v := range verdicts {
			if v.Family == c.Family && !v.OK && v.Layer == layer.Application {
				return layer.Application
			}
		}
		if c.TimeToConnect > maxConnect {
			return layer.Client
		}
		return layer.None
	case anyPass:
		return layer.Client
	default:
		return layer.MostFundamental(failing...)
	}
}
