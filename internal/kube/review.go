package kube

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dsprobe/dsprobe/internal/authn"
)

// ProberAudience is the audience of the token a coordinator presents to
// probers: a token minted for anything else (the API server, another
// service) is refused, so one leaked elsewhere cannot trigger probes.
const ProberAudience = "dsprobe-prober"

// What a SubjectAccessReview asks: may the user create probes.dsprobe.io
// in a namespace, that is, run probes from its probers.
const (
	ProbeGroup    = "dsprobe.io"
	ProbeResource = "probes"
	ProbeVerb     = "create"
)

// Review caching: a job costs one RPC per prober and each prober reviews
// the coordinator's token, and a caller's token and namespaces are the
// same from job to job, so positive answers are kept briefly. reviewTTL
// bounds how long a revoked token or a removed RoleBinding keeps working;
// reviewCacheSize bounds the memory a flood of distinct tokens can take.
// Refusals and errors are never kept: a refusal may be fixed a second
// later, and an error is no answer.
const (
	reviewTTL       = 10 * time.Second
	reviewCacheSize = 1024
)

// TokenReviewer authenticates bearer tokens with TokenReview for one
// audience. It implements authn.TokenReviewer.
type TokenReviewer struct {
	client   kubernetes.Interface
	audience string
	cache    *ttlCache[authn.User]
}

// NewTokenReviewer reviews tokens with client for audience. With an empty
// audience the API server checks its own (a token for kubectl is
// accepted), as the coordinator's callers present theirs by default.
func NewTokenReviewer(client kubernetes.Interface, audience string) *TokenReviewer {
	return &TokenReviewer{client: client, audience: audience, cache: newTTLCache[authn.User](reviewCacheSize, reviewTTL)}
}

// ReviewToken returns the token's user, or an error wrapping
// authn.ErrTokenRefused when the API server does not accept it for the
// audience; any other error means the API could not say.
func (r *TokenReviewer) ReviewToken(ctx context.Context, token string) (authn.User, error) {
	key := sha256.Sum256([]byte(token))
	cacheKey := string(key[:])
	if u, ok := r.cache.get(cacheKey); ok {
		return u, nil
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if r.audience != "" {
		review.Spec.Audiences = []string{r.audience}
	}
	got, err := r.client.AuthenticationV1().TokenReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return authn.User{}, fmt.Errorf("TokenReview: %w", err)
	}
	st := got.Status
	if !st.Authenticated {
		reason := st.Error
		if reason == "" {
			reason = "not authenticated"
		}
		return authn.User{}, fmt.Errorf("%w: %s", authn.ErrTokenRefused, reason)
	}
	// The audience is checked on the response: an authenticator that
	// ignores spec.audiences answers for the API server's own, and a
	// token for the API server must not pass for one for dsprobe.
	if r.audience != "" && !slices.Contains(st.Audiences, r.audience) {
		return authn.User{}, fmt.Errorf("%w: not a token for audience %s (it is for %s)", authn.ErrTokenRefused, r.audience, strings.Join(st.Audiences, ", "))
	}
	u := authn.User{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups}
	if len(st.User.Extra) > 0 {
		u.Extra = make(map[string][]string, len(st.User.Extra))
		for k, v := range st.User.Extra {
			u.Extra[k] = v
		}
	}
	r.cache.put(cacheKey, u)
	return u, nil
}

// Authorizer asks SubjectAccessReview whether a user may create
// probes.dsprobe.io in a namespace. It implements authn.Authorizer.
type Authorizer struct {
	client kubernetes.Interface
	cache  *ttlCache[struct{}]
}

// NewAuthorizer asks with client.
func NewAuthorizer(client kubernetes.Interface) *Authorizer {
	return &Authorizer{client: client, cache: newTTLCache[struct{}](reviewCacheSize, reviewTTL)}
}

// MayProbeFrom reports whether user may create probes.dsprobe.io in
// namespace; the user's groups, UID and extra attributes are passed
// through, so RBAC bound to a group or a Pod-bound token is honoured.
func (a *Authorizer) MayProbeFrom(ctx context.Context, user authn.User, namespace string) (bool, error) {
	key := accessKey(user, namespace)
	if _, ok := a.cache.get(key); ok {
		return true, nil
	}
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
	if got.Status.Allowed && !got.Status.Denied {
		a.cache.put(key, struct{}{})
		return true, nil
	}
	return false, nil
}

// accessKey is everything a SubjectAccessReview's answer depends on.
func accessKey(u authn.User, namespace string) string {
	var b strings.Builder
	field := func(s string) { fmt.Fprintf(&b, "%d:%s", len(s), s) }
	field(namespace)
	field(u.Name)
	field(u.UID)
	groups := slices.Sorted(slices.Values(u.Groups))
	for _, g := range groups {
		field(g)
	}
	b.WriteByte('|')
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(k)
		for _, v := range u.Extra[k] {
			field(v)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// ttlCache keeps up to size positive answers for ttl each.
type ttlCache[V any] struct {
	mu      sync.Mutex
	size    int
	ttl     time.Duration
	now     func() time.Time
	entries map[string]cached[V]
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func newTTLCache[V any](size int, ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{size: size, ttl: ttl, now: time.Now, entries: map[string]cached[V]{}}
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// put keeps value; when full, it first drops expired entries, then the
// one closest to expiring.
func (c *ttlCache[V]) put(key string, value V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		var oldest string
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			} else if oldest == "" || e.expires.Before(c.entries[oldest].expires) {
				oldest = k
			}
		}
		if len(c.entries) >= c.size {
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = cached[V]{value: value, expires: now.Add(c.ttl)}
}
