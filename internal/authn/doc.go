// Package authn authenticates the callers of the prober and coordinator
// gRPC services: TLS with client certificates (mTLS), a bearer token, or a
// Kubernetes token checked with TokenReview, and plaintext only on loopback
// or when the operator says so explicitly. Every trigger of a probe must be
// authenticated, because a prober connects where it is told. It authorises
// a Kubernetes user's job per prober namespace (SubjectAccessReview).
//
// TokenReview and SubjectAccessReview are interfaces here, implemented with
// client-go by internal/kube for the coordinator; the prober, whose binary
// carries no client-go, asks TokenReview over the API's plain HTTP with this
// package's own small client. Both judge an answer with AcceptTokenReview
// and keep acceptances briefly (CacheTokens, CacheAuthorizer).
//
// It depends on gRPC and the standard library, and reads its certificate and
// token files through internal/smallfile.
//
// It must depend on nothing outside the standard library, internal/smallfile
// and google.golang.org/grpc/....
package authn
