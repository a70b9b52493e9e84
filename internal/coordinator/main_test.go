package coordinator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
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

// The coordinator serves what its --config file says, the flags given
// overriding it: its probers come from the file, a job reaches them.
func TestMainServesTheConfigFile(t *testing.T) {
	addr := startProber(t, &stubProber{ipv6OK: true})
	file := filepath.Join(t.TempDir(), "coordinator.yaml")
	yaml := fmt.Sprintf("apiVersion: dsprobe.io/v1alpha1\nkind: CoordinatorConfig\nserver:\n  listen: 127.0.0.1:9\n"+
		"probers:\n  - name: p1\n    namespace: team-a\n    address: %q\n", addr)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs, logWriter := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		// --listen overrides the file's address.
		exit <- Main(ctx, []string{"--config", file, "--listen", "127.0.0.1:0"}, io.Discard, logWriter)
		logWriter.Close()
	}()
	defer func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("got exit %d after the stop, want 0", code)
		}
	}()
	listening := regexp.MustCompile(`msg="coordinator listening" addr=(\S+)`)
	sc := bufio.NewScanner(logs)
	var coordAddr string
	for coordAddr == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			coordAddr = m[1]
		}
	}
	go io.Copy(io.Discard, logs) // the rest of the log, until Main returns
	if coordAddr == "" || coordAddr == "127.0.0.1:9" {
		t.Fatalf("got the coordinator listening on %q, want the port of --listen, not the file's", coordAddr)
	}
	cc, err := grpc.NewClient(coordAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := dsprobev1.NewCoordinatorClient(cc)
	list, err := client.ListProbers(ctx, &dsprobev1.ListProbersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetProbers(); len(got) != 1 || got[0].GetName() != "p1" || got[0].GetNamespace() != "team-a" || got[0].GetAddress() != addr {
		t.Fatalf("got probers %v, want p1 of team-a at %s", got, addr)
	}
	run, err := RunJob(ctx, client, &dsprobev1.RunProbeRequest{Probe: &dsprobev1.ProbeRequest{Target: "svc.example:80"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 || run.Results[0].GetResult() == nil {
		t.Errorf("got results %v, want p1's", run.Results)
	}
}

// --token-review needs a Kubernetes API to ask; without one the
// coordinator says so and exits 3 rather than serving callers it could not
// check.
func TestTokenReviewWithoutACluster(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"--prober", "a/team-a=127.0.0.1:9443", "--listen", "127.0.0.1:0", "--token-review"}, &bytes.Buffer{}, &stderr)
	if code != 3 || !strings.Contains(stderr.String(), "no Kubernetes API configured") {
		t.Errorf("got exit %d and %q, want 3 saying no Kubernetes API is configured", code, stderr.String())
	}
}
