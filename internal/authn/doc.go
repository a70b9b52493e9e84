// Package authn authenticates the callers of the prober and coordinator
// gRPC services: TLS with client certificates (mTLS), or a bearer token, and
// plaintext only on loopback or when the operator says so explicitly. Every
// trigger of a probe must be authenticated, because a prober connects where
// it is told.
//
// It depends on gRPC and the standard library, and reads its certificate and
// token files through internal/smallfile.
//
// It must depend on nothing outside the standard library, internal/smallfile
// and google.golang.org/grpc/....
package authn
