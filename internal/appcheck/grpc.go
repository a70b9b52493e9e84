package appcheck

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// checkGRPC calls grpc.health.v1.Health/Check over conn: SERVING passes,
// any other answer or error fails.
func checkGRPC(ctx context.Context, conn net.Conn, spec Spec, n names) Result {
	creds := insecure.NewCredentials()
	if spec.Kind == GRPCS {
		// No server name in the configuration: grpc-go refuses one that
		// differs from the authority (which carries the port) and takes
		// the server name from the authority, without port or brackets.
		creds = credentials.NewTLS(tlsConfig(spec, ""))
	}
	dial := oneConn(conn)
	// passthrough: the target is only a name for :authority; no resolver
	// runs and the dialer below ignores the address anyway.
	cc, err := grpc.NewClient("passthrough:///"+n.authority,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		}),
		grpc.WithTransportCredentials(creds),
		grpc.WithAuthority(n.authority),
		grpc.WithNoProxy(),
		// A retry would need a second connection, which the dialer
		// refuses; fail with the first attempt's error instead.
		grpc.WithDisableRetry(),
		grpc.WithUserAgent("dsprobe-appcheck"),
	)
	if err != nil {
		return Result{Detail: fmt.Sprintf("gRPC client for %s: %v", n.authority, err), Err: err}
	}
	defer cc.Close()

	service := spec.GRPCService
	what := "the server's overall health"
	if service != "" {
		what = fmt.Sprintf("service %q", service)
	}
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		st := status.Convert(err)
		return Result{
			Detail: fmt.Sprintf("gRPC health check of %s on %s failed: %v: %s", what, n.authority, st.Code(), st.Message()),
			Err:    err,
		}
	}
	res := Result{ServingStatus: resp.GetStatus().String()}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		res.Detail = fmt.Sprintf("gRPC health check of %s on %s returned %s, not SERVING", what, n.authority, res.ServingStatus)
		return res
	}
	res.OK = true
	res.Detail = fmt.Sprintf("gRPC health check of %s on %s returned SERVING", what, n.authority)
	return res
}
