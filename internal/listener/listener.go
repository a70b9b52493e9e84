package listener

import (
	"fmt"

	"github.com/dsprobe/dsprobe/internal/dualstack"
)

// Accepts is what the application accepts.
type Accepts uint8

const (
	// Unknown: the evidence cannot tell (a family was never reached, or
	// was not tried); Inference.Reason says why.
	Unknown Accepts = iota
	// Dual: connects over both families succeed.
	Dual
	// IPv4Only: IPv4 connects succeed while IPv6 connects are refused,
	// the classic application bound to 0.0.0.0.
	IPv4Only
	// IPv6Only: IPv6 connects succeed while IPv4 connects are refused
	// (bound to an IPv6 address, or to [::] with IPV6_V6ONLY).
	IPv6Only
	// None: every connect that reached the host was refused.
	None
)

var acceptsNames = [...]string{Unknown: "unknown", Dual: "dual", IPv4Only: "ipv4-only", IPv6Only: "ipv6-only", None: "none"}

// String returns "unknown", "dual", "ipv4-only", "ipv6-only" or "none".
func (a Accepts) String() string {
	if int(a) < len(acceptsNames) {
		return acceptsNames[a]
	}
	return fmt.Sprintf("Accepts(%d)", uint8(a))
}

// Observation is the outcome of one connect to the endpoint.
type Observation struct {
	Family  dualstack.Family
	Outcome dualstack.Outcome
}

// Inference is what the observations show, with the reason in one sentence.
type Inference struct {
	Accepts Accepts
	Reason  string
}

// familyEvidence summarises one family: did any connect succeed, was any
// refused (the host answered, nothing listens), and did any never reach
// the application (dropped, unreachable, prohibited)?
type familyEvidence struct {
	tried, connected, refused bool
}

// Infer reads the observations of connects to one endpoint (one Service or
// host name, its port). It assumes every address leads to the same
// application, which is what a name promises; when a family's connects never
// reached the host, it says Unknown rather than guess.
func Infer(obs []Observation) Inference {
	var ev [3]familyEvidence
	for _, o := range obs {
		e := &ev[o.Family]
		e.tried = true
		switch o.Outcome {
		case dualstack.OutcomeConnected, dualstack.OutcomeAppFailed, dualstack.OutcomeReset:
			// The application accepted the connection; what it did
			// next is the application check's business.
			e.connected = true
		case dualstack.OutcomeRefused:
			e.refused = true
		}
	}
	v4, v6 := ev[dualstack.FamilyIPv4], ev[dualstack.FamilyIPv6]
	switch {
	case v4.connected && v6.connected:
		return Inference{Dual, "connects over IPv4 and IPv6 both reach the application"}
	case v4.connected && v6.refused:
		return Inference{IPv4Only, "IPv6 connects are refused while IPv4 connects succeed: the application listens on IPv4 only (bound to 0.0.0.0 or an IPv4 address)"}
	case v6.connected && v4.refused:
		return Inference{IPv6Only, "IPv4 connects are refused while IPv6 connects succeed: the application listens on IPv6 only (an IPv6 address, or [::] with IPV6_V6ONLY)"}
	case v4.refused && v6.refused:
		return Inference{None, "connects over both families are refused: nothing listens on the port"}
	case v4.refused && !v6.tried:
		return Inference{None, "IPv4 connects are refused and there is no IPv6 address to try: nothing listens on the port over IPv4"}
	case v6.refused && !v4.tried:
		return Inference{None, "IPv6 connects are refused and there is no IPv4 address to try: nothing listens on the port over IPv6"}
	case !v4.tried && !v6.tried:
		return Inference{Unknown, "no address was tried"}
	case !v6.tried:
		return Inference{Unknown, "no IPv6 address to try: whether the application accepts IPv6 cannot be told"}
	case !v4.tried:
		return Inference{Unknown, "no IPv4 address to try: whether the application accepts IPv4 cannot be told"}
	case v4.connected || v4.refused:
		return Inference{Unknown, "IPv6 connects never reached the host (dropped, unreachable or prohibited): whether the application accepts IPv6 cannot be told"}
	case v6.connected || v6.refused:
		return Inference{Unknown, "IPv4 connects never reached the host (dropped, unreachable or prohibited): whether the application accepts IPv4 cannot be told"}
	default:
		return Inference{Unknown, "no connect reached the host over either family"}
	}
}
