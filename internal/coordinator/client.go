package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// JobRun is a job's stream as a client collected it.
type JobRun struct {
	// ID is the job's ID, for GetJob.
	ID string
	// TraceID is the job's W3C trace ID; empty when nothing traced it.
	TraceID string
	// Results has one entry per prober, in the order they arrived.
	Results []*dsprobev1.ProberResult
	// Summary is the job's summary.
	Summary *dsprobev1.JobSummary
}

// RunJob runs one job on a coordinator and collects its stream: one result
// per prober as they arrived, then the summary. A stream that ends without a
// summary is an error: the job's result would be partial.
func RunJob(ctx context.Context, c dsprobev1.CoordinatorClient, req *dsprobev1.RunProbeRequest) (*JobRun, error) {
	stream, err := c.RunProbe(ctx, req)
	if err != nil {
		return nil, err
	}
	run := &JobRun{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the coordinator ended the job without a summary")
		}
		if err != nil {
			return nil, err
		}
		run.ID, run.TraceID = resp.GetJobId(), resp.GetTraceId()
		if s := resp.GetSummary(); s != nil {
			run.Summary = s
			// Read the stream to its end, so the call finishes cleanly
			// (and its client span ends and is exported).
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the coordinator sent more after the summary (%v)", err)
			}
			return run, nil
		}
		run.Results = append(run.Results, resp.GetProber())
	}
}
