package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"log"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/dsprobe/dsprobe/internal/demo"
)

// claim is how a command claims a trace: a "trace <32 hex digits>" line,
// or a "traceId" in JSON.
var claim = regexp.MustCompile(`(?m)^trace ([0-9a-f]{32})$|"traceId":\s*"([0-9a-f]+)"`)

// A collector that cannot be reached costs one warning line and no stall,
// and no trace ID is claimed for a trace that never left: the verdicts and
// the exit code stand. The wall-time bound only catches a stall as long as
// the exporter's own timeouts (15 s before); the command takes about 2 s.
func TestUnreachableCollector(t *testing.T) {
	// OpenTelemetry logs errors it is given no handler for with the log
	// package: none may be.
	var logged lockedBuffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&logged)
	endpoint := closedPort(t)
	mesh := startDemoMesh(t)
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStdout string
	}{
		{"demo", []string{"demo", "--otlp-endpoint", endpoint}, ExitOK, "FAIL LAYER_ROUTE"},
		{"demo -o json", []string{"demo", "-o", "json", "--otlp-endpoint", endpoint}, ExitOK, `"jobs"`},
		{"probe", []string{"probe", "--otlp-endpoint", endpoint, "--dns-server", mesh.DNSServer, mesh.Targets[0].URL}, ExitOK, "verdict"},
		{"probe -o json", []string{"probe", "-o", "json", "--otlp-endpoint", endpoint, "--dns-server", mesh.DNSServer, mesh.Targets[0].URL}, ExitOK, `"families"`},
		{"probe over OTLP/HTTP", []string{"probe", "--otlp-endpoint", "http://" + endpoint, "--dns-server", mesh.DNSServer, mesh.Targets[0].URL}, ExitOK, "verdict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			stdout, stderr, code := run(t, tt.args...)
			took := time.Since(start)
			if code != tt.want || !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("got exit %d and\n%s\nwant exit %d and %q", code, stdout, tt.want, tt.wantStdout)
			}
			if took > 10*time.Second {
				t.Errorf("took %v, want no stall on the collector", took)
			}
			warning := strings.TrimSpace(stderr)
			if strings.Count(warning, "\n") > 0 || !regexp.MustCompile(`^dsprobe: warning: the OTLP collector at (http://)?`+regexp.QuoteMeta(endpoint)+` could not be reached \(.*connection refused.*\); the traces were not exported`).MatchString(warning) {
				t.Errorf("got stderr %q, want one line warning that the collector at %s could not be reached and the traces were not exported", stderr, endpoint)
			}
			if ids := claimedTraces(stdout + stderr); len(ids) > 0 {
				t.Errorf("got trace IDs %v claimed, want none: nothing was exported", ids)
			}
			if l := logged.String(); l != "" {
				t.Errorf("got %q logged, want nothing but the warning", l)
			}
		})
	}
}

// With a collector that answers, every trace ID a command prints is one
// the collector received, and nothing is printed on stderr.
func TestCollectorReceivesClaimedTraces(t *testing.T) {
	collector := startCollector(t)
	mesh := startDemoMesh(t)
	tests := []struct {
		name   string
		args   []string
		traces int
	}{
		{"demo", []string{"demo", "--otlp-endpoint", collector.addr}, len(mesh.Targets)},
		{"demo -o json", []string{"demo", "-o", "json", "--otlp-endpoint", collector.addr}, len(mesh.Targets)},
		{"probe", []string{"probe", "--otlp-endpoint", collector.addr, "--dns-server", mesh.DNSServer, mesh.Targets[0].URL}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("got exit %d and stderr %q, want 0 and nothing", code, stderr)
			}
			claimed := claimedTraces(stdout)
			if len(claimed) != tt.traces {
				t.Errorf("got %d trace IDs, want %d:\n%s", len(claimed), tt.traces, stdout)
			}
			for _, id := range claimed {
				if !collector.received(id) {
					t.Errorf("trace %s is claimed but the collector never received it", id)
				}
			}
		})
	}
}

// claimedTraces are the trace IDs a command's output claims: "trace ID"
// lines of a table, "traceId" keys of JSON.
func claimedTraces(out string) []string {
	var ids []string
	for _, m := range claim.FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1]+m[2])
	}
	return ids
}

// lockedBuffer is a buffer the exporter's goroutines may write to while a
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startDemoMesh(t *testing.T) *demo.Mesh {
	t.Helper()
	mesh, err := demo.Start(context.Background(), demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mesh.Close)
	return mesh
}

// collector is an OTLP/gRPC trace receiver on loopback that remembers the
// trace IDs it was sent.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	addr   string
	mu     sync.Mutex
	traces map[string]bool
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: ln.Addr().String(), traces: map[string]bool{}}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, c)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return c
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.traces[hex.EncodeToString(s.GetTraceId())] = true
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) received(traceID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.traces[traceID]
}
