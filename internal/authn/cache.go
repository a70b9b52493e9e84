package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
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

// CacheTokens is r keeping each token it accepts for a few seconds.
func CacheTokens(r TokenReviewer) TokenReviewer {
	return &cachedTokens{r: r, cache: newTTLCache[User](reviewCacheSize, reviewTTL)}
}

type cachedTokens struct {
	r     TokenReviewer
	cache *ttlCache[User]
}

func (c *cachedTokens) ReviewToken(ctx context.Context, token string) (User, error) {
	// The token's digest is the key: the cache holds no credential.
	sum := sha256.Sum256([]byte(token))
	key := string(sum[:])
	if u, ok := c.cache.get(key); ok {
		return u, nil
	}
	u, err := c.r.ReviewToken(ctx, token)
	if err == nil {
		c.cache.put(key, u)
	}
	return u, err
}

// CacheAuthorizer is a keeping each permission it grants for a few
// seconds.
func CacheAuthorizer(a Authorizer) Authorizer {
	return &cachedAuthorizer{a: a, cache: newTTLCache[struct{}](reviewCacheSize, reviewTTL)}
}

type cachedAuthorizer struct {
	a     Authorizer
	cache *ttlCache[struct{}]
}

func (c *cachedAuthorizer) MayProbeFrom(ctx context.Context, user User, namespace string) (bool, error) {
	key := accessKey(user, namespace)
	if _, ok := c.cache.get(key); ok {
		return true, nil
	}
	allowed, err := c.a.MayProbeFrom(ctx, user, namespace)
	if allowed && err == nil {
		c.cache.put(key, struct{}{})
	}
	return allowed, err
}

// accessKey is everything a SubjectAccessReview's answer depends on, each
// part length-prefixed so no two users share a key.
func accessKey(u User, namespace string) string {
	var b strings.Builder
	field := func(s string) { fmt.Fprintf(&b, "%d:%s", len(s), s) }
	field(namespace)
	field(u.Name)
	field(u.UID)
	for _, g := range slices.Sorted(slices.Values(u.Groups)) {
		field(g)
	}
	b.WriteByte('|')
	for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
		field(k)
		for _, v := range u.Extra[k] {
			field(v)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// ttlCache keeps up to size entries for ttl each.
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
