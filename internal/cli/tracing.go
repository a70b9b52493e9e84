package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/status"

	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// tracerName names the CLI's instrumentation scope.
const tracerName = "github.com/dsprobe/dsprobe/cmd/dsprobe"

// traceExportTimeout bounds one export of the CLI's spans, retries
// included: a collector that has not taken them by then is reported as
// unreachable, so a command never stalls on it for longer.
const traceExportTimeout = 2 * time.Second

// traceFlushTimeout bounds a flush: it may wait for an export already under
// way before it makes its own.
const traceFlushTimeout = 2 * traceExportTimeout

// otlpFlags are how a command sends its traces: the flags, or the standard
// OTEL_EXPORTER_OTLP_* variables when the flags are not given. Tracing is off
// when neither names an endpoint.
type otlpFlags struct {
	endpoint string
	tls      bool

	// Set by setup when tracing is on.
	collector string // where the spans go, for the warning
	provider  *sdktrace.TracerProvider
	delivery  *deliveryRecorder
	stderr    io.Writer
	warned    bool
}

func (o *otlpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.endpoint, "otlp-endpoint", "", "send traces to this OTLP `endpoint` (host:port for gRPC, http://host:port for HTTP); default: OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing")
	fs.BoolVar(&o.tls, "otlp-tls", false, "use TLS to --otlp-endpoint (default plaintext, as a local Jaeger expects)")
}

// setup installs the exporter (a no-op when no endpoint is configured)
// and returns it (nil when off), for components that send to it too.
// shutdown flushes it: call it after the command's spans have ended. A
// collector that does not take the spans costs one warning line on stderr,
// however many exports fail; the command's result and exit code stand.
func (o *otlpFlags) setup(ctx context.Context, stderr io.Writer) (exporter sdktrace.SpanExporter, shutdown func(), err error) {
	opts := telemetry.Options{Service: "dsprobe", Endpoint: o.endpoint, Insecure: !o.tls, ExportTimeout: traceExportTimeout}
	exp, err := telemetry.NewExporter(ctx, opts)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if exp == nil {
		return nil, func() {}, nil
	}
	o.collector, o.stderr = opts.Collector(), stderr
	o.delivery = &deliveryRecorder{SpanExporter: exp, delivered: map[trace.TraceID]bool{}, lost: map[trace.TraceID]bool{}}
	o.provider = telemetry.NewProvider(o.delivery, opts.Service)
	otel.SetTextMapPropagator(telemetry.Propagator())
	otel.SetTracerProvider(o.provider)
	// The SDK would log every failed export, raw; the warning reports them
	// once.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	return o.delivery, func() {
		ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
		defer cancel()
		if err := o.provider.Shutdown(ctx); err != nil {
			o.delivery.fail(err)
		}
		o.warnOnce()
	}, nil
}

// exported sends the spans ended so far, the command's and those flush
// sends (the demo mesh's), and reports whether every span of trace sent
// reached the collector. It warns, once, of a collector that did not take
// them.
func (o *otlpFlags) exported(ctx context.Context, id trace.TraceID, flush ...func(context.Context) error) bool {
	if o.delivery == nil || !id.IsValid() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
	defer cancel()
	flushed := true
	for _, f := range append(flush, o.provider.ForceFlush) {
		if err := f(ctx); err != nil {
			o.delivery.fail(err)
			flushed = false
		}
	}
	o.warnOnce()
	return flushed && o.delivery.complete(id)
}

// endSpanAndWriteTraceID ends the command's root span, sends its trace, and
// prints the trace ID, for Jaeger or Tempo, only once the collector has it.
func (o *otlpFlags) endSpanAndWriteTraceID(ctx context.Context, w io.Writer, span trace.Span) {
	span.End()
	if id := span.SpanContext().TraceID(); o.exported(ctx, id) {
		fmt.Fprintf(w, "trace %s\n", id)
	}
}

// warnOnce reports a collector that did not take the spans, the first time
// it is known.
func (o *otlpFlags) warnOnce() {
	err := o.delivery.failure()
	if err == nil || o.warned {
		return
	}
	o.warned = true
	fmt.Fprintf(o.stderr, "dsprobe: warning: the OTLP collector at %s could not be reached (%s); the traces were not exported\n", o.collector, oneLine(exportCause(err)))
}

// exportCause is the part of an export error that says what went wrong,
// without the exporter's wording around it: the network error (OTLP/HTTP),
// or the gRPC status message (OTLP/gRPC).
func exportCause(err error) error {
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return netErr
	}
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) && grpcErr.GRPCStatus() != nil {
		return errors.New(grpcErr.GRPCStatus().Message())
	}
	return err
}

// startSpan starts a root span of the command: the W3C trace context the
// coordinator and probers continue.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, name)
}

// deliveryRecorder passes spans on to the OTLP exporter and remembers which
// traces reached the collector, so that the command claims a trace ID only
// for a trace the collector has. After the first failure it sends nothing
// more and fails at once with the same error: a command lives for seconds,
// and sending again, once for each provider's flush, would only wait out the
// export timeout again on a collector that has just failed to answer.
type deliveryRecorder struct {
	sdktrace.SpanExporter

	mu        sync.Mutex
	err       error                  // the first failure
	delivered map[trace.TraceID]bool // traces with spans the collector took
	lost      map[trace.TraceID]bool // traces with spans it did not
}

func (d *deliveryRecorder) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := d.failure()
	if err == nil {
		err = d.SpanExporter.ExportSpans(ctx, spans)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil && d.err == nil {
		d.err = err
	}
	for _, s := range spans {
		if err != nil {
			d.lost[s.SpanContext().TraceID()] = true
		} else {
			d.delivered[s.SpanContext().TraceID()] = true
		}
	}
	return err
}

// fail records a failure the exporter did not see: spans that could not
// even be handed to it in time.
func (d *deliveryRecorder) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

func (d *deliveryRecorder) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// complete reports whether the collector took spans of trace and lost none.
func (d *deliveryRecorder) complete(id trace.TraceID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delivered[id] && !d.lost[id]
}
