package config

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantedErrors are the messages an invalid fixture names in its "# want:"
// lines, with $FILE standing for its path.
func wantedErrors(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			want = append(want, strings.ReplaceAll(w, "$FILE", path))
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s names no expected message (# want: ...)", path)
	}
	return want
}

// fixtureArgs is how a fixture is given: a --probers-file (probers-*), or
// the --config of the prober (prober-*) or the coordinator
// (coordinator-*).
func fixtureArgs(t *testing.T, path string) (kind string, args []string) {
	switch base := filepath.Base(path); {
	case strings.HasPrefix(base, "probers"):
		return "coordinator", []string{"--probers-file", path}
	case strings.HasPrefix(base, "prober-"):
		return "prober", []string{"--config", path}
	case strings.HasPrefix(base, "coordinator-"):
		return "coordinator", []string{"--config", path}
	}
	t.Fatalf("%s: a fixture's name starts with prober-, probers or coordinator-", path)
	return "", nil
}

// Every invalid fixture fails with exactly the messages it names, all at
// once, in a stable order.
func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid fixtures: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			kind, args := fixtureArgs(t, path)
			_, _, err := runCommandLine(t, kind, nil, args...)
			if err == nil {
				t.Fatalf("got no error, want %q", wantedErrors(t, path))
			}
			got, want := strings.Split(err.Error(), "\n"), wantedErrors(t, path)
			if !slices.Equal(got, want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

func TestValidFiles(t *testing.T) {
	minimalProber := DefaultProber()
	minimalProber.Allow.CIDRs = []string{"10.0.0.0/8", "fd00::/48"}
	fullProber := Prober{
		APIVersion: APIVersion, Kind: KindProber, Name: "prober-a", Namespace: "team-a",
		Server: Server{Listen: "[::]:9443", HTTPListen: "[::]:8443", MetricsListen: "[::]:9090",
			TLS:       TLS{Cert: "/etc/dsprobe/tls/tls.crt", Key: "/etc/dsprobe/tls/tls.key", CA: "/etc/dsprobe/tls/ca.crt"},
			TokenFile: "/etc/dsprobe/token"},
		TokenReview: TokenReview{Enabled: true, Audience: "dsprobe-prober", AllowedUsers: []string{"system:serviceaccount:dsprobe:coordinator"}},
		Allow: Allow{CIDRs: []string{"10.96.0.0/12", "fd00:10:96::/112", "10.244.0.0/16", "fd00:10:244::/56"},
			Names: []string{"*.svc.cluster.local"}, Ports: []PortRange{"80", "443", "8000-8999"}},
		Admission:  Admission{MaxConcurrent: 4, MaxWaiting: 8, Rate: 10, Burst: 20},
		JobTimeout: Duration(30 * time.Second),
		OTLP:       OTLP{Endpoint: "otel-collector.observability:4317", Insecure: true},
	}
	minimalCoordinator := DefaultCoordinator()
	minimalCoordinator.Probers = []StaticProber{{"prober-a", "team-a", "127.0.0.1:9443"}}
	fullCoordinator := Coordinator{
		APIVersion: APIVersion, Kind: KindCoordinator,
		Server: Server{Listen: "[::]:9444", HTTPListen: "[::]:8444", MetricsListen: "[::]:9090",
			TLS:       TLS{Cert: "/etc/dsprobe/tls/tls.crt", Key: "/etc/dsprobe/tls/tls.key", CA: "/etc/dsprobe/tls/ca.crt"},
			TokenFile: "/etc/dsprobe/token"},
		TokenReview: TokenReview{Enabled: true, Audience: "dsprobe-coordinator", AllowedUsers: []string{"system:serviceaccount:ci:deployer"}},
		ProberAuth: ClientAuth{
			TLS:        TLS{Cert: "/etc/dsprobe/prober-client/tls.crt", Key: "/etc/dsprobe/prober-client/tls.key", CA: "/etc/dsprobe/prober-client/ca.crt"},
			ServerName: "prober.dsprobe.svc", TokenFile: "/etc/dsprobe/prober-token"},
		Probers: []StaticProber{
			{"prober-a", "team-a", "prober.team-a.svc:9443"},
			{"prober-b", "team-b", "[fd00:10:96::a]:9443"},
		},
		Discovery:   Discovery{Kubernetes: KubernetesDiscovery{Port: "grpc"}},
		Ladders:     Ladders{LeaseName: "dsprobe-ladders"},
		Concurrency: 16, ProberTimeout: Duration(45 * time.Second), KeepJobs: 100,
		Admission: Admission{MaxConcurrent: 8, MaxWaiting: 16, Rate: 10, Burst: 20},
		OTLP:      OTLP{Endpoint: "http://otel-collector.observability:4318", Insecure: true},
	}
	discovering := DefaultCoordinator()
	discovering.Server = Server{Listen: "[::]:9444", TLS: TLS{Cert: "/etc/dsprobe/tls/tls.crt", Key: "/etc/dsprobe/tls/tls.key", CA: "/etc/dsprobe/tls/ca.crt"}}
	discovering.ProberAuth = ClientAuth{TLS: TLS{CA: "/etc/dsprobe/prober-client/ca.crt"}, TokenFile: "/etc/dsprobe/prober-token"}
	discovering.Discovery.Kubernetes = KubernetesDiscovery{
		LabelSelector: "app.kubernetes.io/name=dsprobe-prober", NamespaceSelector: "dsprobe.io/probers=on", Port: "grpc",
		Kubeconfig: "/etc/dsprobe/kubeconfig", Context: "prod",
	}
	discovering.Ladders = Ladders{Enabled: true, LeaseNamespace: "dsprobe", LeaseName: "dsprobe-ladders"}
	listed := DefaultCoordinator()
	listed.Probers = []StaticProber{{"prober-a", "team-a", "127.0.0.1:9443"}, {"prober-b", "team-b", "[::1]:9443"}}

	// Every valid fixture has an entry, and every entry a fixture: a
	// fixture added without its expectation would test nothing.
	tests := map[string]struct {
		want         any
		wantWarnings int
	}{
		"prober-minimal.yaml":        {minimalProber, 0},
		"prober-full.yaml":           {fullProber, 0},
		"coordinator-minimal.yaml":   {minimalCoordinator, 0},
		"coordinator-full.yaml":      {fullCoordinator, 0},
		"coordinator-discovery.yaml": {discovering, 0},
		"probers.yaml":               {listed, 0},
		// The old format is read as it always was, with a warning.
		"probers-old.txt": {listed, 1},
	}
	files, _ := filepath.Glob("testdata/valid/*")
	if len(files) != len(tests) {
		t.Errorf("got %d valid fixtures, want one for each of the %d expectations", len(files), len(tests))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tt, ok := tests[filepath.Base(path)]
			if !ok {
				t.Fatal("no expectation for this fixture")
			}
			kind, args := fixtureArgs(t, path)
			got, warnings, err := runCommandLine(t, kind, nil, args...)
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
			if len(warnings) != tt.wantWarnings {
				t.Errorf("got warnings %q, want %d", warnings, tt.wantWarnings)
			}
		})
	}
}
