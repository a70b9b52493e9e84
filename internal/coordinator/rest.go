package coordinator

import (
	"context"
	"net/http"

	"google.golang.org/grpc"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/authn"
	"github.com/dsprobe/dsprobe/internal/restgw"
)

// RESTHandler serves the REST mapping of the Coordinator (POST /v1/jobs
// streams newline-delimited JSON, GET /v1/probers, GET /v1/jobs/{job_id})
// with the gRPC API's authentication rules (see internal/restgw).
func RESTHandler(ctx context.Context, svc dsprobev1.CoordinatorServer, auth *authn.Authenticator) (http.Handler, func(), error) {
	return restgw.Handler(ctx,
		func(s *grpc.Server) { dsprobev1.RegisterCoordinatorServer(s, svc) },
		dsprobev1.RegisterCoordinatorHandler, auth)
}
