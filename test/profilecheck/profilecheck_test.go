package profilecheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/dualstack"
	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// Tolerance of a real client's time to connect around the prediction.
//
// Lower bound, 5 ms: the clients' fallbacks are timers, which do not fire
// early; the margin only absorbs clock reading granularity.
//
// Upper bound, 50 ms: the prediction leaves out process scheduling, the
// /etc/hosts lookup and the sub-millisecond veth round trip; on a loaded
// 2-core machine a wake-up can be late by tens of milliseconds. 50 ms is
// also half the smallest gap between the attempt delays that tell profiles
// apart (curl 200, Node/Firefox/RFC 8305 250, Go/Chrome 300 ms), so a client
// inside the tolerance of one timer cannot be inside another's by accident.
// The median of three runs absorbs one unlucky scheduling stall.
const (
	earlyTolerance = 5 * time.Millisecond
	lateTolerance  = 50 * time.Millisecond
	runsPerCase    = 3
	serviceName    = "svc.dsprobe.test"
)

// realClient is a client program on this machine and the profile that
// claims to predict it.
type realClient struct {
	name    string
	profile string
	binary  string
	argv    func(host string, port uint16) []string
	parse   func(out string) (netip.Addr, time.Duration, error)
}

var goClientBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "profilecheck")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goClientBinary = filepath.Join(dir, "goclient")
	// The pure-Go resolver is Go's default on Linux; netgo makes the
	// "go" profile's assumption explicit.
	build := exec.Command("go", "build", "-tags", "netgo", "-o", goClientBinary, "./testdata/goclient")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the Go client: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// parseAddrMillis reads "ADDRESS MILLISECONDS".
func parseAddrMillis(out string) (netip.Addr, time.Duration, error) {
	fields := strings.Fields(out)
	if len(fields) != 2 {
		return netip.Addr{}, 0, fmt.Errorf("want \"ADDRESS MS\", got %q", out)
	}
	addr, err := netip.ParseAddr(fields[0])
	if err != nil {
		return netip.Addr{}, 0, err
	}
	ms, err := strconv.ParseFloat(fields[1], 64)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	return addr.Unmap(), time.Duration(ms * float64(time.Millisecond)), nil
}

const pythonClient = `
import socket, sys, time
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
s = socket.create_connection((host, port), timeout=timeout)
elapsed = time.monotonic() - start
print(s.getpeername()[0], elapsed * 1000)
`

const nodeClient = `
const net = require('net');
const [host, port] = process.argv.slice(1);
const start = process.hrtime.bigint();
const s = net.connect({host, port: Number(port), autoSelectFamily: true});
s.on('connect', () => {
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(s.remoteAddress.replace(/^::ffff:/, ''), ms);
  s.destroy();
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`

func realClients() []realClient {
	return []realClient{
		{
			name: "Go net.Dialer", profile: "go", binary: goClientBinary,
			argv: func(host string, port uint16) []string {
				return []string{goClientBinary, net.JoinHostPort(host, strconv.Itoa(int(port)))}
			},
			parse: func(out string) (netip.Addr, time.Duration, error) {
				var r struct {
					Remote string
					Ms     float64
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					return netip.Addr{}, 0, err
				}
				return parseAddrMillis(r.Remote + " " + strconv.FormatFloat(r.Ms, 'f', -1, 64))
			},
		},
		{
			name: "curl", profile: "curl", binary: "curl",
			argv: func(host string, port uint16) []string {
				return []string{"curl", "-sS", "-o", "/dev/null", "--max-time", "20",
					"-w", "%{remote_ip} %{time_connect}", fmt.Sprintf("http://%s/", net.JoinHostPort(host, strconv.Itoa(int(port))))}
			},
			parse: func(out string) (netip.Addr, time.Duration, error) {
				// time_connect is in seconds.
				addr, secs, err := parseAddrMillis(out)
				return addr, secs * 1000, err
			},
		},
		{
			// A short per-address timeout keeps the blackhole case at 1 s
			// instead of the OS's 127 s; the profile carries the same.
			name: "python socket.create_connection(timeout=1)", profile: "python,attempt-timeout=1s", binary: "python3",
			argv: func(host string, port uint16) []string {
				return []string{"python3", "-c", pythonClient, host, strconv.Itoa(int(port)), "1.0"}
			},
			parse: parseAddrMillis,
		},
		{
			// Single-file source launch: the JVM compiles it in memory; the
			// program times only its own connect.
			name: "java new Socket(host, port)", profile: "java", binary: "java",
			argv: func(host string, port uint16) []string {
				return []string{"java", "testdata/javaclient/JavaClient.java", host, strconv.Itoa(int(port))}
			},
			parse: parseAddrMillis,
		},
		{
			name: "node net.connect", profile: "node", binary: "node",
			argv: func(host string, port uint16) []string {
				return []string{"node", "-e", nodeClient, host, strconv.Itoa(int(port))}
			},
			parse: parseAddrMillis,
		},
	}
}

func TestProfilesMatchRealClients(t *testing.T) {
	lab := testhost.New(t)
	client, server := lab.AddHost("client"), lab.AddHost("server")
	ln, err := server.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	v6, v4 := netip.AddrPortFrom(server.Addr6(), port), netip.AddrPortFrom(server.Addr4(), port)

	// The client resolves the service from its own /etc/hosts, AAAA and A
	// at once, as getaddrinfo and Go's resolver both read it.
	hosts := fmt.Sprintf("127.0.0.1 localhost\n%s %s\n%s %s\n", v6.Addr(), serviceName, v4.Addr(), serviceName)
	if err := client.WriteEtc("hosts", hosts); err != nil {
		t.Fatal(err)
	}
	sources := func(a netip.Addr) he.Source {
		if a.Is4() {
			return he.Source{Addr: client.Addr4()}
		}
		return he.Source{Addr: client.Addr6()}
	}

	scenarios := []struct {
		name      string
		fault     func() error
		v6Outcome dualstack.Outcome // as the simulator should see each family
		v4Outcome dualstack.Outcome
	}{
		{"healthy", func() error { return nil }, dualstack.OutcomeConnected, dualstack.OutcomeConnected},
		{"IPv6 blackholed", func() error { return server.DropInbound(v6) }, dualstack.OutcomeTimeout, dualstack.OutcomeConnected},
		{"IPv6 refused", func() error { return server.RejectInbound(v6, testhost.RejectTCPReset) }, dualstack.OutcomeRefused, dualstack.OutcomeConnected},
		// Most clients never notice (IPv6 comes first); Java tries only
		// its first address, IPv4, and fails although IPv6 works.
		{"IPv4 refused", func() error { return server.RejectInbound(v4, testhost.RejectTCPReset) }, dualstack.OutcomeConnected, dualstack.OutcomeRefused},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if err := sc.fault(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := server.ClearFaults(); err != nil {
					t.Error(err)
				}
			})
			scenario := he.Scenario{
				Paths: []he.Path{
					{Address: v6.Addr(), Outcome: sc.v6Outcome},
					{Address: v4.Addr(), Outcome: sc.v4Outcome},
				},
				SourceFor: sources,
			}
			for _, rc := range realClients() {
				t.Run(rc.name, func(t *testing.T) {
					if _, err := exec.LookPath(rc.binary); err != nil {
						// scripts/install-deps.sh installs every client, so in
						// CI a missing one is a broken install, not a skip.
						if os.Getenv("CI") == "true" {
							t.Fatalf("%s not found (scripts/install-deps.sh installs it): %v", rc.binary, err)
						}
						t.Skipf("%s not installed", rc.binary)
					}
					p, err := he.ParseProfile(rc.profile)
					if err != nil {
						t.Fatal(err)
					}
					pred, err := he.Simulate(p.Strategy, scenario)
					if err != nil {
						t.Fatal(err)
					}
					var times []time.Duration
					for range runsPerCase {
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						argv := rc.argv(serviceName, port)
						out, err := client.Run(ctx, argv[0], argv[1:]...)
						cancel()
						if !pred.Connected() {
							// The profile predicts a failure: the real
							// client must fail too.
							if err == nil {
								t.Fatalf("real %s connected (%s), profile %s predicts %v", rc.name, strings.TrimSpace(out), rc.profile, pred.Outcome)
							}
							t.Logf("%s fails as predicted (%v): %v", rc.name, pred.Outcome, err)
							return
						}
						if err != nil {
							t.Fatal(err)
						}
						addr, took, err := rc.parse(strings.TrimSpace(out))
						if err != nil {
							t.Fatalf("parsing %q: %v", out, err)
						}
						if got := dualstack.FamilyOf(addr); got != pred.Family {
							t.Fatalf("real %s connected over %v (%v), profile %s predicts %v", rc.name, got, addr, rc.profile, pred.Family)
						}
						times = append(times, took)
					}
					slices.Sort(times)
					median := times[len(times)/2]
					t.Logf("%s: real %v (runs %v), predicted %v over %v", rc.name, median, times, pred.TimeToConnect, pred.Family)
					if median < pred.TimeToConnect-earlyTolerance || median > pred.TimeToConnect+lateTolerance {
						t.Errorf("real %s took %v (median of %v), profile %s predicts %v (tolerance -%v/+%v)",
							rc.name, median, times, rc.profile, pred.TimeToConnect, earlyTolerance, lateTolerance)
					}
				})
			}
		})
	}
}
