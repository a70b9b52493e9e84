package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	"github.com/dsprobe/dsprobe/internal/layer"
	"github.com/dsprobe/dsprobe/internal/probe"
)

// Attribute keys of the spans (docs/contracts.md, Traces).
const (
	AttrChosenFamily  = attribute.Key("dsprobe.chosen_family")
	AttrFallbackDelay = attribute.Key("dsprobe.fallback_delay_ms")
	AttrFailingLayer  = attribute.Key("dsprobe.failing_layer")
	AttrIPv4Layer     = attribute.Key("dsprobe.ipv4.failing_layer")
	AttrIPv6Layer     = attribute.Key("dsprobe.ipv6.failing_layer")
	AttrOutcome       = attribute.Key("dsprobe.outcome")
	AttrDNSStatus     = attribute.Key("dsprobe.dns.status")
	AttrProfile       = attribute.Key("dsprobe.profile")

	attrNetworkType     = attribute.Key("network.type")
	attrPeerAddress     = attribute.Key("network.peer.address")
	attrPeerPort        = attribute.Key("network.peer.port")
	attrServerAddress   = attribute.Key("server.address")
	attrServerPort      = attribute.Key("server.port")
	attrErrorType       = attribute.Key("error.type")
	attrDNSQuestionName = attribute.Key("dns.question.name")
)

// RecordProbe writes one finished probe as spans under the span in ctx (the
// prober's RPC span, or a root span for the CLI): the probe span carrying
// the verdicts, one span per DNS query, one per direct connect, and the
// prober's own race with its attempts. Spans get the times the work really
// had.
func RecordProbe(ctx context.Context, tracer trace.Tracer, res *probe.Result) {
	end := res.Started.Add(probeDuration(res))
	ctx, span := tracer.Start(ctx, "probe "+res.Target.HostPort(),
		trace.WithTimestamp(res.Started), trace.WithSpanKind(trace.SpanKindInternal))
	if !span.IsRecording() {
		// Tracing is off or this trace is not sampled, and the spans below
		// would share the decision: spare building their names and
		// attributes for every probe.
		span.End()
		return
	}
	span.SetAttributes(probeAttributes(res)...)
	if !res.Passed() {
		span.SetStatus(codes.Error, "a family failed")
	}

	for f, answer := range res.DNS {
		if answer == nil {
			continue
		}
		_, s := tracer.Start(ctx, "dns "+dualstack.Family(f).QueryType(), trace.WithTimestamp(res.Started), trace.WithSpanKind(trace.SpanKindClient))
		s.SetAttributes(attrDNSQuestionName.String(res.Target.Host), AttrDNSStatus.String(answer.Status.String()))
		if answer.Server.IsValid() {
			s.SetAttributes(attrServerAddress.String(answer.Server.Addr().String()), attrServerPort.Int(int(answer.Server.Port())))
		}
		if answer.Err != nil {
			s.SetStatus(codes.Error, answer.Err.Error())
			s.SetAttributes(attrErrorType.String(answer.Status.String()))
		}
		s.End(trace.WithTimestamp(res.Started.Add(answer.Elapsed())))
	}

	for _, a := range res.Attempts {
		start := res.Started.Add(a.Start)
		_, s := tracer.Start(ctx, "connect "+a.Address.String(), trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient))
		s.SetAttributes(attemptAttributes(res, a.Address.Addr().String(), int(a.Address.Port()), a.Family, a.Outcome)...)
		if a.Outcome != dualstack.OutcomeConnected {
			switch {
			case a.Err != nil:
				s.SetStatus(codes.Error, a.Err.Error())
			case a.App != nil:
				s.SetStatus(codes.Error, a.App.Detail)
			}
		}
		s.End(trace.WithTimestamp(start.Add(a.Duration)))
	}

	race := res.HappyEyeballs
	raceStart := res.Started.Add(res.RaceStart)
	raceCtx, rs := tracer.Start(ctx, "happy eyeballs "+race.Profile, trace.WithTimestamp(raceStart))
	rs.SetAttributes(AttrProfile.String(race.Profile), AttrChosenFamily.String(race.Family.String()),
		AttrFallbackDelay.Float64(millis(race.FallbackDelay)), AttrFailingLayer.String(race.FailingLayer.Short()))
	for _, a := range race.Attempts {
		_, s := tracer.Start(raceCtx, "attempt "+a.Address.String(), trace.WithTimestamp(raceStart.Add(a.Start)), trace.WithSpanKind(trace.SpanKindClient))
		s.SetAttributes(attemptAttributes(res, a.Address.String(), int(res.Target.Port), a.Family, a.Outcome)...)
		s.End(trace.WithTimestamp(raceStart.Add(a.End)))
	}
	rs.End(trace.WithTimestamp(raceStart.Add(race.TimeToConnect)))
	span.End(trace.WithTimestamp(end))
}

func probeAttributes(res *probe.Result) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attrServerAddress.String(res.Target.Host),
		attrServerPort.Int(int(res.Target.Port)),
		AttrChosenFamily.String(res.HappyEyeballs.Family.String()),
		AttrFallbackDelay.Float64(millis(res.HappyEyeballs.FallbackDelay)),
	}
	verdicts := make([]familyLayer, len(res.Families))
	for i, v := range res.Families {
		verdicts[i] = familyLayer{v.Family, v.Layer}
	}
	return append(attrs, layerAttributes(verdicts)...)
}

// familyLayer is one family's verdict: its failing layer, None if it passed.
type familyLayer struct {
	family dualstack.Family
	layer  layer.Layer
}

// layerAttributes are dsprobe.ipv4/ipv6.failing_layer per family asked for
// and dsprobe.failing_layer, the most fundamental of them (none if all
// passed).
func layerAttributes(verdicts []familyLayer) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	var layers []layer.Layer
	for _, v := range verdicts {
		layers = append(layers, v.layer)
		key := AttrIPv4Layer
		if v.family == dualstack.FamilyIPv6 {
			key = AttrIPv6Layer
		}
		attrs = append(attrs, key.String(v.layer.Short()))
	}
	return append(attrs, AttrFailingLayer.String(layer.MostFundamental(layers...).Short()))
}

func attemptAttributes(res *probe.Result, peer string, port int, f dualstack.Family, o dualstack.Outcome) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attrNetworkType.String(f.String()),
		attrPeerAddress.String(peer),
		attrPeerPort.Int(port),
		attrServerAddress.String(res.Target.Host),
		AttrOutcome.String(o.String()),
	}
	if o != dualstack.OutcomeConnected {
		attrs = append(attrs, attrErrorType.String(o.String()))
	}
	return attrs
}

// probeDuration is when the last recorded piece of work ended.
func probeDuration(res *probe.Result) time.Duration {
	d := res.RaceStart + res.HappyEyeballs.TimeToConnect
	for _, a := range res.Attempts {
		d = max(d, a.Start+a.Duration)
	}
	for _, answer := range res.DNS {
		if answer != nil {
			d = max(d, answer.Elapsed())
		}
	}
	return d
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
