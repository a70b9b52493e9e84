package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dsprobe/dsprobe/internal/authn"
)

// reviewClient is a fake API server whose TokenReview answers status for
// every token, recording the reviews asked.
func reviewClient(answer func(*authenticationv1.TokenReview) (authenticationv1.TokenReviewStatus, error)) (*fake.Clientset, *[]*authenticationv1.TokenReview) {
	var asked []*authenticationv1.TokenReview
	client := fake.NewClientset()
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		asked = append(asked, review)
		st, err := answer(review)
		if err != nil {
			return true, nil, err
		}
		out := review.DeepCopy()
		out.Status = st
		return true, out, nil
	})
	return client, &asked
}

func TestReviewToken(t *testing.T) {
	podUser := authenticationv1.UserInfo{
		Username: "system:serviceaccount:dsprobe:coordinator", UID: "u-1",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:dsprobe"},
		Extra: map[string]authenticationv1.ExtraValue{
			"authentication.kubernetes.io/pod-name": {"coordinator-0"},
			"authentication.kubernetes.io/pod-uid":  {"p-1"},
		},
	}
	tests := []struct {
		name    string
		status  authenticationv1.TokenReviewStatus
		apiErr  error
		refused bool // ErrTokenRefused
		failed  bool // another error
	}{
		{"accepted for the audience", authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{authn.ProberAudience}, User: podUser}, nil, false, false},
		{"accepted, but for the API server's audience only", authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"https://kubernetes.default.svc"}, User: podUser}, nil, true, false},
		{"accepted without audiences", authenticationv1.TokenReviewStatus{Authenticated: true, User: podUser}, nil, true, false},
		{"not authenticated", authenticationv1.TokenReviewStatus{Error: "token has expired"}, nil, true, false},
		{"the API fails", authenticationv1.TokenReviewStatus{}, errors.New("connection refused"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, asked := reviewClient(func(*authenticationv1.TokenReview) (authenticationv1.TokenReviewStatus, error) {
				return tt.status, tt.apiErr
			})
			r := NewTokenReviewer(client, authn.ProberAudience)
			for range 2 {
				u, err := r.ReviewToken(t.Context(), "t0ken")
				switch {
				case tt.refused && !errors.Is(err, authn.ErrTokenRefused):
					t.Fatalf("got %v, want ErrTokenRefused", err)
				case tt.failed && (err == nil || errors.Is(err, authn.ErrTokenRefused)):
					t.Fatalf("got %v, want an error that is no refusal", err)
				case !tt.refused && !tt.failed && err != nil:
					t.Fatalf("got %v, want the user", err)
				case !tt.refused && !tt.failed:
					want := authn.User{Name: podUser.Username, UID: "u-1", Groups: podUser.Groups, Extra: map[string][]string{
						"authentication.kubernetes.io/pod-name": {"coordinator-0"}, "authentication.kubernetes.io/pod-uid": {"p-1"}}}
					if fmt.Sprint(u) != fmt.Sprint(want) {
						t.Errorf("got %+v, want %+v", u, want)
					}
				}
			}
			if got := (*asked)[0].Spec; got.Token != "t0ken" || !slices.Equal(got.Audiences, []string{authn.ProberAudience}) {
				t.Errorf("asked %+v, want the token for audience %s", got, authn.ProberAudience)
			}
			// An acceptance is kept; a refusal or an error is asked again.
			want := 2
			if !tt.refused && !tt.failed {
				want = 1
			}
			if len(*asked) != want {
				t.Errorf("asked %d reviews for two calls, want %d", len(*asked), want)
			}
		})
	}
}

// Without an audience, the API server's own apply: none is sent or checked.
func TestReviewTokenAPIServerAudience(t *testing.T) {
	client, asked := reviewClient(func(*authenticationv1.TokenReview) (authenticationv1.TokenReviewStatus, error) {
		return authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"https://kubernetes.default.svc"}, User: authenticationv1.UserInfo{Username: "alice"}}, nil
	})
	u, err := NewTokenReviewer(client, "").ReviewToken(context.Background(), "t")
	if err != nil || u.Name != "alice" || len((*asked)[0].Spec.Audiences) != 0 {
		t.Errorf("got %+v, %v (asked audiences %v); want alice, no audience asked", u, err, (*asked)[0].Spec.Audiences)
	}
}

func TestMayProbeFrom(t *testing.T) {
	var asked []authorizationv1.SubjectAccessReviewSpec
	client := fake.NewClientset()
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		asked = append(asked, sar.Spec)
		switch sar.Spec.ResourceAttributes.Namespace {
		case "team-a":
			sar.Status.Allowed = true
		case "broken":
			return true, nil, errors.New("etcd is down")
		case "partial":
			sar.Status.EvaluationError = "could not list rolebindings"
		}
		return true, sar, nil
	})
	a := NewAuthorizer(client)
	user := authn.User{Name: "alice", UID: "u", Groups: []string{"team-a"}, Extra: map[string][]string{"k": {"v"}}}
	for range 2 {
		if ok, err := a.MayProbeFrom(t.Context(), user, "team-a"); !ok || err != nil {
			t.Fatalf("team-a: got %v, %v; want allowed", ok, err)
		}
	}
	if ok, err := a.MayProbeFrom(t.Context(), user, "team-b"); ok || err != nil {
		t.Errorf("team-b: got %v, %v; want refused", ok, err)
	}
	for _, ns := range []string{"broken", "partial"} {
		if ok, err := a.MayProbeFrom(t.Context(), user, ns); ok || err == nil {
			t.Errorf("%s: got %v, %v; want an error", ns, ok, err)
		}
	}
	// Another user's answer is not theirs.
	if _, err := a.MayProbeFrom(t.Context(), authn.User{Name: "alice", Groups: []string{"team-b"}}, "team-a"); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 5 {
		t.Errorf("asked %d reviews, want 5 (team-a once for alice in team-a, once for her in team-b)", len(asked))
	}
	want := authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "dsprobe.io", Resource: "probes"}
	if got := asked[0]; *got.ResourceAttributes != want || got.User != "alice" || got.UID != "u" || !slices.Equal(got.Groups, user.Groups) || !slices.Equal(got.Extra["k"], authorizationv1.ExtraValue{"v"}) {
		t.Errorf("asked %+v, want alice with her groups, UID and extra, %+v", got, want)
	}
}
