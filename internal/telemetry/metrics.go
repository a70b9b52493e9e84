package telemetry

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
)

// Metrics are the Prometheus metrics of probes. Labels are bounded sets:
// family, layer, outcome and profile names (and, on the coordinator, the
// probers' namespaces); never an address or error text, which would explode
// the series count and leak topology.
type Metrics struct {
	families *prometheus.CounterVec
	connect  *prometheus.HistogramVec
	fallback *prometheus.HistogramVec
	clients  *prometheus.CounterVec
	byNS     bool
}

// NewMetrics registers a prober's metrics with reg: dsprobe_family_results_total,
// dsprobe_connect_duration_seconds, dsprobe_fallback_delay_seconds and
// dsprobe_client_predictions_total.
func NewMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg, "dsprobe_", false) }

// NewJobMetrics registers the same metrics as a coordinator sees them in the
// results its probers return, named dsprobe_coordinator_... and labelled
// with the namespace of the prober (the vantage point), so one scrape shows
// from where a family fails.
func NewJobMetrics(reg prometheus.Registerer) *Metrics {
	return newMetrics(reg, "dsprobe_coordinator_", true)
}

func newMetrics(reg prometheus.Registerer, prefix string, byNS bool) *Metrics {
	labels := func(names ...string) []string {
		if byNS {
			return append([]string{"namespace"}, names...)
		}
		return names
	}
	m := &Metrics{
		families: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "family_results_total",
			Help: "Family verdicts of finished probes, by family, pass/fail and failing layer.",
		}, labels("family", "result", "layer")),
		connect: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "connect_duration_seconds",
			Help:    "Duration of direct connects to each resolved address, by family and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. ~4 s
		}, labels("family", "outcome")),
		fallback: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "fallback_delay_seconds",
			Help:    "Fallback delay of the prober's own Happy Eyeballs race, by profile and the family it ended on.",
			Buckets: []float64{0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1, 2, 5},
		}, labels("profile", "family")),
		clients: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "client_predictions_total",
			Help: "Client predictions of finished probes, by profile, pass/fail and failing layer (client: slower than the bound).",
		}, labels("profile", "result", "layer")),
		byNS: byNS,
	}
	reg.MustRegister(m.families, m.connect, m.fallback, m.clients)
	return m
}

// Observe records one finished probe. namespace is the prober's namespace
// for metrics made by NewJobMetrics and ignored otherwise.
func (m *Metrics) Observe(res *dsprobev1.ProbeResult, namespace string) {
	if m == nil || res == nil {
		return
	}
	labels := func(values ...string) []string {
		if m.byNS {
			return append([]string{namespace}, values...)
		}
		return values
	}
	for _, v := range res.GetFamilies() {
		result := "pass"
		if !v.GetOk() {
			result = "fail"
		}
		m.families.WithLabelValues(labels(familyName(v.GetFamily()), result, layerName(v.GetFailingLayer()))...).Inc()
	}
	for _, a := range res.GetAttempts() {
		m.connect.WithLabelValues(labels(familyName(a.GetFamily()), dualstack.Outcome(a.GetOutcome()).String())...).Observe(a.GetDurationMs() / 1000)
	}
	if race := res.GetHappyEyeballs(); race != nil {
		m.fallback.WithLabelValues(labels(profileLabel(race.GetProfile()), familyName(race.GetFamily()))...).Observe(race.GetFallbackDelayMs() / 1000)
	}
	for _, c := range res.GetClients() {
		result := "pass"
		if c.GetFailingLayer() != dsprobev1.Layer_LAYER_NONE {
			result = "fail"
		}
		m.clients.WithLabelValues(labels(profileLabel(c.GetProfile()), result, layerName(c.GetFailingLayer()))...).Inc()
	}
}

// profileLabel is a profile as a label value: a built-in name as it is, a
// parameterised one ("node,attempt-delay=500ms", the caller's string) as its
// base and "custom", so callers cannot grow the series without bound.
func profileLabel(profile string) string {
	if base, _, parameterised := strings.Cut(profile, ","); parameterised {
		return base + ",custom"
	}
	return profile
}

// familyName and layerName give the API enums the lower-case names of the
// span attributes ("ipv6", "listener", docs/contracts.md); the enum numbers
// are the engine's (test/apicontract pins that).
func familyName(f dsprobev1.Family) string { return dualstack.Family(f).String() }
func layerName(l dsprobev1.Layer) string   { return layer.Layer(l).Short() }

// FamilyResults returns the counter of family verdicts with these label
// values (namespace first for NewJobMetrics), for tests and readers.
func (m *Metrics) FamilyResults(labels ...string) (prometheus.Counter, error) {
	return m.families.GetMetricWithLabelValues(labels...)
}
