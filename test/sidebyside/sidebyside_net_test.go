package sidebyside

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	dsprobev1 "github.com/dsprobe/dsprobe/gen/dsprobe/v1"
	"github.com/dsprobe/dsprobe/internal/faultdns"
	"github.com/dsprobe/dsprobe/internal/testsupport/dnstest"
	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// The defaults are a brief run, so that the test suite keeps the
// measurement working; scripts/sidebyside.sh sets them for a real one.
var (
	rounds      = flag.Int("rounds", 1, "rounds, each driving the prober then blackbox_exporter")
	pairs       = flag.Int("pairs", 20, "dual-family probes per process per round")
	concurrency = flag.Int("concurrency", 4, "probes in flight at once, for either process")
	// Another build of cmd/prober (an older commit's, say) measured in place
	// of the one built from this tree: a before and after in the same run
	// conditions.
	proberBinary = flag.String("prober", "", "prober `binary` to measure (default: built from this tree)")
)

var bins = map[string]string{}

// TestMain builds the prober as its image ships it (internal/imagebuild:
// no cgo, -trimpath, no symbol table), as blackbox_exporter is built, so
// that neither's resident binary is larger for its build flags alone
// (-s implies -w, and GOFLAGS cannot hold the space of "-s -w").
func TestMain(m *testing.M) {
	os.Setenv("CGO_ENABLED", "0")
	os.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -trimpath -ldflags=-s"))
	testhost.MainWithBinaries(m, bins, "../../cmd/prober")
}

const (
	targetName   = "target.dsprobe.test"
	targetPort   = 8090
	proberPort   = 9000
	blackboxPort = 9115
)

// blackboxConfig is the module pair that together do what one prober
// probe of check tcp does for a name: connect over each family.
const blackboxConfig = `modules:
  tcp_v4:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp_v6:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip6
      ip_protocol_fallback: false
`

// TestSideBySide drives a prober (gRPC Probe, check tcp, both families) and
// blackbox_exporter (/probe with tcp_v4 then tcp_v6: one pair is one
// dual-family probe) with the same probes at the same concurrency, in
// alternating rounds, and reports the CPU time each process spent per
// dual-family probe and its memory. Both run in one network namespace
// whose resolv.conf names the project's DNS server; the target is Debian's
// nginx, in another. Only the two processes' own CPU time counts: the
// driver, the DNS server and nginx are outside them. It asserts that every
// probe passed, never a time: the machine is shared.
func TestSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("a load measurement: not with -short")
	}
	if *rounds < 1 || *pairs < 1 || *concurrency < 1 {
		t.Fatalf("-rounds %d, -pairs %d, -concurrency %d: each must be at least 1", *rounds, *pairs, *concurrency)
	}
	blackbox := testhost.Tool(t, "blackbox_exporter")
	nginx := testhost.Tool(t, "nginx")
	lab := testhost.New(t)
	server, probers := lab.AddHost("server"), lab.AddHost("probers")
	startDNS(t, server)
	startNginx(t, server, nginx)
	// Each probe leaves connections in TIME_WAIT on the probers' side (the
	// client closes first): tens of thousands in a run, more than the
	// default local port range holds, and the kernel's search for a free
	// port would then grow the cost of every connect, charged to whichever
	// process is running when the range fills. Reusing TIME_WAIT ports for
	// new outgoing connections, over the widest range, keeps a connect's
	// cost the same from the first round to the last.
	probers.SetSysctl(t, "net.ipv4.tcp_tw_reuse", "1")
	probers.SetSysctl(t, "net.ipv4.ip_local_port_range", "1024 65535")
	if err := probers.WriteEtc("resolv.conf", "nameserver "+server.Addr4().String()+"\n"); err != nil {
		t.Fatal(err)
	}
	// The machine's own hosts file might name the target: both must ask
	// the DNS server.
	if err := probers.WriteEtc("hosts", "127.0.0.1 localhost\n::1 localhost\n"); err != nil {
		t.Fatal(err)
	}

	prober := startProber(t, lab, probers)
	exporter := startBlackbox(t, probers, blackbox)

	sides := []*side{prober, exporter}
	// A few probes first, so that neither is measured starting up.
	for _, s := range sides {
		s.drive(t, *concurrency, *concurrency)
	}
	for range *rounds {
		for _, s := range sides {
			before := sample(t, s.pid)
			s.drive(t, *pairs, *concurrency)
			after := sample(t, s.pid)
			s.cpu += after.cpu - before.cpu
			s.probes += *pairs
			s.rounds = append(s.rounds, (after.cpu-before.cpu)/time.Duration(*pairs))
			s.connects += after.connects - before.connects
			s.hwm, s.rss, s.anon, s.file = after.hwm, after.rss, after.anon, after.file
		}
	}
	report(t, prober, exporter)
}

// A side is one measured process and how to send it a dual-family probe.
type side struct {
	name   string
	pid    int
	probe  func(ctx context.Context) error
	cpu    time.Duration
	probes int
	// rounds are the CPU time per probe of each round, to show how much
	// the figure moves on a shared machine.
	rounds []time.Duration
	// connects are the TCP connections opened in the probers' host while
	// this side was driven: how many each probe makes.
	connects int
	// hwm and rss are the peak and current resident memory after the last
	// round, in KiB; anon and file split rss into the heap, stacks and
	// runtime (anonymous) and the mapped binary (file-backed).
	hwm, rss   int
	anon, file int
}

// drive sends n probes, at most concurrency at once, and fails the test on
// the first that does not pass.
func (s *side) drive(t *testing.T, n, concurrency int) {
	t.Helper()
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for range concurrency {
		wg.Go(func() {
			for range next {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := s.probe(ctx)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
}

func startDNS(t *testing.T, server *testhost.Host) {
	pc, err := server.ListenPacket("udp", "[::]:53")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen("tcp", "[::]:53")
	if err != nil {
		t.Fatal(err)
	}
	own := dnstest.StartOn(t, pc, ln)
	own.Set(targetName, dns.TypeA, faultdns.Response{Addrs: []netip.Addr{server.Addr4()}})
	own.Set(targetName, dns.TypeAAAA, faultdns.Response{Addrs: []netip.Addr{server.Addr6()}})
}

// startNginx runs Debian's nginx as the dual-stack target, as the probe
// package's network tests do.
func startNginx(t *testing.T, server *testhost.Host, nginx string) {
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  server {
    listen %[2]d;
    listen [::]:%[2]d;
    location / { return 200 "ok\n"; }
  }
}
`, dir, targetPort)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	server.Start(t, nginx, "-c", path, "-p", dir, "-e", "stderr")
	server.WaitConnect(t, netip.AddrPortFrom(server.Addr4(), targetPort))
}

// startProber runs the prober in plaintext on the host's loopback, which
// it serves without authentication, with admission wide enough that no
// probe waits for the rate limit.
func startProber(t *testing.T, lab *testhost.Lab, host *testhost.Host) *side {
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), proberPort)
	binary := bins["prober"]
	if *proberBinary != "" {
		binary = *proberBinary
	}
	cmd := host.Command(context.Background(), binary, "--listen", addr.String(), "--name", "sidebyside", "--namespace", "bench",
		"--allow-name", targetName, "--allow-cidr", lab.Prefix4().String(), "--allow-cidr", lab.Prefix6().String(),
		"--allow-port", strconv.Itoa(targetPort),
		"--max-concurrent", strconv.Itoa(*concurrency), "--max-waiting", strconv.Itoa(*concurrency), "--rate", "0")
	host.StartCommand(t, cmd)
	host.WaitConnect(t, addr)
	conn, err := grpc.NewClient("passthrough:///"+addr.String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
			return host.DialContext(ctx, "tcp", address)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := dsprobev1.NewProberClient(conn)
	req := &dsprobev1.ProbeRequest{Target: fmt.Sprintf("%s:%d", targetName, targetPort), Check: dsprobev1.Check_CHECK_TCP}
	return &side{name: "prober", pid: processID(t, cmd.Process.Pid, binary), probe: func(ctx context.Context) error {
		resp, err := client.Probe(ctx, req)
		if err != nil {
			return err
		}
		families := resp.GetResult().GetFamilies()
		if len(families) != 2 {
			return fmt.Errorf("got %d family verdicts, want 2: %v", len(families), families)
		}
		for _, f := range families {
			if !f.GetOk() {
				return fmt.Errorf("%v failed: %v", f.GetFamily(), f)
			}
		}
		return nil
	}}
}

// startBlackbox runs blackbox_exporter on the host's loopback with the
// tcp_v4 and tcp_v6 modules; its client keeps as many connections open as
// probes are in flight, as the prober's gRPC connection carries them all.
func startBlackbox(t *testing.T, host *testhost.Host, binary string) *side {
	dir := t.TempDir()
	config := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(config, []byte(blackboxConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), blackboxPort)
	cmd := host.Command(context.Background(), binary, "--config.file", config, "--web.listen-address", addr.String(), "--log.level", "warn")
	host.StartCommand(t, cmd)
	host.WaitConnect(t, addr)
	client := &http.Client{Transport: &http.Transport{DialContext: host.DialContext, MaxIdleConnsPerHost: *concurrency}}
	t.Cleanup(client.CloseIdleConnections)
	target := fmt.Sprintf("%s:%d", targetName, targetPort)
	probe := func(ctx context.Context, module string) error {
		url := fmt.Sprintf("http://%s/probe?module=%s&target=%s", addr, module, target)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\nprobe_success 1\n") {
			return fmt.Errorf("%s: status %s:\n%s", module, resp.Status, body)
		}
		return nil
	}
	return &side{name: "blackbox_exporter", pid: processID(t, cmd.Process.Pid, binary), probe: func(ctx context.Context) error {
		if err := probe(ctx, "tcp_v4"); err != nil {
			return err
		}
		return probe(ctx, "tcp_v6")
	}}
}

// processID checks that pid, started as `ip netns exec NETNS binary`, is
// binary now (ip execs it in place), so that its CPU time is the
// program's. comm is the kernel's name of the process: the file's name, cut
// to 15 bytes.
func processID(t *testing.T, pid int, binary string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Base(binary)
	want = want[:min(len(want), 15)]
	if got := strings.TrimSpace(string(b)); got != want {
		t.Fatalf("process %d is %q, want %q", pid, got, want)
	}
	return pid
}

// usage is a process's CPU time (user and system, all threads), its
// peak and current resident memory in KiB, and the TCP connections opened
// so far in its network namespace (both families: the kernel counts TCP
// over IPv4 and IPv6 together).
type usage struct {
	cpu        time.Duration
	hwm, rss   int
	anon, file int
	connects   int
}

// userHZ is the unit of /proc/PID/stat's times, fixed at 100 by the
// kernel's ABI whatever its internal tick rate.
const userHZ = 100

func sample(t *testing.T, pid int) usage {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis, where field 3 (state) is the first.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	var ticks int64
	for _, f := range fields[14-3 : 15-3+1] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	u := usage{cpu: time.Duration(ticks) * time.Second / userHZ}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		key, value, _ := strings.Cut(line, ":")
		kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
		switch key {
		case "VmHWM":
			u.hwm = kib
		case "VmRSS":
			u.rss = kib
		case "RssAnon":
			u.anon = kib
		case "RssFile":
			u.file = kib
		}
	}
	if u.hwm == 0 || u.rss == 0 {
		t.Fatalf("/proc/%d/status has no VmHWM or VmRSS", pid)
	}
	u.connects = activeOpens(t, pid)
	return u
}

// activeOpens reads TCP ActiveOpens of the network namespace pid is in.
func activeOpens(t *testing.T, pid int) int {
	t.Helper()
	snmp, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/snmp", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Two "Tcp:" lines: the counters' names, then their values.
	var names []string
	for line := range strings.Lines(string(snmp)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		if i := slices.Index(names, "ActiveOpens"); i > 0 && i < len(fields) {
			if n, err := strconv.Atoi(fields[i]); err == nil {
				return n
			}
		}
		break
	}
	t.Fatalf("/proc/%d/net/snmp has no Tcp ActiveOpens", pid)
	return 0
}

func report(t *testing.T, prober, blackbox *side) {
	perProbe := func(s *side) float64 { return float64(s.cpu.Microseconds()) / float64(s.probes) }
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rounds of %d dual-family probes per process, %d in flight\n", *rounds, *pairs, *concurrency)
	// The kernel counts CPU time in ticks, so a round's figure is this
	// coarse: a brief run tells little.
	tick := time.Second / userHZ
	fmt.Fprintf(&b, "CPU time is read in %v ticks: ±%.0f µs per probe a round, ±%.0f µs over the run\n",
		tick, float64(tick.Microseconds())/float64(*pairs), float64(tick.Microseconds())/float64(*pairs**rounds))
	connects := func(s *side) float64 { return float64(s.connects) / float64(s.probes) }
	fmt.Fprintf(&b, "%-18s %14s %12s %12s %14s %20s\n", "", "CPU µs/probe", "VmHWM KiB", "VmRSS KiB", "connects/probe", "RssAnon+RssFile KiB")
	for _, s := range []*side{prober, blackbox} {
		fmt.Fprintf(&b, "%-18s %14.0f %12d %12d %14.2f %20s\n", s.name, perProbe(s), s.hwm, s.rss, connects(s), fmt.Sprintf("%d+%d", s.anon, s.file))
	}
	fmt.Fprintf(&b, "%-18s %14s %12s %12s %14s\n", "prober/blackbox", ratio(perProbe(prober), perProbe(blackbox)),
		ratio(float64(prober.hwm), float64(blackbox.hwm)), ratio(float64(prober.rss), float64(blackbox.rss)),
		ratio(connects(prober), connects(blackbox)))
	b.WriteString("CPU µs/probe by round (prober, blackbox_exporter, ratio):")
	for i := range prober.rounds {
		p, x := prober.rounds[i].Microseconds(), blackbox.rounds[i].Microseconds()
		fmt.Fprintf(&b, " %d/%d=%s", p, x, ratio(float64(p), float64(x)))
	}
	b.WriteString("\n")
	t.Log("\n" + b.String())
}
