package layer

import (
	"fmt"
	"strings"
)

// Layer is a layer of one family's path. The constants follow the API's
// wire numbers; Rank gives the evidence ladder's order (docs/architecture.md).
type Layer uint8

const (
	Unspecified Layer = iota
	// None: the family (or client) passed.
	None
	DNS
	Service
	Endpoints
	PodAddress
	Datapath
	Route
	Policy
	Listener
	Application
	// Client: the path works but the client would fail on it, or take
	// longer than the maximum connect time.
	Client
)

var names = [...]string{
	Unspecified: "LAYER_UNSPECIFIED",
	None:        "LAYER_NONE",
	DNS:         "LAYER_DNS",
	Service:     "LAYER_SERVICE",
	Endpoints:   "LAYER_ENDPOINTS",
	PodAddress:  "LAYER_POD_ADDRESS",
	Datapath:    "LAYER_DATAPATH",
	Route:       "LAYER_ROUTE",
	Policy:      "LAYER_POLICY",
	Listener:    "LAYER_LISTENER",
	Application: "LAYER_APPLICATION",
	Client:      "LAYER_CLIENT",
}

// String returns the API enum name, e.g. "LAYER_LISTENER".
func (l Layer) String() string {
	if int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("Layer(%d)", uint8(l))
}

// Short returns the lower-case name without prefix used in span attributes
// (dsprobe.failing_layer): "listener", "route", "none".
func (l Layer) Short() string {
	return strings.ToLower(strings.TrimPrefix(l.String(), "LAYER_"))
}

// fundamental is the evidence ladder of docs/architecture.md, most fundamental
// first: each layer depends on the ones before it. The enum's numbering is a
// wire contract and does not follow it.
var fundamental = [...]Layer{PodAddress, Service, Endpoints, DNS, Route, Policy, Listener, Datapath, Application, Client}

// Rank orders layers from most fundamental (0) up; None and Unspecified
// rank after every failing layer.
func (l Layer) Rank() int {
	for i, f := range fundamental {
		if f == l {
			return i
		}
	}
	return len(fundamental)
}

// MostFundamental returns the most fundamental of the layers given (None if
// none of them fails): the root cause when several layers fail.
func MostFundamental(layers ...Layer) Layer {
	best := None
	for _, l := range layers {
		if l.Rank() < best.Rank() {
			best = l
		}
	}
	return best
}

// Parse returns the layer of an API enum name ("LAYER_LISTENER"), and
// false for a name that is none.
func Parse(name string) (Layer, bool) {
	for l, n := range names {
		if n == name {
			return Layer(l), true
		}
	}
	return Unspecified, false
}
