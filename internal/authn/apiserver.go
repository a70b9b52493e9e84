package authn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// APIServer is the Kubernetes API as a prober reaches it without a client
// library (its binary carries none): the server's URL, an HTTP client that
// trusts its CA, and the ServiceAccount token the prober presents, re-read
// as the kubelet rotates it. A prober asks it one thing: TokenReview.
type APIServer struct {
	URL    string
	Client *http.Client
	Token  *TokenFile
}

// serviceAccountDir is where the kubelet mounts a Pod's ServiceAccount
// token and the cluster's CA.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterAPI is the API server of the Pod this runs in:
// $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT, with the CA and
// token of the Pod's ServiceAccount, as client-go's in-cluster
// configuration finds them.
func InClusterAPI() (APIServer, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return APIServer{}, errors.New("not in a Kubernetes Pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
	}
	pool, err := LoadCAPool(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return APIServer{}, err
	}
	token, err := NewTokenFile(filepath.Join(serviceAccountDir, "token"), false)
	if err != nil {
		return APIServer{}, err
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return APIServer{
		URL:    "https://" + net.JoinHostPort(host, port),
		Client: &http.Client{Transport: transport, Timeout: 10 * time.Second},
		Token:  token,
	}, nil
}

// NewAPITokenReviewer reviews tokens for audience with TokenReview on api,
// keeping acceptances briefly (CacheTokens).
func NewAPITokenReviewer(api APIServer, audience string) TokenReviewer {
	return CacheTokens(&apiTokenReviewer{api: api, audience: audience})
}

type apiTokenReviewer struct {
	api      APIServer
	audience string
}

// tokenReview is the part of authentication.k8s.io/v1 TokenReview a prober
// sends and reads.
type tokenReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences,omitempty"`
	} `json:"spec"`
	Status struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			Username string              `json:"username"`
			UID      string              `json:"uid"`
			Groups   []string            `json:"groups"`
			Extra    map[string][]string `json:"extra"`
		} `json:"user"`
		Audiences []string `json:"audiences"`
		Error     string   `json:"error"`
	} `json:"status"`
}

// maxReviewAnswer bounds the answer read: a TokenReview is small.
const maxReviewAnswer = 1 << 20

func (r *apiTokenReviewer) ReviewToken(ctx context.Context, token string) (User, error) {
	review := tokenReview{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"}
	review.Spec.Token = token
	if r.audience != "" {
		review.Spec.Audiences = []string{r.audience}
	}
	body, err := json.Marshal(review)
	if err != nil {
		return User{}, err
	}
	own, err := r.api.Token.current()
	if err != nil {
		return User{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.api.URL, "/")+"/apis/authentication.k8s.io/v1/tokenreviews", bytes.NewReader(body))
	if err != nil {
		return User{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+own)
	resp, err := r.api.Client.Do(req)
	if err != nil {
		return User{}, fmt.Errorf("TokenReview: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxReviewAnswer))
	if err != nil {
		return User{}, fmt.Errorf("TokenReview: reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		// The API server explains a refusal (403: the ServiceAccount
		// may not create TokenReviews) in a Status object's message.
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(answer, &st) != nil || st.Message == "" {
			st.Message = strings.TrimSpace(string(answer))
		}
		return User{}, fmt.Errorf("TokenReview: %s: %s", resp.Status, st.Message)
	}
	var got tokenReview
	if err := json.Unmarshal(answer, &got); err != nil {
		return User{}, fmt.Errorf("TokenReview: the answer is no TokenReview: %w", err)
	}
	st := got.Status
	if err := AcceptTokenReview(r.audience, st.Authenticated, st.Audiences, st.Error); err != nil {
		return User{}, err
	}
	return User{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Extra: st.User.Extra}, nil
}
