package authn

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The prober's TokenReview client speaks the API as client-go would: a
// POST of a TokenReview, as the prober's ServiceAccount; an answer the API
// server refuses to give is an error that says why, not a refusal of the
// token.
func TestAPITokenReviewer(t *testing.T) {
	var asked tokenReview
	var presented string
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented = r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
			http.NotFound(w, r)
			return
		}
		if presented != "Bearer prober-sa" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"kind":"Status","message":"tokenreviews.authentication.k8s.io is forbidden: User \"system:serviceaccount:team-a:prober\" cannot create resource \"tokenreviews\""}`))
			return
		}
		json.NewDecoder(r.Body).Decode(&asked)
		answer := asked
		answer.Status.Authenticated = asked.Spec.Token == "coordinator"
		answer.Status.Audiences = asked.Spec.Audiences
		answer.Status.User.Username = "system:serviceaccount:dsprobe:coordinator"
		answer.Status.User.Extra = map[string][]string{"authentication.kubernetes.io/pod-name": {"coordinator-0"}}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(answer)
	}))
	defer api.Close()
	ownToken := filepath.Join(t.TempDir(), "token")
	os.WriteFile(ownToken, []byte("prober-sa\n"), 0o600)
	token, err := NewTokenFile(ownToken, false)
	if err != nil {
		t.Fatal(err)
	}
	r := &apiTokenReviewer{api: APIServer{URL: api.URL, Client: api.Client(), Token: token}, audience: ProberAudience}

	u, err := r.ReviewToken(t.Context(), "coordinator")
	if err != nil || u.Name != "system:serviceaccount:dsprobe:coordinator" || u.Extra["authentication.kubernetes.io/pod-name"][0] != "coordinator-0" {
		t.Fatalf("got %+v, %v; want the coordinator with its Pod", u, err)
	}
	if asked.APIVersion != "authentication.k8s.io/v1" || asked.Kind != "TokenReview" || !slices.Equal(asked.Spec.Audiences, []string{ProberAudience}) {
		t.Errorf("asked %+v, want a TokenReview for %s", asked, ProberAudience)
	}
	if _, err := r.ReviewToken(t.Context(), "garbage"); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("garbage: got %v, want ErrTokenRefused", err)
	}
	os.WriteFile(ownToken, []byte("rotated-and-not-bound\n"), 0o600)
	later := timeAfterMtime(t, ownToken)
	os.Chtimes(ownToken, later, later)
	_, err = r.ReviewToken(t.Context(), "coordinator")
	if presented != "Bearer rotated-and-not-bound" {
		t.Errorf("after rotation the prober presented %q, want its new token", presented)
	}
	if err == nil || errors.Is(err, ErrTokenRefused) || !strings.Contains(err.Error(), `cannot create resource "tokenreviews"`) {
		t.Errorf("forbidden: got %v, want an error (no refusal) with the API server's message", err)
	}
}

// timeAfterMtime is a modification time an hour after path's, so a
// rewrite is seen as one whatever the file system's granularity.
func timeAfterMtime(t *testing.T, path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().Add(time.Hour)
}
