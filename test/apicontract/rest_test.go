package apicontract

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
)

// fakeProber answers every probe with the populated result, and records the
// request.
type fakeProber struct {
	dsprobev1.UnimplementedProberServer
	got *dsprobev1.ProbeRequest
}

func (p *fakeProber) Probe(_ context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	p.got = req
	return &dsprobev1.ProbeResponse{Result: populatedResult()}, nil
}

// fakeCoordinator streams one prober's result and a summary for every job,
// and knows one job.
type fakeCoordinator struct {
	dsprobev1.UnimplementedCoordinatorServer
}

func (fakeCoordinator) RunProbe(req *dsprobev1.RunProbeRequest, stream grpc.ServerStreamingServer[dsprobev1.RunProbeResponse]) error {
	msgs := []*dsprobev1.RunProbeResponse{
		{JobId: "j1", Event: &dsprobev1.RunProbeResponse_Prober{Prober: &dsprobev1.ProberResult{
			Prober: "p1", Namespace: req.GetNamespaces()[0],
			Outcome: &dsprobev1.ProberResult_Result{Result: populatedResult()},
		}}},
		{JobId: "j1", Event: &dsprobev1.RunProbeResponse_Summary{Summary: &dsprobev1.JobSummary{Probers: 1, Answered: 1}}},
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func (fakeCoordinator) GetJob(_ context.Context, req *dsprobev1.GetJobRequest) (*dsprobev1.GetJobResponse, error) {
	return &dsprobev1.GetJobResponse{Job: &dsprobev1.Job{JobId: req.GetJobId(), State: dsprobev1.JobState_JOB_STATE_FINISHED}}, nil
}

func (fakeCoordinator) ListProbers(_ context.Context, req *dsprobev1.ListProbersRequest) (*dsprobev1.ListProbersResponse, error) {
	var out []*dsprobev1.ProberInfo
	for _, ns := range req.GetNamespaces() {
		out = append(out, &dsprobev1.ProberInfo{Name: "p-" + ns, Namespace: ns})
	}
	return &dsprobev1.ListProbersResponse{Probers: out}, nil
}

// serveGRPC serves the services register registers on an in-memory
// listener until the test ends, and returns a client connection to them.
func serveGRPC(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	return conn
}

// serveREST serves the REST mapping of both services over a gRPC server on
// an in-memory listener, as the coordinator will, and returns the HTTP
// handler.
func serveREST(t *testing.T, prober dsprobev1.ProberServer) http.Handler {
	t.Helper()
	conn := serveGRPC(t, func(srv *grpc.Server) {
		dsprobev1.RegisterProberServer(srv, prober)
		dsprobev1.RegisterCoordinatorServer(srv, fakeCoordinator{})
	})
	mux := runtime.NewServeMux()
	if err := dsprobev1.RegisterProberHandler(t.Context(), mux, conn); err != nil {
		t.Fatal(err)
	}
	if err := dsprobev1.RegisterCoordinatorHandler(t.Context(), mux, conn); err != nil {
		t.Fatal(err)
	}
	return mux
}

// The routes of proto/dsprobe/v1/dsprobe_gateway.yaml, and what their
// bodies look like.
func TestRESTMapping(t *testing.T) {
	// Registered first, so it runs after serveREST's cleanup has stopped
	// the server.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	prober := &fakeProber{}
	h := serveREST(t, prober)
	tests := []struct {
		name, method, path, body string
		// wantKeys are top-level keys of the (first) JSON object answered.
		wantKeys []string
	}{
		// The body is the ProbeResult itself (response_body: result).
		{"probe", "POST", "/v1/probe", `{"target":"svc.example:80","families":["FAMILY_IPV6"],"timeoutMs":5000}`, []string{"target", "families", "clients", "happyEyeballs"}},
		// Server streaming: newline-delimited {"result": RunProbeResponse}.
		{"run job", "POST", "/v1/jobs", `{"probe":{"target":"svc.example:80"},"namespaces":["team-a"]}`, []string{"result"}},
		{"list probers", "GET", "/v1/probers?namespaces=team-a&namespaces=team-b", "", []string{"probers"}},
		// The body is the Job itself (response_body: job).
		{"get job", "GET", "/v1/jobs/j1", "", []string{"jobId", "state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, strings.NewReader(tt.body))
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s: got status %d, want 200: %s", tt.method, tt.path, rec.Code, rec.Body)
			}
			var doc map[string]any
			if err := json.NewDecoder(rec.Body).Decode(&doc); err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.path, err)
			}
			for _, k := range tt.wantKeys {
				if _, ok := doc[k]; !ok {
					t.Errorf("%s %s: got keys %v, want %q among them", tt.method, tt.path, mapKeys(doc), k)
				}
			}
		})
	}
	if got := prober.got; got.GetTarget() != "svc.example:80" || got.GetTimeoutMs() != 5000 ||
		len(got.GetFamilies()) != 1 || got.GetFamilies()[0] != dsprobev1.Family_FAMILY_IPV6 {
		t.Errorf("POST /v1/probe: the prober got %v, want target svc.example:80, families [FAMILY_IPV6], timeoutMs 5000", got)
	}
}
