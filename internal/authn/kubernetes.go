package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// User is a caller the Kubernetes API authenticated from its bearer token
// (TokenReview): what a SubjectAccessReview about it needs.
type User struct {
	Name   string
	UID    string
	Groups []string
	// Extra holds the token's extra attributes, such as
	// authentication.kubernetes.io/pod-name for a projected token.
	Extra map[string][]string
}

// ErrTokenRefused is wrapped by a TokenReviewer's error when the API
// server does not accept the token (as opposed to not answering).
var ErrTokenRefused = errors.New("token refused")

// ProberAudience is the audience of the token a coordinator presents to
// probers: a token minted for anything else (the API server, another
// service) is refused, so one leaked elsewhere cannot trigger probes.
const ProberAudience = "dsprobe-prober"

// AcceptTokenReview judges a TokenReview's answer for audience (empty:
// the API server's own): nil when the token is authenticated for it, else
// an error wrapping ErrTokenRefused with the API server's reason. The
// audience is checked on the answer: an authenticator that ignores the
// audiences asked answers for the API server's own, and a token for the
// API server must not pass for one for dsprobe.
func AcceptTokenReview(audience string, authenticated bool, audiences []string, reason string) error {
	if !authenticated {
		if reason == "" {
			reason = "not authenticated"
		}
		return fmt.Errorf("%w: %s", ErrTokenRefused, reason)
	}
	if audience != "" && !slices.Contains(audiences, audience) {
		return fmt.Errorf("%w: not a token for audience %s (it is for %s)", ErrTokenRefused, audience, strings.Join(audiences, ", "))
	}
	return nil
}

// TokenReviewer authenticates a bearer token with the Kubernetes API
// (TokenReview), for an audience it was built for: internal/kube's with
// client-go (the coordinator), NewAPITokenReviewer's over plain HTTP (the
// prober); this package stays free of client-go.
type TokenReviewer interface {
	ReviewToken(ctx context.Context, token string) (User, error)
}

// Authorizer asks the Kubernetes API whether user may create
// probes.dsprobe.io in namespace (SubjectAccessReview): whether the user may
// run probes from the probers of that namespace.
type Authorizer interface {
	MayProbeFrom(ctx context.Context, user User, namespace string) (bool, error)
}

type userKey struct{}

// WithUser is ctx carrying the authenticated Kubernetes user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom is the Kubernetes user the Authenticator found for the call of
// ctx; false for a caller authenticated otherwise (a client certificate or
// the static token), who is trusted with every namespace.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// NamespaceAuthorizer authorises a job in each namespace of the probers it
// would use, for the Kubernetes user of the call: a team probes only from
// namespaces RBAC lets it create probes.dsprobe.io in. A caller
// authenticated by certificate or static token is not a Kubernetes user and
// is let through, as before.
type NamespaceAuthorizer struct {
	Authorizer Authorizer
}

// AuthorizeJob returns nil when the call's user may probe from every
// namespace, PermissionDenied naming the namespaces refused, or Unavailable
// when the API could not say.
func (a NamespaceAuthorizer) AuthorizeJob(ctx context.Context, namespaces []string) error {
	user, ok := UserFrom(ctx)
	if !ok {
		return nil
	}
	var refused []string
	for _, ns := range namespaces {
		allowed, err := a.Authorizer.MayProbeFrom(ctx, user, ns)
		if err != nil {
			return status.Errorf(codes.Unavailable, "authorising %s in namespace %s: %v", user.Name, ns, err)
		}
		if !allowed {
			refused = append(refused, ns)
		}
	}
	if len(refused) > 0 {
		return status.Errorf(codes.PermissionDenied, "%s may not create probes.dsprobe.io in namespace %s: a job needs it in the namespace of every prober it uses and, for a Service job, in the Service's (grant it with RBAC, or choose probers in other namespaces)",
			user.Name, strings.Join(refused, ", "))
	}
	return nil
}

// reviewToken authenticates token with a.Tokens and checks the user is one
// of a.AllowedUsers, if any are listed.
func (a *Authenticator) reviewToken(ctx context.Context, token string) (User, error) {
	user, err := a.Tokens.ReviewToken(ctx, token)
	if errors.Is(err, ErrTokenRefused) {
		return User{}, status.Error(codes.Unauthenticated, err.Error())
	}
	if err != nil {
		return User{}, status.Errorf(codes.Unavailable, "reviewing the bearer token: %v", err)
	}
	if len(a.AllowedUsers) > 0 && !slices.Contains(a.AllowedUsers, user.Name) {
		return User{}, status.Error(codes.Unauthenticated, fmt.Sprintf("%s is not among the allowed callers", user.Name))
	}
	return user, nil
}
