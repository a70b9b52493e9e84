package coordinator

import (
	"context"
	"net"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/authn"
)

// RESTHandler serves the REST mapping of the Coordinator (POST /v1/jobs
// streams newline-delimited JSON, GET /v1/probers, GET /v1/jobs/{job_id}).
// The gateway reaches svc over an in-memory gRPC connection nobody else can
// reach, so authentication happens here, at the HTTP layer, with the same
// rules as the gRPC API: a verified client certificate or the bearer token.
// The returned stop function closes the in-memory connection.
func RESTHandler(ctx context.Context, svc dsprobev1.CoordinatorServer, auth *authn.Authenticator) (http.Handler, func(), error) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	dsprobev1.RegisterCoordinatorServer(srv, svc)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///coordinator",
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
	if err := dsprobev1.RegisterCoordinatorHandlerClient(ctx, mux, dsprobev1.NewCoordinatorClient(conn)); err != nil {
		stop()
		return nil, nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.AuthenticateHTTP(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dsprobe"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}), stop, nil
}
