package restgw

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsprobe/dsprobe/internal/authn"
)

// Handler registers the service on an in-memory gRPC server (register) and
// its REST routes on a gateway (gateway), and returns the authenticated
// HTTP handler and a function that closes the in-memory connection.
func Handler(ctx context.Context, register func(*grpc.Server), gateway func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error, auth *authn.Authenticator) (http.Handler, func(), error) {
	lis := bufconn.Listen(1 << 20)
	unary, stream := auth.GatewayInterceptors()
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
	register(srv)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	stop := func() {
		conn.Close()
		srv.Stop()
	}
	// The same JSON as the CLI's: zero values written out.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{EmitDefaultValues: true},
	}))
	if err := gateway(ctx, mux, conn); err != nil {
		stop()
		return nil, nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, err := auth.AuthenticateHTTP(r); err != nil {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dsprobe"`)
			}
			http.Error(w, err.Error(), code)
			return
		}
		// The gateway forwards Grpc-Metadata-Authorization as
		// "authorization" too: drop it, so the service sees the very
		// credential authenticated here.
		r.Header.Del("Grpc-Metadata-Authorization")
		mux.ServeHTTP(w, r)
	}), stop, nil
}

// Serve serves handler on addr (over TLS when tls is set) until the
// returned function is called.
func Serve(addr string, handler http.Handler, tlsFiles authn.TLSFiles) (net.Addr, func(), error) {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if tlsFiles.Enabled() {
		cfg, err := tlsFiles.ServerConfig()
		if err != nil {
			return nil, nil, err
		}
		srv.TLSConfig = cfg
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	go func() {
		if srv.TLSConfig != nil {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	return ln.Addr(), func() { srv.Close() }, nil
}
