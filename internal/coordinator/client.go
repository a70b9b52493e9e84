package coordinator

import (
	"context"
	"errors"
	"io"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// RunJob runs one job on a coordinator and collects its stream: the job ID,
// one result per prober as they arrived, then the summary. A stream that
// ends without a summary is an error: the job's result would be partial.
func RunJob(ctx context.Context, c dsprobev1.CoordinatorClient, req *dsprobev1.RunProbeRequest) (string, []*dsprobev1.ProberResult, *dsprobev1.JobSummary, error) {
	stream, err := c.RunProbe(ctx, req)
	if err != nil {
		return "", nil, nil, err
	}
	var id string
	var results []*dsprobev1.ProberResult
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return id, results, nil, errors.New("the coordinator ended the job without a summary")
		}
		if err != nil {
			return id, results, nil, err
		}
		id = resp.GetJobId()
		if s := resp.GetSummary(); s != nil {
			return id, results, s, nil
		}
		results = append(results, resp.GetProber())
	}
}
