package coordinator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/diagnose"
	"github.com/dsprobe/dsprobe/internal/target"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// Defaults of a Service's zero fields.
const (
	DefaultConcurrency   = 16
	DefaultProberTimeout = 45 * time.Second
	DefaultKeepJobs      = 100
)

const (
	// ProberMargin is what the coordinator waits for a prober beyond the
	// probe's own budget: the RPC's trip and the prober's queue.
	ProberMargin = 15 * time.Second
	// MaxProberTimeout bounds a job's prober_timeout_ms: a prober ends
	// every probe within apiconv.MaxProbeTimeout, so waiting longer than
	// that plus the margin only holds the job and its slot.
	MaxProberTimeout = apiconv.MaxProbeTimeout + ProberMargin
)

// Discovery lists the probers a job may use.
type Discovery interface {
	Probers(ctx context.Context) ([]*dsprobev1.ProberInfo, error)
}

// Static is a fixed list of probers (a flag or a config file). It knows no
// readiness: every prober is taken as ready.
type Static []*dsprobev1.ProberInfo

// Probers returns the list, every prober marked ready.
func (s Static) Probers(context.Context) ([]*dsprobev1.ProberInfo, error) {
	out := make([]*dsprobev1.ProberInfo, len(s))
	for i, p := range s {
		if !p.GetReady() {
			p = proto.CloneOf(p)
			p.Ready = true
		}
		out[i] = p
	}
	return out, nil
}

// Connector returns a client for a prober; implementations reuse connections.
type Connector interface {
	Prober(p *dsprobev1.ProberInfo) (dsprobev1.ProberClient, error)
}

// JobAuthorizer decides whether the caller of ctx may run a job on probers
// in namespaces (each named once, sorted): nil, or a gRPC status naming
// the namespaces refused.
type JobAuthorizer interface {
	AuthorizeJob(ctx context.Context, namespaces []string) error
}

// Service implements dsprobe.v1.Coordinator.
type Service struct {
	dsprobev1.UnimplementedCoordinatorServer

	Discovery Discovery
	Connector Connector
	// Concurrency bounds the probers asked at once (DefaultConcurrency if
	// zero).
	Concurrency int
	// ProberTimeout is each prober's budget when the request sets none
	// (DefaultProberTimeout if zero), raised for a probe whose own timeout
	// needs longer (see proberBudget).
	ProberTimeout time.Duration
	// Jobs keeps finished jobs for GetJob; nil keeps none.
	Jobs *JobStore
	// Authorizer, if set, authorises each job in the namespaces of the
	// probers it would use; nil lets every authenticated caller use every
	// prober.
	Authorizer JobAuthorizer
	// Limiter admits jobs (RESOURCE_EXHAUSTED beyond its limits); nil
	// admits every job.
	Limiter *admission.Limiter
	// Services reads the objects of a Service job's Service; nil refuses
	// Service jobs (FAILED_PRECONDITION), saying ServicesOff when set.
	Services    ServiceReader
	ServicesOff string
	// Metrics, if set, counts finished jobs and prober answers.
	Metrics *Metrics
	// Tracer, if set, records a span per job and one per prober under it;
	// the RPCs to the probers carry its context.
	Tracer trace.Tracer
}

// RunProbe fans the job out and streams the results.
func (s *Service) RunProbe(req *dsprobev1.RunProbeRequest, stream dsprobev1.Coordinator_RunProbeServer) error {
	ctx := stream.Context()
	// Validate here, once, so a bad request is INVALID_ARGUMENT for the
	// caller rather than the same error from every prober.
	prepare, err := s.plan(req)
	if err != nil {
		return err
	}
	timeout, err := s.proberBudget(req)
	if err != nil {
		return err
	}
	probers, err := s.selectProbers(ctx, req)
	if err != nil {
		return err
	}
	if s.Authorizer != nil {
		if err := s.Authorizer.AuthorizeJob(ctx, jobNamespaces(req, probers)); err != nil {
			return err
		}
	}
	// Only an authorised caller learns whether the Service exists.
	ask, jobTarget, err := prepare(ctx)
	if err != nil {
		return err
	}
	if s.Limiter != nil {
		release, err := s.Limiter.Acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	tracer := s.Tracer
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	jobID := newJobID()
	ctx, jobSpan := telemetry.StartJob(ctx, tracer, jobID, jobTarget)
	var traceID string
	if sc := jobSpan.SpanContext(); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	job := &dsprobev1.Job{JobId: jobID, State: dsprobev1.JobState_JOB_STATE_RUNNING, Request: req, Started: timestamppb.Now(), TraceId: traceID}
	s.Jobs.put(job)
	start := time.Now()

	concurrency := s.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}

	// Every prober goroutine sends exactly one result; the channel is
	// buffered for all of them so none blocks if the stream fails and the
	// handler stops reading. The handler waits for them before returning.
	results := make(chan *dsprobev1.ProberResult, len(probers))
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, p := range probers {
		wg.Go(func() {
			ctx, span := telemetry.StartProber(ctx, tracer, p)
			r := s.waitAndAsk(ctx, slots, p, ask, timeout)
			telemetry.EndProber(span, r)
			results <- r
		})
	}
	var collected []*dsprobev1.ProberResult
	var sendErr error
	for range probers {
		r := <-results
		collected = append(collected, r)
		if sendErr == nil {
			sendErr = stream.Send(&dsprobev1.RunProbeResponse{JobId: jobID, TraceId: traceID, Event: &dsprobev1.RunProbeResponse_Prober{Prober: r}})
		}
	}
	wg.Wait()
	summary := summarize(collected, time.Since(start))
	s.Metrics.observe(collected, summary)
	telemetry.EndJob(jobSpan, summary)
	finished := proto.Clone(job).(*dsprobev1.Job)
	finished.Probers, finished.Summary, finished.State = collected, summary, dsprobev1.JobState_JOB_STATE_FINISHED
	if ctx.Err() != nil {
		finished.State = dsprobev1.JobState_JOB_STATE_CANCELED
	}
	s.Jobs.put(finished)
	if sendErr != nil {
		return sendErr
	}
	return stream.Send(&dsprobev1.RunProbeResponse{JobId: jobID, TraceId: traceID, Event: &dsprobev1.RunProbeResponse_Summary{Summary: summary}})
}

// askFunc asks one prober its part of a job, within timeout.
type askFunc func(ctx context.Context, p *dsprobev1.ProberInfo, timeout time.Duration) *dsprobev1.ProberResult

// prepareFunc makes, once the caller is authorised, the askFunc of a
// validated job and names the target its span records.
type prepareFunc func(ctx context.Context) (askFunc, target.Target, error)

// plan validates the request, a probe of a target or of a Service.
func (s *Service) plan(req *dsprobev1.RunProbeRequest) (prepareFunc, error) {
	if req.GetService() != nil {
		return s.planService(req)
	}
	probeReq, err := apiconv.ProbeRequest(req.GetProbe(), apiconv.Elsewhere)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ask := func(ctx context.Context, p *dsprobev1.ProberInfo, timeout time.Duration) *dsprobev1.ProberResult {
		return s.askProber(ctx, p, req.GetProbe(), timeout)
	}
	return func(context.Context) (askFunc, target.Target, error) { return ask, probeReq.Target, nil }, nil
}

// jobNamespaces are the namespaces a job must be authorised in: those of
// its probers and, for a Service job, the Service's, whose objects its
// results show.
func jobNamespaces(req *dsprobev1.RunProbeRequest, probers []*dsprobev1.ProberInfo) []string {
	namespaces := namespacesOf(probers)
	if ref := req.GetService(); ref != nil {
		namespaces = append(namespaces, serviceNamespace(ref))
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces)
}

// waitAndAsk waits for a free slot of the job's concurrency, then asks the
// prober. A job canceled while it waits reports the prober as canceled.
func (s *Service) waitAndAsk(ctx context.Context, slots chan struct{}, p *dsprobev1.ProberInfo, ask askFunc, timeout time.Duration) *dsprobev1.ProberResult {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return proberError(p, status.FromContextError(ctx.Err()).Err(), 0)
	}
	defer func() { <-slots }()
	return ask(ctx, p, timeout)
}

// selectProbers returns the ready probers the request names (all when it
// names none), or an error naming the unknown ones, or those it names that
// are not ready and why. A prober that is not ready (a NotReady or
// terminating Pod) is sent no job.
func (s *Service) selectProbers(ctx context.Context, req *dsprobev1.RunProbeRequest) ([]*dsprobev1.ProberInfo, error) {
	all, err := s.Discovery.Probers(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "discovering probers: %v", err)
	}
	for _, name := range req.GetProbers() {
		if !slices.ContainsFunc(all, func(p *dsprobev1.ProberInfo) bool { return isNamed(p, name) }) {
			return nil, status.Errorf(codes.InvalidArgument, "unknown prober %q", name)
		}
	}
	named := func(p *dsprobev1.ProberInfo) bool {
		return slices.ContainsFunc(req.GetProbers(), func(name string) bool { return isNamed(p, name) })
	}
	var out []*dsprobev1.ProberInfo
	var notReady []string
	for _, p := range all {
		if (len(req.GetProbers()) > 0 && !named(p)) ||
			(len(req.GetNamespaces()) > 0 && !slices.Contains(req.GetNamespaces(), p.GetNamespace())) {
			continue
		}
		if !p.GetReady() {
			id, why := p.GetNamespace()+"/"+p.GetName(), cmp.Or(p.GetNotReadyReason(), "no reason given")
			if named(p) {
				return nil, status.Errorf(codes.FailedPrecondition, "prober %s is not ready: %s", id, why)
			}
			notReady = append(notReady, id+": "+why)
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		if len(notReady) > 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "no ready prober matches the request (not ready: %s)", strings.Join(notReady, "; "))
		}
		return nil, status.Error(codes.FailedPrecondition, "no prober matches the request")
	}
	return out, nil
}

// isNamed reports whether name names p: NAME, or NAMESPACE/NAME, which tells
// apart discovered Pods that share a name across namespaces.
func isNamed(p *dsprobev1.ProberInfo, name string) bool {
	return name == p.GetName() || name == p.GetNamespace()+"/"+p.GetName()
}

// namespacesOf names the namespaces of probers, each once, sorted.
func namespacesOf(probers []*dsprobev1.ProberInfo) []string {
	var out []string
	for _, p := range probers {
		out = append(out, p.GetNamespace())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Service) askProber(ctx context.Context, p *dsprobev1.ProberInfo, req *dsprobev1.ProbeRequest, timeout time.Duration) *dsprobev1.ProberResult {
	start := time.Now()
	client, err := s.Connector.Prober(p)
	if err != nil {
		return proberError(p, err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Probe(ctx, req)
	if err != nil {
		return proberError(p, err, time.Since(start))
	}
	return &dsprobev1.ProberResult{
		Prober: p.GetName(), Namespace: p.GetNamespace(),
		Outcome:    &dsprobev1.ProberResult_Result{Result: resp.GetResult()},
		DurationMs: ms(time.Since(start)),
	}
}

func proberError(p *dsprobev1.ProberInfo, err error, took time.Duration) *dsprobev1.ProberResult {
	st := status.Convert(err)
	return &dsprobev1.ProberResult{
		Prober: p.GetName(), Namespace: p.GetNamespace(),
		Outcome:    &dsprobev1.ProberResult_Error{Error: &dsprobev1.ProberError{Code: rpccode.Code(st.Code()).String(), Message: st.Message()}},
		DurationMs: ms(took),
	}
}

// proberBudget is how long the job waits for each prober: its
// prober_timeout_ms, at most MaxProberTimeout; without one, the probe's own
// budget (as a prober caps it) plus ProberMargin, and never less than
// ProberTimeout. A prober running a long probe is not cut off as slow.
func (s *Service) proberBudget(req *dsprobev1.RunProbeRequest) (time.Duration, error) {
	if ms := req.GetProberTimeoutMs(); ms > 0 {
		d := time.Duration(ms) * time.Millisecond
		if d > MaxProberTimeout {
			return 0, status.Errorf(codes.InvalidArgument, "prober_timeout_ms %d: at most %d (a prober ends every probe within %v)",
				ms, MaxProberTimeout.Milliseconds(), apiconv.MaxProbeTimeout)
		}
		return d, nil
	}
	budget := s.ProberTimeout
	if budget <= 0 {
		budget = DefaultProberTimeout
	}
	if probe := apiconv.Timeout(req.GetProbe(), 0); probe > 0 {
		budget = max(budget, min(probe, apiconv.MaxProbeTimeout)+ProberMargin)
	}
	return budget, nil
}

// summarize counts the probers' answers and merges their verdicts with
// diagnose.Merge.
func summarize(results []*dsprobev1.ProberResult, took time.Duration) *dsprobev1.JobSummary {
	sum := &dsprobev1.JobSummary{Probers: uint32(len(results)), DurationMs: ms(took), Passed: true}
	var answers []diagnose.ProberVerdicts
	for _, r := range results {
		res := r.GetResult()
		if res == nil {
			sum.Failed++
			sum.Passed = false
			continue
		}
		sum.Answered++
		answers = append(answers, diagnose.ProberVerdicts{Prober: r.GetProber(), Verdicts: apiconv.VerdictsOf(proberVerdicts(r))})
	}
	for _, v := range diagnose.Merge(answers) {
		sum.Passed = sum.Passed && v.OK
		sum.Families = append(sum.Families, apiconv.FamilyVerdict(v))
	}
	if sum.Answered == 0 {
		sum.Passed = false
	}
	return sum
}

// proberVerdicts are the verdicts a prober's answer gives the job: of a
// Service job the Service's, which judge the objects and every path (the
// probe of the name in its result judges the name alone).
func proberVerdicts(r *dsprobev1.ProberResult) []*dsprobev1.FamilyVerdict {
	if svc := r.GetService(); svc != nil {
		return svc.GetFamilies()
	}
	return r.GetResult().GetFamilies()
}

// ListProbers lists the probers discovery knows.
func (s *Service) ListProbers(ctx context.Context, req *dsprobev1.ListProbersRequest) (*dsprobev1.ListProbersResponse, error) {
	all, err := s.Discovery.Probers(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "discovering probers: %v", err)
	}
	if s.Authorizer != nil && len(req.GetNamespaces()) > 0 {
		// Namespaces the caller names must all be its to probe from.
		if err := s.Authorizer.AuthorizeJob(ctx, slices.Compact(slices.Sorted(slices.Values(req.GetNamespaces())))); err != nil {
			return nil, err
		}
	}
	allowed := map[string]bool{}
	out := &dsprobev1.ListProbersResponse{}
	for _, p := range all {
		ns := p.GetNamespace()
		if len(req.GetNamespaces()) > 0 && !slices.Contains(req.GetNamespaces(), ns) {
			continue
		}
		if s.Authorizer != nil && len(req.GetNamespaces()) == 0 {
			// Listing them all: only the vantage points of namespaces
			// the caller may probe from, asked once each.
			ok, seen := allowed[ns]
			if !seen {
				err := s.Authorizer.AuthorizeJob(ctx, []string{ns})
				if err != nil && status.Code(err) != codes.PermissionDenied {
					return nil, err
				}
				ok, allowed[ns] = err == nil, err == nil
			}
			if !ok {
				continue
			}
		}
		out.Probers = append(out.Probers, p)
	}
	return out, nil
}

// GetJob returns a running or finished job still kept.
// A job's results are the caller's to read only if it may probe from every
// namespace the job used (and the Service's, of a Service job), as it
// would need to run it.
func (s *Service) GetJob(ctx context.Context, req *dsprobev1.GetJobRequest) (*dsprobev1.GetJobResponse, error) {
	job := s.Jobs.get(req.GetJobId())
	if job == nil {
		return nil, status.Errorf(codes.NotFound, "no job %q (finished jobs are kept up to a limit)", req.GetJobId())
	}
	if s.Authorizer != nil {
		var namespaces []string
		for _, r := range job.GetProbers() {
			namespaces = append(namespaces, r.GetNamespace())
		}
		if ref := job.GetRequest().GetService(); ref != nil {
			namespaces = append(namespaces, serviceNamespace(ref))
		}
		slices.Sort(namespaces)
		if err := s.Authorizer.AuthorizeJob(ctx, slices.Compact(namespaces)); err != nil {
			return nil, err
		}
	}
	return &dsprobev1.GetJobResponse{Job: job}, nil
}

// JobStore keeps the latest jobs, oldest dropped first.
type JobStore struct {
	mu    sync.Mutex
	max   int
	order []string
	jobs  map[string]*dsprobev1.Job
}

// NewJobStore keeps at most max jobs (DefaultKeepJobs if max ≤ 0).
func NewJobStore(max int) *JobStore {
	if max <= 0 {
		max = DefaultKeepJobs
	}
	return &JobStore{max: max, jobs: map[string]*dsprobev1.Job{}}
}

func (s *JobStore) put(job *dsprobev1.Job) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[job.GetJobId()]; !ok {
		s.order = append(s.order, job.GetJobId())
	}
	s.jobs[job.GetJobId()] = job
	for len(s.order) > s.max {
		delete(s.jobs, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *JobStore) get(id string) *dsprobev1.Job {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id]
}

func newJobID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
