package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/testhost"
	"github.com/dsprobe/dsprobe/internal/testpki"
)

var bins = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, name := range []string{"dsprobe", "prober", "coordinator"} {
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], "../../cmd/"+name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type jobJSON struct {
	Probers []struct {
		Prober, Namespace string
		Result            *struct {
			Families []struct {
				Family, FailingLayer string
				OK                   bool
			}
		}
		Error *struct{ Code, Message string }
	}
	Summary struct{ Passed bool }
}

// The mesh as deployed: two prober processes, each in its own host
// (namespace), a coordinator in another, the CLI in a client host, all over
// mutual TLS with certificates from one CA, probing a web host.
func TestMeshOverMutualTLS(t *testing.T) {
	lab := testhost.New(t)
	web, probeA, probeB, coord, client := lab.AddHost("web"), lab.AddHost("probe-a"), lab.AddHost("probe-b"), lab.AddHost("coord"), lab.AddHost("client")

	// The target: dual-stack on :8080, IPv4 only on :8081.
	for network, addr := range map[string]string{"tcp": "[::]:8080", "tcp4": "0.0.0.0:8081"} {
		ln, err := web.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}

	ca := testpki.NewCA(t, "mesh")
	allow := []string{"--allow-cidr", lab.Prefix4().String(), "--allow-cidr", lab.Prefix6().String()}
	var proberFlags []string
	for _, p := range []struct {
		host *testhost.Host
		name string
	}{{probeA, "prober-a"}, {probeB, "prober-b"}} {
		cert := ca.Issue(t, p.name, p.host.Addr4())
		addr := netip.AddrPortFrom(p.host.Addr4(), 9443)
		p.host.Start(t, bins["prober"], append([]string{"--listen", addr.String(), "--name", p.name, "--namespace", "team-" + p.name[len("prober-"):],
			"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--tls-ca", ca.File}, allow...)...)
		proberFlags = append(proberFlags, "--prober", fmt.Sprintf("%s/team-%s=%s", p.name, p.name[len("prober-"):], addr))
	}
	coordCert := ca.Issue(t, "coordinator", coord.Addr4())
	coordAddr := netip.AddrPortFrom(coord.Addr4(), 9444)
	coord.Start(t, bins["coordinator"], append([]string{"--listen", coordAddr.String(),
		"--tls-cert", coordCert.CertFile, "--tls-key", coordCert.KeyFile, "--tls-ca", ca.File,
		"--prober-tls-cert", coordCert.CertFile, "--prober-tls-key", coordCert.KeyFile, "--prober-tls-ca", ca.File}, proberFlags...)...)
	client.WaitConnect(t, netip.AddrPortFrom(probeA.Addr4(), 9443))
	client.WaitConnect(t, netip.AddrPortFrom(probeB.Addr4(), 9443))
	client.WaitConnect(t, coordAddr)

	cli := ca.Issue(t, "operator")
	run := func(args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := client.Command(ctx, bins["dsprobe"], append([]string{"probe", "--coordinator", coordAddr.String()}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return stdout.String(), stderr.String(), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), 0
	}
	withCert := []string{"--tls-cert", cli.CertFile, "--tls-key", cli.KeyFile, "--tls-ca", ca.File}

	t.Run("both probers answer over mTLS", func(t *testing.T) {
		target := fmt.Sprintf("http://[%s]:8081/", web.Addr6()) // IPv4-only listener, probed over IPv6
		stdout, stderr, code := run(append(withCert, "-o", "json", target)...)
		if code != 1 {
			t.Fatalf("got exit %d (%s), want 1: IPv6 is refused", code, stderr)
		}
		var job jobJSON
		if err := json.Unmarshal([]byte(stdout), &job); err != nil {
			t.Fatalf("bad JSON %q: %v", stdout, err)
		}
		seen := map[string]string{}
		for _, p := range job.Probers {
			if p.Result == nil {
				t.Fatalf("prober %s gave no result: %+v", p.Prober, p.Error)
			}
			f := p.Result.Families[0]
			if f.Family != "FAMILY_IPV6" || f.OK || f.FailingLayer != "LAYER_LISTENER" {
				t.Errorf("prober %s: got %+v, want IPv6 failing at LAYER_LISTENER", p.Prober, f)
			}
			seen[p.Prober] = p.Namespace
		}
		if seen["prober-a"] != "team-a" || seen["prober-b"] != "team-b" || job.Summary.Passed {
			t.Errorf("got probers %v and summary %+v, want prober-a/team-a and prober-b/team-b, not passed", seen, job.Summary)
		}
	})
	t.Run("healthy target passes from every namespace", func(t *testing.T) {
		stdout, stderr, code := run(append(withCert, fmt.Sprintf("http://%s:8080/", web.Addr4()))...)
		if code != 0 || !strings.Contains(stdout, "team-a") || !strings.Contains(stdout, "team-b") || !strings.Contains(stdout, "2 of 2 prober(s) answered") {
			t.Errorf("got exit %d, %q (stderr %q), want both probers passing", code, stdout, stderr)
		}
	})
	t.Run("a caller without a client certificate is refused", func(t *testing.T) {
		_, stderr, code := run("--tls-ca", ca.File, fmt.Sprintf("http://%s:8080/", web.Addr4()))
		if code != 2 || !strings.Contains(stderr, "requires a client certificate") {
			t.Errorf("got exit %d and %q, want exit 2 explaining the client certificate", code, stderr)
		}
		t.Logf("refused: %s", stderr)
	})
	t.Run("a caller signed by another CA is refused", func(t *testing.T) {
		rogue := testpki.NewCA(t, "rogue").Issue(t, "intruder")
		_, stderr, code := run("--tls-cert", rogue.CertFile, "--tls-key", rogue.KeyFile, "--tls-ca", ca.File, fmt.Sprintf("http://%s:8080/", web.Addr4()))
		if code != 2 || !strings.Contains(stderr, "requires a client certificate") {
			t.Errorf("got exit %d and %q, want exit 2 explaining the client certificate", code, stderr)
		}
		t.Logf("refused: %s", stderr)
	})
	t.Run("a target outside the probers' allow-list is refused by each", func(t *testing.T) {
		stdout, _, code := run(append(withCert, "-o", "json", "10.96.0.1:443")...)
		var job jobJSON
		if code != 1 || json.Unmarshal([]byte(stdout), &job) != nil || len(job.Probers) != 2 {
			t.Fatalf("got exit %d and %q, want both probers' refusals", code, stdout)
		}
		for _, p := range job.Probers {
			if p.Error == nil || p.Error.Code != "PermissionDenied" {
				t.Errorf("prober %s: got %+v, want PermissionDenied", p.Prober, p.Error)
			}
		}
	})
}
