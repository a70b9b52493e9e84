package coordinator

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/config"
)

// --version prints one line naming the build and exits 0, whatever else
// the command line lacks (here, a prober).
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--version"}, &stdout, &stderr)
	if code != 0 || !strings.HasPrefix(stdout.String(), "coordinator ") || strings.Count(stdout.String(), "\n") != 1 || stderr.Len() > 0 {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and one line starting with \"coordinator \"", code, stdout.String(), stderr.String())
	}
}

// A probers file in the old format is still read, and the log says how to
// write it now; the problems of the rest are reported with it.
func TestOldProbersFileWarns(t *testing.T) {
	const file = "../config/testdata/valid/probers-old.txt"
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"--probers-file", file, "--concurrency", "0"}, &bytes.Buffer{}, &stderr)
	for _, want := range []string{"level=WARN", file + " is in the old format", "coordinator: --concurrency must be positive, got 0"} {
		if code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("got exit %d and %q, want exit 2 mentioning %q", code, stderr.String(), want)
		}
	}
}

// The Service's defaults for its zero fields are the configuration's, so a
// coordinator built in code (the demo, tests) behaves as the binary does.
func TestServiceDefaultsAreTheConfigurations(t *testing.T) {
	c := config.DefaultCoordinator()
	if DefaultConcurrency != c.Concurrency || DefaultProberTimeout != time.Duration(c.ProberTimeout) || DefaultKeepJobs != c.KeepJobs {
		t.Errorf("got %d, %v, %d; want the configuration's %d, %v, %d", DefaultConcurrency, DefaultProberTimeout, DefaultKeepJobs,
			c.Concurrency, c.ProberTimeout, c.KeepJobs)
	}
}
