package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// reviewer is a TokenReviewer of fixed answers: a known token's user, an
// error for "down", a refusal otherwise.
type reviewer map[string]User

func (r reviewer) ReviewToken(_ context.Context, token string) (User, error) {
	if token == "down" {
		return User{}, errors.New("connection refused")
	}
	if u, ok := r[token]; ok {
		return u, nil
	}
	return User{}, fmt.Errorf("%w: invalid bearer token", ErrTokenRefused)
}

func TestAuthenticateReviewedToken(t *testing.T) {
	coordinator := User{Name: "system:serviceaccount:dsprobe:coordinator"}
	a := &Authenticator{
		Token:        "static",
		Tokens:       reviewer{"sa": coordinator, "other": {Name: "system:serviceaccount:default:default"}},
		AllowedUsers: []string{coordinator.Name},
	}
	tests := []struct {
		token string
		code  codes.Code
		user  string
	}{
		{"sa", codes.OK, coordinator.Name},
		{"static", codes.OK, ""},
		{"other", codes.Unauthenticated, ""},
		{"garbage", codes.Unauthenticated, ""},
		{"down", codes.Unavailable, ""},
		{"", codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tt.token))
		ctx, err := a.Authenticate(ctx)
		if got := status.Code(err); got != tt.code {
			t.Errorf("token %q: got %v, want %v", tt.token, err, tt.code)
		}
		if u, _ := UserFrom(ctx); u.Name != tt.user {
			t.Errorf("token %q: user %q, want %q", tt.token, u.Name, tt.user)
		}
	}
}

// authorizer allows each user the namespaces listed for them, and fails
// for namespace "down".
type authorizer map[string][]string

func (a authorizer) MayProbeFrom(_ context.Context, u User, ns string) (bool, error) {
	if ns == "down" {
		return false, errors.New("timeout")
	}
	for _, allowed := range a[u.Name] {
		if allowed == ns {
			return true, nil
		}
	}
	return false, nil
}

func TestAuthorizeJob(t *testing.T) {
	az := NamespaceAuthorizer{Authorizer: authorizer{"alice": {"team-a"}}}
	alice := WithUser(context.Background(), User{Name: "alice"})
	if err := az.AuthorizeJob(alice, []string{"team-a"}); err != nil {
		t.Errorf("team-a: got %v, want allowed", err)
	}
	err := az.AuthorizeJob(alice, []string{"team-a", "team-b", "team-c"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "namespace team-b, team-c") {
		t.Errorf("team-a, team-b, team-c: got %v, want PermissionDenied naming team-b and team-c", err)
	}
	// The refused namespace may be a Service job's own, where no prober
	// runs: the message says both reasons a job needs a namespace.
	if want := "in the namespace of every prober it uses and, for a Service job, in the Service's"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to say why a job needs the namespace: %q", err, want)
	}
	if err := az.AuthorizeJob(alice, []string{"down"}); status.Code(err) != codes.Unavailable {
		t.Errorf("API down: got %v, want Unavailable", err)
	}
	// A caller with a certificate or the static token is no Kubernetes user.
	if err := az.AuthorizeJob(context.Background(), []string{"team-b"}); err != nil {
		t.Errorf("no Kubernetes user: got %v, want allowed", err)
	}
}
