package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/restgw"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stubProber answers every probe with a fixed verdict, or hangs until the
// caller gives up.
type stubProber struct {
	dsprobev1.UnimplementedProberServer
	ipv6OK bool
	hang   bool
}

func (s *stubProber) Probe(ctx context.Context, req *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	if s.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	v6 := &dsprobev1.FamilyVerdict{Family: dsprobev1.Family_FAMILY_IPV6, Ok: s.ipv6OK, FailingLayer: dsprobev1.Layer_LAYER_NONE}
	if !s.ipv6OK {
		v6.FailingLayer = dsprobev1.Layer_LAYER_ROUTE
	}
	return &dsprobev1.ProbeResponse{Result: &dsprobev1.ProbeResult{
		Target:   req.GetTarget(),
		Families: []*dsprobev1.FamilyVerdict{{Family: dsprobev1.Family_FAMILY_IPV4, Ok: true, FailingLayer: dsprobev1.Layer_LAYER_NONE}, v6},
	}}, nil
}

func startProber(t testing.TB, s dsprobev1.ProberServer) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveProber(t, ln, s)
	return ln.Addr().String()
}

// serveProber serves s in plaintext on ln until the test ends.
func serveProber(t testing.TB, ln net.Listener, s dsprobev1.ProberServer) {
	srv := grpc.NewServer()
	dsprobev1.RegisterProberServer(srv, s)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
}

// startCoordinator serves the coordinator on loopback and returns a client.
// Unless svc has a Connector, it reaches probers in plaintext.
func startCoordinator(t testing.TB, svc *Service) dsprobev1.CoordinatorClient {
	if svc.Connector == nil {
		conn := &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
		t.Cleanup(func() { conn.Close() })
		svc.Connector = conn
	}
	srv := grpc.NewServer()
	dsprobev1.RegisterCoordinatorServer(srv, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return dsprobev1.NewCoordinatorClient(cc)
}

func TestRunProbe(t *testing.T) {
	healthy := startProber(t, &stubProber{ipv6OK: true})
	broken := startProber(t, &stubProber{ipv6OK: false})
	slow := startProber(t, &stubProber{hang: true})
	dead := func() string { // a port nothing listens on
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().String()
	}()
	probers := Static{
		{Name: "a", Namespace: "ns-a", Address: healthy},
		{Name: "b", Namespace: "ns-b", Address: broken},
		{Name: "slow", Namespace: "ns-c", Address: slow},
		{Name: "dead", Namespace: "ns-c", Address: dead},
	}
	m := NewMetrics(prometheus.NewRegistry())
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")
	c := startCoordinator(t, &Service{Discovery: probers, Jobs: NewJobStore(10), Metrics: m, Tracer: tracer})

	start := time.Now()
	run, err := RunJob(context.Background(), c, &dsprobev1.RunProbeRequest{
		Probe:           &dsprobev1.ProbeRequest{Target: "svc.example:80"},
		ProberTimeoutMs: 300,
	})
	if err != nil {
		t.Fatal(err)
	}
	id, results, sum := run.ID, run.Results, run.Summary
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the job took %v: a slow prober stalled it", took)
	}
	got := map[string]string{}
	for _, r := range results {
		if e := r.GetError(); e != nil {
			got[r.GetProber()] = e.GetCode()
		} else {
			got[r.GetProber()] = "result"
		}
	}
	want := map[string]string{"a": "result", "b": "result", "slow": "DEADLINE_EXCEEDED", "dead": "UNAVAILABLE"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("prober %s: got %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if sum.GetPassed() || sum.GetProbers() != 4 || sum.GetAnswered() != 2 || sum.GetFailed() != 2 {
		t.Errorf("got summary %v, want not passed, 4 probers, 2 answered, 2 failed", sum)
	}
	for _, f := range sum.GetFamilies() {
		if f.GetFamily() == dsprobev1.Family_FAMILY_IPV6 && (f.GetOk() || f.GetFailingLayer() != dsprobev1.Layer_LAYER_ROUTE || !strings.HasSuffix(f.GetDetail(), "prober(s): b")) {
			t.Errorf("got IPv6 summary %v, want failed at ROUTE on prober b", f)
		}
		if f.GetFamily() == dsprobev1.Family_FAMILY_IPV4 && !f.GetOk() {
			t.Errorf("got IPv4 summary %v, want passed", f)
		}
	}

	for _, tt := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.jobs.WithLabelValues("fail"), 1},
		{m.probers.WithLabelValues("OK"), 2},
		{m.probers.WithLabelValues("DEADLINE_EXCEEDED"), 1},
		{m.probers.WithLabelValues("UNAVAILABLE"), 1},
		{familyResults(t, m, "ns-b", "ipv6", "fail", "route"), 1},
		{familyResults(t, m, "ns-a", "ipv6", "pass", "none"), 1},
		{familyResults(t, m, "ns-b", "ipv4", "pass", "none"), 1},
	} {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("metric %v: got %v, want %v", tt.c, got, tt.want)
		}
	}

	job, err := c.GetJob(context.Background(), &dsprobev1.GetJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	if job.GetJob().GetState() != dsprobev1.JobState_JOB_STATE_FINISHED || len(job.GetJob().GetProbers()) != 4 {
		t.Errorf("got job %v, want it finished with 4 prober entries", job.GetJob())
	}
	checkJobSpans(t, spans.Ended(), run, job.GetJob())

	list, err := c.ListProbers(context.Background(), &dsprobev1.ListProbersRequest{Namespaces: []string{"ns-c"}})
	if err != nil || len(list.GetProbers()) != 2 {
		t.Errorf("got %v %v, want the two probers of ns-c", list, err)
	}
}

// The summary names the failing probers in a stable order, whatever order
// their answers arrived in.
func TestSummaryNamesFailingProbersSorted(t *testing.T) {
	result := func(name string, ipv6OK bool) *dsprobev1.ProberResult {
		return &dsprobev1.ProberResult{Prober: name, Outcome: &dsprobev1.ProberResult_Result{Result: &dsprobev1.ProbeResult{
			Families: []*dsprobev1.FamilyVerdict{
				{Family: dsprobev1.Family_FAMILY_IPV6, Ok: ipv6OK, FailingLayer: dsprobev1.Layer_LAYER_LISTENER},
			},
		}}}
	}
	sum := summarize([]*dsprobev1.ProberResult{result("c", false), result("a", false), result("d", true), result("b", false)}, time.Second)
	if len(sum.GetFamilies()) != 1 {
		t.Fatalf("got %v, want one family", sum.GetFamilies())
	}
	if got, want := sum.GetFamilies()[0].GetDetail(), "failed on 3 of 4 prober(s): a, b, c"; got != want {
		t.Errorf("got detail %q, want %q", got, want)
	}
}

// familyResults is the coordinator's per-namespace family counter.
func familyResults(t *testing.T, m *Metrics, labels ...string) prometheus.Collector {
	t.Helper()
	c, err := m.results.FamilyResults(labels...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkJobSpans checks the trace of the job of TestRunProbe: one job span
// with the merged verdicts, one span per prober under it with its verdicts or
// its failure, and the job's trace ID in the stream and the stored job.
func checkJobSpans(t *testing.T, ended []sdktrace.ReadOnlySpan, run *JobRun, job *dsprobev1.Job) {
	t.Helper()
	var jobSpan sdktrace.ReadOnlySpan
	probers := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		switch {
		case s.Name() == "job svc.example:80":
			jobSpan = s
		case strings.HasPrefix(s.Name(), "prober "):
			probers[s.Name()] = s
		}
	}
	if jobSpan == nil {
		t.Fatalf("no job span among %d spans", len(ended))
	}
	traceID := jobSpan.SpanContext().TraceID().String()
	if run.TraceID != traceID || job.GetTraceId() != traceID {
		t.Errorf("got trace ID %q in the stream and %q in the job, want the job span's %s", run.TraceID, job.GetTraceId(), traceID)
	}
	attrs := spanAttrs(jobSpan)
	if attrs["dsprobe.job.id"] != run.ID || attrs["dsprobe.failing_layer"] != "route" || attrs["dsprobe.ipv6.failing_layer"] != "route" || attrs["dsprobe.ipv4.failing_layer"] != "none" {
		t.Errorf("job span attributes %v: want the job ID, failing layer route (IPv6), IPv4 none", attrs)
	}
	want := map[string]map[string]string{
		"prober ns-a/a":    {"k8s.namespace.name": "ns-a", "dsprobe.failing_layer": "none", "dsprobe.ipv6.failing_layer": "none"},
		"prober ns-b/b":    {"k8s.namespace.name": "ns-b", "dsprobe.failing_layer": "route", "dsprobe.ipv6.failing_layer": "route"},
		"prober ns-c/slow": {"k8s.namespace.name": "ns-c", "error.type": "DEADLINE_EXCEEDED"},
		"prober ns-c/dead": {"k8s.namespace.name": "ns-c", "error.type": "UNAVAILABLE"},
	}
	for name, kv := range want {
		s := probers[name]
		if s == nil {
			t.Errorf("no span %q (have %v)", name, slices.Collect(maps.Keys(probers)))
			continue
		}
		if s.Parent().SpanID() != jobSpan.SpanContext().SpanID() {
			t.Errorf("span %q is not a child of the job span", name)
		}
		got := spanAttrs(s)
		for k, v := range kv {
			if got[k] != v {
				t.Errorf("span %q: %s = %q, want %q", name, k, got[k], v)
			}
		}
	}
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func TestRunProbeRefusesBadJobs(t *testing.T) {
	c := startCoordinator(t, &Service{Discovery: Static{{Name: "a", Namespace: "ns", Address: "127.0.0.1:1"}}})
	tests := []struct {
		name string
		req  *dsprobev1.RunProbeRequest
		code codes.Code
	}{
		{"bad target", &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "nope"}}, codes.InvalidArgument},
		{"unknown prober", &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}, Probers: []string{"zz"}}, codes.InvalidArgument},
		{"no prober in namespace", &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}, Namespaces: []string{"other"}}, codes.FailedPrecondition},
		{"prober timeout beyond any probe", &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}, ProberTimeoutMs: 4e9}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		_, err := RunJob(context.Background(), c, tt.req)
		if status.Code(err) != tt.code {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.code)
		}
	}
	if _, err := c.GetJob(context.Background(), &dsprobev1.GetJobRequest{JobId: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetJob of an unknown job: got %v, want NotFound", err)
	}
}

// A prober is given the job's prober_timeout_ms, or else what its probe may
// take plus a margin: a long probe is not cut off as a slow prober.
func TestProberBudget(t *testing.T) {
	probe := func(ms uint32) *dsprobev1.ProbeRequest {
		return &dsprobev1.ProbeRequest{Target: "svc.example:80", TimeoutMs: ms}
	}
	for _, tt := range []struct {
		name    string
		service time.Duration
		req     *dsprobev1.RunProbeRequest
		want    time.Duration
	}{
		{"defaults", 0, &dsprobev1.RunProbeRequest{Probe: probe(0)}, DefaultProberTimeout},
		{"a short probe keeps the default", 0, &dsprobev1.RunProbeRequest{Probe: probe(1000)}, DefaultProberTimeout},
		{"a long probe gets its time plus the margin", 0, &dsprobev1.RunProbeRequest{Probe: probe(100_000)}, 100*time.Second + ProberMargin},
		{"as long as probers allow", 0, &dsprobev1.RunProbeRequest{Probe: probe(4e9)}, MaxProberTimeout},
		{"the operator's default", time.Minute, &dsprobev1.RunProbeRequest{Probe: probe(0)}, time.Minute},
		{"the job's own", time.Minute, &dsprobev1.RunProbeRequest{Probe: probe(100_000), ProberTimeoutMs: 500}, 500 * time.Millisecond},
	} {
		got, err := (&Service{ProberTimeout: tt.service}).proberBudget(tt.req)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	_, err := (&Service{}).proberBudget(&dsprobev1.RunProbeRequest{ProberTimeoutMs: uint32(MaxProberTimeout.Milliseconds()) + 1})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most 135000") {
		t.Errorf("prober_timeout_ms past the maximum: got %v, want INVALID_ARGUMENT saying the maximum", err)
	}
}

func TestJobStoreIsBounded(t *testing.T) {
	s := NewJobStore(2)
	for i := range 5 {
		s.put(&dsprobev1.Job{JobId: fmt.Sprint(i)})
	}
	if s.get("0") != nil || s.get("2") != nil || s.get("3") == nil || s.get("4") == nil {
		t.Error("the store kept the wrong jobs: want only the latest two")
	}
}

// BenchmarkFanOut is one job fanned out to N in-process probers over
// loopback gRPC: the coordinator's own cost per job.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("probers=%d", n), func(b *testing.B) {
			var probers Static
			for i := range n {
				probers = append(probers, &dsprobev1.ProberInfo{Name: fmt.Sprint("p", i), Namespace: "ns", Address: startProber(b, &stubProber{ipv6OK: true})})
			}
			c := startCoordinator(b, &Service{Discovery: probers})
			req := &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}}
			if _, err := RunJob(context.Background(), c, req); err != nil { // connections warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if run, err := RunJob(context.Background(), c, req); err != nil || len(run.Results) != n {
					b.Fatalf("job: %v, %v", err, run)
				}
			}
		})
	}
}

func TestMainRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/probers"
	if err := os.WriteFile(file, []byte("# probers\na/ns-a=127.0.0.1:9443\nbroken line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "no prober"},
		{[]string{"--prober", "a=127.0.0.1:1"}, "want NAME/NAMESPACE=HOST:PORT"},
		{[]string{"--prober", "a/ns=nowhere"}, "address"},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--prober", "a/ns2=127.0.0.1:2"}, "listed twice"},
		{[]string{"--prober", "a/ns=192.0.2.1:9443"}, "refusing plaintext"},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--listen", "0.0.0.0:9444"}, "refusing plaintext"},
		{[]string{"--probers-file", file}, file + ":3"},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--concurrency", "0"}, "must be positive"},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--otlp-endpoint", "http://[bad"}, `--otlp-endpoint "http://[bad"`},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--max-concurrent", "0"}, "--max-concurrent must be positive"},
		{[]string{"--prober", "a/ns=127.0.0.1:1", "--tls-ca", "ca.pem"}, "--tls-cert and --tls-key go together"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := Main(context.Background(), tt.args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("coordinator %v: got exit %d and %q, want 2 mentioning %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

func TestREST(t *testing.T) {
	probers := Static{{Name: "a", Namespace: "ns-a", Address: startProber(t, &stubProber{ipv6OK: false})}}
	conn := &GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	t.Cleanup(func() { conn.Close() })
	svc := &Service{Discovery: probers, Connector: conn, Jobs: NewJobStore(10)}
	handler, stop, err := restgw.Handler(context.Background(), func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) },
		dsprobev1.RegisterCoordinatorHandler, &authn.Authenticator{Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv := httptest.NewServer(handler)
	defer srv.Close()

	do := func(method, path, body, token string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := do("GET", "/v1/probers", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: got %d, want 401", resp.StatusCode)
	}
	if resp, _ := do("GET", "/v1/probers", "", "guess"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a wrong token: got %d, want 401", resp.StatusCode)
	}
	resp, body := do("GET", "/v1/probers", "", "s3cret")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"namespace":"ns-a"`) {
		t.Errorf("GET /v1/probers: got %d %s", resp.StatusCode, body)
	}

	// POST /v1/jobs streams one JSON object per line: the prober's result,
	// then the summary.
	resp, body = do("POST", "/v1/jobs", `{"probe": {"target": "svc.example:80"}}`, "s3cret")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if resp.StatusCode != http.StatusOK || len(lines) != 2 || !strings.Contains(lines[0], `"failingLayer":"LAYER_ROUTE"`) || !strings.Contains(lines[1], `"summary"`) {
		t.Fatalf("POST /v1/jobs: got %d and %d lines:\n%s", resp.StatusCode, len(lines), body)
	}
	var first struct {
		Result struct {
			JobID string `json:"jobId"`
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Result.JobID == "" {
		t.Fatalf("bad stream line %q: %v", lines[0], err)
	}
	resp, body = do("GET", "/v1/jobs/"+first.Result.JobID, "", "s3cret")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"state":"JOB_STATE_FINISHED"`) || !strings.Contains(body, `"passed":false`) {
		t.Errorf("GET /v1/jobs/{id}: got %d %s", resp.StatusCode, body)
	}
	if resp, _ := do("GET", "/v1/jobs/nope", "", "s3cret"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown job: got %d, want 404", resp.StatusCode)
	}
	// A refused job is an HTTP 400 carrying the gRPC code (3,
	// INVALID_ARGUMENT) and the reason.
	resp, body = do("POST", "/v1/jobs", `{"probe": {"target": "nope"}}`, "s3cret")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"code":3`) || !strings.Contains(body, "want host:port") {
		t.Errorf("bad job: got %d %s, want 400 with code 3 and the reason", resp.StatusCode, body)
	}
}

// hangingProber holds every probe until its caller cancels, and says when
// a probe arrived and when its cancellation did.
type hangingProber struct {
	dsprobev1.UnimplementedProberServer
	started, canceled chan struct{}
}

func (h *hangingProber) Probe(ctx context.Context, _ *dsprobev1.ProbeRequest) (*dsprobev1.ProbeResponse, error) {
	h.started <- struct{}{}
	<-ctx.Done()
	h.canceled <- struct{}{}
	return nil, ctx.Err()
}

// A caller that goes away cancels the job: the probers' calls are canceled
// (not left to run to their budget) and the job is kept as CANCELED with what
// had arrived.
func TestCancellationReachesProbers(t *testing.T) {
	hang := &hangingProber{started: make(chan struct{}, 2), canceled: make(chan struct{}, 2)}
	probers := Static{
		{Name: "fast", Namespace: "ns", Address: startProber(t, &stubProber{ipv6OK: true})},
		{Name: "hang-1", Namespace: "ns", Address: startProber(t, hang)},
		{Name: "hang-2", Namespace: "ns", Address: startProber(t, hang)},
	}
	c := startCoordinator(t, &Service{Discovery: probers, Jobs: NewJobStore(10), ProberTimeout: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.RunProbe(ctx, &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetProber().GetProber() != "fast" {
		t.Fatalf("got %v, %v; want the fast prober's result first", first, err)
	}
	for range 2 {
		<-hang.started
	}
	cancel()
	for i := range 2 {
		select {
		case <-hang.canceled:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 2 probers saw the cancellation", i)
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.GetJob(context.Background(), &dsprobev1.GetJobRequest{JobId: first.GetJobId()})
		if err != nil {
			t.Fatal(err)
		}
		job := resp.GetJob()
		if job.GetState() == dsprobev1.JobState_JOB_STATE_CANCELED {
			codes := map[string]string{}
			for _, r := range job.GetProbers() {
				codes[r.GetProber()] = r.GetError().GetCode()
			}
			if len(codes) != 3 || codes["fast"] != "" || codes["hang-1"] != "CANCELLED" || codes["hang-2"] != "CANCELLED" {
				t.Errorf("got prober entries %v, want fast's result and two Canceled", codes)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is still %v 10 s after the cancellation", job.GetState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A flood of jobs is refused at once beyond the limits, not queued without
// bound: with one job slot and no waiting room, a second job while the
// first runs gets RESOURCE_EXHAUSTED, and the first still completes.
func TestJobFloodIsLimited(t *testing.T) {
	hang := &hangingProber{started: make(chan struct{}, 1), canceled: make(chan struct{}, 1)}
	probers := Static{{Name: "hang", Namespace: "ns", Address: startProber(t, hang)}}
	c := startCoordinator(t, &Service{Discovery: probers, Limiter: admission.New(admission.Limits{MaxConcurrent: 1})})
	req := &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}, ProberTimeoutMs: 500}

	first := make(chan error, 1)
	go func() {
		run, err := RunJob(context.Background(), c, req)
		if err == nil && run.Results[0].GetError().GetCode() != "DEADLINE_EXCEEDED" {
			err = fmt.Errorf("got %v, want the hanging prober reported DeadlineExceeded", run.Results)
		}
		first <- err
	}()
	<-hang.started // the first job holds the slot
	if _, err := RunJob(context.Background(), c, req); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("got %v for a job over the limit, want ResourceExhausted", err)
	}
	<-hang.canceled
	if err := <-first; err != nil {
		t.Errorf("the first job: %v", err)
	}
}
