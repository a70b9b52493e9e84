package appcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/dsprobe/dsprobe/internal/testsupport/testpki"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{TCP, HTTP, HTTPS, GRPC, GRPCS} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q): got %v, %v, want %v", k.String(), got, err, k)
		}
	}
	_, err := ParseKind("ftp")
	if err == nil {
		t.Fatal("ParseKind(\"ftp\"): got no error")
	}
	for _, want := range []string{`"ftp"`, "tcp, http, https, grpc, grpcs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got error %q, want it to contain %q", err, want)
		}
	}
	var zero Spec
	if zero.Kind != TCP {
		t.Errorf("got zero Kind %v, want tcp", zero.Kind)
	}
}

func TestSpecValidate(t *testing.T) {
	if err := (Spec{}).Validate(); err != nil {
		t.Errorf("zero Spec: got %v, want no error", err)
	}
	err := Spec{Kind: Kind(42), Path: "healthz", MaxStatus: -1, Host: "a b"}.Validate()
	if err == nil {
		t.Fatal("got no error for a bad Spec")
	}
	// Every problem at once.
	for _, want := range []string{"Kind(42)", `"healthz"`, "-1", `"a b"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to mention %s", err, want)
		}
	}
}

// dialTo connects to a test server's address, as the prober would have:
// the connection resets when it is closed (internal/dial sets SO_LINGER 0,
// so the prober leaves no TIME_WAIT), and every check must still read its
// whole answer before that.
func dialTo(t *testing.T, addr string) net.Conn {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	return conn
}

// pki is a test CA and a server certificate it issued.
type pki struct {
	pool *x509.CertPool
	cert tls.Certificate
}

// newPKI makes a CA and a server certificate for name and the given IP
// addresses.
func newPKI(t *testing.T, name string, ips ...netip.Addr) pki {
	t.Helper()
	ca := testpki.NewCA(t, "appcheck")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pki{pool: pool, cert: ca.Issue(t, name, ips...).TLS}
}

// httpServer starts an HTTP (or, with a certificate, HTTPS) server on
// loopback that answers every request with status and records the Host
// header it received.
func httpServer(t *testing.T, status int, cert *tls.Certificate) (addr string, gotHost func() string) {
	t.Helper()
	var mu sync.Mutex
	var host string
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host = r.Host
		mu.Unlock()
		w.WriteHeader(status)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point of some cases
	if cert != nil {
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return host
	}
}

func TestRunHTTP(t *testing.T) {
	loopback := netip.MustParseAddr("127.0.0.1")
	p := newPKI(t, "svc.example", loopback, netip.IPv6Loopback())
	tests := []struct {
		name       string
		status     int
		tls        bool
		spec       Spec
		wantOK     bool
		wantStatus int
		wantDetail []string // substrings
	}{
		{
			name: "HTTP 200", status: 200,
			spec:   Spec{Kind: HTTP, Host: "svc.example", Path: "/healthz?full=1"},
			wantOK: true, wantStatus: 200,
			wantDetail: []string{"http://svc.example/healthz?full=1", "200"},
		},
		{
			name: "HTTP 500", status: 500,
			spec:   Spec{Kind: HTTP, Host: "svc.example"},
			wantOK: false, wantStatus: 500,
			wantDetail: []string{"500 Internal Server Error", "399"},
		},
		{
			name: "HTTP 404 under a raised maximum", status: 404,
			spec:   Spec{Kind: HTTP, Host: "svc.example", MaxStatus: 499},
			wantOK: true, wantStatus: 404,
		},
		{
			name: "HTTP redirect is an answer, not followed", status: 302,
			spec:   Spec{Kind: HTTP, Host: "svc.example"},
			wantOK: true, wantStatus: 302,
		},
		{
			name: "HTTPS with the test CA", status: 200, tls: true,
			spec:   Spec{Kind: HTTPS, Host: "svc.example", RootCAs: p.pool},
			wantOK: true, wantStatus: 200,
			wantDetail: []string{"https://svc.example/"},
		},
		{
			name: "HTTPS to the address: IP SAN verified", status: 200, tls: true,
			spec:   Spec{Kind: HTTPS, RootCAs: p.pool},
			wantOK: true, wantStatus: 200,
		},
		{
			name: "HTTPS name mismatch", status: 200, tls: true,
			spec:       Spec{Kind: HTTPS, Host: "other.example", RootCAs: p.pool},
			wantOK:     false,
			wantDetail: []string{"name verification", "x509: certificate is valid for svc.example, not other.example"},
		},
		{
			name: "HTTPS unknown authority", status: 200, tls: true,
			spec:       Spec{Kind: HTTPS, Host: "svc.example", RootCAs: x509.NewCertPool()},
			wantOK:     false,
			wantDetail: []string{"unknown authority", "x509: certificate signed by unknown authority"},
		},
		{
			name: "HTTPS InsecureSkipVerify", status: 200, tls: true,
			spec:   Spec{Kind: HTTPS, Host: "other.example", InsecureSkipVerify: true},
			wantOK: true, wantStatus: 200,
		},
		{
			name: "HTTPS to a plaintext server", status: 200,
			spec:       Spec{Kind: HTTPS, Host: "svc.example", RootCAs: p.pool},
			wantOK:     false,
			wantDetail: []string{"TLS handshake with svc.example failed"},
		},
		{
			name: "TCP only", status: 500,
			spec:   Spec{},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cert *tls.Certificate
			if tt.tls {
				cert = &p.cert
			}
			addr, gotHost := httpServer(t, tt.status, cert)
			res := Run(t.Context(), dialTo(t, addr), tt.spec)
			t.Logf("%+v", res)
			if res.OK != tt.wantOK {
				t.Errorf("got OK %v (%s), want %v", res.OK, res.Detail, tt.wantOK)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("got status %d, want %d", res.Status, tt.wantStatus)
			}
			if (res.Err == nil) != res.OK {
				t.Errorf("got Err %v with OK %v, want an Err exactly when the check fails", res.Err, res.OK)
			}
			for _, want := range tt.wantDetail {
				if !strings.Contains(res.Detail, want) {
					t.Errorf("got detail %q, want it to contain %q", res.Detail, want)
				}
			}
			if tt.wantStatus != 0 {
				want := tt.spec.Host
				if want == "" {
					want = addr
				}
				if got := gotHost(); got != want {
					t.Errorf("got Host header %q, want %q", got, want)
				}
			}
		})
	}
}

// A request longer than the transport's write buffer and a response head
// longer than its read buffer (a long line among many) pass through whole.
func TestRunHTTPLongerThanItsBuffers(t *testing.T) {
	path := "/" + strings.Repeat("p", 3*writeBufferBytes)
	long := strings.Repeat("v", 4*readBufferBytes)
	var mu sync.Mutex
	var gotPath string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotPath = r.URL.Path
		mu.Unlock()
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("f", 60))
		}
		w.Header().Set("X-Long", long)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	res := Run(t.Context(), dialTo(t, ts.Listener.Addr().String()), Spec{Kind: HTTP, Host: "svc.example", Path: path})
	if !res.OK || res.Status != http.StatusNoContent {
		t.Errorf("got OK %v, status %d (%s), want OK with 204", res.OK, res.Status, res.Detail)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotPath != path {
		t.Errorf("got a request for a path of %d bytes, want the %d sent", len(gotPath), len(path))
	}
}

// The Host header is what curl sends for the same URL (RFC 9110 §7.2): the
// name alone on the scheme's default port (80 for http, 443 for https), name:port
// on any other, an IPv6 literal in brackets. The detail's URL shows the same
// authority. Issue 8: a virtual host routed by name:port answered 421.
func TestRunHostHeader(t *testing.T) {
	p := newPKI(t, "svc.example")
	tests := []struct {
		kind     Kind
		host     string
		wantHost string
	}{
		{HTTP, "svc.example:80", "svc.example"},
		{HTTP, "svc.example:8080", "svc.example:8080"},
		{HTTP, "svc.example:443", "svc.example:443"},
		{HTTP, "svc.example", "svc.example"}, // no port: sent as given
		{HTTP, "SVC.example.:80", "SVC.example."},
		{HTTP, "192.0.2.1:80", "192.0.2.1"},
		{HTTP, "192.0.2.1:8080", "192.0.2.1:8080"},
		{HTTP, "2001:db8::1", "[2001:db8::1]"},
		{HTTP, "[2001:db8::1]:80", "[2001:db8::1]"},
		{HTTP, "[2001:db8::1]:8080", "[2001:db8::1]:8080"},
		{HTTPS, "svc.example:443", "svc.example"},
		{HTTPS, "svc.example:80", "svc.example:80"},
		{HTTPS, "svc.example:8443", "svc.example:8443"},
		{HTTPS, "[2001:db8::1]:443", "[2001:db8::1]"},
		{HTTPS, "[2001:db8::1]:8443", "[2001:db8::1]:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.host, func(t *testing.T) {
			var cert *tls.Certificate
			if tt.kind == HTTPS {
				cert = &p.cert
			}
			addr, gotHost := httpServer(t, 200, cert)
			// The server's certificate is for svc.example, not for every
			// host of the table: the name is not what this test checks.
			spec := Spec{Kind: tt.kind, Host: tt.host, InsecureSkipVerify: true}
			res := Run(t.Context(), dialTo(t, addr), spec)
			if !res.OK {
				t.Fatalf("got %+v, want OK", res)
			}
			if got := gotHost(); got != tt.wantHost {
				t.Errorf("got Host header %q, want %q", got, tt.wantHost)
			}
			if want := "GET " + tt.kind.String() + "://" + tt.wantHost + "/ "; !strings.Contains(res.Detail, want) {
				t.Errorf("got detail %q, want it to contain %q", res.Detail, want)
			}
		})
	}
}

// remoteConn is a connection that knows only its remote address, for
// namesFor's fallback.
type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// The forms of Host that TestRunHostHeader cannot send over a real
// connection's Host header alone: the TLS server name, zones, brackets
// without a port, and the remote address when Host is empty.
func TestNamesFor(t *testing.T) {
	remote := func(ip string, port int) net.Conn {
		return remoteConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}}
	}
	tests := []struct {
		host                      string
		kind                      Kind
		conn                      net.Conn
		wantAuthority, wantServer string
	}{
		{"svc.example:8443", HTTPS, nil, "svc.example:8443", "svc.example"},
		{"svc.example:443", HTTPS, nil, "svc.example", "svc.example"},
		{"svc.example:443", GRPCS, nil, "svc.example:443", "svc.example"},
		{"[2001:db8::1]", HTTP, nil, "[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", HTTPS, nil, "[2001:db8::1]", "2001:db8::1"},
		{"fe80::1%eth0", HTTP, nil, "[fe80::1]", "fe80::1"},
		{"[fe80::1%eth0]:8080", HTTP, nil, "[fe80::1]:8080", "fe80::1"},
		{"", HTTP, remote("192.0.2.1", 80), "192.0.2.1", "192.0.2.1"},
		{"", HTTP, remote("::ffff:192.0.2.1", 8080), "192.0.2.1:8080", "192.0.2.1"},
		{"", HTTPS, remote("2001:db8::1", 443), "[2001:db8::1]", "2001:db8::1"},
		{"", GRPC, remote("2001:db8::1", 443), "[2001:db8::1]:443", "2001:db8::1"},
	}
	for _, tt := range tests {
		n := namesFor(tt.host, tt.kind, tt.conn)
		if n.authority != tt.wantAuthority || n.serverName != tt.wantServer {
			t.Errorf("namesFor(%q, %v, %v): got authority %q and server name %q, want %q and %q",
				tt.host, tt.kind, tt.conn, n.authority, n.serverName, tt.wantAuthority, tt.wantServer)
		}
	}
}

// The check must use the given connection even when the name it carries
// would lead elsewhere: the Host names a server that does not exist.
func TestRunUsesTheGivenConnection(t *testing.T) {
	addr, gotHost := httpServer(t, 204, nil)
	res := Run(t.Context(), dialTo(t, addr), Spec{Kind: HTTP, Host: "no-such-host.invalid:81"})
	if !res.OK || res.Status != 204 {
		t.Fatalf("got %+v, want OK with 204", res)
	}
	if got, want := gotHost(), "no-such-host.invalid:81"; got != want {
		t.Errorf("got Host %q, want %q", got, want)
	}
}

func TestRunClosesConn(t *testing.T) {
	addr, _ := httpServer(t, 200, nil)
	for _, kind := range []Kind{TCP, HTTP} {
		conn := dialTo(t, addr)
		Run(t.Context(), conn, Spec{Kind: kind, Host: "svc.example"})
		if _, err := conn.Write([]byte("x")); err == nil {
			t.Errorf("%v: got a write on the connection after Run, want it closed", kind)
		}
	}
}

// grpcServer starts a gRPC server (TLS with a certificate) on loopback whose
// health service reports status for the overall server and for "svc"; it
// records the :authority of the last call it received.
func grpcServer(t *testing.T, status healthpb.HealthCheckResponse_ServingStatus, cert *tls.Certificate) (addr string, gotAuthority func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var authority string
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		authority = strings.Join(md.Get(":authority"), ",")
		mu.Unlock()
		return handler(ctx, req)
	})}
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("", status)
	hs.SetServingStatus("svc", status)
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return authority
	}
}

func TestRunGRPC(t *testing.T) {
	p := newPKI(t, "svc.example")
	tests := []struct {
		name       string
		status     healthpb.HealthCheckResponse_ServingStatus
		tls        bool
		spec       Spec
		wantOK     bool
		wantStatus string
		wantDetail string
	}{
		{"SERVING", healthpb.HealthCheckResponse_SERVING, false,
			Spec{Kind: GRPC, Host: "svc.example:50051"}, true, "SERVING", "SERVING"},
		{"NOT_SERVING", healthpb.HealthCheckResponse_NOT_SERVING, false,
			Spec{Kind: GRPC, Host: "svc.example:50051"}, false, "NOT_SERVING", "NOT_SERVING, not SERVING"},
		{"a named service", healthpb.HealthCheckResponse_SERVING, false,
			Spec{Kind: GRPC, Host: "svc.example", GRPCService: "svc"}, true, "SERVING", `service "svc"`},
		{"an unknown service", healthpb.HealthCheckResponse_SERVING, false,
			Spec{Kind: GRPC, Host: "svc.example", GRPCService: "nope"}, false, "", "NotFound"},
		{"grpcs SERVING", healthpb.HealthCheckResponse_SERVING, true,
			Spec{Kind: GRPCS, Host: "svc.example", RootCAs: p.pool}, true, "SERVING", "SERVING"},
		{"grpcs name mismatch", healthpb.HealthCheckResponse_SERVING, true,
			Spec{Kind: GRPCS, Host: "other.example", RootCAs: p.pool}, false, "", "x509: certificate is valid for svc.example, not other.example"},
		{"grpc to a TLS server", healthpb.HealthCheckResponse_SERVING, true,
			Spec{Kind: GRPC, Host: "svc.example", Timeout: 2 * time.Second}, false, "", "Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cert *tls.Certificate
			if tt.tls {
				cert = &p.cert
			}
			addr, _ := grpcServer(t, tt.status, cert)
			res := Run(t.Context(), dialTo(t, addr), tt.spec)
			t.Logf("%+v", res)
			if res.OK != tt.wantOK {
				t.Errorf("got OK %v (%s), want %v", res.OK, res.Detail, tt.wantOK)
			}
			if res.ServingStatus != tt.wantStatus {
				t.Errorf("got serving status %q, want %q", res.ServingStatus, tt.wantStatus)
			}
			if !strings.Contains(res.Detail, tt.wantDetail) {
				t.Errorf("got detail %q, want it to contain %q", res.Detail, tt.wantDetail)
			}
		})
	}
}

// gRPC's :authority is host:port as grpc-go sends it for a host:port target,
// whatever the port: gRPC has no default port to leave out.
func TestRunGRPCAuthority(t *testing.T) {
	p := newPKI(t, "svc.example")
	tests := []struct {
		kind          Kind
		host          string
		wantAuthority string
	}{
		{GRPC, "svc.example:50051", "svc.example:50051"},
		{GRPC, "svc.example:80", "svc.example:80"},
		{GRPC, "[2001:db8::1]:80", "[2001:db8::1]:80"},
		{GRPC, "2001:db8::1", "[2001:db8::1]"},
		{GRPCS, "svc.example:443", "svc.example:443"},
		{GRPCS, "[2001:db8::1]:443", "[2001:db8::1]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.host, func(t *testing.T) {
			var cert *tls.Certificate
			if tt.kind == GRPCS {
				cert = &p.cert
			}
			addr, gotAuthority := grpcServer(t, healthpb.HealthCheckResponse_SERVING, cert)
			res := Run(t.Context(), dialTo(t, addr), Spec{Kind: tt.kind, Host: tt.host, InsecureSkipVerify: true})
			if !res.OK {
				t.Fatalf("got %+v, want OK", res)
			}
			if got := gotAuthority(); got != tt.wantAuthority {
				t.Errorf("got :authority %q, want %q", got, tt.wantAuthority)
			}
			if want := " on " + tt.wantAuthority + " "; !strings.Contains(res.Detail, want) {
				t.Errorf("got detail %q, want it to contain %q", res.Detail, want)
			}
		})
	}
}

// misbehavingServer accepts connections on loopback and treats each with
// behave; it waits for its handlers when the test ends.
func misbehavingServer(t *testing.T, behave func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				behave(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Servers that misbehave fail every kind of check, within its timeout, and
// never panic the prober.
func TestRunMisbehavingServers(t *testing.T) {
	garbage := []byte("\x00\xff garbage \r\n\r\n\x16\x03\x01\x00\x05hello" + strings.Repeat("\xde\xad", 512))
	behaviours := []struct {
		name   string
		behave func(net.Conn)
	}{
		{"sends garbage", func(c net.Conn) {
			c.Write(garbage)
			io.Copy(io.Discard, c)
		}},
		{"closes at once", func(c net.Conn) {}},
		{"resets after the first bytes", func(c net.Conn) {
			c.Read(make([]byte, 1)) // an earlier reset could fail the test's own connect
			c.(*net.TCPConn).SetLinger(0)
		}},
		{"never answers", func(c net.Conn) {
			io.Copy(io.Discard, c) // until the client gives up
		}},
		{"answers HTTP with an endless header", func(c net.Conn) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nX: "))
			for {
				if _, err := c.Write([]byte(strings.Repeat("a", 4096))); err != nil {
					return
				}
			}
		}},
	}
	const timeout = 300 * time.Millisecond
	for _, b := range behaviours {
		addr := misbehavingServer(t, b.behave)
		for _, kind := range []Kind{HTTP, HTTPS, GRPC, GRPCS} {
			t.Run(b.name+"/"+kind.String(), func(t *testing.T) {
				start := time.Now()
				res := Run(t.Context(), dialTo(t, addr), Spec{Kind: kind, Host: "svc.example", Timeout: timeout, InsecureSkipVerify: true})
				took := time.Since(start)
				t.Logf("%v: %+v", took, res)
				if res.OK {
					t.Errorf("got OK (%s), want a failure", res.Detail)
				}
				if res.Err == nil || res.Detail == "" {
					t.Errorf("got Err %v and detail %q, want both", res.Err, res.Detail)
				}
				// Bounded by the timeout; the margin is wide on purpose.
				if took > timeout+5*time.Second {
					t.Errorf("got the check ending after %v, want it bounded by its %v timeout", took, timeout)
				}
			})
		}
	}
}

// The caller's context bounds the check as well as Spec.Timeout does.
func TestRunContextCanceled(t *testing.T) {
	addr := misbehavingServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, kind := range []Kind{HTTP, GRPC} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		res := Run(ctx, dialTo(t, addr), Spec{Kind: kind, Timeout: -1})
		cancel()
		if res.OK || res.Err == nil {
			t.Errorf("%v: got %+v, want a failure", kind, res)
		}
	}
}

func TestRunNilConn(t *testing.T) {
	if res := Run(t.Context(), nil, Spec{}); res.OK || res.Err == nil {
		t.Errorf("got %+v, want a failure", res)
	}
}
