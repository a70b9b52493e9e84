package testhost

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Host is one network namespace of a lab, with an interface on the lab's
// bridge. Its methods are safe for concurrent use.
type Host struct {
	lab   *Lab
	name  string
	netns string
	port  string // its veth end on the bridge, in the switch namespace
	addr4 netip.Addr
	addr6 netip.Addr
}

// Name returns the name given to AddHost.
func (h *Host) Name() string { return h.name }

// Netns returns the namespace's name, as `ip netns` and `ip -n` know it.
func (h *Host) Netns() string { return h.netns }

// Addr4 returns the host's IPv4 address.
func (h *Host) Addr4() netip.Addr { return h.addr4 }

// Addr6 returns the host's IPv6 address.
func (h *Host) Addr6() netip.Addr { return h.addr6 }

// Do runs fn on an OS thread that has joined the host's network namespace and
// returns fn's error. Sockets fn creates belong to the namespace and stay in it
// after Do returns; goroutines fn starts do not run in the namespace (they run
// on other threads), and neither does anything fn hands to them, such as Go's
// resolver when it looks a name up. fn runs on its own goroutine, so it must
// not call t.Fatal; a panic in fn is re-raised by Do.
//
// The thread returns to its original namespace afterwards; if it cannot, it
// is discarded rather than reused.
func (h *Host) Do(fn func() error) error {
	return inNetns(h.netns, fn)
}

// DialContext connects to address on the named network from inside the host,
// like net.Dialer.DialContext. The address's host part must be an IP literal:
// a name would be resolved with the root namespace's /etc/hosts and
// resolv.conf by goroutines outside the host. Unix-domain networks are passed
// through (abstract socket names are per namespace).
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return h.Dialer(&net.Dialer{}).DialContext(ctx, network, address)
}

// ContextDialer is what dials: net.Dialer's DialContext method.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer returns a dialer that calls d's DialContext inside the host, with
// DialContext's rule for the address. d must create its socket on the
// calling thread, as net.Dialer does: then the socket belongs to the host
// even when the returned dialer is called from goroutines that are not in
// it, such as a race engine's or a probe's.
func (h *Host) Dialer(d ContextDialer) ContextDialer {
	return hostDialer{h, d}
}

type hostDialer struct {
	host *Host
	d    ContextDialer
}

func (hd hostDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := requireLiteral(network, address); err != nil {
		return nil, err
	}
	var conn net.Conn
	var dialErr error
	if err := hd.host.Do(func() error {
		conn, dialErr = hd.d.DialContext(ctx, network, address)
		return nil
	}); err != nil {
		if conn != nil { // dialed, but the thread failed to come back
			conn.Close()
		}
		return nil, err
	}
	return conn, dialErr
}

// HTTPClient returns an HTTP client whose connections start inside the
// host (DialContext's rules apply: URLs name IP literals), each request
// bounded by timeout.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: h.DialContext}}
}

// Listen announces on the local network address inside the host, like
// net.Listen. As for DialContext, the host part must be an IP literal or
// empty; bind ":0" or "[addr]:0" and read the port from Addr.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	if err := requireLiteral(network, address); err != nil {
		return nil, err
	}
	var ln net.Listener
	err := h.Do(func() error {
		l, err := net.Listen(network, address)
		ln = l
		return err
	})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	return ln, nil
}

// ListenPacket announces on the local network address inside the host, like
// net.ListenPacket, with the same rule for the address as Listen.
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	if err := requireLiteral(network, address); err != nil {
		return nil, err
	}
	var pc net.PacketConn
	err := h.Do(func() error {
		c, err := net.ListenPacket(network, address)
		pc = c
		return err
	})
	if err != nil {
		if pc != nil {
			pc.Close()
		}
		return nil, err
	}
	return pc, nil
}

// requireLiteral rejects addresses whose host part would need resolving.
func requireLiteral(network, address string) error {
	if strings.HasPrefix(network, "unix") {
		return nil
	}
	host := address
	if !strings.HasPrefix(network, "ip") { // ip networks carry no port
		var err error
		if host, _, err = net.SplitHostPort(address); err != nil {
			return fmt.Errorf("testhost: address %q: %w", address, err)
		}
	}
	if host == "" { // the local system: nothing to resolve
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("testhost: address %q: the host must be an IP literal, not resolved outside the namespace: %w", address, err)
	}
	return nil
}

// Command returns a command that runs name with args inside the host, as
// `ip netns exec NETNS name args...`: a real client program (curl, python3, a
// compiled Go program) sees only the host's interfaces and routes, and the
// files written with WriteEtc in place of /etc's. Like exec.CommandContext,
// ctx kills the program.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.netns, name}, args...)...)
}

// Run runs name with args inside the host, as Command does, and returns its
// combined output. If it fails, the error holds the command line and output.
func (h *Host) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := h.Command(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), commandError(cmd.Args, "", out, err)
	}
	return string(out), nil
}

// WriteEtc writes /etc/netns/NETNS/file, which `ip netns exec` (and so
// Command and Run) bind-mounts over /etc/file: "hosts", "resolv.conf" or
// "gai.conf" seen only by programs run inside this host. It applies to
// commands started afterwards, never to Do, DialContext or Listen, which
// share the test process's mounts. ip can bind only over a file that exists,
// so WriteEtc fails if /etc/file does not. The lab's cleanup removes the
// directory.
func (h *Host) WriteEtc(file, content string) error {
	if file == "" || file == "." || file == ".." || strings.ContainsRune(file, '/') {
		return fmt.Errorf("testhost: WriteEtc %q: want a file name directly under /etc", file)
	}
	if _, err := os.Stat(filepath.Join("/etc", file)); err != nil {
		return fmt.Errorf("testhost: WriteEtc %q: ip netns exec can only bind-mount over an existing file: %w", file, err)
	}
	dir := filepath.Join(netnsEtcDir, h.netns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testhost: WriteEtc: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		return fmt.Errorf("testhost: WriteEtc: %w", err)
	}
	return nil
}

// SetSysctl sets a network sysctl of the host's namespace until the test
// ends, when the old value is written back. name is written as sysctl(8)
// writes it ("net.ipv4.ip_local_port_range"); only net.* names are accepted,
// because only they are per namespace: anything else would change the
// machine the tests run on.
func (h *Host) SetSysctl(t testing.TB, name, value string) {
	t.Helper()
	if !strings.HasPrefix(name, "net.") || strings.Contains(name, "/") {
		t.Fatalf("testhost: SetSysctl %q: only net.* sysctls belong to a network namespace", name)
	}
	key := strings.ReplaceAll(name, ".", "/") // as writeSysctls takes it
	var old []byte
	if err := h.Do(func() error {
		var err error
		if old, err = os.ReadFile(filepath.Join("/proc/sys", key)); err != nil {
			return fmt.Errorf("testhost: sysctl %s: %w", name, err)
		}
		return writeSysctls(map[string]string{key: value})
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Do(func() error {
			return writeSysctls(map[string]string{key: strings.TrimSpace(string(old))})
		}); err != nil {
			t.Error(err)
		}
	})
}

// NarrowLocalPorts narrows the host's ephemeral port range to the n ports
// from 40000 on, until the test ends: the sysctl is per network namespace
// and governs IPv6 too, so a test can run a host out of local ports.
func (h *Host) NarrowLocalPorts(t testing.TB, n int) {
	t.Helper()
	h.SetSysctl(t, "net.ipv4.ip_local_port_range", fmt.Sprintf("%d %d", 40000, 40000+n-1))
}
