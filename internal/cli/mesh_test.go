package cli

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/admission"
	"github.com/dsprobe/dsprobe/internal/allowlist"
	"github.com/dsprobe/dsprobe/internal/coordinator"
	"github.com/dsprobe/dsprobe/internal/prober"
)

// The coordinator and probers of these tests run in-process on loopback, as
// internal/coordinator's tests run them: real gRPC servers the CLI's
// --coordinator reaches as it would reach deployed ones.

// serveGRPC serves what register registers on a loopback port and returns
// the address.
func serveGRPC(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	srv := grpc.NewServer()
	register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// startProber starts a real prober that may probe loopback, names any
// target's host, and returns how a coordinator lists it.
func startProber(t *testing.T, name, namespace string) *dsprobev1.ProberInfo {
	t.Helper()
	policy, err := allowlist.Parse([]string{"127.0.0.0/8", "::1/128"}, []string{"*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &prober.Service{Allow: &policy}
	addr := serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterProberServer(s, svc) })
	return &dsprobev1.ProberInfo{Name: name, Namespace: namespace, Address: addr, Ready: true}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startCoordinator starts a coordinator over probers (admitting jobs as
// limiter says; nil admits every job) and returns its address.
func startCoordinator(t *testing.T, probers coordinator.Static, limiter *admission.Limiter) string {
	t.Helper()
	connector := &coordinator.GRPCConnector{Options: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	t.Cleanup(func() { connector.Close() })
	svc := &coordinator.Service{Discovery: probers, Connector: connector, Jobs: coordinator.NewJobStore(0), Limiter: limiter}
	return serveGRPC(t, func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) })
}
