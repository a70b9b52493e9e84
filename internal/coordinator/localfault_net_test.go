package coordinator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/dial"
	"github.com/dsprobe/dsprobe/internal/prober"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A prober whose machine has no free local port is an error entry of the
// job, RESOURCE_EXHAUSTED naming the resource, and no verdict: the other
// prober's verdict alone judges the healthy target. Two real probers connect
// from two test hosts; one host's only local port is held towards the
// target.
func TestJobWithAProberOutOfLocalPorts(t *testing.T) {
	lab := testhost.New(t)
	exhausted, healthy, server := lab.AddHost("exhausted"), lab.AddHost("healthy"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	dst := netip.AddrPortFrom(server.Addr4(), uint16(ln.Addr().(*net.TCPAddr).Port))

	exhausted.NarrowLocalPorts(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	held, err := exhausted.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		t.Fatalf("holding the one port towards %v: %v", dst, err)
	}
	defer held.Close()

	policy, err := allowlist.Parse([]string{lab.Prefix4().String()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	proberOn := func(h *testhost.Host) string {
		return startProber(t, &prober.Service{Allow: &policy, Dialer: h.Dialer(dial.Dialer{})})
	}
	c := startCoordinator(t, &Service{Jobs: NewJobStore(10), Discovery: Static{
		{Name: "exhausted", Namespace: "ns-a", Address: proberOn(exhausted)},
		{Name: "healthy", Namespace: "ns-b", Address: proberOn(healthy)},
	}})

	run, err := RunJob(ctx, c, &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: fmt.Sprintf("http://%s/", dst)}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.GetJob(ctx, &dsprobev1.GetJobRequest{JobId: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, entries := range [][]*dsprobev1.ProberResult{run.Results, job.GetJob().GetProbers()} {
		for _, r := range entries {
			switch r.GetProber() {
			case "exhausted":
				e := r.GetError()
				if e == nil || e.GetCode() != "RESOURCE_EXHAUSTED" || !strings.Contains(e.GetMessage(), "local ports") || r.GetResult() != nil {
					t.Errorf("exhausted prober: got error %v and result %v, want only a ResourceExhausted error naming the local ports", e, r.GetResult())
				}
			case "healthy":
				if fams := r.GetResult().GetFamilies(); len(fams) != 1 || !fams[0].GetOk() {
					t.Errorf("healthy prober: got %v (error %v), want IPv4 passing", fams, r.GetError())
				}
			}
		}
	}
	sum := run.Summary
	if sum.GetPassed() || sum.GetAnswered() != 1 || sum.GetFailed() != 1 {
		t.Errorf("got summary %v, want not passed: 1 prober answered, 1 failed", sum)
	}
	// The prober's fault is no failing layer: the family's verdict is the
	// healthy prober's.
	if fams := sum.GetFamilies(); len(fams) != 1 || !fams[0].GetOk() || fams[0].GetFailingLayer() != dsprobev1.Layer_LAYER_NONE {
		t.Errorf("got families %v, want IPv4 passing on the prober that answered", fams)
	}
}
