package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsprobe/dsprobe/internal/probe"
)

// Metrics are the Prometheus metrics of probes. Labels are bounded sets:
// family, layer, outcome and profile names; never an address or error text,
// which would explode the series count and leak topology.
type Metrics struct {
	families *prometheus.CounterVec
	connect  *prometheus.HistogramVec
	fallback *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		families: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsprobe_family_results_total",
			Help: "Family verdicts of finished probes, by family, pass/fail and failing layer.",
		}, []string{"family", "result", "layer"}),
		connect: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dsprobe_connect_duration_seconds",
			Help:    "Duration of direct connects to each resolved address, by family and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. ~4 s
		}, []string{"family", "outcome"}),
		fallback: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dsprobe_fallback_delay_seconds",
			Help:    "Fallback delay of the prober's own Happy Eyeballs race, by profile and the family it ended on.",
			Buckets: []float64{0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1, 2, 5},
		}, []string{"profile", "family"}),
	}
	reg.MustRegister(m.families, m.connect, m.fallback)
	return m
}

// Observe records one finished probe.
func (m *Metrics) Observe(res *probe.Result) {
	for _, v := range res.Families {
		result := "pass"
		if !v.OK {
			result = "fail"
		}
		m.families.WithLabelValues(v.Family.String(), result, v.Layer.Short()).Inc()
	}
	for _, a := range res.Attempts {
		m.connect.WithLabelValues(a.Family.String(), a.Outcome.String()).Observe(a.Duration.Seconds())
	}
	race := res.HappyEyeballs
	m.fallback.WithLabelValues(race.Profile, race.Family.String()).Observe(race.FallbackDelay.Seconds())
}
