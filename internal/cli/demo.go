package cli

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/demo"
)

const demoHelp = `Starts the whole pipeline in-process on loopback (no root, no cluster): a DNS
server, targets showing the classic dual-stack faults, three probers labelled
as three namespaces and a coordinator, all over real gRPC. Runs one job per
target and prints every prober's verdicts side by side, the one-sentence
detail per family, and what each client profile would do.

--otlp-endpoint sends the traces (one per job: the CLI, the coordinator, each
prober, each DNS query and connection attempt) to a collector, Jaeger or Tempo,
e.g. --otlp-endpoint localhost:4317 for Jaeger's OTLP/gRPC port.

Exit code 0 when the demo ran: its targets fail on purpose, so their failing
verdicts do not change it. 2 for bad flags, 3 when the demo could not run (no
IPv6 on loopback, a job the coordinator could not run); stderr says why.`

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("demo", "[--otlp-endpoint ADDR] [-o table|json]", demoHelp, e.stdout)
	out := addOutputFlag(fs)
	var otlp otlpFlags
	otlp.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usagef("unexpected argument %q", positional[0])
	}
	exporter, shutdown, err := otlp.setup(ctx, e.stderr)
	if err != nil {
		return err
	}
	defer shutdown()
	// The coordinator and the probers send their spans under their own
	// service names, as the deployed mesh's processes would.
	mesh, err := demo.Start(ctx, demo.Options{Exporter: exporter})
	if err != nil {
		return err
	}
	defer mesh.Close()
	var jobs []string
	for i, t := range mesh.Targets {
		// One trace per job: the demo's span, the coordinator's, each
		// prober's.
		jobCtx, span := startSpan(ctx, "dsprobe demo "+t.URL)
		run, err := coordinator.RunJob(jobCtx, mesh.Coordinator, mesh.Job(t))
		span.End()
		if err != nil {
			return fmt.Errorf("demo job for %s: %w", t.URL, err)
		}
		// The job's trace ID is claimed only for a trace the collector has.
		traceID, _ := trace.TraceIDFromHex(run.TraceID)
		if !otlp.exported(ctx, traceID, mesh.Flush) {
			run.TraceID = ""
		}
		if *out == "json" {
			job, err := mesh.Coordinator.GetJob(ctx, &dsprobev1.GetJobRequest{JobId: run.ID})
			if err != nil {
				return err
			}
			job.GetJob().TraceId = run.TraceID
			b, err := protoJSON.Marshal(job.GetJob())
			if err != nil {
				return err
			}
			jobs = append(jobs, string(b))
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "=== %d/%d  %s\n", i+1, len(mesh.Targets), t.Story)
		writeJobTable(e.stdout, t.URL, run)
		writeJobDetails(e.stdout, run)
	}
	if *out == "json" {
		fmt.Fprintf(e.stdout, "{\"jobs\": [%s]}\n", strings.Join(jobs, ",\n"))
	}
	return nil
}
