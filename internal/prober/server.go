package prober

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/apiconv"
	"github.com/dsprobe/dsprobe/internal/dial"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/probe"
	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// Defaults of a Service's zero fields.
const (
	DefaultJobTimeout = 30 * time.Second
	MaxJobTimeout     = apiconv.MaxProbeTimeout
)

// Service implements dsprobe.v1.Prober.
type Service struct {
	dsprobev1.UnimplementedProberServer

	// Allow is the target allow-list; nil refuses every target, because
	// a prober without a policy must not connect anywhere.
	Allow *allowlist.Policy
	// Limiter admits jobs; nil admits everything (tests only).
	Limiter *admission.Limiter
	// Tracer writes the probe's spans under the RPC's span; nil writes
	// none.
	Tracer trace.Tracer
	// Metrics, if set, observes every finished probe.
	Metrics *telemetry.Metrics
	// Defaults are what requests leave to the prober (its resolv.conf).
	Defaults apiconv.Defaults
	// JobTimeout is the budget of a job that sets none (DefaultJobTimeout
	// if zero); MaxJobTimeout caps what a request may ask for.
	JobTimeout time.Duration
	// Dialer, if set, replaces the engine's dialer (internal/dial).
	Dialer he.Dialer
}

// Probe runs one probe job.
func (s *Service) Probe(ctx context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	if s.Limiter != nil {
		release, err := s.Limiter.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	preq, err := apiconv.ProbeRequest(req, s.Defaults)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	allow := s.Allow
	if allow == nil {
		allow = &allowlist.Policy{}
	}
	preq.Allow = allow
	// DNS servers a caller names are destinations too: without this check
	// a caller could make the prober send queries anywhere.
	if len(req.GetDnsServers()) > 0 {
		for _, server := range preq.Resolver.Config.Servers {
			if err := allow.CheckAddress(server.Addr()); err != nil {
				return nil, status.Errorf(codes.PermissionDenied, "DNS server %s: %v", server, err)
			}
		}
	}
	if s.Dialer != nil {
		preq.Dialer = s.Dialer
	}
	timeout := s.JobTimeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	timeout = min(apiconv.Timeout(req, timeout), MaxJobTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	res, err := probe.Run(ctx, preq)
	if err != nil {
		return nil, statusOf(err)
	}
	tracer := s.Tracer
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	telemetry.RecordProbe(ctx, tracer, &res)
	result := apiconv.ProbeResult(&res)
	s.Metrics.Observe(result, "")
	return &dsprobev1.ProbeResponse{Result: result}, nil
}

// statusOf maps the engine's errors to gRPC codes a caller can branch on.
func statusOf(err error) error {
	var denied *allowlist.Denied
	var fault *dial.LocalFaultError
	switch {
	case errors.As(err, &denied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.As(err, &fault):
		// The prober's own machine ran out of ports, descriptors or
		// memory: the prober's fault, which it names, and no verdict
		// about the path. ("Some resource has been exhausted", in
		// gRPC's words; the REST mapping answers 429.)
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the probe did not finish within its budget; no partial result is returned")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}
