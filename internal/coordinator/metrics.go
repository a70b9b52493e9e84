package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// Metrics are the coordinator's Prometheus metrics: jobs, prober answers and
// job duration, and the probers' per-family results, connect durations and
// fallback delays by the prober's namespace. Labels are bounded sets
// (pass/fail, gRPC code names, namespaces, families, layers), never prober
// addresses or error text.
type Metrics struct {
	jobs     *prometheus.CounterVec
	probers  *prometheus.CounterVec
	duration prometheus.Histogram
	results  *telemetry.Metrics
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsprobe_coordinator_jobs_total", Help: "Finished jobs, by whether every family passed.",
		}, []string{"result"}),
		probers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsprobe_coordinator_prober_answers_total", Help: "Prober answers to jobs, by gRPC code (OK for a result).",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dsprobe_coordinator_job_duration_seconds", Help: "Duration of jobs from fan-out to summary.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
	}
	reg.MustRegister(m.jobs, m.probers, m.duration)
	m.results = telemetry.NewJobMetrics(reg)
	return m
}

func (m *Metrics) observe(results []*dsprobev1.ProberResult, sum *dsprobev1.JobSummary) {
	if m == nil {
		return
	}
	result := "fail"
	if sum.GetPassed() {
		result = "pass"
	}
	m.jobs.WithLabelValues(result).Inc()
	for _, r := range results {
		code := "OK"
		if e := r.GetError(); e != nil {
			code = e.GetCode()
		}
		m.probers.WithLabelValues(code).Inc()
		res := r.GetResult()
		if r.GetService() != nil {
			res = proto.CloneOf(res)
			res.Families = proberVerdicts(r)
		}
		m.results.Observe(res, r.GetNamespace())
	}
	m.duration.Observe(sum.GetDurationMs() / 1000)
}
