package ladder

import (
	"encoding/json"
	"fmt"
	"time"
)

// The resource's group, version and kind: the CRD's, and a file's
// apiVersion and kind.
const (
	Group      = "dsprobe.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "DNSLadder"
)

// DNSLadder is one ladder: the resource of the CRD dnsladders.dsprobe.io,
// and the document of a ladder file (dsprobe ladder run -f).
type DNSLadder struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	// Status is what the runs found; a file leaves it out.
	Status *Status `json:"status,omitempty"`
}

// Metadata names a ladder. In a cluster it is the object's metadata, of
// which only these fields are read.
type Metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Spec is what a ladder checks and how.
type Spec struct {
	// Target is what every rung probes, from its own vantage points.
	Target Target `json:"target"`
	// Schedule is how often the coordinator climbs the ladder.
	Schedule Schedule `json:"schedule,omitzero"`
	// Clients are the client profiles that matter, with the bounds a
	// rung holds them to when its gates list them.
	Clients []Client `json:"clients,omitempty"`
	// Rungs are the steps of the publication, lowest (first published)
	// first. At least one.
	Rungs []Rung `json:"rungs"`
	// ServiceAccountName is the ServiceAccount, in the ladder's namespace,
	// whose permissions the coordinator runs the scheduled jobs with: each
	// is authorised as it (create probes.dsprobe.io in every vantage
	// namespace), so creating a ladder lets no one probe from a namespace
	// they could not. Empty means DefaultServiceAccount.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// DefaultServiceAccount is the ServiceAccount of a ladder that names none.
const DefaultServiceAccount = "dsprobe-ladder"

// ServiceAccount is the ladder's ServiceAccount, with its default.
func (s *Spec) ServiceAccount() string {
	if s.ServiceAccountName == "" {
		return DefaultServiceAccount
	}
	return s.ServiceAccountName
}

// Target is the probe every rung runs.
type Target struct {
	// Address is host:port, [v6]:port or a URL (http://, https://,
	// grpc://, grpcs://) whose scheme chooses the application check. The
	// host should be a name: the ladder is about what its AAAA answers say.
	Address string `json:"address"`
	// DNSServers are the DNS servers the probers ask, each an IP address
	// with an optional port (default 53; [v6]:port). Empty means each
	// prober's own resolver, which is what its clients see.
	DNSServers []string `json:"dnsServers,omitempty"`
	// Timeout is the budget of each prober's probe. Zero means the
	// probe's default (30s).
	Timeout Duration `json:"timeout,omitempty"`
}

// MaxTimeout is the longest probe a ladder may ask for: a prober ends
// every probe within two minutes.
const MaxTimeout = 2 * time.Minute

// Schedule is when the coordinator runs the ladder.
type Schedule struct {
	// Every is the time from the start of one run to the start of the
	// next, at least MinInterval. Zero means DefaultInterval.
	Every Duration `json:"every,omitempty"`
}

// DefaultInterval is the schedule of a ladder that sets none, and
// MinInterval the shortest a ladder may set: a run probes from every
// vantage point of every rung.
const (
	DefaultInterval = 5 * time.Minute
	MinInterval     = 10 * time.Second
)

// Client is a client profile that matters, and its bounds.
type Client struct {
	// Profile is a built-in profile's name (dsprobe profiles): node,
	// chrome, ...
	Profile string `json:"profile"`
	// MaxTimeToConnect is the longest the client may take to connect.
	// Zero means DefaultMaxTimeToConnect.
	MaxTimeToConnect Duration `json:"maxTimeToConnect,omitempty"`
	// MaxFallbackDelay is the longest the client may take to give up on
	// its first family and connect over the other. Zero means no bound.
	MaxFallbackDelay Duration `json:"maxFallbackDelay,omitempty"`
}

// DefaultMaxTimeToConnect is the bound of a client that sets none: the
// probe's own --max-connect-time default.
const DefaultMaxTimeToConnect = time.Second

// Rung is one step of the publication.
type Rung struct {
	// Name names the rung in status, tables and JUnit: unique, a DNS
	// label (lower-case letters, digits, '-').
	Name string `json:"name"`
	// Vantage is the probers the rung probes from.
	Vantage Vantage `json:"vantage"`
	// AAAAExpected says whether the target's AAAA records should be
	// visible from this rung's vantage points yet. Publication widens
	// from the lowest rung up, so once a rung expects none, no rung above
	// it may expect them. With AAAA expected, both families must pass;
	// without, IPv4 must pass and the AAAA query must answer NODATA.
	AAAAExpected bool `json:"aaaaExpected"`
	// Gates are what the rung must hold, beyond its families.
	Gates Gates `json:"gates,omitzero"`
}

// Vantage selects probers, as a job of the coordinator does: the probers
// in Namespaces, narrowed to Probers when given. At least one of the two.
type Vantage struct {
	// Namespaces are the probers' namespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// Probers are probers by name: NAME, or NAMESPACE/NAME.
	Probers []string `json:"probers,omitempty"`
}

// Gates are a rung's conditions beyond its families.
type Gates struct {
	// Clients are the profiles of Spec.Clients this rung holds to their
	// bounds, by profile name. Empty means none.
	Clients []string `json:"clients,omitempty"`
	// ConsecutivePasses is how many runs in a row must pass before the
	// rung is cleared (a soak). Zero means 1.
	ConsecutivePasses int `json:"consecutivePasses,omitempty"`
}

// requiredPasses is the rung's soak, with its default.
func (g Gates) requiredPasses() int {
	return max(g.ConsecutivePasses, 1)
}

// Duration is a duration written as a Go duration string ("30s", "5m")
// in files and in the resource.
type Duration time.Duration

// String is the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}
