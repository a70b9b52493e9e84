package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/ladder"
)

// RunLadderRung runs one rung of a scheduled ladder as an ordinary job of
// s (admitted, traced, metered, kept for GetJob), for ladder.Scheduler.
// A scheduled job has no caller, so it is authorised as the ServiceAccount
// the ladder names, in the ladder's namespace, never with the
// coordinator's own power: creating a ladder lets no one probe from a
// namespace they could not. Without an Authorizer no ladder job runs. A
// refusal is the job's error, naming the namespaces refused, which the
// scheduler records in the rung's status.
func (s *Service) RunLadderRung(ctx context.Context, l *ladder.DNSLadder, rung ladder.Rung) (ladder.RungRun, error) {
	if s.Authorizer == nil {
		return ladder.RungRun{}, errors.New("the coordinator authorises no job (no Kubernetes API to ask), so it runs no ladder")
	}
	ctx = authn.WithUser(ctx, ServiceAccountUser(l.Metadata.Namespace, l.Spec.ServiceAccount()))
	job := &collectedJob{ctx: ctx}
	if err := s.RunProbe(apiconv.LadderJob(&l.Spec, rung), job); err != nil {
		// The status's reader wants the sentence, not the gRPC code.
		return ladder.RungRun{}, errors.New(status.Convert(err).Message())
	}
	return apiconv.LadderRun(job.id, job.traceID, job.results, rung), nil
}

// ServiceAccountUser is the Kubernetes user a ServiceAccount's token
// authenticates as, with the groups the API server gives it, for a
// SubjectAccessReview about it.
func ServiceAccountUser(namespace, name string) authn.User {
	return authn.User{
		Name:   fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
}

// collectedJob is RunProbe's stream for a job run in-process: it collects
// what a client of the RPC would receive.
type collectedJob struct {
	grpc.ServerStream
	ctx         context.Context
	id, traceID string
	results     []*dsprobev1.ProberResult
}

func (j *collectedJob) Context() context.Context { return j.ctx }

func (j *collectedJob) Send(resp *dsprobev1.RunProbeResponse) error {
	j.id, j.traceID = resp.GetJobId(), resp.GetTraceId()
	if r := resp.GetProber(); r != nil {
		j.results = append(j.results, r)
	}
	return nil
}

func (j *collectedJob) SetHeader(metadata.MD) error  { return nil }
func (j *collectedJob) SendHeader(metadata.MD) error { return nil }
func (j *collectedJob) SetTrailer(metadata.MD)       {}

// LadderMetrics are the scheduled ladders' Prometheus metrics, by the
// ladder's namespace and name and the rung's name: bounded by the ladders
// in the cluster, never an error's text.
type LadderMetrics struct {
	passing *prometheus.GaugeVec
	runs    *prometheus.CounterVec
	cleared *prometheus.GaugeVec
}

// NewLadderMetrics registers the metrics with reg.
func NewLadderMetrics(reg prometheus.Registerer) *LadderMetrics {
	m := &LadderMetrics{
		passing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dsprobe_ladder_rung_passing", Help: "1 when the rung's last run passed, else 0.",
		}, []string{"namespace", "ladder", "rung"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsprobe_ladder_rung_runs_total", Help: "Runs of a rung, by what the run came to (Passing, Failing, Waiting, PublicationMismatch).",
		}, []string{"namespace", "ladder", "rung", "result"}),
		cleared: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dsprobe_ladder_rungs_cleared", Help: "The rungs cleared from the lowest up: the position of the highest rung cleared, 0 when none is.",
		}, []string{"namespace", "ladder"}),
	}
	reg.MustRegister(m.passing, m.runs, m.cleared)
	return m
}

// ObserveClimb records a climb the scheduler wrote (ladder.Scheduler's
// OnClimb): each rung's newest run, and the rungs cleared.
func (m *LadderMetrics) ObserveClimb(l *ladder.DNSLadder) {
	if m == nil || l.Status == nil {
		return
	}
	ns, name := l.Metadata.Namespace, l.Metadata.Name
	for _, rs := range l.Status.Rungs {
		passing := 0.0
		if rs.State == ladder.Passing {
			passing = 1
		}
		m.passing.WithLabelValues(ns, name, rs.Name).Set(passing)
		if len(rs.LastRuns) > 0 {
			m.runs.WithLabelValues(ns, name, rs.Name, string(rs.LastRuns[0].State)).Inc()
		}
	}
	m.cleared.WithLabelValues(ns, name).Set(float64(l.Status.RungsCleared))
}

// Ladders is how a coordinator runs the cluster's DNSLadders (RunLadders).
type Ladders struct {
	// Store holds the ladders and their status: kube.DNSLadderStore.
	Store ladder.Store
	// Lead runs lead whenever this replica leads, until ctx ends:
	// kube.WhileLeading on the coordinator's Lease, so one replica at a
	// time runs the schedule.
	Lead func(ctx context.Context, lead func(context.Context)) error
	// Clock is the schedule's time; nil means the system's.
	Clock ladder.Clock
	// Metrics, if set, records each climb.
	Metrics *LadderMetrics
	// Log is told of what does not stop the schedule: a ladder that does
	// not validate, a status not written.
	Log *slog.Logger
}

// RunLadders runs every ladder of l.Store on its schedule, each rung a job
// of s (RunLadderRung), while this replica leads, until ctx ends.
func (s *Service) RunLadders(ctx context.Context, l Ladders) error {
	scheduler := &ladder.Scheduler{
		Store: l.Store, RunRung: s.RunLadderRung, Clock: l.Clock,
		OnError: func(err error) { l.Log.Warn("DNS ladders", "err", err) },
		OnClimb: l.Metrics.ObserveClimb,
	}
	return l.Lead(ctx, func(ctx context.Context) {
		l.Log.Info("running the DNS ladders: this replica holds the Lease")
		_ = scheduler.Run(ctx) // returns ctx's error once leading ends
		l.Log.Info("no longer running the DNS ladders")
	})
}
