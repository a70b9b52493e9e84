package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dsprobe/dsprobe/internal/telemetry"
)

// tracerName names the CLI's instrumentation scope.
const tracerName = "github.com/dsprobe/dsprobe/cmd/dsprobe"

// traceFlushTimeout bounds how long a command waits, at its end, for its
// spans to be delivered; tests shorten it.
var traceFlushTimeout = 5 * time.Second

// otlpFlags are how a command sends its traces: the flags, or the standard
// OTEL_EXPORTER_OTLP_* variables when the flags are not given. Tracing is off
// when neither names an endpoint.
type otlpFlags struct {
	endpoint string
	tls      bool
}

func (o *otlpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.endpoint, "otlp-endpoint", "", "send traces to this OTLP `endpoint` (host:port for gRPC, http://host:port for HTTP); default: OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing")
	fs.BoolVar(&o.tls, "otlp-tls", false, "use TLS to --otlp-endpoint (default plaintext, as a local Jaeger expects)")
}

// setup installs the exporter (a no-op when no endpoint is configured)
// and returns it (nil when off), for components that send to it too.
// shutdown flushes it: call it after the command's spans have ended. Spans
// that cannot be delivered in traceFlushTimeout are dropped with a warning
// on stderr; the command's result and exit code stand.
func (o *otlpFlags) setup(ctx context.Context, stderr io.Writer) (exporter sdktrace.SpanExporter, shutdown func(), err error) {
	exporter, stop, err := telemetry.SetupExporter(ctx, telemetry.Options{Service: "dsprobe", Endpoint: o.endpoint, Insecure: !o.tls})
	if err != nil {
		return nil, nil, usageError{err}
	}
	return exporter, func() {
		ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
		defer cancel()
		if err := stop(ctx); err != nil {
			fmt.Fprintf(stderr, "dsprobe: warning: the traces were not delivered (%v); check --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT\n", err)
		}
	}, nil
}

// startSpan starts a root span of the command: the W3C trace context the
// coordinator and probers continue.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, name)
}

// writeTraceID prints the trace ID of a recorded span, for Jaeger or Tempo.
func writeTraceID(w io.Writer, span trace.Span) {
	if span.IsRecording() {
		fmt.Fprintf(w, "trace %s\n", span.SpanContext().TraceID())
	}
}
