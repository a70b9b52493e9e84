package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Options configures Setup. The standard OTEL_* variables configure the
// exporter (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
// OTEL_EXPORTER_OTLP_HEADERS, ...); Options only add what a flag can say.
type Options struct {
	// Service is the service.name of the spans ("dsprobe",
	// "dsprobe-prober", ...).
	Service string
	// Endpoint, if set, is the OTLP endpoint (a flag such as
	// --otlp-endpoint), overriding OTEL_EXPORTER_OTLP_ENDPOINT. A URL
	// (http://host:4318) selects OTLP over HTTP; host:port selects gRPC.
	Endpoint string
	// Insecure sends to Endpoint without TLS (a local collector or Jaeger).
	// It applies to Endpoint only: an endpoint from the variables says for
	// itself (its scheme, OTEL_EXPORTER_OTLP_INSECURE).
	Insecure bool
	// Attributes are added to the resource of every span (a prober's name
	// and namespace). OTEL_RESOURCE_ATTRIBUTES still applies.
	Attributes []attribute.KeyValue
	// ExportTimeout, if positive, bounds each export, retries included, so
	// a collector that does not answer costs no more than this (a command
	// line wants seconds). OTEL_EXPORTER_OTLP_TIMEOUT and its TRACES form
	// still win. If zero, only the exporter's own timeouts apply: 10 s per
	// attempt, and OTLP/HTTP retries for up to a minute.
	ExportTimeout time.Duration
}

// Collector is where the exporter sends: Endpoint, else the endpoint of the
// OTEL_* variables; empty when neither names one.
func (o Options) Collector() string {
	if o.Endpoint != "" {
		return o.Endpoint
	}
	return envEndpoint()
}

func envEndpoint() string {
	return firstEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
}

// Setup installs the global tracer provider and the W3C trace-context
// propagator. Tracing stays off (a no-op provider, nothing sent anywhere)
// unless an endpoint is configured, so a CLI run never tries to reach a
// collector the user does not have. The returned function flushes and stops
// the exporter.
func Setup(ctx context.Context, opts Options) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(Propagator())
	exporter, err := NewExporter(ctx, opts)
	if err != nil || exporter == nil {
		return func(context.Context) error { return nil }, err
	}
	tp := NewProvider(exporter, opts.Service, opts.Attributes...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// NewExporter makes the OTLP exporter Options and the OTEL_* variables
// configure; nil (and no error) when tracing is off.
func NewExporter(ctx context.Context, opts Options) (sdktrace.SpanExporter, error) {
	endpoint := opts.Endpoint
	envEndpoint := envEndpoint()
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(os.Getenv("OTEL_TRACES_EXPORTER"), "none") || (endpoint == "" && envEndpoint == "") {
		return nil, nil
	}
	if endpoint != "" {
		if err := CheckEndpoint(endpoint); err != nil {
			return nil, fmt.Errorf("--otlp-endpoint %q: %w", endpoint, err)
		}
	} else if strings.Contains(envEndpoint, "://") {
		if err := CheckEndpoint(envEndpoint); err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q: %w", envEndpoint, err)
		}
	}
	protocol := firstEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	if endpoint != "" {
		protocol = "grpc"
		if strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://") {
			protocol = "http/protobuf"
		}
	}
	var exporter sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "grpc":
		var o []otlptracegrpc.Option
		if endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpoint(endpoint))
		}
		if endpoint != "" && opts.Insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		exporter, err = otlptracegrpc.New(ctx, o...)
	case "http/protobuf":
		var o []otlptracehttp.Option
		if endpoint != "" {
			o = append(o, otlptracehttp.WithEndpointURL(endpoint))
		}
		if endpoint != "" && opts.Insecure {
			o = append(o, otlptracehttp.WithInsecure())
		}
		exporter, err = otlptracehttp.New(ctx, o...)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported (want grpc or http/protobuf)", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP exporter: %w", err)
	}
	if opts.ExportTimeout > 0 && firstEnv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") == "" {
		exporter = boundedExporter{exporter, opts.ExportTimeout}
	}
	return exporter, nil
}

// boundedExporter gives each export a deadline, retries included. The
// exporters' own timeouts do not bound that: OTLP/HTTP's applies to each
// request, and it retries for up to a minute.
type boundedExporter struct {
	sdktrace.SpanExporter
	timeout time.Duration
}

func (e boundedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	return e.SpanExporter.ExportSpans(ctx, spans)
}

// NewProvider is a tracer provider batching to exporter, its spans carrying
// service.name = service and attrs in their resource (besides the SDK's and
// OTEL_RESOURCE_ATTRIBUTES).
func NewProvider(exporter sdktrace.SpanExporter, service string, attrs ...attribute.KeyValue) *sdktrace.TracerProvider {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(slices.Concat(attrs, []attribute.KeyValue{semconv.ServiceName(service)})...))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		// Conflicting schema URLs: keep the service name at least.
		res = resource.NewSchemaless(semconv.ServiceName(service))
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
}

// Shared wraps an exporter several providers send to, whose owner shuts it
// down: shutting one of those providers down flushes its spans and leaves
// the exporter running.
func Shared(exporter sdktrace.SpanExporter) sdktrace.SpanExporter { return sharedExporter{exporter} }

type sharedExporter struct{ sdktrace.SpanExporter }

func (sharedExporter) Shutdown(context.Context) error { return nil }

// Propagator is how dsprobe carries trace context between processes: W3C
// trace context and baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// CheckEndpoint accepts what Options.Endpoint documents: an http(s) URL
// with a host, or host:port (a bracketed IPv6 literal, a port number).
func CheckEndpoint(endpoint string) error {
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil {
			return err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme %q: want http:// or https:// (OTLP/HTTP), or host:port for OTLP/gRPC", u.Scheme)
		}
		if u.Hostname() == "" {
			return errors.New("the URL has no host")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("want host:port ([v6]:port for IPv6) for OTLP/gRPC, or an http(s):// URL: %w", err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); host == "" || err != nil || n == 0 {
		return errors.New("want host:port with a port number from 1 to 65535")
	}
	return nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
