package probe

import (
	"github.com/dsprobe/dsprobe/internal/appcheck"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Evidence returns what the result measured of family f as diagnose
// judges it: the DNS answer and each connect, typed. A Service-aware caller
// (dsprobe evidence) sorts a probe's connects into those to the Service
// name, its ClusterIPs and its endpoints.
func (r *Result) Evidence(f dualstack.Family) diagnose.FamilyEvidence {
	return familyEvidence(&Request{Target: r.Target, Check: appcheck.Spec{Kind: r.Check}}, r, f)
}
