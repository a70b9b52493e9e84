package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/target"
)

// Attribute keys of a job's spans on the coordinator.
const (
	AttrJobID      = attribute.Key("dsprobe.job.id")
	AttrProberName = attribute.Key("dsprobe.prober.name")
	// attrNamespace is the semantic-convention key of a Kubernetes
	// namespace: the prober's, its vantage point.
	attrNamespace = attribute.Key("k8s.namespace.name")
)

// ProberResource are the resource attributes of a prober's spans: its name
// as service.instance.id and its namespace, so a trace backend tells the
// probers of one job apart.
func ProberResource(name, namespace string) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if name != "" {
		attrs = append(attrs, attribute.String("service.instance.id", name))
	}
	if namespace != "" {
		attrs = append(attrs, attrNamespace.String(namespace))
	}
	return attrs
}

// StartJob starts the coordinator's span of one job: the parent of one span
// per prober. It continues the caller's trace when the request carried one.
func StartJob(ctx context.Context, tracer trace.Tracer, jobID string, t target.Target) (context.Context, trace.Span) {
	return tracer.Start(ctx, "job "+t.HostPort(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrJobID.String(jobID), attrServerAddress.String(t.Host), attrServerPort.Int(int(t.Port))))
}

// EndJob records the merged verdicts on the job's span and ends it.
func EndJob(span trace.Span, sum *dsprobev1.JobSummary) {
	span.SetAttributes(verdictAttributes(sum.GetFamilies())...)
	span.SetAttributes(
		attribute.Int("dsprobe.probers", int(sum.GetProbers())),
		attribute.Int("dsprobe.probers.answered", int(sum.GetAnswered())),
	)
	if !sum.GetPassed() {
		span.SetStatus(codes.Error, "a family failed or a prober did not answer")
	}
	span.End()
}

// StartProber starts the span of one prober's part of a job, under the job's
// span; the RPC to the prober (and so all the prober's spans) go under it.
func StartProber(ctx context.Context, tracer trace.Tracer, p *dsprobev1.ProberInfo) (context.Context, trace.Span) {
	return tracer.Start(ctx, "prober "+p.GetNamespace()+"/"+p.GetName(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrProberName.String(p.GetName()), attrNamespace.String(p.GetNamespace())))
}

// EndProber records what the prober answered on its span and ends it: its
// verdicts and race, or the gRPC code of its failure as error.type.
func EndProber(span trace.Span, r *dsprobev1.ProberResult) {
	if e := r.GetError(); e != nil {
		span.SetAttributes(attrErrorType.String(e.GetCode()))
		span.SetStatus(codes.Error, e.GetMessage())
		span.End()
		return
	}
	res := r.GetResult()
	families := res.GetFamilies()
	if svc := r.GetService(); svc != nil {
		families = svc.GetFamilies() // a Service job: res probed the name alone
	}
	span.SetAttributes(verdictAttributes(families)...)
	if race := res.GetHappyEyeballs(); race != nil {
		span.SetAttributes(AttrChosenFamily.String(familyName(race.GetFamily())), AttrFallbackDelay.Float64(race.GetFallbackDelayMs()))
	}
	for _, v := range families {
		if !v.GetOk() {
			span.SetStatus(codes.Error, "a family failed")
		}
	}
	span.End()
}

// verdictAttributes are layerAttributes of the API's verdicts.
func verdictAttributes(families []*dsprobev1.FamilyVerdict) []attribute.KeyValue {
	verdicts := make([]familyLayer, len(families))
	for i, v := range families {
		l := layer.Layer(v.GetFailingLayer())
		if v.GetOk() {
			l = layer.None
		}
		verdicts[i] = familyLayer{dualstack.Family(v.GetFamily()), l}
	}
	return layerAttributes(verdicts)
}
