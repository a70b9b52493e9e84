package prober

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/dial"
	"github.com/dsprobe/dsprobe/internal/restgw"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A prober whose machine has no free local port answers RESOURCE_EXHAUSTED
// (HTTP 429 through the REST mapping) naming the resource, never a verdict:
// the prober connects from a test host whose one local port is held towards
// the target, the target itself healthy.
func TestProbeWithoutLocalPorts(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	client.NarrowLocalPorts(t, 1)
	policy, err := allowlist.Parse([]string{lab.Prefix4().String(), lab.Prefix6().String()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The prober runs here, and its every connect starts inside the client.
	svc := &Service{Allow: &policy, Dialer: client.Dialer(dial.Dialer{})}
	srv := grpc.NewServer()
	dsprobev1.RegisterProberServer(srv, svc)
	grpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(grpcLn)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(grpcLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	prober := dsprobev1.NewProberClient(cc)
	gateway, stop, err := restgw.Handler(t.Context(), func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) },
		dsprobev1.RegisterProberHandler, &authn.Authenticator{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rest := httptest.NewServer(gateway)
	t.Cleanup(rest.Close)

	for _, addr := range []netip.Addr{server.Addr4(), server.Addr6()} {
		dst := netip.AddrPortFrom(addr, port)
		t.Run(dst.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			held, err := client.DialContext(ctx, "tcp", dst.String())
			if err != nil {
				t.Fatalf("holding the one port towards %v: %v", dst, err)
			}
			defer held.Close()
			target := fmt.Sprintf("http://%s/", dst)

			resp, err := prober.Probe(ctx, &dsprobev1.ProbeRequest{Target: target, AttemptTimeoutMs: 1000})
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "local ports") || !strings.Contains(err.Error(), "ip_local_port_range") {
				t.Fatalf("got %v (result %v), want RESOURCE_EXHAUSTED naming the local ports and the sysctl", err, resp.GetResult().GetFamilies())
			}

			req, _ := http.NewRequestWithContext(ctx, "POST", rest.URL+"/v1/probe", strings.NewReader(fmt.Sprintf(`{"target": %q, "attemptTimeoutMs": 1000}`, target)))
			req.Header.Set("Authorization", "Bearer "+token)
			httpResp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer httpResp.Body.Close()
			body, _ := io.ReadAll(httpResp.Body)
			if httpResp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "local ports") {
				t.Errorf("REST: got %d %s, want 429 naming the local ports", httpResp.StatusCode, body)
			}
		})
	}
}
