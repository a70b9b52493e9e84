package prober

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/config"
)

// --version prints one line naming the build and exits 0, whatever else
// the command line lacks (here, the allow-list every prober needs).
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--version"}, &stdout, &stderr)
	if code != 0 || !strings.HasPrefix(stdout.String(), "prober ") || strings.Count(stdout.String(), "\n") != 1 || stderr.Len() > 0 {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and one line starting with \"prober \"", code, stdout.String(), stderr.String())
	}
}

// A --config file's problems are named by file and field, a flag's by the
// flag, in one message, exit 2.
func TestMainRejectsBadConfig(t *testing.T) {
	const file = "../config/testdata/invalid/prober-limits.yaml"
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"--config", file, "--job-timeout", "-1s"}, &bytes.Buffer{}, &stderr)
	for _, want := range []string{file + ": admission.maxConcurrent: must be positive, got 0", "; --job-timeout must be positive, got -1s"} {
		if code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("got exit %d and %q, want exit 2 mentioning %q", code, stderr.String(), want)
		}
	}
}

// The Service's default for a zero JobTimeout is the configuration's, so
// a prober built in code (the demo, tests) behaves as the binary does.
func TestServiceDefaultIsTheConfigurations(t *testing.T) {
	if want := time.Duration(config.DefaultProber().JobTimeout); DefaultJobTimeout != want {
		t.Errorf("got DefaultJobTimeout %v, want the configuration's %v", DefaultJobTimeout, want)
	}
}

// --token-review needs the API server of the Pod the prober runs in;
// elsewhere the prober says so and exits 3 rather than serving callers
// it could not check.
func TestTokenReviewOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"--allow-cidr", "10.0.0.0/8", "--listen", "127.0.0.1:0",
		"--token-review", "--token-allow-user", "system:serviceaccount:dsprobe:coordinator"}, &bytes.Buffer{}, &stderr)
	if code != 3 || !strings.Contains(stderr.String(), "not in a Kubernetes Pod") {
		t.Errorf("got exit %d and %q, want 3 saying it is not in a Kubernetes Pod", code, stderr.String())
	}
	stderr.Reset()
	code = Main(context.Background(), []string{"--allow-cidr", "10.0.0.0/8", "--token-review"}, &bytes.Buffer{}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--token-review without --token-allow-user") {
		t.Errorf("no allowed user: got exit %d and %q, want 2 naming both flags", code, stderr.String())
	}
}
