// Package restgw serves a gRPC service's REST mapping (grpc-gateway) with
// the service's own authentication rules. The gateway reaches the service
// over an in-memory gRPC connection no one else can dial, so authentication
// is enforced at the HTTP layer: a verified client certificate or the bearer
// token, exactly as on the gRPC port.
//
// It serves whichever service it is handed, so it knows neither the API's
// messages nor their conversion.
//
// It must not depend on gen/dsprobe/v1 or internal/apiconv.
package restgw
