package kube

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dsprobe/dsprobe/internal/authn"
)

// What a SubjectAccessReview asks: may the user create probes.dsprobe.io
// in a namespace, that is, run probes from its probers.
const (
	ProbeGroup    = "dsprobe.io"
	ProbeResource = "probes"
	ProbeVerb     = "create"
)

// tokenReviewer authenticates bearer tokens with TokenReview for one
// audience.
type tokenReviewer struct {
	client   kubernetes.Interface
	audience string
}

// NewTokenReviewer reviews tokens with client for audience, keeping
// acceptances briefly (authn.CacheTokens). With an empty audience the API
// server checks its own (a token for kubectl is accepted), as the
// coordinator's callers present theirs by default.
func NewTokenReviewer(client kubernetes.Interface, audience string) authn.TokenReviewer {
	return authn.CacheTokens(&tokenReviewer{client: client, audience: audience})
}

// ReviewToken returns the token's user, or an error wrapping
// authn.ErrTokenRefused when the API server does not accept it for the
// audience; any other error means the API could not say.
func (r *tokenReviewer) ReviewToken(ctx context.Context, token string) (authn.User, error) {
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if r.audience != "" {
		review.Spec.Audiences = []string{r.audience}
	}
	got, err := r.client.AuthenticationV1().TokenReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return authn.User{}, fmt.Errorf("TokenReview: %w", err)
	}
	st := got.Status
	if err := authn.AcceptTokenReview(r.audience, st.Authenticated, st.Audiences, st.Error); err != nil {
		return authn.User{}, err
	}
	u := authn.User{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups}
	if len(st.User.Extra) > 0 {
		u.Extra = make(map[string][]string, len(st.User.Extra))
		for k, v := range st.User.Extra {
			u.Extra[k] = v
		}
	}
	return u, nil
}

// authorizer asks SubjectAccessReview whether a user may create
// probes.dsprobe.io in a namespace.
type authorizer struct {
	client kubernetes.Interface
}

// NewAuthorizer asks with client, keeping permissions granted briefly
// (authn.CacheAuthorizer).
func NewAuthorizer(client kubernetes.Interface) authn.Authorizer {
	return authn.CacheAuthorizer(&authorizer{client: client})
}

// MayProbeFrom reports whether user may create probes.dsprobe.io in
// namespace; the user's groups, UID and extra attributes are passed
// through, so RBAC bound to a group or a Pod-bound token is honoured.
func (a *authorizer) MayProbeFrom(ctx context.Context, user authn.User, namespace string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Name, UID: user.UID, Groups: user.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: ProbeVerb, Group: ProbeGroup, Resource: ProbeResource,
		},
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = v
		}
	}
	got, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	if got.Status.EvaluationError != "" && !got.Status.Allowed {
		// RBAC could not read every binding: a refusal may be wrong,
		// so it is an error, never an answer.
		return false, errors.New("SubjectAccessReview: " + got.Status.EvaluationError)
	}
	return got.Status.Allowed && !got.Status.Denied, nil
}
