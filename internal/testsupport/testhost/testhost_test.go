package testhost

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Tests without root: the decisions New makes before touching the machine.

func TestPrerequisiteProblem(t *testing.T) {
	found := func(string) (string, error) { return "/usr/sbin/x", nil }
	missing := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			if slices.Contains(names, name) {
				return "", exec.ErrNotFound
			}
			return "/usr/sbin/" + name, nil
		}
	}
	tests := []struct {
		name     string
		euid     int
		lookPath func(string) (string, error)
		want     []string // substrings of the problem; nil: no problem
		notWant  []string
	}{
		{name: "root with both binaries", euid: 0, lookPath: found},
		{name: "not root", euid: 1000, lookPath: found,
			want: []string{"root (running as euid 1000)", "bash scripts/test.sh"}, notWant: []string{"binary"}},
		{name: "no nft", euid: 0, lookPath: missing("nft"),
			want: []string{"nft binary from nftables", "bash scripts/test.sh"}, notWant: []string{"euid", "iproute2"}},
		{name: "no ip", euid: 0, lookPath: missing("ip"),
			want: []string{"ip binary from iproute2"}, notWant: []string{"nftables"}},
		{name: "nothing", euid: 1000, lookPath: missing("ip", "nft"),
			want: []string{"root", "iproute2", "nftables", "bash scripts/test.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prerequisiteProblem(tt.euid, tt.lookPath)
			if tt.want == nil {
				if got != "" {
					t.Errorf("got %q, want no problem", got)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to mention %q", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("got %q, want it not to mention %q", got, w)
				}
			}
		})
	}
}

func TestFailInsteadOfSkip(t *testing.T) {
	for _, tt := range []struct {
		ci   string // "" is unset
		want bool
	}{
		{"", false},
		{"true", true},
		{"1", true},
		{"TRUE", true},
		{"false", false},
		{"0", false},
		{"yes please", false},
	} {
		getenv := func(key string) string {
			if key == "CI" {
				return tt.ci
			}
			return ""
		}
		if got := failInsteadOfSkip(getenv); got != tt.want {
			t.Errorf("CI=%q: got fail=%v, want %v", tt.ci, got, tt.want)
		}
	}
}

func TestStaleNames(t *testing.T) {
	alive := func(pid int) bool { return pid == 100 }
	names := []string{
		"dsprobe-test-100-1",        // live process: kept
		"dsprobe-test-100-1-client", // live process: kept
		"dsprobe-test-200-3",        // dead: stale
		"dsprobe-test-200-3-server", // dead: stale
		"dsprobe-test-x-1",          // not a pid
		"dsprobe-test-200",          // no lab number: not ours
		"dsprobe-test--1",           // empty pid
		"pod-200-1",                 // another program's
		"dsprobe-200-1",             // another prefix
	}
	got := staleNames(names, alive)
	want := []string{"dsprobe-test-200-3", "dsprobe-test-200-3-server"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNamesFitLinux(t *testing.T) {
	const ifNameMax = 15 // IFNAMSIZ - 1
	for _, name := range []string{bridgeName, hostInterface, "p4294967295"} {
		if len(name) > ifNameMax {
			t.Errorf("interface name %q: got %d bytes, want at most %d", name, len(name), ifNameMax)
		}
	}
}

func TestValidatePrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tt := range []struct {
		p4, p6  netip.Prefix
		wantErr []string
	}{
		{p4: DefaultIPv4Prefix, p6: DefaultIPv6Prefix},
		{p4: p("10.0.0.0/8"), p6: p("fd00::/64")},
		{p4: p("2001:db8::/64"), p6: p("192.0.2.0/24"), wantErr: []string{"not an IPv4", "not an IPv6"}},
		{p4: p("192.0.2.1/24"), p6: p("2001:db8::1/64"), wantErr: []string{"want 192.0.2.0/24", "want 2001:db8::/64"}},
		{p4: p("192.0.2.0/31"), p6: p("2001:db8::/127"), wantErr: []string{"/30 or shorter", "/126 or shorter"}},
		{p4: p("::ffff:192.0.2.0/120"), p6: p("::ffff:192.0.2.0/120"), wantErr: []string{"not an IPv4", "not an IPv6"}},
	} {
		err := validatePrefixes(tt.p4, tt.p6)
		if len(tt.wantErr) == 0 {
			if err != nil {
				t.Errorf("%v, %v: got %v, want no error", tt.p4, tt.p6, err)
			}
			continue
		}
		for _, w := range tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v, %v: got %v, want an error mentioning %q", tt.p4, tt.p6, err, w)
			}
		}
	}
}

func TestFaultRules(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tt := range []struct {
		dst     netip.AddrPort
		verdict string
		tcpOnly bool
		want    []string
	}{
		{ap("192.0.2.2:443"), "drop", false, []string{"ip daddr 192.0.2.2 meta l4proto { tcp, udp } th dport 443 drop"}},
		{ap("[::ffff:192.0.2.2]:0"), "drop", false, []string{"ip daddr 192.0.2.2 drop"}},
		{ap("[2001:db8::2]:0"), "drop", false, []string{
			"ip6 daddr 2001:db8::2 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
			"ip6 daddr 2001:db8::2 drop",
		}},
		{ap("[2001:db8::2]:80"), "reject with tcp reset", true, []string{"ip6 daddr 2001:db8::2 tcp dport 80 reject with tcp reset"}},
		{ap("[2001:db8::2]:0"), "reject with tcp reset", true, []string{"ip6 daddr 2001:db8::2 meta l4proto tcp reject with tcp reset"}},
	} {
		got, err := faultRules(tt.dst, tt.verdict, tt.tcpOnly)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("faultRules(%v, %q, %v): got %q, %v, want %q", tt.dst, tt.verdict, tt.tcpOnly, got, err, tt.want)
		}
	}
	if _, err := faultRules(netip.AddrPort{}, "drop", false); err == nil {
		t.Errorf("faultRules(zero AddrPort): got no error, want one")
	}
}

func TestRequireLiteral(t *testing.T) {
	for _, tt := range []struct {
		network, address string
		ok               bool
	}{
		{"tcp", "192.0.2.1:80", true},
		{"tcp", "[2001:db8::1]:80", true},
		{"tcp6", "[fe80::1%eth0]:80", true},
		{"tcp", ":0", true},
		{"udp", "[::]:0", true},
		{"unix", "@abstract", true},
		{"ip6:ipv6-icmp", "2001:db8::1", true},
		{"tcp", "localhost:80", false},
		{"tcp", "example.test:80", false},
		{"tcp", "192.0.2.1", false}, // no port
	} {
		err := requireLiteral(tt.network, tt.address)
		if (err == nil) != tt.ok {
			t.Errorf("requireLiteral(%q, %q): got %v, want ok=%v", tt.network, tt.address, err, tt.ok)
		}
	}
}

// Tests with root: real namespaces.

const (
	dialBudget  = 5 * time.Second        // for connects that should answer at once
	dropTimeout = 300 * time.Millisecond // for connects that should time out
)

// newPair makes a lab with a client and a server host.
func newPair(t *testing.T, opts ...Option) (lab *Lab, client, server *Host) {
	t.Helper()
	lab = New(t, opts...)
	return lab, lab.AddHost("client"), lab.AddHost("server")
}

// listen starts a TCP listener on the server's address of one family and an
// owned goroutine that echoes one line per connection until the test ends.
func listen(t *testing.T, h *Host, network string, addr netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := h.Listen(network, netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			c.SetDeadline(time.Now().Add(dialBudget))
			io.Copy(c, c)
			c.Close()
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

// dial connects from h to dst within budget and closes the connection.
func dial(t *testing.T, h *Host, dst netip.AddrPort, budget time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return err
	}
	return c.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func TestConnectBothFamilies(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	for _, tt := range []struct{ src, dst netip.Addr }{
		{client.Addr4(), server.Addr4()},
		{client.Addr6(), server.Addr6()},
	} {
		t.Run(family(tt.dst), func(t *testing.T) {
			dst := listen(t, server, "tcp", tt.dst)
			ctx, cancel := context.WithTimeout(t.Context(), dialBudget)
			defer cancel()
			c, err := client.DialContext(ctx, "tcp", dst.String())
			if err != nil {
				t.Fatalf("dial %v: %v", dst, err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(dialBudget))
			// The socket was made in the client's namespace: its source is
			// the client's address, which the root namespace does not have.
			if got := netip.MustParseAddrPort(c.LocalAddr().String()).Addr(); got != tt.src {
				t.Errorf("local address: got %v, want %v", got, tt.src)
			}
			if _, err := io.WriteString(c, "ping\n"); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
				t.Errorf("echo: got %q, %v, want %q", buf, err, "ping\n")
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	lab, client, server := newPair(t)
	for _, tt := range []struct {
		name      string
		got, want netip.Addr
	}{
		{"client IPv4", client.Addr4(), netip.MustParseAddr("192.0.2.1")},
		{"client IPv6", client.Addr6(), netip.MustParseAddr("2001:db8::1")},
		{"server IPv4", server.Addr4(), netip.MustParseAddr("192.0.2.2")},
		{"server IPv6", server.Addr6(), netip.MustParseAddr("2001:db8::2")},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if got, want := client.Netns(), lab.name+"-client"; got != want {
		t.Errorf("Netns: got %q, want %q", got, want)
	}
	if got := client.Name(); got != "client" {
		t.Errorf("Name: got %q, want %q", got, "client")
	}
}

func TestULAPrefix(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t, WithIPv6Prefix(netip.MustParsePrefix("fd00::/64")), WithIPv4Prefix(netip.MustParsePrefix("198.51.100.0/24")))
	if got, want := server.Addr6(), netip.MustParseAddr("fd00::2"); got != want {
		t.Errorf("server IPv6: got %v, want %v", got, want)
	}
	if got, want := server.Addr4(), netip.MustParseAddr("198.51.100.2"); got != want {
		t.Errorf("server IPv4: got %v, want %v", got, want)
	}
	dst := listen(t, server, "tcp", server.Addr6())
	if err := dial(t, client, dst, dialBudget); err != nil {
		t.Errorf("dial %v: got %v, want a connection", dst, err)
	}
}

func TestDropInbound(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	dst6 := listen(t, server, "tcp", server.Addr6())
	dst4 := listen(t, server, "tcp", server.Addr4())
	if err := server.DropInbound(dst6); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, client, dst6, dropTimeout); !isTimeout(err) {
		t.Errorf("IPv6 dial %v with a drop: got %v, want a timeout", dst6, err)
	}
	if err := dial(t, client, dst4, dialBudget); err != nil {
		t.Errorf("IPv4 dial %v: got %v, want a connection", dst4, err)
	}

	if err := server.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, client, dst6, dialBudget); err != nil {
		t.Errorf("IPv6 dial %v after ClearFaults: got %v, want a connection", dst6, err)
	}

	// Port 0 drops every port, but not neighbour discovery.
	if err := server.DropInbound(netip.AddrPortFrom(server.Addr6(), 0)); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, client, dst6, dropTimeout); !isTimeout(err) {
		t.Errorf("IPv6 dial %v with an address drop: got %v, want a timeout", dst6, err)
	}
}

func TestRejectInbound(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	tests := []struct {
		how  Reject
		addr netip.Addr
		want syscall.Errno
	}{
		// icmpx admin-prohibited is ICMPv6 1/1, which Linux maps to EACCES,
		// and ICMPv4 3/13 ("communication administratively prohibited"),
		// which Linux folds into EHOSTUNREACH (icmp_err_convert).
		{RejectAdminProhibited, server.Addr6(), syscall.EACCES},
		{RejectAdminProhibited, server.Addr4(), syscall.EHOSTUNREACH},
		{RejectTCPReset, server.Addr6(), syscall.ECONNREFUSED},
		{RejectTCPReset, server.Addr4(), syscall.ECONNREFUSED},
		{RejectHostUnreachable, server.Addr6(), syscall.EHOSTUNREACH},
		{RejectHostUnreachable, server.Addr4(), syscall.EHOSTUNREACH},
		{RejectPortUnreachable, server.Addr6(), syscall.ECONNREFUSED},
		{RejectPortUnreachable, server.Addr4(), syscall.ECONNREFUSED},
		{RejectNoRoute, server.Addr6(), syscall.ENETUNREACH},
		{RejectNoRoute, server.Addr4(), syscall.ENETUNREACH},
	}
	// One listener and one port-specific fault per case, so the cases can
	// share the hosts. They dial concurrently: over IPv6 an ICMP reject is
	// only reported at the SYN retransmit, 1 s in (see RejectInbound).
	const dialsPerCase = 5 // all rejected: none rate-limited into silence
	dsts := make([]netip.AddrPort, len(tests))
	errs := make([][]error, len(tests))
	for i, tt := range tests {
		dsts[i] = listen(t, server, "tcp", tt.addr)
		if err := server.RejectInbound(dsts[i], tt.how); err != nil {
			t.Fatal(err)
		}
		errs[i] = make([]error, dialsPerCase)
	}
	var wg sync.WaitGroup
	for i := range tests {
		for j := range dialsPerCase {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), dialBudget)
				defer cancel()
				c, err := client.DialContext(ctx, "tcp", dsts[i].String())
				if err == nil {
					c.Close()
				}
				errs[i][j] = err
			})
		}
	}
	wg.Wait()
	for i, tt := range tests {
		for _, err := range errs[i] {
			if !errors.Is(err, tt.want) {
				t.Errorf("%v over %s: dial %v: got %v, want %v (%s)", tt.how, family(tt.addr), dsts[i], err, tt.want, unix.ErrnoName(tt.want))
				break
			}
		}
	}

	// Port 0 rejects every port of the address; ClearFaults lifts it.
	if err := server.RejectInbound(netip.AddrPortFrom(server.Addr4(), 0), RejectTCPReset); err != nil {
		t.Fatal(err)
	}
	open := listen(t, server, "tcp", server.Addr4())
	if err := dial(t, client, open, dialBudget); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %v with the whole address rejected: got %v, want ECONNREFUSED", open, err)
	}
	if err := server.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, client, open, dialBudget); err != nil {
		t.Errorf("dial %v after ClearFaults: got %v, want a connection", open, err)
	}

	if err := server.RejectInbound(open, Reject(0)); err == nil {
		t.Errorf("RejectInbound with the zero Reject: got no error, want one")
	}
}

func TestDelRoute(t *testing.T) {
	t.Parallel()
	lab, client, server := newPair(t)
	dst6 := listen(t, server, "tcp", server.Addr6())
	dst4 := listen(t, server, "tcp", server.Addr4())

	for _, tt := range []struct {
		prefix      netip.Prefix
		lost, other netip.AddrPort
	}{
		{lab.Prefix6(), dst6, dst4},
		{lab.Prefix4(), dst4, dst6},
	} {
		t.Run(family(tt.lost.Addr()), func(t *testing.T) {
			if err := client.DelRoute(tt.prefix); err != nil {
				t.Fatal(err)
			}
			if err := dial(t, client, tt.lost, dialBudget); !errors.Is(err, syscall.ENETUNREACH) {
				t.Errorf("dial %v without a route: got %v, want ENETUNREACH", tt.lost, err)
			}
			if err := dial(t, client, tt.other, dialBudget); err != nil {
				t.Errorf("dial %v of the other family: got %v, want a connection", tt.other, err)
			}
			if err := client.AddRoute(tt.prefix, netip.Addr{}); err != nil {
				t.Fatal(err)
			}
			// A failing ip command reports its command line and output.
			err := client.AddRoute(tt.prefix, netip.Addr{})
			if err == nil || !strings.Contains(err.Error(), "ip -n "+client.Netns()+" route add "+tt.prefix.String()) ||
				!strings.Contains(err.Error(), "File exists") {
				t.Errorf("AddRoute of an existing route: got %v, want an error with the command line and ip's output", err)
			}
			if err := dial(t, client, tt.lost, dialBudget); err != nil {
				t.Errorf("dial %v after AddRoute: got %v, want a connection", tt.lost, err)
			}
		})
	}
}

func TestListenerOneFamily(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	// Bound to 0.0.0.0 only, as an application that listens on "tcp4" is.
	dst4 := listen(t, server, "tcp4", netip.IPv4Unspecified())
	if err := dial(t, client, netip.AddrPortFrom(server.Addr4(), dst4.Port()), dialBudget); err != nil {
		t.Errorf("IPv4 dial: got %v, want a connection", err)
	}
	dst6 := netip.AddrPortFrom(server.Addr6(), dst4.Port())
	if err := dial(t, client, dst6, dialBudget); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("IPv6 dial %v to a tcp4 listener: got %v, want ECONNREFUSED", dst6, err)
	}
}

func TestListenPacket(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	srv, err := server.ListenPacket("udp", netip.AddrPortFrom(server.Addr6(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), dialBudget)
	defer cancel()
	c, err := client.DialContext(ctx, "udp", srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(dialBudget))
	buf := make([]byte, 16)
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("ReadFrom: got %q, %v, want %q", buf[:n], err, "hello")
	}
	if got := netip.MustParseAddrPort(from.String()).Addr(); got != client.Addr6() {
		t.Errorf("datagram source: got %v, want %v", got, client.Addr6())
	}
}

func TestDialRejectsNames(t *testing.T) {
	t.Parallel()
	lab := New(t)
	h := lab.AddHost("a")
	if _, err := h.DialContext(t.Context(), "tcp", "localhost:80"); err == nil || !strings.Contains(err.Error(), "IP literal") {
		t.Errorf("dial localhost: got %v, want an error asking for an IP literal", err)
	}
}

// netnsInode returns the inode of the calling thread's network namespace.
func netnsInode(t *testing.T) uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Error(err)
	}
	return st.Ino
}

func TestDo(t *testing.T) {
	t.Parallel()
	lab := New(t)
	h := lab.AddHost("a")
	var want unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsRunDir, h.Netns()), &want); err != nil {
		t.Fatal(err)
	}

	var inside, inGoroutine uint64
	var ifaces []string
	err := h.Do(func() error {
		inside = netnsInode(t)
		done := make(chan uint64)
		go func() { done <- netnsInode(t) }()
		inGoroutine = <-done
		list, err := net.Interfaces()
		for _, i := range list {
			ifaces = append(ifaces, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != want.Ino {
		t.Errorf("namespace inside Do: got inode %d, want the host's, %d", inside, want.Ino)
	}
	// Documented: goroutines started inside fn are not in the namespace.
	if inGoroutine == want.Ino {
		t.Errorf("namespace of a goroutine started inside Do: got the host's, want another")
	}
	slices.Sort(ifaces)
	if want := []string{"eth0", "lo"}; !slices.Equal(ifaces, want) {
		t.Errorf("interfaces inside Do: got %q, want %q", ifaces, want)
	}

	errFn := errors.New("from fn")
	if err := h.Do(func() error { return errFn }); err != errFn {
		t.Errorf("Do's error: got %v, want fn's, %v", err, errFn)
	}

	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "boom") {
			t.Errorf("panic in fn: got %v re-raised, want boom", p)
		}
	}()
	h.Do(func() error { panic("boom") })
}

func TestCommandAndWriteEtc(t *testing.T) {
	t.Parallel()
	_, client, server := newPair(t)
	ctx, cancel := context.WithTimeout(t.Context(), dialBudget)
	defer cancel()

	out, err := server.Run(ctx, "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{server.Addr4().String() + "/24", server.Addr6().String() + "/64"} {
		if !strings.Contains(out, want) {
			t.Errorf("ip -o addr inside the server: got %q, want it to contain %s", out, want)
		}
	}
	if strings.Contains(out, "tentative") {
		t.Errorf("ip -o addr inside the server: got %q, want no tentative (DAD) address", out)
	}

	const name = "probe-target.test"
	if err := client.WriteEtc("hosts", server.Addr6().String()+" "+name+"\n"); err != nil {
		t.Fatal(err)
	}
	out, err = client.Run(ctx, "getent", "hosts", name)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out); len(got) < 2 || got[0] != server.Addr6().String() || got[1] != name {
		t.Errorf("getent hosts %s inside the client: got %q, want %s %s", name, out, server.Addr6(), name)
	}
	// The server, and the machine, still see their own /etc/hosts.
	if out, err := server.Run(ctx, "getent", "hosts", name); err == nil {
		t.Errorf("getent hosts %s inside the server: got %q, want not found", name, out)
	}
	if hosts, err := os.ReadFile("/etc/hosts"); err != nil || strings.Contains(string(hosts), name) {
		t.Errorf("/etc/hosts: got %q, %v, want it without %s", hosts, err, name)
	}

	if err := client.WriteEtc("../passwd", "x"); err == nil {
		t.Errorf(`WriteEtc("../passwd"): got no error, want one`)
	}

	// Run's error carries the command line and the output.
	_, err = client.Run(ctx, "sh", "-c", "echo diagnostic >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "diagnostic") || !strings.Contains(err.Error(), "netns exec") {
		t.Errorf("Run of a failing command: got %v, want an error with its command line and output", err)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	var netnses []string
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		h := lab.AddHost("a")
		lab.AddHost("b")
		if err := h.WriteEtc("hosts", "192.0.2.1 a\n"); err != nil {
			t.Fatal(err)
		}
		if err := h.DropInbound(netip.AddrPortFrom(h.Addr6(), 0)); err != nil {
			t.Fatal(err)
		}
		netnses = append(netnses, lab.switchNetns)
		for _, h := range lab.hosts {
			netnses = append(netnses, h.Netns())
		}
	})
	if len(netnses) == 0 {
		t.Skip("the lab was skipped")
	}
	out, err := exec.CommandContext(t.Context(), "ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	listed := strings.Fields(string(out))
	for _, name := range netnses {
		if slices.Contains(listed, name) {
			t.Errorf("namespace %s: still listed by ip netns list after cleanup", name)
		}
		if _, err := os.Stat(filepath.Join(netnsEtcDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: got %v, want it removed", filepath.Join(netnsEtcDir, name), err)
		}
	}
}

func TestRemovesStaleNamespaces(t *testing.T) {
	t.Parallel()
	New(t) // skips or fails without root, as for every test here
	// A pid that is not alive: the process we start and wait for here.
	cmd := exec.CommandContext(t.Context(), "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if processAlive(pid) {
		t.Skipf("pid %d was reused already", pid)
	}
	stale := netnsPrefix + strconv.Itoa(pid) + "-1-crashed"
	if out, err := exec.CommandContext(t.Context(), "ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", stale, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", stale).Run() }) // if New failed to
	staleEtc := filepath.Join(netnsEtcDir, stale)
	if err := os.MkdirAll(staleEtc, 0o755); err != nil {
		t.Fatal(err)
	}
	// A server the crashed test left running in its namespace.
	orphan := exec.Command("ip", "netns", "exec", stale, "sleep", "600")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	orphanDone := make(chan error, 1)
	go func() { orphanDone <- orphan.Wait() }()
	t.Cleanup(func() { orphan.Process.Kill(); <-orphanDone })
	// ip netns exec enters the namespace and then execs sleep in place:
	// until it has, the process is not yet in the namespace, and New
	// could not know it as the crashed test's.
	entered := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.CommandContext(t.Context(), "ip", "netns", "pids", stale).Output()
		if slices.Contains(strings.Fields(string(out)), strconv.Itoa(orphan.Process.Pid)) {
			break
		}
		if time.Now().After(entered) {
			t.Fatalf("the orphan (pid %d) is not in %s after 10 s", orphan.Process.Pid, stale)
		}
		time.Sleep(10 * time.Millisecond)
	}

	New(t)
	if _, err := os.Stat(filepath.Join(netnsRunDir, stale)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale namespace %s after New: got %v, want it deleted", stale, err)
	}
	if _, err := os.Stat(staleEtc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale %s after New: got %v, want it deleted", staleEtc, err)
	}
	select {
	case err := <-orphanDone:
		orphanDone <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("the process left in the stale namespace ended with %v, want killed by New", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the process left in the stale namespace still runs 10 s after New")
	}
}

// A routed host reaches the lab through its gateway and back, over both
// families, and the gateway's firewall sees that traffic: a fault on the
// gateway's forward path cuts it.
func TestAddRoutedHost(t *testing.T) {
	t.Parallel()
	lab, node, other := newPair(t)
	pod := lab.AddRoutedHost("pod", node, netip.MustParseAddr("10.244.0.5"), netip.MustParseAddr("fd00:10:244::5"))
	if err := other.AddRoute(netip.PrefixFrom(pod.Addr4(), 32), node.Addr4()); err != nil {
		t.Fatal(err)
	}
	if err := other.AddRoute(netip.PrefixFrom(pod.Addr6(), 128), node.Addr6()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		from *Host
		to   netip.AddrPort
	}{
		{pod, listen(t, other, "tcp", other.Addr4())},
		{pod, listen(t, other, "tcp", other.Addr6())},
		{node, listen(t, pod, "tcp", pod.Addr4())},
		{other, listen(t, pod, "tcp", pod.Addr6())},
	} {
		if err := dial(t, tt.from, tt.to, dialBudget); err != nil {
			t.Errorf("%s -> %v: %v", tt.from.Name(), tt.to, err)
		}
	}
	// The gateway forwards: a drop there (on its forward hook) cuts the pod off.
	dst := listen(t, other, "tcp", other.Addr6())
	if _, err := node.nft("add table inet cut\nadd chain inet cut forwarded { type filter hook forward priority 0; policy drop; }\n"); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, pod, dst, 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("dial through a gateway that drops forwarded packets: got %v, want a timeout", err)
	}

	for _, tt := range []struct {
		name         string
		gateway      *Host
		addr4, addr6 string
		want         string
	}{
		{"bad name", node, "10.244.0.6", "fd00:10:244::6", "host name"},
		{"no-gateway", nil, "10.244.0.6", "fd00:10:244::6", "needs a gateway"},
		{"swapped", node, "fd00:10:244::6", "10.244.0.6", "want an IPv4 and an IPv6 address"},
		{"on-the-bridge", node, "192.0.2.200", "fd00:10:244::6", "outside the lab's"},
		{"pod", node, "10.244.0.6", "fd00:10:244::6", "already has a host"},
		{"twin", node, "10.244.0.5", "fd00:10:244::6", "already has"},
	} {
		if _, err := lab.addRoutedHost(tt.name, tt.gateway, netip.MustParseAddr(tt.addr4), netip.MustParseAddr(tt.addr6)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
