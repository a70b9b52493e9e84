package authn

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/dsprobe/dsprobe/internal/testsupport/testpki"
)

// serve starts a gRPC server on loopback whose every unknown method echoes
// an Empty, behind the authenticator.
func serve(t *testing.T, a *Authenticator, creds credentials.TransportCredentials) string {
	t.Helper()
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamInterceptor()),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var m emptypb.Empty
			if err := stream.RecvMsg(&m); err != nil {
				return err
			}
			return stream.SendMsg(&m)
		}),
	}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func call(t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Invoke(ctx, "/dsprobe.v1.Prober/Probe", &emptypb.Empty{}, &emptypb.Empty{})
}

func TestMutualTLS(t *testing.T) {
	good, rogue := testpki.NewCA(t, "cluster"), testpki.NewCA(t, "rogue")
	server := good.Issue(t, "prober.dsprobe.test")
	serverTLS, err := TLSFiles{Cert: server.CertFile, Key: server.KeyFile, CA: good.File}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &Authenticator{}, credentials.NewTLS(serverTLS))

	clientWith := func(files TLSFiles) grpc.DialOption {
		cfg, err := files.ClientConfig("prober.dsprobe.test")
		if err != nil {
			t.Fatal(err)
		}
		return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	coord := good.Issue(t, "coordinator")
	intruder := rogue.Issue(t, "coordinator")

	if err := call(t, addr, clientWith(TLSFiles{Cert: coord.CertFile, Key: coord.KeyFile, CA: good.File})); err != nil {
		t.Errorf("signed client: got %v, want success", err)
	}
	if err := call(t, addr, clientWith(TLSFiles{CA: good.File})); err == nil {
		t.Error("client without a certificate: got success, want refusal")
	}
	if err := call(t, addr, clientWith(TLSFiles{Cert: intruder.CertFile, Key: intruder.KeyFile, CA: good.File})); err == nil {
		t.Error("client signed by another CA: got success, want refusal")
	}
}

func TestBearerToken(t *testing.T) {
	addr := serve(t, &Authenticator{Token: "s3cret"}, nil)
	plain := grpc.WithTransportCredentials(insecure.NewCredentials())
	tests := []struct {
		name string
		opts []grpc.DialOption
		want codes.Code
	}{
		{"no token", []grpc.DialOption{plain}, codes.Unauthenticated},
		{"wrong token", []grpc.DialOption{plain, grpc.WithPerRPCCredentials(BearerToken{Token: "guess", Insecure: true})}, codes.Unauthenticated},
		{"right token", []grpc.DialOption{plain, grpc.WithPerRPCCredentials(BearerToken{Token: "s3cret", Insecure: true})}, codes.OK},
	}
	for _, tt := range tests {
		if got := status.Code(call(t, addr, tt.opts...)); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// A token must not cross plaintext by accident.
	if conn, err := grpc.NewClient(addr, plain, grpc.WithPerRPCCredentials(BearerToken{Token: "s3cret"})); err == nil {
		conn.Close()
		t.Error("token over plaintext without Insecure: got a client, want refusal")
	}
	// Health checks need no credentials.
	conn, _ := grpc.NewClient(addr, plain)
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check: got %v, want it served without credentials", err)
	}
}

func TestCheckPlaintext(t *testing.T) {
	tests := []struct {
		addr     string
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:9000", false, true},
		{"[::1]:9000", false, true},
		{"localhost:9000", false, true},
		{"0.0.0.0:9000", false, false},
		{"[::]:9000", false, false},
		{"192.0.2.1:9000", false, false},
		{"192.0.2.1:9000", true, true},
		{"no-port", false, false},
	}
	for _, tt := range tests {
		if err := CheckPlaintext(tt.addr, tt.insecure); (err == nil) != tt.ok {
			t.Errorf("CheckPlaintext(%q, %v) = %v, want ok=%v", tt.addr, tt.insecure, err, tt.ok)
		}
	}
}

func TestTLSFilesErrors(t *testing.T) {
	if _, err := (TLSFiles{CA: "/nonexistent"}).ServerConfig(); err == nil {
		t.Error("server without cert: got no error")
	}
	if _, err := (TLSFiles{Cert: "/nonexistent", Key: "/nonexistent"}).ServerConfig(); err == nil {
		t.Error("missing files: got no error")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not pem"), 0o600)
	if _, err := (TLSFiles{CA: empty}).ClientConfig("x"); err == nil {
		t.Error("CA without PEM: got no error")
	}
}

// The kubelet rotates a projected ServiceAccount token by replacing the
// file: the next RPC must present the new token, without a restart.
func TestTokenFileRotated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	write := func(token string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// An explicit mtime: two writes within the file system's
		// timestamp granularity must still count as a change.
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	first := time.Now().Add(-time.Hour)
	write("first", first)
	addr := serve(t, &Authenticator{Token: "second"}, nil)
	opts, err := DialOptions(TLSFiles{}, false, "", file)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	invoke := func() error {
		return conn.Invoke(t.Context(), "/dsprobe.v1.Prober/Probe", &emptypb.Empty{}, &emptypb.Empty{})
	}
	if err := invoke(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("first token: got %v, want Unauthenticated", err)
	}
	write("second", first.Add(time.Minute))
	if err := invoke(); err != nil {
		t.Errorf("after rotation: got %v, want the new token presented", err)
	}
	os.Remove(file)
	if err := invoke(); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), file) {
		t.Errorf("token file gone: got %v, want Unauthenticated naming the file", err)
	}
}
