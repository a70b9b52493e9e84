package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// holdConnection connects from the client to dst and keeps the connection
// open until the test ends, holding a local port towards dst.
func (l *lab) holdConnection(t *testing.T, dst netip.AddrPort) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := l.client.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		t.Fatalf("holding a connection to %v: %v", dst, err)
	}
	t.Cleanup(func() { conn.Close() })
}

// A healthy dual-stack target probed from a machine whose local ports are
// used up: the probe fails as dsprobe's own fault, exit 3, with one line
// that names the resource and what to do, and no verdict. Issue 8: it was
// judged LAYER_ROUTE, "there is no route to the endpoint", on both families.
func TestProbeWithoutLocalPorts(t *testing.T) {
	l := newLab(t)
	l.client.NarrowLocalPorts(t, 1)
	// The one port, held towards both of the target's addresses.
	l.holdConnection(t, netip.AddrPortFrom(l.server.Addr4(), portHealthy))
	l.holdConnection(t, netip.AddrPortFrom(l.server.Addr6(), portHealthy))

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	target := fmt.Sprintf("http://%s:%d/", healthyName, portHealthy)
	ownDNS := netip.AddrPortFrom(l.dns.Addr4(), dnsPort).String()
	stdout, stderr, code := testhost.RunExit(t, l.client.Command(ctx, bins["dsprobe"], "probe", "-o", "json", "--dns-server", ownDNS, target))
	if code != 3 {
		t.Fatalf("got exit %d (stdout %s, stderr %q), want 3: dsprobe could not run the check", code, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("got a result on stdout, want none: %s", stdout)
	}
	line := strings.TrimSpace(stderr)
	for _, want := range []string{"local ports", "cannot assign requested address", "net.ipv4.ip_local_port_range"} {
		if !strings.Contains(line, want) {
			t.Errorf("got stderr %q, want it to mention %q", stderr, want)
		}
	}
	if strings.Contains(line, "\n") || strings.Contains(line, "internal error") || strings.Contains(line, "LAYER_") {
		t.Errorf("got stderr %q, want one line that blames the machine, not dsprobe or the path", stderr)
	}
}

// Probing one target over and over must not use up the prober's ports:
// with only four local ports, many probes in a row all pass. (The prober
// closes its connections first; closed gracefully they waited out TIME_WAIT,
// 60 s, each holding its port towards the target, and the fifth probe failed
// with EADDRNOTAVAIL.)
func TestProbeRepeatedlyWithFewLocalPorts(t *testing.T) {
	l := newLab(t)
	const ports, probes = 4, 20
	l.client.NarrowLocalPorts(t, ports)
	target := fmt.Sprintf("http://%s:%d/", healthyName, portHealthy)
	ownDNS := netip.AddrPortFrom(l.dns.Addr4(), dnsPort).String()
	for i := range probes {
		res, code, stderr := l.probe(t, "--dns-server", ownDNS, target)
		if code != 0 {
			t.Fatalf("probe %d of %d with %d local ports: got exit %d (%s), verdicts %+v, want every probe to pass", i+1, probes, ports, code, stderr, res.Families)
		}
	}
	// The mechanism: nothing waits in TIME_WAIT towards the target.
	out, err := l.client.Run(t.Context(), "ss", "-Htan", "state", "time-wait", "dport", "=", fmt.Sprintf(":%d", portHealthy))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n > 0 {
		t.Errorf("got %d connections to the target in TIME_WAIT, want none:\n%s", n, out)
	}
}
